"""Stage configuration: one frozen dataclass per stage is the single source of truth for its settings.

Each field is declared once, with :func:`setting`: its default, its help text (the CLI option's ``--help``), its
type (``Literal[...]`` for a choice) and its bounds (``ge``/``gt``/``le``/``lt``). :func:`check_fields` enforces
the declaration (each config's ``__post_init__`` calls it, then adds the rules that tie several fields together).
A config may hold another stage's config (:func:`part`) instead of restating its fields.

:func:`options` lists the settings a command exposes (one option per field, named like it); the CLI builds its
Typer options from that list (``talkavatar.cli.options``) and :func:`resolve` maps the same names back to fields.
Precedence: dataclass default < ``[<section>]`` table of ``--config FILE.toml`` < flags given on the command line.
The resolved config is recorded in the bundle (:func:`as_record`).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping, TypeVar

from talkavatar.errors import InvalidInput, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

C = TypeVar("C")
NO_WAIT_ENV = "TALKAVATAR_NO_WAIT"  # set: a bundle another process is writing fails at once (talkavatar --no-wait)

Perceptual = Literal["auto", "lpips", "efficientnet"]
"""The perceptual distances (fit's loss, eval's metric): auto picks LPIPS-VGG when its weights are present locally,
else EfficientNet-Lite0 features."""


class SettingError(ValueError):
    """A setting outside its declaration: ``name`` and what it must be (``str()`` is ``"<name> <rule>"``)."""

    def __init__(self, name: str, rule: str):
        super().__init__(f"{name} {rule}")
        self.name, self.rule = name, rule


def setting(default: Any, help: str, *, ge: float | None = None, gt: float | None = None, le: float | None = None,
            lt: float | None = None) -> Any:
    """A config field: its default, its user-facing help, and its inclusive (``ge``, ``le``) or exclusive (``gt``,
    ``lt``) bounds. Choices are the field's ``Literal[...]`` type."""
    bounds = {k: v for k, v in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)) if v is not None}
    return dataclasses.field(default=default, metadata={"help": help, "bounds": bounds})


def part(default: Any, help: str, expose: Mapping[str, str]) -> Any:
    """A field holding another stage's config (``default``), whose fields ``expose`` ({field: option name}) are
    settings of this one; ``help`` prefixes their help text."""
    return dataclasses.field(default_factory=lambda: default, metadata={"help": help, "expose": dict(expose)})


@dataclass(frozen=True)
class Choice:
    """What a field's type says: the base type (int, float, str, bool, Path, or a config class for a part), the
    allowed values of a ``Literal`` (else None), and whether None is allowed."""
    base: type
    choices: tuple | None
    optional: bool


@functools.lru_cache(maxsize=None)
def field_types(config_cls: type) -> dict[str, Choice]:
    """The declared type of every field of ``config_cls``."""
    out = {}
    for name, hint in typing.get_type_hints(config_cls).items():
        args = typing.get_args(hint)
        optional = type(None) in args and typing.get_origin(hint) is not Literal
        if optional:
            hint = next(a for a in args if a is not type(None))
        if typing.get_origin(hint) is Literal:
            choices = typing.get_args(hint)
            out[name] = Choice(type(choices[0]), choices, optional)
        else:
            out[name] = Choice(hint, None, optional)
    return out


def _bounds_rule(value: float, bounds: Mapping[str, float]) -> str | None:
    """What ``value`` must be when it breaks ``bounds``, else None."""
    low = bounds.get("ge", bounds.get("gt"))
    high = bounds.get("le", bounds.get("lt"))
    ok = (("ge" not in bounds or value >= bounds["ge"]) and ("gt" not in bounds or value > bounds["gt"])
          and ("le" not in bounds or value <= bounds["le"]) and ("lt" not in bounds or value < bounds["lt"]))
    if ok:
        return None
    low_word = "at least" if "ge" in bounds else "more than"
    high_word = "at most" if "le" in bounds else "below"
    if low is not None and high is not None:
        if "ge" in bounds and "le" in bounds:
            return f"must be between {low:g} and {high:g}, got {value!r}"
        return f"must be {low_word} {low:g} and {high_word} {high:g}, got {value!r}"
    if high is not None:
        return f"must be {high_word} {high:g}, got {value!r}"
    if bounds.get("gt") == 0:
        return f"must be positive, got {value!r}"
    return f"must be {low_word} {low:g}, got {value!r}"


def _type_rule(value: Any, base: type) -> str | None:
    """What ``value`` must be when it is not of the declared ``base`` type, else None."""
    if base is bool:
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
    if base is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else f"must be an integer, got {value!r}"
    if base is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else f"must be a number, got {value!r}"
    if base is Path:
        return None if isinstance(value, (str, Path)) else f"must be a path, got {value!r}"
    if base is str:
        return None if isinstance(value, str) else f"must be text, got {value!r}"
    return None if isinstance(value, base) else f"must be a {base.__name__}, got {value!r}"


def check_fields(config: Any) -> None:
    """Raise :class:`SettingError` for the first field of ``config`` outside its declared type, choices or bounds."""
    types = field_types(type(config))
    for f in dataclasses.fields(config):
        value, kind = getattr(config, f.name), types[f.name]
        if value is None:
            if kind.optional:
                continue
            raise SettingError(f.name, "must be set")
        if kind.choices is not None:
            if value not in kind.choices:
                raise SettingError(f.name, f"must be one of {', '.join(map(str, kind.choices))}, got {value!r}")
            continue
        rule = _type_rule(value, kind.base) or (
            _bounds_rule(value, f.metadata["bounds"]) if f.metadata.get("bounds") else None)
        if rule:
            raise SettingError(f.name, rule)


@dataclass(frozen=True)
class Option:
    """One setting as a command exposes it: option ``name`` (``--name`` with ``-`` for ``_``), the field ``path``
    within the config, its help text, type and default."""
    name: str
    path: tuple[str, ...]
    help: str
    kind: Choice
    default: Any

    @property
    def flag(self) -> str:
        flag = "--" + self.name.replace("_", "-")
        return f"{flag}/--no-{flag[2:]}" if self.kind.base is bool else flag


def _help(text: str, default: Any) -> str:
    """``text`` with its default; a set default replaces the one the text describes (a part's own default)."""
    if default is None:
        return text
    return f"{re.sub(r' [(]default: [^()]*(?:[(][^()]*[)][^()]*)*[)]$', '', text)} (default: {default})"


def options(config_cls: type, only: tuple[str, ...] | None = None) -> list[Option]:
    """The settings of ``config_cls`` as options, in field order (those named in ``only``, when given); a
    :func:`part` field contributes the fields it exposes, under their exposed names."""
    out = []
    for f in dataclasses.fields(config_cls):
        if "expose" in f.metadata:
            sub = f.default_factory()
            by_field = {g.name: g for g in dataclasses.fields(sub)}
            for field_name, name in f.metadata["expose"].items():
                g = by_field[field_name]
                default = getattr(sub, field_name)
                out.append(Option(name, (f.name, field_name), f.metadata["help"] + _help(g.metadata["help"], default),
                                  field_types(type(sub))[field_name], default))
        else:
            out.append(Option(f.name, (f.name,), _help(f.metadata.get("help", ""), f.default),
                              field_types(config_cls)[f.name], f.default))
    return [o for o in out if only is None or o.name in only]


def help_for(config_cls: type, name: str) -> str:
    """The help text of setting ``name`` of ``config_cls`` (its field's help, and its default when not None)."""
    for o in options(config_cls):
        if o.name == name:
            return o.help
    raise KeyError(f"{config_cls.__name__} has no setting {name!r}")


def _read_table(config_file: Path, section: str) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(config_file).read_text()).get(section, {})
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise InvalidInput(f"{config_file}: cannot read config ({e})") from None


def _build(config_cls: type[C], values: Mapping[tuple[str, ...], Any]) -> C:
    """``config_cls`` with the values at their field paths (parts: their default with the values given)."""
    types = field_types(config_cls)
    top = {path[0]: Path(value) if types[path[0]].base is Path and isinstance(value, str) else value
           for path, value in values.items() if len(path) == 1}
    for f in dataclasses.fields(config_cls):
        sub = {path[1:]: v for path, v in values.items() if len(path) > 1 and path[0] == f.name}
        if sub:
            default = f.default_factory()
            current = {(g.name,): getattr(default, g.name) for g in dataclasses.fields(default)}
            try:
                top[f.name] = _build(type(default), {**current, **sub})
            except SettingError as e:
                raise SettingError(f"{f.name}.{e.name}", e.rule) from None
    return config_cls(**top)


def resolve(config_cls: type[C], section: str, config_file: Path | None, flags: Mapping[str, Any],
            only: tuple[str, ...] | None = None) -> C:
    """Build ``config_cls`` from its defaults, the ``[section]`` table of ``config_file``, then the non-None
    ``flags`` (both keyed by option name, see :func:`options`; ``only`` limits the flags taken)."""
    by_name = {o.name: o for o in options(config_cls)}
    values: dict[tuple[str, ...], Any] = {}
    if config_file is not None:
        table = _read_table(config_file, section)
        unknown = set(table) - set(by_name)
        if unknown:
            raise UsageError(f"{config_file}: unknown [{section}] setting(s) {sorted(unknown)}",
                             tip=f"see `talkavatar {section} --help` for the settings")
        values.update({by_name[k].path: v for k, v in table.items()})
    values.update({by_name[k].path: v for k, v in flags.items()
                   if v is not None and k in by_name and (only is None or k in only)})
    try:
        return _build(config_cls, values)
    except SettingError as e:
        name = next((o.name for o in by_name.values() if ".".join(o.path) == e.name), e.name)
        raise UsageError(f"invalid {section} settings: {name} {e.rule}") from None
    except (TypeError, ValueError) as e:
        raise UsageError(f"invalid {section} settings: {e}") from None


def from_record(config_cls: type[C], record: Mapping[str, Any]) -> C:
    """The config a bundle's stage record holds (the inverse of :func:`as_record`); fields the record lacks take
    their defaults, fields it has that the class lacks are ignored. Raises ``ValueError`` when a value breaks the
    declaration."""
    names = {f.name: f for f in dataclasses.fields(config_cls)}
    values: dict[tuple[str, ...], Any] = {}
    for key, value in record.items():
        if key in names and "expose" in names[key].metadata and isinstance(value, Mapping):
            values.update({(key, k): v for k, v in value.items()})
        elif key in names:
            values[(key,)] = value
    return _build(config_cls, values)


def as_record(config: Any) -> dict[str, Any]:
    """The config as JSON-ready values, for the bundle's stage record."""
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        out[f.name] = as_record(value) if dataclasses.is_dataclass(value) else str(value) if isinstance(
            value, Path) else value
    return out
