"""talkavatar export: GLB (Khronos validator, pygltflib + glTF skinning maths, trimesh), BVH (the ``bvh`` parser),
ARKit CSV and PLY, on the toy avatar. The web player has its own test (test_export_web.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from talkavatar.cli import app
from talkavatar.core.skinning import apply_transforms
from talkavatar.export.clip import Clip
from talkavatar.export.config import ExportConfig
from talkavatar.export.mesh import top_influences
from talkavatar.export.stage import run_export
from talkavatar.motion.file import Motion, save_motion
from talkavatar.motion.names import ARKIT_INDEX, ARKIT_NAMES, JOINT_INDEX, JOINT_NAMES
from tests.export_readers import accessor, bvh_rotations, khronos_validator, skinned_vertices
from tests.render_fixtures import toy_avatar, toy_bundle

runner = CliRunner()


def waving_motion(frames: int = 24, fps: float = 24.0) -> Motion:
    """The toy arm lifting and bending, the jaw opening, the body stepping sideways."""
    motion = Motion.still(frames, fps)
    phase = np.linspace(0, 1, frames, dtype=np.float32)
    motion.joint_rotations[:, JOINT_INDEX["left_shoulder"], 2] = 0.8 * phase
    motion.joint_rotations[:, JOINT_INDEX["left_elbow"], 1] = -0.6 * phase
    motion.joint_rotations[:, JOINT_INDEX["pelvis"], 1] = 0.3 * np.sin(6 * phase)
    motion.root_translation[:, 0] = 0.1 * phase
    motion.arkit_weights[:, ARKIT_INDEX["jawOpen"]] = phase
    motion.arkit_weights[:, ARKIT_INDEX["eyeBlinkLeft"]] = 1 - phase
    return motion


@pytest.fixture
def bundle(tmp_path) -> Path:
    return toy_bundle(tmp_path / "toy.avatar")


@pytest.fixture
def motion_file(tmp_path) -> Path:
    path = tmp_path / "wave.motion.safetensors"
    save_motion(path, waving_motion())
    return path


def test_glb_validates_and_reads_back(bundle, tmp_path, motion_file):
    out = tmp_path / "avatar.glb"
    result = runner.invoke(app, ["export", "-b", str(bundle), "-o", str(out), "--motion", str(motion_file), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["format"] == "glb" and record["bytes"] == out.stat().st_size
    report = khronos_validator(out)
    if report is None:
        pytest.skip("node or tests/node_modules/gltf-validator missing (npm ci --prefix tests)")
    assert report["issues"]["numErrors"] == 0, report["issues"]["messages"][:5]
    assert report["issues"]["numWarnings"] == 0, report["issues"]["messages"][:5]

    import pygltflib

    gltf = pygltflib.GLTF2().load(str(out))
    mesh = gltf.meshes[0]
    assert mesh.extras["targetNames"] == list(ARKIT_NAMES) and len(mesh.primitives[0].targets) == 52
    assert len(gltf.skins[0].joints) == 3 and [gltf.nodes[j].name for j in gltf.skins[0].joints] == \
        ["root", "shoulder", "elbow"]
    times = accessor(gltf, gltf.animations[0].samplers[0].input)[:, 0]
    assert times[-1] == pytest.approx(1.0)  # 24 frames at 24 fps: the clip lasts 1 s
    weights = accessor(gltf, mesh.primitives[0].attributes.WEIGHTS_0)
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-6)


def test_glb_poses_like_the_rig(bundle, tmp_path, motion_file):
    """glTF skinning of the exported file (our reader, written from the spec) == the rig's own posing + offsets."""
    import pygltflib

    out = tmp_path / "avatar.glb"
    motion = waving_motion()
    run_export(bundle, ExportConfig(), out, motion=motion, log=lambda m: None)
    gltf = pygltflib.GLTF2().load(str(out))
    avatar = toy_avatar().to("cpu", torch.float64)
    source = None
    for key in (0, 11, 23):
        got = skinned_vertices(gltf, key)
        rot, trans, arkit = (torch.from_numpy(getattr(motion, k)[key:key + 1]).double()
                             for k in ("joint_rotations", "root_translation", "arkit_weights"))
        posed = avatar.rig.pose(rot, trans, arkit)
        rest = avatar.rig.rest_vertices(arkit) + avatar.vertex_offsets
        want = apply_transforms(posed.vertex_transforms, rest)[0].numpy()
        if source is None:  # map the split vertices back through their positions at rest
            rest0 = avatar.rig.vertices.numpy()
            pos = accessor(gltf, gltf.meshes[0].primitives[0].attributes.POSITION)
            source = np.argmin(((pos[:, None] - rest0[None]) ** 2).sum(-1), 1)
        np.testing.assert_allclose(got, want[source], atol=2e-5)


def test_glb_loads_in_trimesh(bundle, tmp_path):
    import trimesh

    out = tmp_path / "still.glb"
    run_export(bundle, ExportConfig(), out, log=lambda m: None)
    scene = trimesh.load(out, force="scene")
    (geometry,) = scene.geometry.values()
    assert len(geometry.faces) == toy_avatar().rig.faces.shape[0]
    assert geometry.visual.uv.shape == (len(geometry.vertices), 2)


def test_bvh_round_trip_within_a_tenth_of_a_degree(bundle, tmp_path, motion_file):
    out = tmp_path / "wave.bvh"
    result = runner.invoke(app, ["export", "-b", str(bundle), "-o", str(out), "--motion", str(motion_file)])
    assert result.exit_code == 0, result.output
    matrices, root, frame_time = bvh_rotations(out, JOINT_NAMES)
    motion = waving_motion()
    from scipy.spatial.transform import Rotation

    want = Rotation.from_rotvec(motion.joint_rotations.reshape(-1, 3).astype(float)).as_matrix()
    relative = np.swapaxes(matrices.reshape(-1, 3, 3), -1, -2) @ want
    angle = np.degrees(np.arccos(np.clip((np.trace(relative, axis1=1, axis2=2) - 1) / 2, -1, 1)))
    assert matrices.shape[0] == motion.frames and frame_time == pytest.approx(1 / 24, abs=1e-7)
    assert angle.max() < 0.1
    np.testing.assert_allclose(root - root[0], motion.root_translation - motion.root_translation[0], atol=1e-5)


def test_arkit_csv_and_ply(bundle, tmp_path, motion_file):
    from talkavatar.motion.arkit_csv import load_arkit_csv

    csv = tmp_path / "face.csv"
    assert runner.invoke(app, ["export", "-b", str(bundle), "-o", str(csv), "--motion", str(motion_file)]).exit_code == 0
    np.testing.assert_allclose(load_arkit_csv(csv).arkit_weights, waving_motion().arkit_weights, atol=1e-5)
    ply = tmp_path / "avatar.ply"
    assert runner.invoke(app, ["export", "-b", str(bundle), "--format", "ply", "-o", str(ply)]).exit_code == 0
    header = ply.read_bytes().split(b"end_header\n")[0].decode()
    assert f"element vertex {toy_avatar().count}" in header


def test_an_up_to_date_export_is_skipped_and_force_writes_it_again(bundle, tmp_path, motion_file):
    out = tmp_path / "wave.bvh"
    args = ["export", "-b", str(bundle), "-o", str(out), "--motion", str(motion_file), "--json"]
    runs = [runner.invoke(app, args + extra) for extra in ([], [], ["--force"])]
    assert [r.exit_code for r in runs] == [0, 0, 0], runs[0].output
    assert [json.loads(r.stdout)["skipped"] for r in runs] == [False, True, False]
    assert f"{out}: export is up to date (use --force to redo)" in runs[1].stderr
    assert {k: v for k, v in json.loads(runs[1].stdout).items() if k not in ("timings_s", "skipped")} == \
        {k: v for k, v in json.loads(runs[0].stdout).items() if k not in ("timings_s", "skipped")}
    save_motion(motion_file, waving_motion(frames=12))                   # the motion changed: written again
    again = json.loads(runner.invoke(app, args).stdout)
    assert not again["skipped"] and again["keys"] < json.loads(runs[0].stdout)["keys"]


def test_bad_requests_fail_in_one_line_and_write_nothing(bundle, tmp_path, motion_file):
    cases = [(["--format", "bvh", "-o", str(tmp_path / "a.bvh")], 2, "writes motion"),
             (["-o", str(tmp_path / "a.fbx")], 2, "cannot tell the export format"),
             (["-o", str(tmp_path / "a.glb"), "--motion", str(tmp_path / "none.motion.safetensors")], 3, "no such"),
             (["-o", str(tmp_path / "a.glb"), "--motion", str(motion_file), "--audio", str(motion_file)], 2, "not both"),
             (["-o", str(tmp_path / "missing" / "a.glb")], 2, "no such directory")]
    for args, code, words in cases:
        result = runner.invoke(app, ["export", "-b", str(bundle), *args])
        assert result.exit_code == code, (args, result.output)
        assert words in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.avatar", "wave.motion.safetensors"]


def test_clip_keys_end_at_the_audio():
    motion = waving_motion(frames=30, fps=30.0)
    clip = Clip.of(motion, seconds=1.25)
    assert clip.seconds == pytest.approx(1.25) and clip.keys == 31
    np.testing.assert_array_equal(clip.joint_rotations[-1], motion.joint_rotations[-1])
    assert Clip.of(motion, seconds=0.5).keys == 16 and Clip.of(motion, seconds=0.5).seconds == pytest.approx(0.5)


def test_top_influences_keep_the_largest_four():
    indices = np.array([[0, 1, 2, 3, 4, 5]])
    weights = np.array([[0.05, 0.4, 0.02, 0.3, 0.2, 0.03]])
    joints, kept = top_influences(indices, weights)
    assert joints.tolist() == [[1, 3, 4, 0]] and kept.sum() == pytest.approx(1.0)
    assert kept[0, 0] == pytest.approx(0.4 / 0.95) and math.isclose(kept[0, 3], 0.05 / 0.95)


def test_glb_splats_ride_along(bundle, tmp_path):
    """--splats: a KHR_gaussian_splatting point primitive. The npm validator (2.0.0-dev.3.10) predates the
    extension: its only errors are the extension's attribute names."""
    import pygltflib

    out = tmp_path / "splats.glb"
    assert runner.invoke(app, ["export", "-b", str(bundle), "-o", str(out), "--splats"]).exit_code == 0
    gltf = pygltflib.GLTF2().load(str(out))
    (primitive,) = gltf.meshes[1].primitives
    assert primitive.mode == 0 and primitive.extensions["KHR_gaussian_splatting"]["kernel"] == "ellipse"
    assert gltf.accessors[primitive.attributes.POSITION].count == toy_avatar().count
    opacity = accessor(gltf, getattr(primitive.attributes, "KHR_gaussian_splatting:OPACITY"))
    assert 0 < opacity.min() and opacity.max() < 1
    report = khronos_validator(out)
    if report is not None:
        errors = [m for m in report["issues"]["messages"] if m["severity"] == 0]
        assert all(m["code"] == "MESH_PRIMITIVE_INVALID_ATTRIBUTE" and ":" in m["pointer"] and
                   "KHR_gaussian_splatting:" in m["pointer"] for m in errors), errors
