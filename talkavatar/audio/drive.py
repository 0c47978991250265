"""The drive-audio stage: speech file in, :class:`~talkavatar.motion.Motion` out.

Pipeline (each step in its own module): decode in blocks (load) -> prosody and phones per block (prosody,
phone_source: recognition, or forced alignment when a transcript is given; English or any language) ->
coarticulated visemes with loudness-scaled opening (visemes) -> accents (prosody) -> face and head (face) ->
gestures and idle body (gestures) -> assembled motion. Everything after decoding is deterministic given ``seed``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from talkavatar.audio.face import face_and_head
from talkavatar.audio.gestures import Placement, gesture_motion
from talkavatar.audio.load import SAMPLE_RATE, iter_pcm_blocks
from talkavatar.bundle import sha256_file
from talkavatar.audio.phone_source import PhoneSource
from talkavatar.audio.phones import PhoneSegment
from talkavatar.audio.prosody import Accent, ProsodyStream, accents as find_accents
from talkavatar.audio.visemes import mouth_weights
from talkavatar.motion.file import Motion
from talkavatar.motion.names import ARKIT_INDEX, JOINT_INDEX

JAW_RADIANS_AT_FULL_OPEN = 0.35


@dataclass
class DriveResult:
    motion: Motion
    phones: list[PhoneSegment]
    accents: list[Accent]
    gestures: list[Placement]
    lip_sync: str                       # "alignment" (transcript) or "recognition"
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)      # wall seconds per step
    warnings: list[str] = field(default_factory=list)
    cpu_timings: dict[str, float] = field(default_factory=dict)  # CPU seconds of this process per step
    language: str = "en"                # the language whose path ran ("any": universal recogniser, language unknown)
    recogniser: str = "pocketsphinx-en-us"   # or "hama-ipa" (language-independent)


class _Timer:
    """Wall and process CPU seconds per step (``add`` closes the step begun at ``since``)."""

    def __init__(self):
        self.spent: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.cpu_mark = time.process_time()

    def add(self, key: str, since: float) -> float:
        now, cpu = time.perf_counter(), time.process_time()
        self.spent[key] = self.spent.get(key, 0.0) + now - since
        self.cpu[key] = self.cpu.get(key, 0.0) + cpu - self.cpu_mark
        self.cpu_mark = cpu
        return now


def drive_audio(path: Path, *, transcript: str | None = None, language: str = "auto", fps: float = 30.0,
                seed: int = 0, style: str = "calm", gestures: bool = True) -> DriveResult:
    """Talking motion for the speech in ``path`` (see the module docstring); ``language`` as ``--language``;
    ``style``: one of :data:`talkavatar.audio.config.Style`."""
    timer = _Timer()
    t = time.perf_counter()
    source = PhoneSource(language, transcript)
    prosody_stream = ProsodyStream()
    samples = 0
    t = timer.add("setup", t)
    blocks = iter_pcm_blocks(path)
    while True:
        block = next(blocks, None)
        t = timer.add("decode", t)
        if block is None:
            break
        samples += len(block)
        prosody_stream.feed(block)
        t = timer.add("prosody", t)
        source.feed(block)
        t = timer.add("phones", t)
    prosody = prosody_stream.finish()
    t = timer.add("prosody", t)
    seconds = samples / SAMPLE_RATE
    segments = source.finish()
    t = timer.add("phones", t)

    segments, mouth = mouth_weights(segments, prosody, seconds, fps, aligned=source.lip_sync == "alignment")
    frames = len(mouth)
    t = timer.add("visemes", t)

    found = find_accents(prosody)
    t = timer.add("accents", t)
    liveliness = 1.0 if style == "lively" else 0.65
    rng_face, rng_body = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    face_arkit, head_joints = face_and_head(frames, fps, found, rng_face, liveliness)
    t = timer.add("face", t)
    body_joints, root, placements = gesture_motion(found, frames, fps, style, rng_body, gestures)
    t = timer.add("gestures", t)

    arkit = np.clip(mouth + face_arkit, 0.0, 1.0).astype(np.float32)
    joints = (body_joints + head_joints).astype(np.float32)      # disjoint joint sets: a plain sum
    joints[:, JOINT_INDEX["jaw"], 0] = JAW_RADIANS_AT_FULL_OPEN * arkit[:, ARKIT_INDEX["jawOpen"]]
    audio_ref = {"path": str(path), "sha256": sha256_file(Path(path)), "offset_seconds": 0.0}
    motion = Motion(float(fps), joints, root.astype(np.float32), arkit, audio_ref)
    timer.add("assemble", t)
    return DriveResult(motion, segments, found, placements, source.lip_sync, seconds, timer.spent, source.warnings,
                       timer.cpu, source.language, source.recogniser)
