"""The Anny adapter: canonical articulation, sides, facial actions, rig baking, gradients, UV Gaussians.

Needs the Anny cache (``ANNY_CACHE_DIR``; CI builds it once). One model is shared by the whole session.
"""

import math

import pytest
import torch

from talkavatar.core.binding import Binding
from talkavatar.motion.names import ARKIT_INDEX, JOINT_INDEX

anny = pytest.importorskip("anny")


@pytest.fixture(scope="module")
def body():
    from talkavatar.core.body.anny import anny_body

    return anny_body()


@pytest.fixture(scope="module")
def rig(body):
    return body.bake_rig()


def _angle_deg(u, v):
    return math.degrees(math.acos(float((u @ v) / (u.norm() * v.norm()))))


def _elbow_angle(rig, posed, side):
    s = "L" if side == "left" else "R"
    j = posed.joints[0]
    i = {n: k for k, n in enumerate(rig.bone_names)}
    upper = j[i[f"lowerarm01.{s}"]] - j[i[f"upperarm01.{s}"]]
    fore = j[i[f"wrist.{s}"]] - j[i[f"lowerarm01.{s}"]]
    return _angle_deg(upper, fore)


@pytest.mark.parametrize("side,sign", [("left", -1.0), ("right", 1.0)])
def test_canonical_elbow_bend_of_90_degrees(rig, side, sign):
    theta = torch.zeros(1, 55, 3)
    assert _elbow_angle(rig, rig.pose(theta), side) < 5.0  # canonical rest: straight arm
    theta[0, JOINT_INDEX[f"{side}_elbow"]] = torch.tensor([0.0, sign * math.pi / 2, 0.0])
    posed = rig.pose(theta)
    assert abs(_elbow_angle(rig, posed, side) - 90.0) < 5.0
    # The forearm swings forward (+Z), as SMPL-X's does for this rotation.
    i = {n: k for k, n in enumerate(rig.bone_names)}
    s = "L" if side == "left" else "R"
    fore = posed.joints[0, i[f"wrist.{s}"]] - posed.joints[0, i[f"lowerarm01.{s}"]]
    assert fore[2] > 0.9 * fore.norm()


def test_canonical_rest_is_a_t_pose_with_palms_down(rig):
    posed = rig.pose(torch.zeros(1, 55, 3))
    c = posed.canonical_joints[0]
    for side, sign in (("left", 1.0), ("right", -1.0)):
        arm = c[JOINT_INDEX[f"{side}_wrist"]] - c[JOINT_INDEX[f"{side}_shoulder"]]
        assert _angle_deg(arm, torch.tensor([sign, 0.0, 0.0])) < 3.0
        hand = c[JOINT_INDEX[f"{side}_middle1"]] - c[JOINT_INDEX[f"{side}_wrist"]]
        assert _angle_deg(hand, torch.tensor([sign, 0.0, 0.0])) < 3.0
        thumb_side = c[JOINT_INDEX[f"{side}_index1"]] - c[JOINT_INDEX[f"{side}_pinky1"]]
        assert thumb_side[2] > 0.8 * thumb_side.norm()  # palms down: the thumb side faces forward


def test_left_is_left_and_the_body_faces_plus_z(rig):
    c = rig.pose(torch.zeros(1, 55, 3)).canonical_joints[0]
    for name in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "eye_smplhf"):
        assert c[JOINT_INDEX[f"left_{name}"], 0] > 0.02 > -0.02 > c[JOINT_INDEX[f"right_{name}"], 0]
    head = rig.vertices[rig.vertices[:, 1] > c[JOINT_INDEX["left_eye_smplhf"], 1] - 0.05]
    assert head[:, 2].max() > c[JOINT_INDEX["left_eye_smplhf"], 2]  # the nose is in front of the eyes
    theta = torch.zeros(1, 55, 3)
    theta[0, JOINT_INDEX["left_shoulder"]] = torch.tensor([0.0, 0.0, 1.0])  # raise the left arm
    moved = (rig.pose(theta).vertices[0] - rig.pose(torch.zeros(1, 55, 3)).vertices[0]).norm(dim=-1) > 1e-3
    assert (rig.vertices[moved, 0] > 0).float().mean() > 0.99


def test_arkit_actions_move_the_face(rig):
    neutral = rig.pose(torch.zeros(1, 55, 3)).vertices[0]
    c = rig.pose(torch.zeros(1, 55, 3)).canonical_joints[0]

    def moved(name):
        w = torch.zeros(1, 52)
        w[0, ARKIT_INDEX[name]] = 1.0
        return rig.pose(torch.zeros(1, 55, 3), arkit_weights=w).vertices[0] - neutral

    jaw = moved("jawOpen")
    assert jaw[:, 1].min() < -0.01  # the chin drops by more than 1 cm
    for side, sign in (("Left", 1.0), ("Right", -1.0)):  # ARKit's Left is the person's left (+X)
        blink = moved(f"eyeBlink{side}").norm(dim=-1)
        assert sign * neutral[blink.argmax(), 0] > 0.015
        assert sign * (blink * neutral[:, 0]).sum() / blink.sum() > 0.015
        assert (neutral[blink > 1e-3, 1] > c[JOINT_INDEX["neck"], 1]).all()
    for name in ("mouthSmileLeft", "browInnerUp", "cheekPuff", "tongueOut"):
        assert moved(name).norm(dim=-1).max() > 2e-3, name


def test_forward_matches_the_baked_rig(body):
    g = torch.Generator().manual_seed(0)
    shape = body.default_shape.clone()
    shape[:6] = torch.rand(6, generator=g)
    shape[6:] = 0.3 * torch.randn(len(shape) - 6, generator=g)
    theta = 0.3 * torch.randn(2, 55, 3, generator=g)
    transl, arkit = torch.randn(2, 3, generator=g), torch.rand(2, 52, generator=g)
    rig = body.bake_rig(shape)
    direct = body(shape[None], theta, transl, arkit)
    baked = rig.pose(theta, transl, arkit)
    assert torch.allclose(direct.vertices, baked.vertices, atol=1e-5)
    assert torch.allclose(direct.canonical_joints, baked.canonical_joints, atol=1e-5)
    # The shape changes the body.
    assert (rig.vertices - body.bake_rig().vertices).norm(dim=-1).max() > 0.01


def test_forward_is_differentiable(body):
    shape = body.default_shape[None].clone().requires_grad_()
    theta = torch.zeros(1, 55, 3, requires_grad=True)
    transl = torch.zeros(1, 3, requires_grad=True)
    arkit = torch.zeros(1, 52, requires_grad=True)
    posed = body(shape, theta, transl, arkit)
    (posed.vertices.square().sum() + posed.canonical_joints.square().sum()).backward()
    for name, t in (("shape", shape), ("pose", theta), ("translation", transl), ("arkit", arkit)):
        assert torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0, name
    assert shape.grad[0, :6].abs().min() > 0  # every phenotype matters


def test_uv_gaussians_on_the_posed_mesh(rig):
    binding = Binding.from_uv(rig.face_uvs, 512)
    assert 140_000 < binding.count < 180_000
    g = torch.Generator().manual_seed(1)
    posed = rig.pose(0.3 * torch.randn(1, 55, 3, generator=g), torch.randn(1, 3, generator=g))
    means = binding.positions(posed.vertices, rig.faces, posed.vertex_transforms, torch.zeros(binding.count, 3))
    tri = posed.vertices[0, rig.faces[binding.face_index]].double()
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    n = torch.nn.functional.normalize(torch.linalg.cross(b - a, c - a, dim=-1), dim=-1)
    plane = ((means[0].double() - a) * n).sum(-1).abs()
    assert plane.max() < 1e-5
    # ... and inside their triangles: the barycentrics are convex weights of the triangle's corners.
    assert (binding.barycentrics >= 0).all()


def test_mesh_winding_is_outward(rig):
    v, f = rig.vertices.double(), rig.faces
    signed_volume = (v[f[:, 0]] * torch.linalg.cross(v[f[:, 1]], v[f[:, 2]], dim=-1)).sum() / 6
    assert signed_volume > 0.03  # m^3, a person of ~60 kg


def test_phenotype_only_shape_space(body):
    from talkavatar.core.body.anny import anny_body

    small = anny_body(local_changes=False)
    assert small.shape_names == body.shape_names[:6]
    g = torch.Generator().manual_seed(2)
    shape = body.default_shape.clone()
    shape[:6] = torch.rand(6, generator=g)
    theta = 0.3 * torch.randn(1, 55, 3, generator=g)
    assert torch.allclose(small(shape[None, :6], theta).vertices, body(shape[None], theta).vertices, atol=1e-5)


def test_rest_shape_matches_anny_itself(body):
    from talkavatar.core.body.anny_data import ANNY_TO_WORLD, load_anny

    g = torch.Generator().manual_seed(3)
    shape = body.default_shape.clone()
    shape[:6] = torch.rand(6, generator=g)
    shape[6:] = 0.5 * torch.randn(len(shape) - 6, generator=g)
    model = load_anny()
    with torch.no_grad():
        reference = model(phenotype_kwargs=shape[None, :6].double(), local_changes_kwargs=shape[None, 6:].double())
        vertices, joints = body.rest(shape[None])
    rotate = ANNY_TO_WORLD.double()
    assert torch.allclose(vertices[0].double(), reference["rest_vertices"][0] @ rotate.T, atol=1e-5)
    assert torch.allclose(joints[0].double(), reference["rest_bone_heads"][0] @ rotate.T, atol=1e-5)


def test_cache_directory_follows_talkavatar_cache_dir(monkeypatch, tmp_path):
    import anny.paths

    from talkavatar.core.body.anny_data import configure_cache

    before = anny.paths.get_anny_cache_path()
    try:
        monkeypatch.delenv("ANNY_CACHE_DIR", raising=False)
        monkeypatch.setenv("TALKAVATAR_CACHE_DIR", str(tmp_path))
        assert configure_cache() == tmp_path / "anny"
    finally:
        anny.paths.set_anny_cache_path(before)


def test_two_anny_cache_directories_keep_a_talkavatar_cache_file_each(monkeypatch, tmp_path):
    import torch

    from talkavatar.core.body.anny_data import cache_path

    monkeypatch.setenv("TALKAVATAR_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("ANNY_CACHE_DIR", str(tmp_path / "a"))
    first = cache_path(torch.float32, True)
    monkeypatch.setenv("ANNY_CACHE_DIR", str(tmp_path / "b"))
    second = cache_path(torch.float32, True)
    assert first.parent == second.parent == tmp_path / "anny-body" and first != second


def test_phenotype_weights_match_anny_with_gradients():
    from anny.models.phenotype import phenotype_blendshape_weights

    from talkavatar.core.body.anny import phenotype_weights
    from talkavatar.core.body.anny_data import anny_data

    data = anny_data()
    anchors = {k.removeprefix("anchor/"): v.double() for k, v in data.tensors.items() if k.startswith("anchor/")}
    mask = data.tensors["variation_mask"].double()
    labels = data.labels["phenotype_labels"]
    g = torch.Generator().manual_seed(4)
    # inside the anchors, on their ends and beyond them (clamped)
    values = torch.cat([torch.rand(5, len(labels), generator=g, dtype=torch.float64),
                        torch.tensor([[0.0] * len(labels), [1.0] * len(labels), [1.3] * len(labels)],
                                     dtype=torch.float64)])
    ours_in, theirs_in = values.clone().requires_grad_(), values.clone().requires_grad_()
    ours = phenotype_weights(ours_in, labels, [(k, tuple(v)) for k, v in data.labels["variations"]], anchors, mask,
                             data.labels["extrapolate"])
    theirs = phenotype_blendshape_weights(theirs_in, labels, anchors, mask, extrapolate=data.labels["extrapolate"])
    assert torch.equal(ours, theirs)
    probe = torch.randn(ours.shape, generator=g, dtype=torch.float64)
    (ours * probe).sum().backward()
    (theirs * probe).sum().backward()
    assert torch.equal(ours_in.grad, theirs_in.grad)


def test_cached_data_equal_the_data_taken_from_anny(body):
    from talkavatar.core.body.anny_data import anny_data, from_anny

    cached, built = anny_data(), from_anny(torch.float32, True)
    assert cached.labels == built.labels and set(cached.tensors) == set(built.tensors)
    # The cache may have been written by another process from the same anny build (another thread count): anny's
    # regressed joints are means whose float64 rounding can then differ in the last bit, so floats agree to float32
    # precision, integers exactly. A cache taken from another anny build (another anny cache directory) is rebuilt.
    for name, value in built.tensors.items():
        torch.testing.assert_close(cached.tensors[name], value, rtol=1e-6, atol=1e-6, msg=lambda m: f"{name}: {m}")


def test_a_damaged_or_foreign_cache_is_built_again(tmp_path):
    from talkavatar.core.body.anny_data import anny_data, read, write

    data = anny_data(local_changes=False)
    path = tmp_path / "body.safetensors"
    write(path, data, torch.float32, False)
    again = read(path, torch.float32, False)
    assert again is not None and again.labels == data.labels
    assert all(torch.equal(again.tensors[k], v) for k, v in data.tensors.items())
    assert read(path, torch.float64, False) is None and read(path, torch.float32, True) is None  # not what is asked
    path.write_bytes(path.read_bytes()[:100_000])  # truncated
    assert read(path, torch.float32, False) is None
    assert read(tmp_path / "absent.safetensors", torch.float32, False) is None


def test_jaw_opens_as_wide_as_an_adults_and_mouth_close_still_closes_the_lips(rig):
    """JAW_GAIN: jawOpen 1 drops the lower lip by an adult's wide opening (not Anny's 25 mm, which speech's weights
    turned into 0-7 mm partings nobody saw), and mouthClose, scaled with it, still cancels it on the lips."""
    from talkavatar.core.body.mouth import mouth_landmarks

    marks = mouth_landmarks(rig)
    assert -0.055 < marks["jaw"][1] < -0.035
    v = rig.vertices
    bs = rig.expression_blendshapes
    jaw, close = bs[ARKIT_INDEX["jawOpen"]], bs[ARKIT_INDEX["mouthClose"]]
    mid = (v[:, 0].abs() < 0.006) & (v[:, 2] > marks["z_front"] - 0.01)
    lower = mid & (jaw.norm(dim=-1) > 0.5 * jaw.norm(dim=-1).max())
    upper = mid & (jaw.norm(dim=-1) < 0.3 * jaw.norm(dim=-1).max()) & ((v[:, 1] - marks["y_lip"]).abs() < 0.015)

    def parting(offsets):
        return float(offsets[lower, 1].mean() - offsets[upper, 1].mean())

    assert abs(parting(jaw + close)) < 0.15 * abs(parting(jaw))
