"""The drive-audio stage: a speech file in, a motion file (or a Live Link Face ARKit CSV) written out.

The motion itself comes from :func:`talkavatar.audio.drive.drive_audio`; this module names the output, writes it
and reports what was made (:class:`DriveAudioResult`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from talkavatar.audio.config import DriveAudioConfig
from talkavatar.config import as_record
from talkavatar.audio.drive import drive_audio
from talkavatar.errors import InvalidInput, UsageError
from talkavatar.motion import save_arkit_csv, save_motion
from talkavatar.runner import StageContext, made_record, run_output

SUFFIX = {"motion": ".motion.safetensors", "arkit-csv": ".csv"}


@dataclass(frozen=True)
class DriveAudioResult:
    """``output`` written (``format``), ``frames`` at ``fps``, ``seconds`` of speech, how the lips were synced
    (``lip_sync``: alignment or recognition; ``language``: the language whose path ran, ``any`` when unknown;
    ``recogniser``: pocketsphinx-en-us or hama-ipa), counts of ``phones`` and ``accents``, the ``gestures`` placed (clip
    names), seconds per step (``timings``), the whole run's ``total_seconds`` and the ``warnings`` given;
    ``skipped``: the output was up to date (the figures are the run's that made it; no timings)."""

    output: Path
    format: str
    frames: int
    fps: float
    seconds: float
    lip_sync: str
    language: str
    recogniser: str
    phones: int
    accents: int
    gestures: tuple[str, ...]
    timings: dict
    total_seconds: float
    warnings: tuple[str, ...]
    skipped: bool = False

    @classmethod
    def reused(cls, made: dict) -> "DriveAudioResult":
        """The result of an up-to-date output, from the ``as_dict()`` of the run that made it."""
        return cls(Path(made["output"]), made["format"], made["frames"], made["fps"], made["seconds"],
                   made["lip_sync"], made["language"], made["recogniser"], made["phones"], made["accents"],
                   tuple(made["gestures"]), {}, 0.0, tuple(made["warnings"]), skipped=True)

    @property
    def realtime_factor(self) -> float | None:
        """Seconds of speech per second of work."""
        return round(self.seconds / self.total_seconds, 1) if self.total_seconds > 0 else None

    def as_dict(self) -> dict:
        return {"output": str(self.output), "format": self.format, "frames": self.frames, "fps": self.fps,
                "seconds": round(self.seconds, 3), "lip_sync": self.lip_sync,
                "language": self.language, "recogniser": self.recogniser, "phones": self.phones,
                "accents": self.accents, "gestures": list(self.gestures),
                "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
                "total_s": round(self.total_seconds, 4), "realtime_factor": self.realtime_factor,
                "warnings": list(self.warnings), "skipped": self.skipped}


def transcript_text(value: str | None) -> str | None:
    """``--transcript`` is the text itself, or the path of a text file holding it."""
    if value is None:
        return None
    path = Path(value)
    try:
        is_file = path.is_file()
    except OSError:       # e.g. a sentence too long to be a file name
        is_file = False
    if is_file:
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InvalidInput(f"{path}: cannot read transcript ({e})") from None
    return value


def default_output(audio: Path, format: str) -> Path:
    """``<audio stem>.motion.safetensors`` (or ``.csv`` for arkit-csv) in the working directory."""
    return Path(Path(audio).name.split(".")[0] + SUFFIX[format])


def run_drive_audio(audio: Path, output: Path | None, config: DriveAudioConfig, ctx: StageContext, *,
                    transcript: str | None = None, force: bool = False) -> DriveAudioResult:
    """Make the talking motion of ``audio`` and write it to ``output`` (default :func:`default_output`); an output
    made from the same audio, transcript and settings is up to date (``force`` makes it again)."""
    out = Path(output) if output is not None else default_output(audio, config.format)
    if not out.parent.is_dir():
        raise UsageError(f"{out.parent}: no such directory for the output", tip="create it or pick another -o path")
    record = made_record({"drive-audio": as_record(config), "audio": str(audio), "transcript": transcript},
                         [Path(audio)])
    return run_output("drive-audio", [out], record, lambda: _drive_audio(Path(audio), out, config, ctx, transcript),
                      DriveAudioResult.reused, DriveAudioResult.as_dict, ctx, force=force)


def _drive_audio(audio: Path, out: Path, config: DriveAudioConfig, ctx: StageContext,
                 transcript: str | None) -> DriveAudioResult:
    ctx.log(f"drive-audio: {audio} ({'alignment with transcript' if transcript else 'phone recognition'}, "
            f"language {config.language})")
    made = drive_audio(audio, transcript=transcript, language=config.language, fps=config.fps,
                       seed=config.seed, style=config.style, gestures=config.gestures)
    for message in made.warnings:
        ctx.warn(message)
    ctx.timings.update(made.timings)
    with ctx.timed("write"):
        (save_arkit_csv if config.format == "arkit-csv" else save_motion)(out, made.motion)
    result = DriveAudioResult(out, config.format, made.motion.frames, config.fps, made.seconds, made.lip_sync,
                              made.language, made.recogniser, len(made.phones), len(made.accents),
                              tuple(p.clip.name for p in made.gestures), dict(ctx.timings), ctx.seconds,
                              tuple(made.warnings))
    ctx.log(f"{result.seconds:.1f} s of audio -> {result.frames} frames in {result.total_seconds:.2f} s "
            f"({result.realtime_factor}x real time), {len(made.gestures)} gestures; phones from {made.recogniser} "
            f"({made.lip_sync}, language {made.language})")
    return result
