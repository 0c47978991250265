"""The job file of `talkavatar batch` (TOML, CSV or JSONL; each record one job) read into :class:`Job` objects;
:data:`RECORDS` says what a record holds (it is also the man page's text)."""

from __future__ import annotations

import csv
import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from talkavatar.audio.config import DriveAudioConfig
from talkavatar.errors import InvalidInput, UsageError
from talkavatar.fit.config import FitConfig
from talkavatar.render.config import RenderConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a")
COMMON_KEYS = ("name", "device")
FIT_KEYS = ("fit", "bundle")
RENDER_KEYS = ("render", "audio", "motion", "output", "transcript")
DRIVE_KEYS = ("seed", "style", "gestures")  # render jobs pass these to drive-audio
FORMATS = {".toml": "toml", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
RECORDS = """\
Each record has exactly one of:
  fit = PHOTO|VIDEO|BUNDLE    make (or refit) an avatar: OUTPUT/NAME.avatar (NAME: the photo's stem; bundle = renames)
  render = NAME|BUNDLE        a fit job's name in this file, or a bundle directory, with audio = FILE or
                              motion = FILE: OUTPUT/NAME-AUDIO.mp4 (output = renames; its suffix sets the format)
  photos = DIR, audio = DIR   the short form: a fit job per photo, a render job per photo and audio file
and may have name, device, transcript (render) and the settings of the stage: the options of `talkavatar fit` or
`talkavatar render` with _ for - (preset, iters, width, camera, style, ...). A TOML file holds [[job]] tables, and
may hold output = DIR and [fit] / [render] tables of settings for every job of that kind. A CSV file has a header
row and a record per row (empty cells are unset); a JSONL file a JSON object per line. Input paths are relative to
the job file's folder, outputs to the output directory (--output, else the file's output, else JOBS.batch/ beside
the job file).
"""
EXAMPLE = """\
output = "/shared/avatars"      # bundles, videos, logs/, status/ (relative: to this file's folder)

[fit]                           # settings of every fit job (as `talkavatar fit --help`, _ for -)
preset = "fast"

[render]                        # settings of every render job (as `talkavatar render --help`)
width = 1080
height = 1920

[[job]]
fit = "photos/anna.jpg"         # -> /shared/avatars/anna.avatar

[[job]]
fit = "photos/ben.mp4"          # a video of the person
name = "ben"
iters = 800                     # this job's own settings

[[job]]
render = "anna"                 # the fit job above (or a bundle directory)
audio = "speech/welcome.wav"    # -> /shared/avatars/anna-welcome.mp4
camera = "orbit"

[[job]]                         # every photo x every audio: a fit per photo, a render per pair
photos = "team/"
audio = "lines/"
style = "lively"
"""
CSV_EXAMPLE = """\
fit,render,audio,preset,width,height
photos/anna.jpg,,,tiny,,
,anna,speech/welcome.wav,,512,512
"""


@dataclass(frozen=True)
class Job:
    """One unit of work with absolute paths. ``kind`` fit: ``input`` (photo, video or bundle) -> ``bundle``;
    kind render: ``bundle`` + ``audio`` or ``motion`` -> ``output``. ``after``: the fit job of this batch that
    makes the render's bundle."""

    name: str
    kind: str
    bundle: Path
    config: Any  # FitConfig or RenderConfig
    input: Path | None = None
    audio: Path | None = None
    motion: Path | None = None
    output: Path | None = None
    drive: DriveAudioConfig | None = None
    transcript: str | None = None
    device: str | None = None
    after: str | None = None

    def spec(self) -> dict:
        """The job as JSON-ready values (what its fingerprint and status record hold)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if dataclasses.is_dataclass(value):
                value = {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(value).items()}
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out


@dataclass(frozen=True)
class JobFile:
    jobs: list[Job]
    output: Path


def load_jobs(path: Path, output: Path | None = None) -> JobFile:
    """Read, expand and check the job file at ``path``; ``output`` overrides the file's ``output``.

    Raises UsageError (bad records, unknown settings, duplicate names) or InvalidInput (unreadable file, missing
    inputs)."""
    path = Path(path)
    records, tables = _read(path)
    base = path.resolve().parent
    out = Path(output) if output is not None else base / tables.pop("output", f"{path.stem}.batch")
    out = (base / out).resolve() if not out.is_absolute() else out
    records = [expanded for where, record in records for expanded in _expand(path, where, record, base)]
    jobs: list[Job] = []
    fits = {}
    for where, record in records:
        job = _job(path, where, record, base, out, tables, fits)
        if job.kind == "fit":
            fits[job.name] = job
        jobs.append(job)
    _check_unique(path, jobs)
    return JobFile(jobs, out)


def _read(path: Path) -> tuple[list[tuple[str, dict]], dict]:
    """(where, record) pairs and the file-level tables (TOML's ``output``, ``[fit]``, ``[render]``)."""
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise UsageError(f"{path}: unknown job file type {path.suffix!r}", tip="use a .toml, .csv or .jsonl file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidInput(f"{path}: cannot read the job file ({e})") from None
    if kind == "toml":
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise UsageError(f"{path}: not valid TOML ({e})") from None
        jobs = doc.pop("job", [])
        unknown = set(doc) - {"output", "fit", "render"}
        if unknown or not isinstance(jobs, list):
            raise UsageError(f"{path}: unknown top-level key(s) {sorted(unknown) or ['job']}",
                             tip="a job file holds output = DIR, [fit], [render] and [[job]] tables")
        return [(f"job {i + 1}", record) for i, record in enumerate(jobs)], doc
    if kind == "jsonl":
        return [(f"line {i + 1}", _json_record(path, i, line)) for i, line in enumerate(text.splitlines())
                if line.strip()], {}
    rows = csv.DictReader(text.splitlines())
    return [(f"row {i + 2}", {k.strip(): _cell(v) for k, v in row.items() if k and v is not None and v.strip()})
            for i, row in enumerate(rows)], {}


def _json_record(path: Path, index: int, line: str) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise UsageError(f"{path}: line {index + 1} is not JSON ({e.msg})") from None
    if not isinstance(record, dict):
        raise UsageError(f"{path}: line {index + 1} is not a JSON object")
    return record


def _cell(text: str) -> Any:
    """A CSV cell as the value it spells: integer, number, true/false, else the text."""
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _expand(path: Path, where: str, record: dict, base: Path) -> list[tuple[str, dict]]:
    """The short form ``photos`` x ``audio`` as one fit record per photo and one render record per pair."""
    if "photos" not in record:
        return [(where, record)]
    extra = dict(record)
    unknown = set(extra) - {"photos", "audio", "device"} - _fields(FitConfig) - _fields(RenderConfig) - set(DRIVE_KEYS)
    if unknown:
        raise UsageError(f"{path}: {where}: unknown setting(s) {sorted(unknown)} for photos x audio",
                         tip="see `talkavatar fit --help` and `talkavatar render --help` (with _ for -)")
    photos, audio = _folder(path, where, base, extra.pop("photos"), PHOTO_SUFFIXES), []
    if "audio" in extra:
        audio = _folder(path, where, base, extra.pop("audio"), AUDIO_SUFFIXES)
    fit_settings = {k: v for k, v in extra.items() if k in _fields(FitConfig) or k == "device"}
    render_settings = {k: v for k, v in extra.items() if k in _fields(RenderConfig) | set(DRIVE_KEYS) | {"device"}}
    out = []
    for photo in photos:
        out.append((f"{where} ({photo.name})", {"fit": str(photo), **fit_settings}))
        for speech in audio:
            out.append((f"{where} ({photo.name} x {speech.name})",
                        {"render": photo.stem, "audio": str(speech), **render_settings}))
    return out


def _folder(path: Path, where: str, base: Path, folder: str, suffixes: tuple[str, ...]) -> list[Path]:
    found = base / folder
    files = sorted(p for p in found.iterdir() if p.suffix.lower() in suffixes) if found.is_dir() else []
    if not files:
        raise InvalidInput(f"{path}: {where}: no {'/'.join(s[1:] for s in suffixes[:3])}... files in {found}")
    return files


def _fields(config_cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(config_cls)}


def _job(path: Path, where: str, record: dict, base: Path, out: Path, tables: dict, fits: dict) -> Job:
    kinds = [k for k in ("fit", "render") if k in record]
    if len(kinds) != 1:
        raise UsageError(f"{path}: {where}: a job needs exactly one of fit = PHOTO|VIDEO|BUNDLE, "
                         "render = NAME|BUNDLE, or photos = DIR", tip="see `talkavatar batch --help`")
    kind = kinds[0]
    settings_keys = _fields(FitConfig) if kind == "fit" else _fields(RenderConfig) | set(DRIVE_KEYS)
    allowed = set(COMMON_KEYS) | set(FIT_KEYS if kind == "fit" else RENDER_KEYS) | settings_keys
    unknown = set(record) - allowed
    if unknown:
        raise UsageError(f"{path}: {where}: unknown {kind} setting(s) {sorted(unknown)}",
                         tip=f"see `talkavatar {kind} --help` for the settings (with _ for -)")
    table = tables.get(kind, {})
    settings = {**table, **{k: v for k, v in record.items() if k in settings_keys}}
    if kind == "fit":
        return _fit_job(path, where, record, base, out, settings)
    return _render_job(path, where, record, base, out, settings, fits)


def _fit_job(path: Path, where: str, record: dict, base: Path, out: Path, settings: dict) -> Job:
    source = _existing(path, where, base / record["fit"])
    is_bundle = (source / "bundle.json").is_file()
    name = str(record.get("name") or (source.name.removesuffix(".avatar") if is_bundle else source.stem))
    bundle = source if is_bundle else out / record.get("bundle", f"{name}.avatar")
    return Job(name, "fit", bundle.resolve(), _config(path, where, FitConfig, settings), input=source,
               device=record.get("device"))


def _render_job(path: Path, where: str, record: dict, base: Path, out: Path, settings: dict, fits: dict) -> Job:
    target = str(record["render"])
    after = fits.get(target)
    bundle = after.bundle if after is not None else _existing(path, where, base / target)
    if after is None and not (bundle / "bundle.json").is_file():
        raise InvalidInput(f"{path}: {where}: {bundle} is not an avatar bundle, nor the name of a fit job above it")
    sources = [k for k in ("audio", "motion") if k in record]
    if len(sources) != 1:
        raise UsageError(f"{path}: {where}: a render job needs exactly one of audio = FILE or motion = FILE")
    source = _existing(path, where, base / record[sources[0]])
    stem = source.name.split(".")[0]
    name = str(record.get("name") or f"{after.name if after else bundle.name.removesuffix('.avatar')}-{stem}")
    config = _config(path, where, RenderConfig, {k: v for k, v in settings.items() if k not in DRIVE_KEYS})
    output = out / record.get("output", f"{name}.{config.format or 'mp4'}")
    drive = _config(path, where, DriveAudioConfig, {k: v for k, v in settings.items() if k in DRIVE_KEYS})
    return Job(name, "render", bundle.resolve(), config, audio=source if sources == ["audio"] else None,
               motion=source if sources == ["motion"] else None, output=output.resolve(), drive=drive,
               transcript=_transcript(base, record.get("transcript")), device=record.get("device"),
               after=after.name if after else None)


def _transcript(base: Path, value: str | None) -> str | None:
    """What is said: the text, or the contents of the text file it names."""
    if value is not None and (base / value).is_file():
        return (base / value).read_text(encoding="utf-8")
    return value


def _existing(path: Path, where: str, target: Path) -> Path:
    if not target.exists():
        raise InvalidInput(f"{path}: {where}: {target} does not exist",
                           tip="input paths are relative to the job file's folder")
    return target.resolve()


def _config(path: Path, where: str, config_cls: type, values: dict):
    try:
        return config_cls(**values)
    except (TypeError, ValueError) as e:
        raise UsageError(f"{path}: {where}: invalid settings ({e})") from None


def _check_unique(path: Path, jobs: list[Job]) -> None:
    for label, key in (("name", lambda j: j.name), ("output", lambda j: j.output or j.bundle)):
        seen: dict = {}
        for job in jobs:
            if key(job) in seen:
                raise UsageError(f"{path}: jobs {seen[key(job)]!r} and {job.name!r} have the same {label} "
                                 f"({key(job)})", tip="give one of them its own name = ... (or bundle/output)")
            seen[key(job)] = job.name
