"""``man/talkavatar.1``, built from the Typer app so that options and help never drift from the code."""

from __future__ import annotations

import enum
import importlib
import typing
from pathlib import Path

import typer

from talkavatar.batch import jobs
from talkavatar.cli import app, main_options
from talkavatar.docs.roff import escape, literal, section, tagged
from talkavatar.version import __version__

EXIT_STATUS = [
    ("0", "Success."),
    ("1", "A stage failed (for example: no person detected, optimisation failed), or the bundle is being written "
          "by another talkavatar process and --no-wait was given."),
    ("2", "Usage error: bad or conflicting options, no bundle found or several to choose from."),
    ("3", "Invalid, stale or too-new bundle, an input file that cannot be read, or an output that cannot be written "
          "(read-only file system, a file where a folder belongs or the reverse): checked before the work."),
    ("4", "A missing optional dependency, model file or hardware (for example CUDA) that the request needs."),
    ("129", "Hung up (SIGHUP): handled like Ctrl-C."),
    ("130", "Interrupted (Ctrl-C); an interrupted fit saves a checkpoint for --resume."),
    ("143", "Terminated (SIGTERM: timeout, CI cancel, docker stop): handled like Ctrl-C."),
]

ENVIRONMENT = [
    ("TALKAVATAR_BUNDLE", "Bundle used when -b/--bundle is not given."),
    ("TALKAVATAR_NO_WAIT", "When set (to anything but 0): a command whose bundle another talkavatar process is "
                           "writing fails at once instead of waiting for it (as --no-wait)."),
    ("TALKAVATAR_SMPLX_DIR", "Directory with the user's own SMPL-X model files (for --body-model smplx)."),
    ("TALKAVATAR_CACHE_DIR", "Where talkavatar keeps caches (default ~/.cache/talkavatar): the Anny body-model "
                             "cache (~1.2 GB, built once per machine in about a minute) goes to "
                             "$TALKAVATAR_CACHE_DIR/anny when this is set and ANNY_CACHE_DIR is not; anny-body/ keeps "
                             "the part of it talkavatar uses (~120 MB, what later runs read); uv-binding/ keeps the "
                             "Gaussians' UV binding of each UV layout and resolution (~40 MB for Anny's at 1024² and "
                             "512²); made/ notes what made each file render, drive-audio and export wrote, so an "
                             "up-to-date one is skipped."),
    ("TALKAVATAR_THREADS", "CPU threads for torch and BLAS (as --threads); else OMP_NUM_THREADS, else the cores "
                           "the process may use (CPU affinity and cgroup quota)."),
    ("ANNY_CACHE_DIR", "The Anny package's own cache location (default ~/.cache/anny); takes precedence over "
                       "TALKAVATAR_CACHE_DIR."),
]

FILES = [
    ("NAME.avatar/", "An avatar bundle: bundle.json plus source/, track/, pseudo/ and fit/; see talkavatar-bundle(5)."),
    ("JOBS.batch/", "talkavatar batch's default output directory: bundles, videos, logs/JOB.log, "
                    "status/JOB.json, summary.json."),
    ("*.motion.safetensors", "A motion file: canonical joint rotations and ARKit blendshape weights per frame; "
                             "see talkavatar-bundle(5)."),
    ("~/.cache/talkavatar/made/", "One JSON file per output of render, drive-audio and export: the settings, the sha256 of "
                                  "each input and of the output. The same inputs and settings again skip the work "
                                  "(--force redoes it); an output edited or deleted since is made again. Safe to "
                                  "delete."),
    ("*.glb", "talkavatar export --format glb: glTF 2.0 binary with the skinned mesh, its texture, the skeleton, the "
              "52 ARKit blendshapes as morph targets (mesh.extras.targetNames) and the baked animation \"talk\"."),
    ("PLAYER/", "talkavatar export --format web: a static WebGL2 player (index.html, player.js, avatar.json, "
                "avatar.bin, poster.png, audio.*); serve it with talkavatar view PLAYER/ or any static file server."),
]


def _value_kind(function, name: str) -> str | None:
    """Metavar for parameter ``name`` of a command function, from its annotation; None for a flag."""
    hint = typing.get_type_hints(function, include_extras=True).get(name)
    base = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
    options = [a for a in typing.get_args(base) if a is not type(None)] if typing.get_origin(base) else [base]
    base = options[0] if options else base
    if typing.get_origin(base) is list:
        base = typing.get_args(base)[0]
    if base is bool:
        return None
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return "[" + "|".join(str(m.value) for m in base) + "]"
    return {Path: "PATH", int: "INTEGER", float: "FLOAT"}.get(base, "TEXT")


def _param_line(param, function) -> tuple[str, str]:
    names = ", ".join(param.opts + param.secondary_opts)
    kind = _value_kind(function, param.name)
    tag = names if kind is None else f"{names} {kind}"
    return tag, (getattr(param, "help", None) or "").strip()


def _options(command, function) -> list[str]:
    out = []
    for param in command.params:
        if param.param_type_name == "argument" or getattr(param, "hidden", False):
            continue
        if param.name in ("install_completion", "show_completion"):
            out.append(tagged(param.opts[0], (getattr(param, "help", None) or "").strip()))
            continue
        out.append(tagged(*_param_line(param, function)))
    return out


def _argument_name(param) -> str:
    return param.metavar or param.name.upper()


def _usage(name: str, command) -> str:
    args = " ".join(_argument_name(p) for p in command.params if p.param_type_name == "argument")
    return f"talkavatar {name} [OPTIONS] {args}".rstrip()


def _batch_section() -> list[str]:
    """The job file of ``talkavatar batch`` and how to run it on a cluster."""
    return [
        section("batch job files"), escape("talkavatar batch JOBS runs the jobs of a TOML, CSV or JSONL file."),
        literal(jobs.RECORDS.rstrip()),
        escape("For example, jobs.toml:"), literal(jobs.EXAMPLE.rstrip()),
        escape("The same as CSV (a header row; empty cells are unset) or JSONL (one JSON object per line):"),
        literal(jobs.CSV_EXAMPLE.rstrip()),
        escape("Each job runs as a Ray task. Without --address, talkavatar batch starts a Ray cluster on this machine "
               "and stops it afterwards. To use several machines, start Ray on each (pip install "
               "'talkavatar[batch]' there too): `ray start --head` on one, then `RAY_AUTH_MODE=token ray start "
               "--address HEAD:6379` on the others, with the head's ~/.ray/auth_token copied to them; run "
               "`talkavatar batch JOBS --address HEAD:6379` (or --address auto on a node of the cluster). The "
               "output directory and every input must be at the same path on every node (a shared filesystem: NFS, "
               "or object storage mounted with a FUSE driver such as s3fs or gcsfuse). Jobs ask Ray for their CPU "
               "threads and, where the cluster has GPUs, 1/--fits-per-gpu or 1/--renders-per-gpu of one; a worker "
               "or node that dies has its jobs run again elsewhere (--retries). A re-run skips every job whose "
               "status/JOB.json says done with the same settings and input bytes and whose output exists; --force "
               "runs them all again. Ctrl-C cancels the running jobs (a fit saves its checkpoint) and exits 130; "
               "bundles stay valid because every stage writes atomically."),
    ]


def build() -> str:
    root = typer.main.get_command(app)
    parts = [
        f'.TH TALKAVATAR 1 "" "talkavatar {__version__}" "User Commands"',
        section("name"), escape("talkavatar - turn one photo of a person into a whole-body 3D talking avatar"),
        section("synopsis"), "\\fBtalkavatar\\fR [\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGS\\fR]",
        section("description"), escape(root.help or ""),
        escape("Each command reads and writes an avatar bundle (a directory, see talkavatar-bundle(5)). Results go to "
               "standard output (paths, or JSON with --json); progress and logs go to standard error."),
        section("global options"),
    ]
    parts += _options(root, main_options)
    parts.append(section("commands"))
    for name, command in root.commands.items():
        parts.append(f".SS {escape(name)}")
        parts.append(escape(_usage(name, command)))
        parts.append(".PP")
        parts.append(escape((command.help or "").strip()))
        args = [p for p in command.params if p.param_type_name == "argument"]
        for arg in args:
            parts.append(tagged(_argument_name(arg), getattr(arg, "help", None) or ""))
        module = importlib.import_module(f"talkavatar.cli.{name.replace('-', '_')}")
        parts += _options(command, module.command)
        if command.epilog:
            parts.append(literal(command.epilog.strip()))
    parts += _batch_section()
    parts.append(section("exit status"))
    parts += [tagged(code, text) for code, text in EXIT_STATUS]
    parts.append(section("environment"))
    parts += [tagged(name, text) for name, text in ENVIRONMENT]
    parts.append(section("files"))
    parts += [tagged(name, text) for name, text in FILES]
    parts += [section("see also"), "\\fBtalkavatar\\-bundle\\fR(5)"]
    return "\n".join(parts) + "\n"
