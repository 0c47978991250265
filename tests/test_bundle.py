"""The bundle format: round trip, validation on read, transactional writes, locking, staleness."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from talkavatar.bundle import Bundle, load_tensors, save_tensors
from talkavatar.bundle.store import JOURNAL, sha256_file
from talkavatar.errors import InvalidInput, StageFailed
from talkavatar.motion import ARKIT_NAMES, JOINT_NAMES, Motion, load_motion, save_motion


def _motion(frames: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"joint_rotations": rng.normal(size=(frames, 55, 3)).astype(np.float32),
            "root_translation": np.zeros((frames, 3), np.float32),
            "arkit_weights": rng.uniform(size=(frames, 52)).astype(np.float32)}


META = {"fps": "30.0", "joint_names": json.dumps(JOINT_NAMES), "arkit_names": json.dumps(ARKIT_NAMES)}


def test_round_trip(tmp_path):
    bundle = Bundle.create(tmp_path / "p.avatar")
    photo = tmp_path / "photo.bin"
    photo.write_bytes(b"not really a photo")
    with bundle.write_stage("source", config={"note": "x"}, inputs={str(photo): ""}) as w:
        w.copy_file("photo.bin", photo)
        w.save_tensors("motion.safetensors", _motion(), "talkavatar.motion", META)
        w.save_png("mask.png", np.full((8, 8), 255, np.uint8))
        w.backend = "cpu:reference"
        w.metrics["answer"] = 42
    again = Bundle.open(tmp_path / "p.avatar")
    record = again.record("source")
    assert record["backend"] == "cpu:reference" and record["metrics"] == {"answer": 42}
    assert record["inputs"][str(photo)] == sha256_file(photo)
    assert set(record["outputs"]) == {"source/photo.bin", "source/motion.safetensors", "source/mask.png"}
    tensors, meta = again.read_tensors("source/motion.safetensors", "talkavatar.motion")
    np.testing.assert_array_equal(tensors["arkit_weights"], _motion()["arkit_weights"])
    assert meta["schema"] == "talkavatar.motion"
    assert again.read_png("source/mask.png").shape == (8, 8)
    assert sorted(p.name for p in (tmp_path / "p.avatar").iterdir()) == [".lock", "bundle.json", "source"]


def test_pngs_kept_are_read_without_decoding(tmp_path, monkeypatch):
    """Inside pngs_kept a PNG this process wrote reads back as a copy of the image (still hash-checked), not decoded;
    outside it, or for a file changed on disk, the ordinary path."""
    from PIL import Image

    from talkavatar.bundle import store

    images = {"rgba.png": np.random.default_rng(0).integers(0, 256, (5, 7, 4), dtype=np.uint8),
              "grey.png": np.arange(12, dtype=np.uint8).reshape(3, 4)}
    with store.pngs_kept():
        bundle = Bundle.create(tmp_path / "p.avatar")  # opened in the block: it keeps the block's images
        with bundle.write_stage("pseudo", config={}) as w:
            for name, image in images.items():
                w.save_png(name, image)
        opened = Image.open
        monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("decoded a kept PNG"))
        for name, image in images.items():
            got = bundle.read_png(f"pseudo/{name}")
            np.testing.assert_array_equal(got, image)
            assert got.dtype == image.dtype and got.flags.writeable
        got[0, 0] = 99  # a copy: the kept image does not change
        np.testing.assert_array_equal(bundle.read_png("pseudo/grey.png"), images["grey.png"])
        (tmp_path / "p.avatar" / "pseudo" / "grey.png").write_bytes(b"changed")
        with pytest.raises(InvalidInput):
            bundle.read_png("pseudo/grey.png")
        monkeypatch.setattr(Image, "open", opened)
    assert store._kept_pngs.get() is None and not bundle.kept_pngs
    np.testing.assert_array_equal(bundle.read_png("pseudo/rgba.png"), images["rgba.png"])


def test_pngs_kept_belong_to_their_block(tmp_path):
    """A block's images are the block's: a bundle opened in another thread's block (or outside any) does not see
    them, and the pool threads of a stage write into the block of the bundle that opened it."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from talkavatar.bundle import store

    image = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    with store.pngs_kept():
        bundle = Bundle.create(tmp_path / "a.avatar")
        with bundle.write_stage("pseudo", config={}) as w, ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda i: w.save_png(f"{i}.png", image + i), range(3)))
        assert len(bundle.kept_pngs) == 3
        seen = []
        other = threading.Thread(target=lambda: seen.append(Bundle.open(tmp_path / "a.avatar").kept_pngs))
        other.start()
        other.join()
        assert seen == [None]


def test_failed_stage_leaves_previous_state(tmp_path):
    bundle = Bundle.create(tmp_path / "p.avatar")
    with bundle.write_stage("track", config={}) as w:
        w.save_png("a.png", np.zeros((2, 2), np.uint8))
    before = (tmp_path / "p.avatar" / "bundle.json").read_text()
    with pytest.raises(RuntimeError):
        with bundle.write_stage("track", config={}) as w:
            w.save_png("b.png", np.zeros((2, 2), np.uint8))
            raise RuntimeError("boom")
    assert (tmp_path / "p.avatar" / "bundle.json").read_text() == before
    assert sorted(p.name for p in (tmp_path / "p.avatar" / "track").iterdir()) == ["a.png"]
    assert not list((tmp_path / "p.avatar").glob(".tmp-*"))


@pytest.mark.parametrize("damage, message", [
    (lambda d: d.pop("stages"), "'stages' is a required property"),
    (lambda d: d.update(version="2.0.0"), "newer than this talkavatar reads"),
    (lambda d: d.update(minVersion="1.9.0"), "newer than this talkavatar reads"),
    (lambda d: d.update(format="something.else"), "format"),
    (lambda d: d["conventions"].update(up="+Z"), "conventions/up"),
])
def test_manifest_violations_are_refused(tmp_path, damage, message):
    root = tmp_path / "p.avatar"
    Bundle.create(root)
    doc = json.loads((root / "bundle.json").read_text())
    damage(doc)
    (root / "bundle.json").write_text(json.dumps(doc))
    with pytest.raises(InvalidInput) as e:
        Bundle.open(root)
    assert message in e.value.message and "\n" not in e.value.message
    assert e.value.exit_code == 3


def test_manifest_that_is_not_json_is_refused(tmp_path):
    root = tmp_path / "p.avatar"
    Bundle.create(root)
    (root / "bundle.json").write_text("{ nope")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        Bundle.open(root)


@pytest.mark.parametrize("change, message", [
    (lambda t: t.update(arkit_weights=t["arkit_weights"].astype(np.float64)), "dtype float64, expected float32"),
    (lambda t: t.update(arkit_weights=t["arkit_weights"][:, :50]), "shape"),
    (lambda t: t.update(root_translation=t["root_translation"][:2]), "shape"),
    (lambda t: t.pop("joint_rotations"), "'joint_rotations' is missing"),
    (lambda t: t.update(extra=np.zeros(3, np.float32)), "unexpected tensor"),
])
def test_tensor_violations_are_refused_on_write_and_read(tmp_path, change, message):
    from safetensors.numpy import save_file

    tensors = _motion()
    change(tensors)
    with pytest.raises(InvalidInput, match=message):
        save_tensors(tmp_path / "m.safetensors", tensors, "talkavatar.motion", META)
    assert not (tmp_path / "m.safetensors").exists()
    save_file(tensors, str(tmp_path / "raw.safetensors"),
              metadata={**META, "schema": "talkavatar.motion", "schema_version": "1"})
    with pytest.raises(InvalidInput, match=message):
        load_tensors(tmp_path / "raw.safetensors", "talkavatar.motion")


def test_tensor_file_of_newer_schema_or_other_kind_is_refused(tmp_path):
    from safetensors.numpy import save_file

    save_file(_motion(), str(tmp_path / "a.safetensors"),
              metadata={**META, "schema": "talkavatar.motion", "schema_version": "7"})
    with pytest.raises(InvalidInput, match="newer"):
        load_tensors(tmp_path / "a.safetensors", "talkavatar.motion")
    save_file(_motion(), str(tmp_path / "b.safetensors"), metadata={**META, "schema": "other"})
    with pytest.raises(InvalidInput, match="schema is 'other'"):
        load_tensors(tmp_path / "b.safetensors", "talkavatar.motion")
    (tmp_path / "c.safetensors").write_bytes(b"\x00" * 5)
    with pytest.raises(InvalidInput, match="not a readable safetensors"):
        load_tensors(tmp_path / "c.safetensors", "talkavatar.motion")


def test_tampered_output_is_refused_on_read(tmp_path):
    bundle = Bundle.create(tmp_path / "p.avatar")
    with bundle.write_stage("track", config={}) as w:
        w.save_tensors("m.safetensors", _motion(), "talkavatar.motion", META)
    path = tmp_path / "p.avatar" / "track" / "m.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidInput, match="changed since track wrote it"):
        Bundle.open(tmp_path / "p.avatar").read_tensors("track/m.safetensors", "talkavatar.motion")


def test_staleness_follows_inputs(tmp_path):
    bundle = Bundle.create(tmp_path / "p.avatar")
    with bundle.write_stage("track", config={}) as w:
        w.save_png("mask.png", np.zeros((2, 2), np.uint8))
    with bundle.write_stage("pseudo", config={}, inputs={"track/mask.png": ""}) as w:
        w.save_png("frame.png", np.zeros((2, 2), np.uint8))
    assert bundle.stale_inputs("pseudo") == []
    bundle.require("pseudo", by="fit")
    with bundle.write_stage("track", config={}) as w:
        w.save_png("mask.png", np.ones((2, 2), np.uint8))
    assert bundle.stale_inputs("pseudo") == ["track/mask.png"]
    with pytest.raises(InvalidInput, match="stale"):
        bundle.require("pseudo", by="fit")
    with pytest.raises(InvalidInput, match="no fit stage yet"):
        bundle.require("fit", by="render")


def test_motion_file_round_trip(tmp_path):
    t = _motion(6)
    motion = Motion(25.0, t["joint_rotations"], t["root_translation"], t["arkit_weights"],
                    audio={"path": "a.wav", "sha256": "0" * 64, "offset_seconds": 0.0})
    save_motion(tmp_path / "a.motion.safetensors", motion)
    back = load_motion(tmp_path / "a.motion.safetensors")
    assert back.fps == 25.0 and back.frames == 6 and back.audio == motion.audio
    np.testing.assert_array_equal(back.joint_rotations, motion.joint_rotations)


# --- crash safety and concurrency, with real processes -------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys, numpy as np
    from talkavatar.bundle import Bundle
    root, stage, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    bundle = Bundle.open(root)
    for i in range(rounds):
        with bundle.write_stage(stage, config={"round": i}) as w:
            for k in range(4):
                w.save_png(f"img{k}.png", np.full((256, 256, 3), (i * 7 + k) % 256, np.uint8))
        print(i, flush=True)
""")


def _check_consistent(root) -> None:
    bundle = Bundle.open(root)
    for stage, record in bundle.manifest["stages"].items():
        for rel in record["outputs"]:
            bundle.read_png(rel)  # verifies the recorded hash
        on_disk = {f"{stage}/{p.relative_to(root / stage).as_posix()}" for p in (root / stage).rglob("*")}
        assert on_disk == set(record["outputs"])
    assert not (root / JOURNAL).exists()
    assert not list(root.glob(".tmp-*")) and not list(root.glob(".trash-*"))


def test_sigkill_mid_stage_leaves_a_valid_bundle(tmp_path):
    root = tmp_path / "p.avatar"
    Bundle.create(root)
    rng = np.random.default_rng(1)
    for trial in range(12):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root), "track", "1000"],
                                stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()  # at least one commit happened
        time.sleep(float(rng.uniform(0.0, 0.3)))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _check_consistent(root)


def test_concurrent_writers_never_corrupt_the_manifest(tmp_path):
    root = tmp_path / "p.avatar"
    Bundle.create(root)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(root), stage, "8"], stdout=subprocess.PIPE)
             for stage in ("track", "pseudo", "track")]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    _check_consistent(root)
    assert set(Bundle.open(root).manifest["stages"]) == {"track", "pseudo"}


def test_second_writer_fails_clearly_when_the_lock_stays_taken(tmp_path):
    root = tmp_path / "p.avatar"
    bundle = Bundle.create(root)
    other = Bundle.open(root)
    waited = []
    with bundle.write_stage("track", config={}):
        with pytest.raises(StageFailed, match="being written by another talkavatar process"):
            with other.write_stage("pseudo", config={}, lock_timeout=0.2, on_wait=waited.append):
                pass
    assert waited == [root]
