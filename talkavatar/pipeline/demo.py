"""``talkavatar demo``: fit the sample photo, drive it with the sample speech, render ``demo.mp4`` and a preview.

The GPU runs the ``fast`` preset at 1024²; a CPU-only machine runs ``tiny`` at 256² (the reference rasterizer).
"""

from __future__ import annotations

import io
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from talkavatar.core.device import resolve_device
from talkavatar.errors import StageFailed, UsageError
from talkavatar.ffmpeg import ffmpeg_exe
from talkavatar.fit.config import FitConfig, preset_for
from talkavatar.pipeline.photo import fit_input
from talkavatar.pipeline.speech import render_input
from talkavatar.render.config import RenderConfig
from talkavatar.runner import stderr_log, stderr_warn
from talkavatar.samples import SAMPLE_PHOTO, SAMPLE_SPEECH, SAMPLE_TRANSCRIPT

Log = Callable[[str], None]
PRESETS = ("tiny", "fast")
# Output width (the height follows the auto camera's framing) and frame rate per preset: tiny keeps the CPU render
# of the 6 s sample within a few minutes.
VIDEO = {"tiny": dict(width=256, fps=25.0, batch=4), "fast": dict(width=1080, fps=30.0, batch=16)}
PREVIEW_FRAMES = 4


@dataclass(frozen=True)
class DemoResult:
    directory: Path
    bundle: Path
    video: Path
    preview: Path
    preset: str
    device: str
    stage_seconds: dict[str, float] = field(default_factory=dict)
    fit_metrics: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"directory": str(self.directory), "bundle": str(self.bundle), "video": str(self.video),
                "preview": str(self.preview), "preset": self.preset, "device": self.device,
                "stage_seconds": self.stage_seconds, "seconds": round(sum(self.stage_seconds.values()), 2),
                "fit": self.fit_metrics}


def default_preset(device: str | None) -> str:
    """The fit's ``auto`` preset on the device the demo runs on: ``fast`` on a GPU, else ``tiny``."""
    return preset_for("auto", resolve_device(device).type)


def run_demo(directory: Path, preset: str | None = None, device: str | None = None, log: Log = stderr_log,
             warn: Log = stderr_warn, show_progress: bool = False, force: bool = False) -> DemoResult:
    """Make ``directory``/{astronaut.avatar/, demo.mp4, preview.png} from the shipped samples; an up-to-date fit and
    video are kept unless ``force``."""
    preset = default_preset(device) if preset in (None, "auto") else preset
    if preset not in PRESETS:
        raise UsageError(f"--preset must be one of {', '.join(PRESETS)}, not {preset!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    bundle = directory / "astronaut.avatar"
    log(f"demo: {preset} preset; sample photo {SAMPLE_PHOTO.name}, sample speech {SAMPLE_SPEECH.name}")
    fitted = fit_input(SAMPLE_PHOTO, bundle, FitConfig(preset=preset), device=device, force=force, log=log,
                                      warn=warn, show_progress=show_progress)
    stage_seconds = dict(fitted.stage_seconds)
    video = directory / "demo.mp4"
    rendered = render_input(bundle, RenderConfig(camera="auto", **VIDEO[preset]), audio=SAMPLE_SPEECH, output=video,
                            transcript=SAMPLE_TRANSCRIPT.read_text().strip(), device=device, force=force, log=log,
                            warn=warn)
    stage_seconds["render"] = round(rendered.total_seconds, 2)
    preview = directory / "preview.png"
    write_preview(video, preview, rendered.frames, rendered.fps)
    return DemoResult(directory, bundle, video, preview, preset, rendered.device, stage_seconds,
                      {k: v for k, v in fitted.metrics.items() if isinstance(v, (int, float))})


def write_preview(video: Path, preview: Path, frames: int, fps: float) -> None:
    """``PREVIEW_FRAMES`` evenly spaced frames of ``video`` side by side, as a PNG."""
    times = [(i + 0.5) * frames / fps / PREVIEW_FRAMES for i in range(PREVIEW_FRAMES)]
    tiles = []
    for seconds in times:
        out = subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-ss", f"{seconds:.3f}", "-i",
                              str(video), "-frames:v", "1", "-f", "image2pipe", "-vcodec", "png", "-"],
                             capture_output=True)
        if out.returncode != 0 or not out.stdout:
            raise StageFailed(f"could not read a frame back from {video}: {out.stderr.decode(errors='replace')[-200:]}")
        tiles.append(np.asarray(Image.open(io.BytesIO(out.stdout)).convert("RGB")))
    Image.fromarray(np.concatenate(tiles, axis=1)).save(preview)

