"""Stage configuration: declared bounds and choices, precedence, unknown keys, composed configs, and agreement
between the config dataclasses and the CLI options built from them."""

from __future__ import annotations

import dataclasses
import importlib
import re
import typing
from pathlib import Path
from typing import Literal, Optional

import pytest
import typer
from typer.testing import CliRunner

from talkavatar.cli.common import ConfigOpt
from talkavatar.cli.options import Settings, with_settings
from talkavatar.config import (SettingError, as_record, check_fields, help_for, options, part, resolve,
                               setting)
from talkavatar.errors import InvalidInput, UsageError


@dataclasses.dataclass(frozen=True)
class InnerConfig:
    steps: int = setting(10, "Steps.", ge=4)
    where: Optional[Path] = setting(None, "A folder.")

    def __post_init__(self):
        check_fields(self)


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    iters: int = setting(100, "Optimisation steps.", ge=1, le=1000)
    preset: Literal["tiny", "fast"] = setting("fast", "Speed/quality preset.")
    weight: float = setting(0.5, "A weight.", gt=0)
    inner: InnerConfig = part(InnerConfig(steps=20), "Inner: ", expose={"steps": "inner_steps"})

    def __post_init__(self):
        check_fields(self)


def test_precedence_default_then_file_then_flags(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('[demo]\niters = 7\npreset = "tiny"\ninner_steps = 5\n')
    assert resolve(DemoConfig, "demo", None, {}) == DemoConfig()
    assert resolve(DemoConfig, "demo", toml, {}) == DemoConfig(7, "tiny", inner=InnerConfig(steps=5))
    assert resolve(DemoConfig, "demo", toml, {"iters": 3, "preset": None}) == DemoConfig(3, "tiny", inner=InnerConfig(5))
    assert as_record(DemoConfig()) == {"iters": 100, "preset": "fast", "weight": 0.5,
                                       "inner": {"steps": 20, "where": None}}
    assert help_for(DemoConfig, "iters") == "Optimisation steps. (default: 100)"
    assert help_for(DemoConfig, "inner_steps") == "Inner: Steps. (default: 20)"


def test_declared_bounds_choices_and_types():
    for bad, message in [(dict(iters=0), "iters must be between 1 and 1000, got 0"),
                         (dict(preset="huge"), "preset must be one of tiny, fast, got 'huge'"),
                         (dict(weight=0.0), "weight must be positive, got 0.0"),
                         (dict(iters=2.5), "iters must be an integer, got 2.5"),
                         (dict(iters=True), "iters must be an integer, got True")]:
        with pytest.raises(SettingError, match=message.replace("(", r"\(").replace(")", r"\)")):
            DemoConfig(**bad)
    with pytest.raises(UsageError, match="invalid demo settings: inner_steps must be at least 4, got 2"):
        resolve(DemoConfig, "demo", None, {"inner_steps": 2})
    assert DemoConfig(weight=2).weight == 2                          # an int where a float is declared is fine


def test_unknown_setting_and_bad_file(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text("[demo]\nitres = 7\n")
    with pytest.raises(UsageError, match="itres"):
        resolve(DemoConfig, "demo", toml, {})
    toml.write_text("[demo]\nsteps = 7\n")                          # a part's field goes by its exposed name
    with pytest.raises(UsageError, match="steps"):
        resolve(DemoConfig, "demo", toml, {})
    toml.write_text("not toml ][")
    with pytest.raises(InvalidInput):
        resolve(DemoConfig, "demo", toml, {})


def _cli_modules():
    from talkavatar.cli import app

    return [importlib.import_module(f"talkavatar.cli.{cmd.name.replace('-', '_')}")
            for cmd in typer.main.get_command(app).commands.values()]


def _settings_of(module) -> dict:
    """The settings groups the command's options were built from (its with_settings declaration)."""
    return getattr(module.command, "settings", {})


@pytest.mark.parametrize("module", _cli_modules(), ids=lambda m: m.NAME)
def test_cli_options_are_the_config_settings(module):
    """Every setting of a command's configs is an option --<name> with the field's help and type; every option the
    command has beyond them is declared by hand in its module (inputs, outputs, shared flags)."""
    from talkavatar.cli import app

    groups = _settings_of(module)
    if not groups:
        pytest.skip(f"{module.NAME} has no stage config")
    params = {p.name: p for p in typer.main.get_command(app).commands[module.NAME].params}
    hints = typing.get_type_hints(module.command, include_extras=True)
    for group in groups.values():
        for option in group.options():
            param = params[option.name]
            assert option.flag.split("/")[0] in param.opts
            assert param.help == group.prefix + option.help
            assert param.default is None                   # unset: the config file or the dataclass decides
            base = typing.get_args(typing.get_args(hints[option.name])[0])[0]
            assert base is option.kind.base


@pytest.mark.parametrize("module", _cli_modules(), ids=lambda m: m.NAME)
def test_each_option_reaches_its_field(module):
    """Setting an option sets its field (through the same name mapping the command uses)."""
    groups = _settings_of(module)
    if not groups:
        pytest.skip(f"{module.NAME} has no stage config")
    for group in groups.values():
        for option in group.options():
            for value in _other_values(option):
                try:
                    got = resolve(group.config, group.section, None, {option.name: value}, group.only)
                except UsageError:
                    continue                                # e.g. outside the bounds: try the next value
                for step in option.path:
                    got = getattr(got, step)
                assert got == value, option.name
                break
            else:
                assert option.default is None or option.kind.base is str, f"{option.name}: no value reached it"


@pytest.mark.parametrize("module", _cli_modules(), ids=lambda m: m.NAME)
def test_option_help_names_exactly_the_choices_it_accepts(module):
    """A choice option accepts each value it declares and its help names them; one that narrows an option of the
    same name elsewhere names none of the values it leaves out (eval's --camera is front or input: render's is also
    auto or orbit)."""
    everywhere = [o for other in _cli_modules() for g in _settings_of(other).values() for o in g.options()
                  if o.kind.choices is not None]
    choices = [(g, o) for g in _settings_of(module).values() for o in g.options() if o.kind.choices is not None]
    if not choices:
        pytest.skip(f"{module.NAME} has no choice option")
    for group, option in choices:
        for value in option.kind.choices:
            try:
                resolve(group.config, group.section, None, {option.name: value}, group.only)
            except UsageError as e:                   # only for another setting's sake (smplx needs --smplx-dir)
                assert f"{option.name} must be" not in str(e), e
            assert re.search(rf"\b{re.escape(str(value))}\b", option.help), (option.name, value)
        wider = [set(o.kind.choices) for o in everywhere if o.name == option.name
                 and set(option.kind.choices) < set(o.kind.choices)]
        for value in set().union(*wider) - set(option.kind.choices):
            assert not re.search(rf"\b{re.escape(str(value))}\b", option.help), (option.name, value)


def _other_values(option) -> list:
    """Values of the option other than its default."""
    kind = option.kind
    if kind.choices is not None:
        return [c for c in kind.choices if c != option.default]
    if kind.base is bool:
        return [True, False]
    if kind.base in (int, float) and option.default is not None:
        return [option.default + 1, option.default - 1, kind.base(option.default / 2)]
    return []


def test_adding_a_field_adds_the_option():
    """A new config field is a new CLI option, with its help, without touching the command."""
    app = typer.Typer()

    @app.command()
    @with_settings(settings=Settings(DemoConfig, "demo"))
    def show(*, settings: DemoConfig, config: ConfigOpt = None) -> None:
        typer.echo(repr(settings))

    runner = CliRunner()
    out = runner.invoke(app, ["--iters", "3", "--inner-steps", "9", "--preset", "tiny"])
    assert out.exit_code == 0, out.output
    assert "iters=3" in out.stdout and "steps=9" in out.stdout and "preset='tiny'" in out.stdout
    assert "Inner: Steps." in runner.invoke(app, ["--help"], terminal_width=200).stdout


def test_shared_choices_are_declared_once():
    from talkavatar.audio.config import Style
    from talkavatar.audio.gestures import STYLES
    from talkavatar.config import Perceptual
    from talkavatar.eval.config import EvalConfig
    from talkavatar.fit.config import PRESETS, FitConfig

    assert set(typing.get_args(Style)) == set(STYLES)
    assert set(options(FitConfig, ("preset",))[0].kind.choices) == {"auto", *PRESETS}
    eval_kinds = options(EvalConfig, ("perceptual",))[0].kind.choices
    assert eval_kinds == (*typing.get_args(Perceptual), "none")
