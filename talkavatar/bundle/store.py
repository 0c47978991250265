"""The avatar bundle: a directory with ``bundle.json`` and one sub-directory per stage.

Writes are transactional. A stage writes into ``.tmp-<stage>-<pid>/`` while holding the bundle lock; to commit,
it records its intent in ``.journal.json``, moves the old stage directory aside, moves the new one in, updates
``bundle.json`` atomically, and deletes the journal. Whoever next opens the bundle finishes or rolls back a commit
that a killed process left half done, so the bundle is always either the old state or the new one.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import shlex
import shutil
import sys
import time
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np
from PIL import Image

from talkavatar.version import __version__
from talkavatar.bundle.atomic import fsync_dir, probe_writable, write_bytes_atomic
from talkavatar.bundle.lock import LOCK_NAME, BundleLock, held_here, holder, holding
from talkavatar.bundle.schemas import validate_json
from talkavatar.bundle.tensors import load_tensors, save_tensors
from talkavatar.errors import InvalidInput

FORMAT = "talkavatar.bundle"
FORMAT_VERSION = "1.0.0"
MANIFEST = "bundle.json"
JOURNAL = ".journal.json"
MAX_JSON_BYTES = 64 << 20  # bundle.json and fit.json are kilobytes; refuse to parse more than this
STAGES = ("source", "track", "pseudo", "fit")
# inside pngs_kept: sha256 of a PNG's bytes -> the image written to it; a Bundle (and its writers) made in the block
# holds the block's dict, so pool threads use it too and concurrent blocks in other threads never share one
_kept_pngs: ContextVar[dict[str, np.ndarray] | None] = ContextVar("kept_pngs", default=None)
CONVENTIONS = {
    "handedness": "right", "up": "+Y", "units": "metres", "camera": "opencv", "extrinsics": "world_to_camera",
    "pixel_centers": 0.5, "quaternion": "wxyz", "rotation": "axis_angle", "color": "linear",
}


def _semver(text: str) -> tuple[int, int, int]:
    major, minor, patch = (int(x) for x in text.split("."))
    return major, minor, patch


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _json_bytes(doc: Any) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=False) + "\n").encode()


def read_json_file(path: Path, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """A JSON document of the bundle; :class:`InvalidInput` (exit 3) when it is unreadable, too large, too deeply
    nested or not JSON, so that a damaged file costs one line, never a traceback or gigabytes of memory."""
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise InvalidInput(f"{path}: larger than {max_bytes >> 20} MiB, not a talkavatar document",
                               tip="the file is damaged or was not written by talkavatar")
        return json.loads(data)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        reason = "nested too deeply" if isinstance(e, RecursionError) else e
        raise InvalidInput(f"{path}: not valid JSON ({reason})") from None


def new_manifest() -> dict:
    return {
        "format": FORMAT, "version": FORMAT_VERSION, "minVersion": "1.0.0",
        "generator": f"talkavatar {__version__}", "created": _now(),
        "conventions": dict(CONVENTIONS), "body_model": None, "stages": {},
    }


def check_manifest(doc: Any, where: str) -> None:
    """Refuse what this reader cannot read: a newer major version or minVersion first, then schema violations."""
    if isinstance(doc, dict) and isinstance(doc.get("version"), str) and isinstance(doc.get("minVersion"), str):
        try:
            version, min_version = _semver(doc["version"]), _semver(doc["minVersion"])
        except ValueError:
            version = min_version = (0, 0, 0)  # the schema check below names the bad field
        ours = _semver(FORMAT_VERSION)
        if version[0] > ours[0] or min_version[:2] > ours[:2]:
            raise InvalidInput(f"{where}: bundle format {doc['version']} is newer than this talkavatar reads "
                               f"({FORMAT_VERSION})", tip="upgrade talkavatar")
    validate_json(doc, "talkavatar.bundle", where)


def stage_command(stage: str, root: Path, force: bool = False) -> str:
    """The command (in backticks, for a ``tip:``) that makes ``stage`` of the bundle at ``root`` again; a bundle
    without its source photo needs the photo (``PHOTO``)."""
    target = shlex.quote(str(root))
    has_source = any((Path(root) / "source").glob("input.*"))
    argv = {"source": f"track PHOTO -o {target}", "track": f"track {target}" if has_source else
            f"track PHOTO -o {target}", "pseudo": f"pseudo -b {target}", "fit": f"fit {target}"}[stage]
    return f"`talkavatar {argv}{' --force' if force else ''}`"


def check_target(root: Path) -> None:
    """Fail at once (exit 3, one line) when no bundle can be written at ``root``: it names a file, a folder that is
    not a bundle, or a place this process cannot write (read-only file system, permissions). Stages call this
    before their work, so that a wrong ``-o`` does not cost minutes."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise InvalidInput(f"{root} is a file, not a bundle directory", tip="choose another -o/--bundle path")
    if root.is_dir() and not (root / MANIFEST).exists() and any(p.name != LOCK_NAME for p in root.iterdir()):
        raise InvalidInput(f"{root} exists and is not a talkavatar bundle", tip="choose another -o/--bundle path")
    probe_writable(root)


@contextmanager
def exclusive(root: Path, wait: bool | None = None, log: Callable[[str], None] | None = None) -> Iterator[None]:
    """Be the only writer of the bundle at ``root`` for the whole block: a stage run holds this from its up-to-date
    check to its commit, so two runs on one bundle never both do the work (the later one waits, then finds the
    result, or fails at once with ``wait=False`` / ``talkavatar --no-wait``). Creates ``root`` when missing (and
    removes it again when the block made nothing); re-entrant within a process. ``log`` is told once when waiting.
    """
    def waiting(path: Path) -> None:
        message = (f"{path} is being written by another talkavatar process{holder(path / LOCK_NAME)}; waiting "
                   "for it to finish (talkavatar --no-wait fails at once instead)")
        (log or (lambda m: print(m, file=sys.stderr)))(message)

    with holding(root, wait, waiting):
        yield


class Bundle:
    """An opened bundle. ``manifest`` is the parsed ``bundle.json``; paths are relative to ``root``."""

    def __init__(self, root: Path, manifest: dict):
        self.root = Path(root)
        self.manifest = manifest
        self.kept_pngs = _kept_pngs.get()

    # ----- opening ---------------------------------------------------------------------------------------------
    @classmethod
    def create(cls, root: Path) -> "Bundle":
        """Open ``root`` if it is a bundle, else make a new empty one there."""
        root = Path(root)
        if (root / MANIFEST).exists():
            return cls.open(root)
        if root.exists() and any(p.name != LOCK_NAME for p in root.iterdir()):
            raise InvalidInput(f"{root} exists and is not a talkavatar bundle", tip="choose another -o/--bundle path")
        root.mkdir(parents=True, exist_ok=True)
        manifest = new_manifest()
        write_bytes_atomic(root / MANIFEST, _json_bytes(manifest))
        return cls(root, manifest)

    @classmethod
    def open(cls, root: Path) -> "Bundle":
        """Open and validate an existing bundle, finishing any commit a killed writer left behind."""
        root = Path(root)
        path = root / MANIFEST
        if not path.is_file():
            raise InvalidInput(f"{root} is not a talkavatar bundle (no {MANIFEST})",
                               tip="make one with `talkavatar fit PHOTO` or `talkavatar track PHOTO`")
        if (root / JOURNAL).exists():
            _recover(root)  # a commit was interrupted or is finishing: wait for the lock, then settle it
        elif not held_here(root) and (any(root.glob(".tmp-*")) or any(root.glob(".trash-*"))):
            lock = BundleLock(root, timeout=0.0)
            if lock.try_acquire():  # leftovers of a killed writer, not of a live one
                try:
                    _recover(root, locked=True)
                finally:
                    lock.release()
        manifest = read_json_file(path)
        check_manifest(manifest, str(path))
        return cls(root, manifest)

    def reload(self) -> None:
        """Read ``bundle.json`` again (another process may have committed since this bundle was opened)."""
        self.manifest = Bundle.open(self.root).manifest

    # ----- reading ---------------------------------------------------------------------------------------------
    def record(self, stage: str) -> dict | None:
        return self.manifest["stages"].get(stage)

    def stale_inputs(self, stage: str) -> list[str]:
        """Inputs of ``stage`` whose current content differs from what the stage read (missing ones included)."""
        record = self.record(stage)
        if record is None:
            return []
        changed = []
        for name, digest in record["inputs"].items():
            path = Path(name) if os.path.isabs(name) else self.root / name
            if os.path.isabs(name) and not path.exists():
                continue  # an external input that moved away cannot be checked; the copy in source/ can
            if not path.is_file() or sha256_file(path) != digest:
                changed.append(name)
        return changed

    def require(self, stage: str, by: str) -> dict:
        """The record of ``stage``; raises :class:`InvalidInput` (exit 3) if it is missing or stale."""
        record = self.record(stage)
        if record is None:
            raise InvalidInput(f"{self.root} has no {stage} stage yet, which `talkavatar {by}` needs",
                               tip=f"run {stage_command(stage, self.root)} first (or `talkavatar fit PHOTO`)")
        stale = self.stale_inputs(stage)
        if stale:
            raise InvalidInput(f"{self.root}: the {stage} stage is stale ({stale[0]} changed since it ran)",
                               tip=f"rerun {stage_command(stage, self.root)}")
        return record

    def _verified(self, rel: str) -> Path:
        path = self.root / rel
        stage = rel.split("/", 1)[0]
        entry = (self.record(stage) or {}).get("outputs", {}).get(rel)
        if entry is None:
            raise InvalidInput(f"{self.root}: {rel} is not recorded in {MANIFEST}",
                               tip=f"rerun {stage_command(stage, self.root, force=True)} to rebuild it")
        if not path.is_file() or sha256_file(path) != entry["sha256"]:
            raise InvalidInput(f"{path} is missing or changed since {stage} wrote it",
                               tip=f"rerun {stage_command(stage, self.root, force=True)}")
        return path

    def read_tensors(self, rel: str, schema: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """Load a recorded safetensors output after checking its hash and schema."""
        return load_tensors(self._verified(rel), schema)

    def read_json(self, rel: str, schema: str) -> Any:
        path = self._verified(rel)
        doc = read_json_file(path)
        validate_json(doc, schema, str(path))
        return doc

    def read_png(self, rel: str) -> np.ndarray:
        """A recorded PNG as uint8 ``[H, W]`` or ``[H, W, C]`` (a copy of the image this process wrote to it, inside
        :func:`pngs_kept`)."""
        path = self._verified(rel)
        sha256 = self.record(rel.split("/", 1)[0])["outputs"][rel]["sha256"]
        kept = self.kept_pngs.get(sha256) if self.kept_pngs else None
        if kept is not None:
            return kept.copy()
        with Image.open(path) as im:
            return np.asarray(im)

    # ----- writing ---------------------------------------------------------------------------------------------
    @contextmanager
    def write_stage(self, stage: str, config: Mapping[str, Any], inputs: Mapping[str, str] | None = None,
                    lock_timeout: float = 600.0, on_wait=None) -> Iterator["StageWriter"]:
        """Write ``stage`` transactionally: files go to ``writer.path(...)``; leaving the block commits them.

        ``inputs`` lists what the stage read (bundle-relative or absolute paths); their hashes are recorded so that
        a later change marks the stage stale. An exception inside the block leaves the bundle as it was.
        """
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        lock = nullcontext() if held_here(self.root) else BundleLock(self.root, timeout=lock_timeout, on_wait=on_wait)
        with lock:
            _recover(self.root, locked=True)
            self.manifest = json.loads((self.root / MANIFEST).read_text())
            tmp = self.root / f".tmp-{stage}-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            writer = StageWriter(stage, tmp, self.kept_pngs)
            started, t0 = _now(), time.perf_counter()
            try:
                yield writer
                record = {
                    "generator": f"talkavatar {__version__}",
                    "config": dict(config),
                    "inputs": {name: sha256_file(Path(name) if os.path.isabs(name) else self.root / name)
                               for name in (inputs or {})},
                    "outputs": writer.output_hashes(),
                    "started": started,
                    "seconds": round(time.perf_counter() - t0, 3),
                    "timings": {k: round(v, 4) for k, v in writer.timings.items()},
                    "backend": writer.backend,
                }
                if writer.metrics:
                    record["metrics"] = writer.metrics
                manifest = json.loads(json.dumps(self.manifest))
                manifest["stages"][stage] = record
                manifest["generator"] = f"talkavatar {__version__}"
                if writer.body_model is not None:
                    manifest["body_model"] = writer.body_model
                check_manifest(manifest, f"{self.root / MANIFEST} (about to be written)")
                _commit(self.root, stage, tmp, manifest)
                self.manifest = manifest
            finally:
                shutil.rmtree(tmp, ignore_errors=True)


class StageWriter:
    """Collects one stage's files in a temporary directory; its paths are relative to the stage directory."""

    def __init__(self, stage: str, directory: Path, kept_pngs: dict[str, np.ndarray] | None = None):
        self.stage = stage
        self.dir = directory
        self.kept_pngs = kept_pngs  # the opening Bundle's (inside pngs_kept), else None
        self.timings: dict[str, float] = {}
        self.metrics: dict[str, Any] = {}
        self.backend = "cpu"
        self.body_model: dict | None = None

    def path(self, name: str) -> Path:
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def save_tensors(self, name: str, tensors: Mapping[str, np.ndarray], schema: str,
                     metadata: Mapping[str, str] | None = None) -> None:
        save_tensors(self.path(name), tensors, schema, metadata)

    def save_json(self, name: str, doc: Any, schema: str) -> None:
        validate_json(doc, schema, f"{self.stage}/{name} (about to be written)")
        self.path(name).write_bytes(_json_bytes(doc))

    def save_png(self, name: str, image: np.ndarray, compress_level: int = 1) -> None:
        """Write uint8 ``[H, W]``, ``[H, W, 3]`` or ``[H, W, 4]`` as PNG (zlib ``compress_level`` 0-9; 1 on the
        photo -> avatar path: on a 512² RGBA test frame it wrote ~9x faster than zlib's default 6, for ~18 % more
        bytes; a 12 MP photo 1.3 s against 4.4 s, a 0.6 MP contact sheet 0.10 s against 0.32 s)."""
        buf = io.BytesIO()
        image = np.ascontiguousarray(image)
        Image.fromarray(image).save(buf, format="PNG", compress_level=compress_level)
        self.path(name).write_bytes(buf.getvalue())
        if self.kept_pngs is not None:
            self.kept_pngs[hashlib.sha256(buf.getvalue()).hexdigest()] = image.copy()

    def copy_file(self, name: str, source: Path) -> None:
        shutil.copyfile(source, self.path(name))

    def output_hashes(self) -> dict[str, dict]:
        out = {}
        for path in sorted(p for p in self.dir.rglob("*") if p.is_file()):
            with open(path, "rb") as f:
                os.fsync(f.fileno())
            rel = f"{self.stage}/{path.relative_to(self.dir).as_posix()}"
            out[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        return out


@contextmanager
def pngs_kept() -> Iterator[None]:
    """Within the block, the images a stage writes as PNG stay in memory (by the sha256 of the file's bytes) and
    :meth:`Bundle.read_png` of that file (still verified against the manifest) returns a copy of the image instead of
    decoding it: `fit PHOTO`'s fit reads the pseudo frames its pseudo stage wrote a moment before (the fast preset's
    64 RGBA frames of 512²: ~67 MB held, ~0.4 s of decoding on one CPU core saved). Bundles opened in the block keep
    its images (their writers and pool threads too); a nested block shares the outer one's. Released on leaving the
    outermost block."""
    if _kept_pngs.get() is not None:
        yield
        return
    kept: dict[str, np.ndarray] = {}
    token = _kept_pngs.set(kept)
    try:
        yield
    finally:
        _kept_pngs.reset(token)
        kept.clear()  # a Bundle that outlives the block holds an empty dict: the images are freed


def _commit(root: Path, stage: str, tmp: Path, manifest: dict) -> None:
    final, trash = root / stage, root / f".trash-{stage}-{os.getpid()}"
    fsync_dir(tmp)
    write_bytes_atomic(root / JOURNAL, _json_bytes(
        {"stage": stage, "tmp": tmp.name, "trash": trash.name, "manifest": manifest}))
    if final.exists():
        os.rename(final, trash)
    os.rename(tmp, final)
    fsync_dir(root)
    write_bytes_atomic(root / MANIFEST, _json_bytes(manifest))
    shutil.rmtree(trash, ignore_errors=True)
    (root / JOURNAL).unlink()
    fsync_dir(root)


def _recover(root: Path, locked: bool = False) -> None:
    """Finish (roll forward) or undo (roll back) a commit interrupted by a crash; drop stray temp directories."""
    if not locked and not held_here(root):
        with BundleLock(root, timeout=60.0):
            return _recover(root, locked=True)
    journal_path = root / JOURNAL
    if journal_path.exists():
        journal = json.loads(journal_path.read_text())
        final, tmp, trash = root / journal["stage"], root / journal["tmp"], root / journal["trash"]
        if tmp.exists():  # the new directory never moved in: restore the old one
            if not final.exists() and trash.exists():
                os.rename(trash, final)
            shutil.rmtree(tmp, ignore_errors=True)
        else:  # the new directory is in place: record it
            write_bytes_atomic(root / MANIFEST, _json_bytes(journal["manifest"]))
            shutil.rmtree(trash, ignore_errors=True)
        journal_path.unlink()
        fsync_dir(root)
    for stray in root.glob(".tmp-*"):
        shutil.rmtree(stray, ignore_errors=True)
    for stray in root.glob(".trash-*"):
        shutil.rmtree(stray, ignore_errors=True)
