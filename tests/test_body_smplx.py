"""The SMPL-X adapter on a tiny SMPL-X-format model file generated here, checked against the smplx package."""

import math

import numpy as np
import pytest
import torch

from talkavatar.errors import MissingDependency
from talkavatar.motion.names import ARKIT_INDEX, JOINT_INDEX, JOINT_NAMES, JOINT_PARENTS

smplx = pytest.importorskip("smplx")

VERTICES = 10475  # the smplx package's named vertices (e.g. the eyes at 9929) must exist


def _rest_skeleton() -> np.ndarray:
    """A T-pose skeleton in SMPL-X's joint order (metres, +Y up, facing +Z, left at +X)."""
    j = np.zeros((55, 3))
    for k, name in enumerate(JOINT_NAMES[1:], start=1):
        sign = 1.0 if name.startswith("left") else -1.0 if name.startswith("right") else 0.0
        step = {"hip": (0.09, -0.08, 0), "knee": (0.01, -0.38, 0), "ankle": (0, -0.4, 0), "foot": (0, -0.05, 0.12),
                "spine1": (0, 0.1, 0), "spine2": (0, 0.13, 0), "spine3": (0, 0.05, 0), "neck": (0, 0.22, 0),
                "collar": (0.07, 0.12, 0), "head": (0, 0.09, 0.03), "shoulder": (0.12, 0.0, 0),
                "elbow": (0.26, 0, 0), "wrist": (0.25, 0, 0), "jaw": (0, -0.02, 0.05), "eye_smplhf": (0.03, 0.06, 0.09)}
        key = next((s for s in step if s in name), None)
        if key is None:  # fingers: along the arm, thumbs forward
            offset = (0.03, 0, 0.02 if "thumb" in name and name.endswith("1") else 0)
        else:
            offset = step[key]
        j[k] = j[JOINT_PARENTS[k]] + np.array([sign * offset[0] if sign else offset[0], offset[1], offset[2]])
    return j


def _write_tiny_smplx(folder) -> None:
    g = np.random.default_rng(0)
    joints = _rest_skeleton()
    owner = np.concatenate([np.arange(55), g.integers(0, 55, VERTICES - 55)])
    child_dir = np.zeros((55, 3))
    for k in range(1, 55):
        child_dir[JOINT_PARENTS[k]] = joints[k] - joints[JOINT_PARENTS[k]]
    v = joints[owner] + 0.5 * g.random((VERTICES, 1)) * child_dir[owner] + 0.01 * g.standard_normal((VERTICES, 3))
    v[:55] = joints
    weights = np.zeros((VERTICES, 55))
    weights[np.arange(VERTICES), owner] = 1.0
    parent = np.array([max(p, 0) for p in JOINT_PARENTS])[owner]
    blend = 0.3 * g.random(VERTICES)
    blend[:55] = 0
    weights[np.arange(VERTICES), owner] -= blend
    weights[np.arange(VERTICES), parent] += blend
    regressor = np.zeros((55, VERTICES))
    regressor[np.arange(55), np.arange(55)] = 1.0
    faces = np.stack([np.arange(VERTICES - 2), np.arange(1, VERTICES - 1), np.arange(2, VERTICES)], -1)
    kintree = np.stack([np.array(JOINT_PARENTS, dtype=np.int64) % (2 ** 32), np.arange(55)]).astype(np.int64)
    kintree[0, 0] = 4294967295
    np.savez_compressed(
        folder / "SMPLX_NEUTRAL.npz", v_template=v.astype(np.float32), f=faces.astype(np.int32),
        J_regressor=regressor.astype(np.float32), kintree_table=kintree, weights=weights.astype(np.float32),
        shapedirs=(0.01 * g.standard_normal((VERTICES, 3, 20))).astype(np.float32),
        posedirs=np.zeros((VERTICES, 3, 486), np.float32),
        hands_componentsl=np.eye(45, dtype=np.float32), hands_componentsr=np.eye(45, dtype=np.float32),
        hands_meanl=np.zeros(45, np.float32), hands_meanr=np.zeros(45, np.float32),
        lmk_faces_idx=np.arange(100, 151, dtype=np.int64),
        lmk_bary_coords=np.tile(np.array([[0.2, 0.3, 0.5]], np.float32), (51, 1)),
        vt=g.random((VERTICES, 2)).astype(np.float32), ft=faces.astype(np.int32))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("smplx")
    _write_tiny_smplx(folder)
    return folder


@pytest.fixture(scope="module")
def body(model_dir):
    from talkavatar.core.body.smplx import SMPLXBody

    return SMPLXBody(model_dir, dtype=torch.float64)


def test_matches_the_smplx_package(model_dir, body):
    reference = smplx.SMPLX(str(model_dir), use_pca=False, flat_hand_mean=True, num_betas=10,
                            num_expression_coeffs=10, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    theta = 0.4 * torch.randn(2, 55, 3, generator=g, dtype=torch.float64)
    betas = torch.randn(2, 10, generator=g, dtype=torch.float64)
    transl = torch.randn(2, 3, generator=g, dtype=torch.float64)
    out = reference(betas=betas, global_orient=theta[:, 0], body_pose=theta[:, 1:22].reshape(2, -1),
                    jaw_pose=theta[:, 22], leye_pose=theta[:, 23], reye_pose=theta[:, 24],
                    left_hand_pose=theta[:, 25:40].reshape(2, -1), right_hand_pose=theta[:, 40:55].reshape(2, -1),
                    transl=transl, expression=torch.zeros(2, 10, dtype=torch.float64))
    for b in range(2):
        ours = body(betas[b:b + 1], theta[b:b + 1], transl[b:b + 1])
        # smplx's Rodrigues adds 1e-8 to every angle, hence the tolerance.
        assert torch.allclose(ours.vertices[0], out.vertices[b], atol=1e-6)
        assert torch.allclose(ours.canonical_joints[0], out.joints[b, :55], atol=1e-6)


def test_elbow_bend_and_sides(body):
    theta = torch.zeros(1, 55, 3, dtype=torch.float64)
    theta[0, JOINT_INDEX["left_elbow"]] = torch.tensor([0.0, -math.pi / 2, 0.0], dtype=torch.float64)
    c = body(body.default_shape[None], theta).canonical_joints[0]
    upper = c[JOINT_INDEX["left_elbow"]] - c[JOINT_INDEX["left_shoulder"]]
    fore = c[JOINT_INDEX["left_wrist"]] - c[JOINT_INDEX["left_elbow"]]
    assert abs(math.degrees(math.acos(float(upper @ fore / upper.norm() / fore.norm()))) - 90) < 1e-6
    assert c[JOINT_INDEX["left_wrist"], 0] > 0 > c[JOINT_INDEX["right_wrist"], 0]


def test_jaw_open_from_arkit(body):
    w = torch.zeros(1, 52, dtype=torch.float64)
    w[0, ARKIT_INDEX["jawOpen"]] = 1.0
    zero = torch.zeros(1, 55, 3, dtype=torch.float64)
    moved = body(body.default_shape[None], zero, arkit_weights=w).vertices - body(body.default_shape[None], zero).vertices
    jaw_only = body._dense_full_weights[:, JOINT_INDEX["jaw"]] > 0
    assert moved[0, jaw_only].norm(dim=-1).max() > 1e-3 and moved[0, ~jaw_only].abs().max() == 0
    others = torch.ones(1, 52, dtype=torch.float64)
    others[0, ARKIT_INDEX["jawOpen"]] = 0
    assert torch.equal(body(body.default_shape[None], zero, arkit_weights=others).vertices,
                       body(body.default_shape[None], zero).vertices)


def test_rig_and_landmarks(body):
    rig = body.bake_rig()
    assert rig.model == "smplx" and rig.bone_names == JOINT_NAMES
    g = torch.Generator().manual_seed(1)
    theta = 0.3 * torch.randn(1, 55, 3, generator=g, dtype=torch.float64)
    assert torch.allclose(rig.pose(theta).vertices.double(), body(body.default_shape[None], theta).vertices,
                          atol=1e-5)
    lm = body.landmarks
    assert lm.select("pose").numel() == 33
    assert lm.select("left_hand").numel() == lm.select("right_hand").numel() == 21
    assert lm.select("face").numel() == 51
    posed = body(body.default_shape[None], theta)
    points = lm(posed.vertices, posed.joints)
    assert points.shape == (1, 33 + 42 + 51, 3) and torch.isfinite(points).all()
    elbow = lm.names.index("left_elbow")
    assert torch.allclose(points[0, elbow], posed.canonical_joints[0, JOINT_INDEX["left_elbow"]])


def test_missing_model_directory(tmp_path, monkeypatch):
    from talkavatar.core.body.smplx import SMPLXBody

    monkeypatch.delenv("TALKAVATAR_SMPLX_DIR", raising=False)
    with pytest.raises(MissingDependency):
        SMPLXBody()
    with pytest.raises(MissingDependency):
        SMPLXBody(tmp_path)
