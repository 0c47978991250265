"""``man/talkavatar.1``, built from the Typer app so that options and help never drift from the code."""

from __future__ import annotations

from talkavatar import __version__
from talkavatar.docs.roff import escape, literal, section, tagged

EXIT_STATUS = [
    ("0", "Success."),
    ("1", "A stage failed (for example: no person detected, optimisation failed, output not writable)."),
    ("2", "Usage error: bad or conflicting options, no bundle found or several to choose from."),
    ("3", "Invalid, stale or too-new bundle, or an input file that cannot be read."),
    ("4", "A missing optional dependency, model file or hardware (for example CUDA) that the request needs."),
    ("130", "Interrupted (Ctrl-C)."),
]

ENVIRONMENT = [
    ("TALKAVATAR_BUNDLE", "Bundle used when -b/--bundle is not given."),
    ("TALKAVATAR_SMPLX_DIR", "Directory with the user's own SMPL-X model files (for --body-model smplx)."),
    ("TALKAVATAR_CACHE_DIR", "Where talkavatar keeps model caches: the Anny body-model cache (~1.2 GB, built once "
                             "per machine in about a minute) goes to $TALKAVATAR_CACHE_DIR/anny when ANNY_CACHE_DIR "
                             "is unset."),
    ("ANNY_CACHE_DIR", "The Anny package's own cache location (default ~/.cache/anny); takes precedence over "
                       "TALKAVATAR_CACHE_DIR."),
]

FILES = [
    ("NAME.avatar/", "An avatar bundle: bundle.json plus source/, track/, pseudo/ and fit/; see talkavatar-bundle(5)."),
    ("*.motion.safetensors", "A motion file: canonical joint rotations and ARKit blendshape weights per frame; "
                             "see talkavatar-bundle(5)."),
]


def _param_line(param) -> tuple[str, str]:
    names = ", ".join(param.opts + param.secondary_opts)
    tag = names if getattr(param, "is_flag", False) else f"{names} {_metavar(param)}"
    return tag, (getattr(param, "help", None) or "").strip()


def _metavar(param) -> str:
    if param.metavar:
        return param.metavar
    name = getattr(param.type, "name", "") or "value"
    return name.upper()


def _options(command) -> list[str]:
    out = []
    for param in command.params:
        if param.param_type_name == "argument":
            continue
        if getattr(param, "hidden", False):
            continue
        tag, help_text = _param_line(param)
        out.append(tagged(tag, help_text))
    return out


def _usage(name: str, command) -> str:
    args = " ".join(p.human_readable_name for p in command.params if p.param_type_name == "argument")
    return f"talkavatar {name} [OPTIONS] {args}".rstrip()


def build() -> str:
    import typer

    from talkavatar.cli import app

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
    parts += _options(root)
    parts.append(section("commands"))
    for name, command in root.commands.items():
        parts.append(f".SS {escape(name)}")
        parts.append(escape(_usage(name, command)))
        parts.append(".PP")
        parts.append(escape((command.help or "").strip()))
        args = [p for p in command.params if p.param_type_name == "argument"]
        for arg in args:
            parts.append(tagged(arg.human_readable_name, getattr(arg, "help", None) or ""))
        parts += _options(command)
        if command.epilog:
            parts.append(literal(command.epilog.strip()))
    parts.append(section("exit status"))
    parts += [tagged(code, text) for code, text in EXIT_STATUS]
    parts.append(section("environment"))
    parts += [tagged(name, text) for name, text in ENVIRONMENT]
    parts.append(section("files"))
    parts += [tagged(name, text) for name, text in FILES]
    parts += [section("see also"), "\\fBtalkavatar\\-bundle\\fR(5)"]
    return "\n".join(parts) + "\n"
