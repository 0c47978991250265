"""The export stage: a bundle's avatar (and a motion) written in a format other tools read.

Formats (:data:`talkavatar.export.config.Format`): ``glb`` (:mod:`glb`), ``bvh`` (:mod:`bvh`), ``arkit-csv``
(:mod:`talkavatar.motion.arkit_csv`), ``ply`` (:mod:`talkavatar.core.splats.ply`, posed at the clip's first key,
else in the canonical rest pose) and ``web`` (:mod:`web`, a static player folder). Files are written atomically
and a web folder is built beside its destination and renamed into place, so a failed export leaves nothing
half-written. The bundle is only read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from talkavatar.bundle import Bundle
from talkavatar.bundle.atomic import probe_writable, write_bytes_atomic
from talkavatar.core.avatar import Avatar, read_avatar
from talkavatar.core.splats.ply import ply_bytes
from talkavatar.errors import InvalidInput, StageFailed, UsageError
from talkavatar.export.bvh import bvh_text
from talkavatar.export.clip import Clip
from talkavatar.export.config import NEEDS_MOTION, SUFFIXES, ExportConfig
from talkavatar.export.glb import avatar_glb
from talkavatar.export.web import write_player
from talkavatar.motion.arkit_csv import save_arkit_csv
from talkavatar.motion.file import Motion

Log = Callable[[str], None]


@dataclass
class ExportResult:
    output: Path
    format: str
    bytes: int
    seconds: float | None
    keys: int
    gaussians: int
    timings: dict[str, float] = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    skipped: bool = False

    @classmethod
    def reused(cls, made: dict) -> "ExportResult":
        """The result of an up-to-date export, from the ``as_dict()`` of the run that made it (no timings)."""
        own = ("output", "format", "bytes", "seconds", "keys", "gaussians", "timings_s", "skipped")
        return cls(Path(made["output"]), made["format"], made["bytes"], made["seconds"], made["keys"],
                   made["gaussians"], details={k: v for k, v in made.items() if k not in own}, skipped=True)

    def as_dict(self) -> dict:
        return {"output": str(self.output), "format": self.format, "bytes": self.bytes,
                "seconds": None if self.seconds is None else round(self.seconds, 4), "keys": self.keys,
                "gaussians": self.gaussians, "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
                **self.details, "skipped": self.skipped}


def choose_format(config: ExportConfig, output: Path) -> str:
    """``--format``, else from ``-o``'s suffix (.glb, .bvh, .csv, .ply; no suffix: a web folder)."""
    if config.format is not None:
        return config.format
    suffix = Path(output).suffix.lower()
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    if suffix:
        raise UsageError(f"cannot tell the export format from {output}",
                         tip="pass --format glb|bvh|arkit-csv|ply|web")
    return "web"


def check_request(config: ExportConfig, output: Path, has_motion: bool) -> str:
    """The format to write, after checking what can be checked before any work (exit 2/3 on a bad request)."""
    fmt = choose_format(config, output)
    if fmt in NEEDS_MOTION and not has_motion:
        raise UsageError(f"--format {fmt} writes motion: give --audio FILE or --motion FILE")
    if not Path(output).parent.is_dir():
        raise UsageError(f"{Path(output).parent}: no such directory for the output", tip="create it or pick another -o")
    probe_writable(Path(output).parent)
    return fmt


def run_export(bundle_path: Path, config: ExportConfig, output: Path, *, motion: Motion | None = None,
               seconds: float | None = None, audio: Path | None = None, log: Log = print) -> ExportResult:
    """Export (see the module docstring). ``motion``: what the avatar performs (from ``--audio`` or ``--motion``);
    ``seconds``: the clip's length (the audio's; default the motion's); ``audio``: the sound a web player plays."""
    fmt = check_request(config, output, motion is not None)
    output = Path(output)
    if not Path(bundle_path).is_dir():
        raise InvalidInput(f"no avatar bundle at {bundle_path}", tip="make one with `talkavatar fit PHOTO`")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    avatar = read_avatar(Bundle.open(bundle_path), by="export").to("cpu", torch.float32)
    timings["load"] = time.perf_counter() - started
    clip = Clip.of(motion, seconds) if motion is not None else None
    details: dict = {}
    t0 = time.perf_counter()
    try:
        if fmt == "web":
            details = write_player(output, avatar, clip, audio, config, log=log)
        elif fmt == "arkit-csv":
            save_arkit_csv(output, motion)
        else:
            write_bytes_atomic(output, _file_bytes(fmt, avatar, clip, motion, config))
    except OSError as e:
        raise StageFailed(f"cannot write {output} ({e.strerror or e})",
                          tip="choose an output path in a writable directory (-o)") from None
    timings["write"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started
    size = sum(p.stat().st_size for p in output.rglob("*") if p.is_file()) if output.is_dir() else \
        output.stat().st_size
    log(f"export: {fmt} -> {output} ({size / 1e6:.2f} MB in {timings['total']:.2f} s)")
    return ExportResult(output, fmt, size, None if clip is None else clip.seconds, 0 if clip is None else clip.keys,
                        avatar.count, timings, details)


def _file_bytes(fmt: str, avatar: Avatar, clip: Clip | None, motion: Motion | None, config: ExportConfig) -> bytes:
    if fmt == "glb":
        return avatar_glb(avatar, clip, first_pose(avatar, clip) if config.splats else None)
    if fmt == "bvh":
        return bvh_text(motion, canonical_rest_joints(avatar)).encode("ascii")

    return ply_bytes(first_pose(avatar, clip))


def canonical_rest_joints(avatar: Avatar) -> np.ndarray:
    """[55, 3] the canonical joints where the person's rig puts them in the canonical rest (T-)pose, metres."""
    zero = torch.zeros(1, 55, 3, dtype=avatar.rig.dtype)
    with torch.no_grad():
        return avatar.rig.to("cpu").pose(zero).canonical_joints[0].double().numpy()


def first_pose(avatar: Avatar, clip: Clip | None):
    """The avatar's Gaussians at the clip's first key (the canonical rest pose without a clip)."""
    if clip is None:
        clip = Clip.of(Motion.still(1))
    poses = (torch.from_numpy(getattr(clip, k)[:1]) for k in ("joint_rotations", "root_translation", "arkit_weights"))
    with torch.no_grad():
        return avatar.pose(*poses)
