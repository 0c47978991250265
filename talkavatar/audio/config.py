"""The drive-audio stage's settings (one frozen dataclass; CLI options are named like its fields)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from talkavatar.config import check_fields, setting

Style = Literal["calm", "lively"]
"""Speaking styles (their gesture and head-motion parameters: :data:`talkavatar.audio.gestures.STYLES`)."""


@dataclass(frozen=True)
class DriveAudioConfig:
    fps: float = setting(30.0, "Frames per second of the motion.", ge=1, le=240)
    seed: int = setting(0, "Random seed for blinks, head sway and gesture choice (same seed, same motion).", ge=0)
    style: Style = setting("calm", "Speaking style, calm or lively: gesture amplitude and frequency, head motion.")
    gestures: bool = setting(True, "Co-speech gestures; --no-gestures keeps face, head and idle body only.")
    format: Literal["motion", "arkit-csv"] = setting("motion", "Output format: motion (.motion.safetensors) or "
                                                               "arkit-csv (Live Link Face CSV).")

    def __post_init__(self):
        check_fields(self)
