"""`talkavatar batch`: job files, shares of the cluster, and real batches on an embedded Ray cluster (2 tiny fits of
synthetic bundles + 1 render; a re-run skips all three; a worker killed mid-fit is retried to a valid bundle)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from talkavatar.batch.cluster import Resources, shares
from talkavatar.batch.config import BatchConfig
from talkavatar.batch.jobs import load_jobs
from talkavatar.errors import InvalidInput, UsageError

FIT = dict(preset="tiny", uv_res=20, image_size=96, crop_size=32, pseudo_size=64, pseudo_frames=4)
TOML = """output = "out"
[fit]
preset = "tiny"
iters = {iters}
uv_res = 20
image_size = 96
crop_size = 32
pseudo_size = 64
pseudo_frames = 4
[render]
width = 32
height = 48
[[job]]
fit = "ann.avatar"
[[job]]
fit = "bob.avatar"
[[job]]
render = "ann"
motion = "wave.motion.safetensors"
"""


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    """Two tracked + pseudo-labelled synthetic bundles and a short motion, as the batch's inputs."""
    from talkavatar.motion import Motion, save_motion
    from tests.fit_fixtures import make_bundle

    root = tmp_path_factory.mktemp("batch")
    for name in ("ann", "bob"):
        make_bundle(root / f"{name}.avatar")
    motion = Motion.still(6, fps=25.0)
    motion.joint_rotations[:, 16, 2] = np.linspace(0, 1, 6)  # the left shoulder lifts the arm
    save_motion(root / "wave.motion.safetensors", motion)
    return root


def _jobs(scene: Path, text: str, name: str = "jobs.toml") -> Path:
    path = scene / name
    path.write_text(text)
    return path


def test_toml_csv_and_jsonl_give_the_same_jobs(scene):
    toml = load_jobs(_jobs(scene, TOML.format(iters=6)))
    header = "fit,render,motion,iters,width,height," + ",".join(FIT)
    values = ",".join(str(v) for v in FIT.values())
    csv = load_jobs(_jobs(scene, f"{header}\nann.avatar,,,6,,,{values}\nbob.avatar,,,6,,,{values}\n"
                                 ",ann,wave.motion.safetensors,,32,48" + "," * len(FIT) + "\n", "jobs.csv"),
                    output=scene / "out")
    lines = [{"fit": f"{n}.avatar", "iters": 6, **FIT} for n in ("ann", "bob")]
    lines.append({"render": "ann", "motion": "wave.motion.safetensors", "width": 32, "height": 48})
    jsonl = load_jobs(_jobs(scene, "\n".join(json.dumps(x) for x in lines), "jobs.jsonl"), output=scene / "out")
    assert [j.spec() for j in toml.jobs] == [j.spec() for j in csv.jobs] == [j.spec() for j in jsonl.jobs]
    fit, _, render = toml.jobs
    assert (fit.name, fit.bundle, fit.config.iters) == ("ann", scene / "ann.avatar", 6)
    assert (render.name, render.after, render.output) == ("ann-wave", "ann", scene / "out" / "ann-wave.mp4")


def test_photos_times_audio_short_form(tmp_path):
    from PIL import Image

    for folder, names in (("team", ("ann.png", "bob.jpg", "notes.txt")), ("lines", ("hi.wav", "bye.flac"))):
        (tmp_path / folder).mkdir()
        for name in names:
            (tmp_path / folder / name).write_bytes(b"")
    Image.new("RGB", (4, 4)).save(tmp_path / "team" / "ann.png")
    path = _jobs(tmp_path, json.dumps({"photos": "team", "audio": "lines", "preset": "tiny", "width": 64}),
                 "j.jsonl")
    jobs = load_jobs(path).jobs
    assert [(j.kind, j.name) for j in jobs] == [
        ("fit", "ann"), ("render", "ann-bye"), ("render", "ann-hi"),
        ("fit", "bob"), ("render", "bob-bye"), ("render", "bob-hi")]
    assert jobs[0].config.preset == "tiny" and jobs[1].config.width == 64 and jobs[1].after == "ann"
    assert jobs[0].bundle == tmp_path / "j.batch" / "ann.avatar"


def test_the_documented_examples_load(tmp_path):
    from talkavatar.batch.jobs import CSV_EXAMPLE, EXAMPLE

    for rel in ("photos/anna.jpg", "photos/ben.mp4", "speech/welcome.wav", "team/cy.png", "team/di.jpg",
                "lines/hi.wav"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    jobs = load_jobs(_jobs(tmp_path, EXAMPLE, "jobs.toml")).jobs
    assert [j.name for j in jobs] == ["anna", "ben", "anna-welcome", "cy", "cy-hi", "di", "di-hi"]
    assert jobs[0].bundle == Path("/shared/avatars/anna.avatar") and jobs[1].config.iters == 800
    assert jobs[2].config.camera == "orbit" and jobs[4].drive.style == "lively" and jobs[4].config.width == 1080
    jobs = load_jobs(_jobs(tmp_path, CSV_EXAMPLE, "jobs.csv")).jobs
    assert [(j.name, j.config.__class__.__name__) for j in jobs] == [("anna", "FitConfig"),
                                                                     ("anna-welcome", "RenderConfig")]


@pytest.mark.parametrize("text, error, match", [
    ('[[job]]\nfit = "ann.avatar"\nitres = 3\n', UsageError, "itres"),
    ('[[job]]\nfit = "nobody.png"\n', InvalidInput, "does not exist"),
    ('[[job]]\nfit = "ann.avatar"\nrender = "ann.avatar"\n', UsageError, "exactly one of"),
    ('[[job]]\nfit = "ann.avatar"\n[[job]]\nfit = "ann.avatar"\n', UsageError, "same name"),
    ('[[job]]\nrender = "nobody"\naudio = "wave.motion.safetensors"\n', InvalidInput, "does not exist"),
    ('[[job]]\nrender = "ann.avatar"\n', UsageError, "audio = FILE or motion"),
    ('[[job]]\nfit = "ann.avatar"\npreset = 7\niters = "many"\n', UsageError, "invalid settings"),
    ('jobs = 3\n', UsageError, "unknown top-level"),
    ('[[job]\n', UsageError, "not valid TOML"),
])
def test_bad_job_files_fail_before_anything_runs(scene, text, error, match):
    with pytest.raises(error, match=match):
        load_jobs(_jobs(scene, text, "bad.toml"))


def test_shares_never_oversubscribe():
    config = BatchConfig()
    two_cores = Resources(nodes=1, cpus=2, gpus=0, node_cpus=2)
    assert shares({"fit": 2}, two_cores, config)["fit"].threads == 1
    assert shares({"fit": 1}, two_cores, config)["fit"].threads == 2
    assert shares({"fit": 2, "render": 3}, two_cores, config)["render"].threads == 1
    two_nodes = Resources(nodes=2, cpus=16, gpus=0, node_cpus=8)
    assert shares({"fit": 1}, two_nodes, config)["fit"].threads == 8  # never more than one node has
    gpu = shares({"fit": 10, "render": 1}, Resources(nodes=1, cpus=16, gpus=1, node_cpus=16), config)
    # the defaults: 8 fits or 2 renders share a GPU and its node's 16 CPUs
    assert (gpu["fit"].gpus, gpu["fit"].threads) == (0.125, 2) and (gpu["render"].gpus, gpu["render"].threads) == (0.5, 8)
    assert shares({"fit": 2}, two_cores, BatchConfig(threads=2))["fit"].threads == 2


def _batch(scene: Path, *args: str, wait: bool = True):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "talkavatar", "batch", str(scene / "jobs.toml"), "--json", *args]
    if not wait:
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)


def _assert_valid_fit(bundle: Path) -> None:
    from talkavatar.bundle import Bundle
    from talkavatar.core.avatar import Avatar

    opened = Bundle.open(bundle)  # validates the manifest and schemas
    assert opened.record("fit") is not None and not opened.stale_inputs("fit")
    opened.read_json("fit/fit.json", "talkavatar.fit")  # hash-checked
    assert Avatar.load(bundle / "fit").count > 0


@pytest.mark.slow
def test_batch_of_two_fits_and_a_render_then_a_rerun_skips_all(scene):
    _jobs(scene, TOML.format(iters=4))
    first = _batch(scene)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads(first.stdout)
    assert [(r["job"], r["state"], r["attempts"]) for r in summary["rows"]] == [
        ("ann", "done", 1), ("bob", "done", 1), ("ann-wave", "done", 1)]
    assert summary["cluster"] == "local" and summary["resources"]["nodes"] == 1
    assert all(r["threads"] == 1 for r in summary["rows"])  # 2 CPUs shared by the jobs
    for name in ("ann", "bob"):
        _assert_valid_fit(scene / f"{name}.avatar")
    from tests.media_probe import probe

    video = probe(scene / "out" / "ann-wave.mp4")
    assert (video.frames, video.width, video.height) == (6, 32, 48)
    assert "ann (fit) done in" in first.stderr and (scene / "out" / "logs" / "ann.log").stat().st_size > 0
    again = _batch(scene)
    assert again.returncode == 0 and "0 job(s) to run, 3 finished before" in again.stderr
    assert [r["state"] for r in json.loads(again.stdout)["rows"]] == ["skipped"] * 3


@pytest.mark.slow
def test_a_worker_killed_mid_fit_is_retried_to_a_valid_bundle(scene):
    _jobs(scene, TOML.format(iters=120).split("[[job]]")[0] + '[[job]]\nfit = "bob.avatar"\nname = "victim"\n')
    status = scene / "out" / "status" / "victim.json"
    status.unlink(missing_ok=True)
    # one thread: the job's default share (2 here) spins against the other xdist worker and made this test the
    # suite's longest (162 s idle; 60 steps of a 400-Gaussian fit take a few seconds on one thread)
    batch = _batch(scene, "--force", "--threads", "1", wait=False)
    pid = _running_pid(status, scene / "out" / "logs" / "victim.log", batch)
    os.kill(pid, signal.SIGKILL)  # the Ray worker process, mid-fit
    out, err = batch.communicate(timeout=1800)
    assert batch.returncode == 0, err[-3000:]
    row = json.loads(out)["rows"][0]
    assert (row["state"], row["attempts"]) == ("done", 2) and json.loads(status.read_text())["pid"] != pid
    _assert_valid_fit(scene / "bob.avatar")


def _running_pid(status: Path, log: Path, batch: subprocess.Popen) -> int:
    """The pid of the worker once it is optimising (its log says 'fitting'); fails if the batch ends first."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and batch.poll() is None:
        if status.is_file() and log.is_file() and "fitting" in log.read_text():
            record = json.loads(status.read_text())
            if record["state"] == "running":
                time.sleep(0.5)  # some steps in (on an idle machine 60 steps were over before a 2 s wait ended)
                return record["pid"]
        time.sleep(0.5)
    batch.kill()
    raise AssertionError(f"the fit never started: {batch.communicate()[1][-2000:]}")
