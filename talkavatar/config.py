"""Stage configuration: one frozen dataclass per stage is the single source of truth.

Fields are declared with :func:`setting`, whose ``help`` text is also the CLI option's help. Precedence when a
command resolves its config: dataclass default < ``[<stage>]`` table of ``--config FILE.toml`` < flags given on the
command line. The resolved config is recorded in the bundle.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any, Mapping, TypeVar

from talkavatar.errors import InvalidInput, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

C = TypeVar("C")
NO_WAIT_ENV = "TALKAVATAR_NO_WAIT"  # set: a bundle another process is writing fails at once (talkavatar --no-wait)


def setting(default: Any, help: str, **kwargs) -> Any:
    """A config field with its user-facing help text."""
    return dataclasses.field(default=default, metadata={"help": help}, **kwargs)


def help_for(config_cls: type, name: str) -> str:
    """The help text of field ``name`` (for ``typer.Option(help=...)``)."""
    for f in dataclasses.fields(config_cls):
        if f.name == name:
            text = f.metadata.get("help", "")
            return f"{text} (default: {f.default})" if f.default is not None else text
    raise KeyError(f"{config_cls.__name__} has no field {name!r}")


def resolve(config_cls: type[C], section: str, config_file: Path | None, flags: Mapping[str, Any]) -> C:
    """Build ``config_cls`` from defaults, the ``[section]`` of ``config_file``, then non-None ``flags``."""
    values: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(config_cls)}
    if config_file is not None:
        try:
            table = tomllib.loads(Path(config_file).read_text()).get(section, {})
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise InvalidInput(f"{config_file}: cannot read config ({e})") from None
        unknown = set(table) - names
        if unknown:
            raise UsageError(f"{config_file}: unknown [{section}] setting(s) {sorted(unknown)}",
                             tip=f"see `talkavatar {section} --help` for the settings")
        values.update(table)
    values.update({k: v for k, v in flags.items() if v is not None and k in names})
    try:
        return config_cls(**values)
    except (TypeError, ValueError) as e:
        raise UsageError(f"invalid {section} settings: {e}") from None


def as_record(config: Any) -> dict[str, Any]:
    """The config as JSON-ready values, for the bundle's stage record."""
    out = {}
    for k, v in dataclasses.asdict(config).items():
        out[k] = str(v) if isinstance(v, Path) else v
    return out
