"""The stage contract and its runner.

A stage's compute function takes its typed inputs, its config and a :class:`StageContext`; it returns what it made.
The runner around it (:func:`run_stage`, or :func:`up_to_date` + :func:`commit` for a stage that writes more than
one bundle stage) owns what every stage needs the same way:

- the up-to-date check: one rule (:func:`up_to_date`), so an unchanged stage is skipped (``force`` redoes it);
- the device: ``--device`` resolved once, on first use (:attr:`StageContext.device`);
- timings: ``with ctx.timed("phase"):``, recorded in the bundle's stage record (seconds);
- the backend actually used, as the compute function reports it (:meth:`StageContext.used`);
- progress lines on stderr (``ctx.log`` / ``ctx.warn``; the CLI passes its own, quiet-aware ones);
- the transactional write: the bundle's lock held from the check to the commit, outputs committed all at once
  (:meth:`talkavatar.bundle.Bundle.write_stage`), nothing left behind on failure.

A stage that writes files outside a bundle (drive-audio's motion, render's video) keeps the same up-to-date rule
with :func:`run_output`: what made each output (the resolved config and the sha256 of every input) is remembered
in ``$TALKAVATAR_CACHE_DIR/made/`` (default ``~/.cache/talkavatar/made/``), one small JSON file per output path,
with the sha256 of the output itself, so an output edited, replaced or deleted since is made again.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence, TypeVar

from talkavatar.core.cache import cache_root

if TYPE_CHECKING:  # the runner itself stays light: the public API imports its progress sinks
    from talkavatar.bundle import Bundle, StageWriter

Log = Callable[[str], None]
R = TypeVar("R")


def stderr_log(message: str) -> None:
    """The default progress sink: one line on stderr."""
    print(message, file=sys.stderr, flush=True)


def stderr_warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


@dataclass
class StageContext:
    """What a compute function gets from the runner. ``device_name``: auto, cpu, cuda or cuda:N (None: auto);
    ``log``: where progress lines go; ``warn_to``: where warnings go (:meth:`warn` also keeps them in
    ``warnings``)."""

    device_name: str | None = None
    log: Log = stderr_log
    warn_to: Log = stderr_warn
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    backend: str = ""
    started: float = field(default_factory=time.perf_counter)
    _device: Any = None

    @property
    def device(self):
        """The torch device, resolved on first use (:func:`talkavatar.core.device.resolve_device`)."""
        if self._device is None:
            from talkavatar.core.device import resolve_device

            self._device = resolve_device(self.device_name)
        return self._device

    def on(self, device) -> "StageContext":
        """Use this torch device whatever ``device_name`` says (e.g. a photo tracked on the CPU)."""
        self._device = device
        return self

    @contextmanager
    def timed(self, key: str) -> Iterator[None]:
        """Add the seconds spent in the block to ``timings[key]``."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[key] = self.timings.get(key, 0.0) + time.perf_counter() - t0

    def warn(self, message: str) -> None:
        """A warning for the user (kept in ``warnings`` for the result)."""
        self.warnings.append(message)
        self.warn_to(message)

    def used(self, backend: str) -> None:
        """Record the backend that actually ran (e.g. ``gsplat`` or ``reference``), as the code that ran reports it."""
        self.backend = backend

    @property
    def seconds(self) -> float:
        """Wall seconds since the context was made."""
        return time.perf_counter() - self.started


@dataclass
class Computed:
    """What a compute function returns to :func:`run_stage`: its ``value`` (the stage's typed result parts), the
    bundle-relative or absolute ``inputs`` it read, ``metrics`` for the stage record and ``write``, which puts its
    files into the stage writer."""

    value: Any
    inputs: Sequence[str]
    metrics: dict
    write: Callable[[StageWriter], None]


@dataclass(frozen=True)
class Outcome:
    """A stage run: the stage ``record`` now in the bundle (the previous one when ``skipped``), the compute
    function's ``value`` (None when skipped) and the wall ``seconds`` (0 when skipped)."""

    record: dict
    value: Any
    seconds: float
    skipped: bool


def up_to_date(bundle: Bundle, stage: str, record: dict, upstream: Sequence[str] = ()) -> dict | None:
    """The previous record of ``stage`` when running it again would redo the same work, else None.

    Same rule for every stage: the same resolved config, every recorded input unchanged, and the same
    ``upstream`` stages read as exist now (a pseudo stage added after a fit makes the fit stale)."""
    previous = bundle.record(stage)
    if previous is None or previous["config"] != record or bundle.stale_inputs(stage):
        return None
    for name in upstream:
        read = any(path.startswith(f"{name}/") for path in previous["inputs"])
        if read != (bundle.record(name) is not None):
            return None
    return previous


def commit(bundle: Bundle, stage: str, record: dict, inputs: Sequence[str], ctx: StageContext,
           write: Callable[[StageWriter], None], metrics: dict | None = None) -> dict:
    """Write ``stage`` transactionally with the context's timings and backend; returns the new record."""
    with bundle.write_stage(stage, record, inputs=list(inputs)) as writer:
        write(writer)
        writer.timings.update(ctx.timings)
        writer.metrics.update(metrics or {})
        writer.backend = ctx.backend
    return bundle.record(stage)


def run_stage(bundle: Bundle, stage: str, record: dict, compute: Callable[[StageContext], Computed],
              ctx: StageContext, *, force: bool = False, upstream: Sequence[str] = ()) -> Outcome:
    """Skip ``stage`` when :func:`up_to_date` (unless ``force``), else compute and commit it; the only writer of
    the bundle from the check to the commit (:func:`talkavatar.bundle.store.exclusive`: a second run waits, then
    finds the work done)."""
    from talkavatar.bundle.store import exclusive

    with exclusive(bundle.root, log=ctx.log):
        bundle.reload()  # what a writer we waited for committed
        previous = None if force else up_to_date(bundle, stage, record, upstream)
        if previous is not None:
            ctx.log(f"{bundle.root}: {stage} is up to date (use --force to redo)")
            return Outcome(previous, None, 0.0, True)
        done = compute(ctx)
        committed = commit(bundle, stage, record, done.inputs, ctx, done.write, done.metrics)
    return Outcome(committed, done.value, ctx.seconds, False)


def fingerprint(path: Path) -> str | None:
    """sha256 of what ``path`` holds: a file's bytes, a bundle's ``bundle.json`` (its stage records hold the sha256
    of every stage output), a folder's file names and bytes; None when there is nothing at ``path``."""
    from talkavatar.bundle import sha256_file

    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    if (path / "bundle.json").is_file():
        return sha256_file(path / "bundle.json")
    if path.is_dir():
        h = hashlib.sha256()
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(f"{child.relative_to(path)}\0{sha256_file(child)}\n".encode())
        return h.hexdigest()
    return None


def made_record(config: dict, inputs: Sequence[Path]) -> dict:
    """What makes an output what it is: the resolved ``config`` (JSON-ready) and the :func:`fingerprint` of each
    input (by absolute path)."""
    return {"config": config, "inputs": {str(Path(p).resolve()): fingerprint(p) for p in inputs}}


def _made_path(output: Path) -> Path:
    return cache_root() / "made" / (hashlib.sha256(str(Path(output).resolve()).encode()).hexdigest()[:32] + ".json")


def made_before(outputs: Sequence[Path], record: dict) -> dict | None:
    """The result (``as_dict()``) of the run that made ``outputs`` from the same :func:`made_record` when they are
    all still as that run left them, else None."""
    try:
        previous = json.loads(_made_path(outputs[0]).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(previous, dict) or previous.get("record") != record:
        return None
    written = previous.get("outputs", {})
    if any(written.get(str(Path(p).resolve())) != fingerprint(p) or fingerprint(p) is None for p in outputs):
        return None
    return previous.get("result")


def remember_made(outputs: Sequence[Path], record: dict, result: dict) -> None:
    """Note that ``outputs`` were made from ``record`` (see :func:`made_before`); a cache that cannot be written
    only means the next run redoes the work."""
    from talkavatar.bundle.atomic import write_bytes_atomic

    doc = {"record": record, "outputs": {str(Path(p).resolve()): fingerprint(p) for p in outputs},
           "result": result}
    path = _made_path(outputs[0])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, json.dumps(doc, indent=1, sort_keys=True, default=str).encode())
    except OSError:
        pass


def run_output(stage: str, outputs: Sequence[Path], record: dict, compute: Callable[[], R],
               reuse: Callable[[dict], R], as_dict: Callable[[R], dict], ctx: StageContext, *,
               force: bool = False) -> R:
    """:func:`run_stage` for a stage that writes ``outputs`` outside a bundle: when they were made from the same
    ``record`` (:func:`made_record`) and are unchanged, say so and return ``reuse(previous result)`` (unless
    ``force``); else ``compute()`` and remember what made them."""
    previous = None if force else made_before(outputs, record)
    if previous is not None:
        ctx.log(f"{outputs[0]}: {stage} is up to date (use --force to redo)")
        return reuse(previous)
    result = compute()
    remember_made(outputs, record, as_dict(result))
    return result
