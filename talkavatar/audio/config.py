"""The drive-audio stage's settings (one frozen dataclass; CLI options are named like its fields)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from talkavatar.config import SettingError, check_fields, setting

Style = Literal["calm", "lively"]
"""Speaking styles (their gesture and head-motion parameters: :data:`talkavatar.audio.gestures.STYLES`)."""
LANGUAGE_PATTERN = r"auto|any|[a-z]{2,3}([-_][A-Za-z0-9]+)*"     # eSpeak NG codes: de, cmn, en-gb, pt-br, ...


@dataclass(frozen=True)
class DriveAudioConfig:
    fps: float = setting(30.0, "Frames per second of the motion.", ge=1, le=240)
    seed: int = setting(0, "Random seed for blinks, head sway and gesture choice (same seed, same motion).", ge=0)
    style: Style = setting("calm", "Speaking style, calm or lively: gesture amplitude and frequency, head motion.")
    gestures: bool = setting(True, "Co-speech gestures; --no-gestures keeps face, head and idle body only.")
    format: Literal["motion", "arkit-csv"] = setting("motion", "Output format: motion (.motion.safetensors) or "
                                                               "arkit-csv (Live Link Face CSV).")
    language: str = setting("auto", "Language of the speech: auto (English or not, from the audio or the "
                                    "transcript's letters), en (the fast English recogniser: ~120-220x real time "
                                    "on one CPU core), any (the language-independent recogniser: ~11x), or an "
                                    "eSpeak NG code (de, fr, es, cs, cmn, yue, ja, ru, hi, ...; the "
                                    "language-independent recogniser too; best with --transcript in that "
                                    "language: auto reads a Latin-script transcript whose letters do not tell as "
                                    "the language whose eSpeak NG dictionary knows most of its words).")

    def __post_init__(self):
        check_fields(self)
        if not re.fullmatch(LANGUAGE_PATTERN, self.language):
            raise SettingError("language", f"must be auto, any or a language code such as en, de, cmn, "
                                           f"got {self.language!r}")
