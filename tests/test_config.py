"""Stage configuration: precedence, unknown keys, and agreement between dataclasses and CLI options."""

from __future__ import annotations

import dataclasses
import importlib

import pytest
import typer

from talkavatar.config import as_record, help_for, resolve, setting
from talkavatar.errors import InvalidInput, UsageError


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    iters: int = setting(100, "Optimisation steps.")
    preset: str = setting("fast", "Speed/quality preset.")


def test_precedence_default_then_file_then_flags(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('[demo]\niters = 7\npreset = "tiny"\n')
    assert resolve(DemoConfig, "demo", None, {}) == DemoConfig()
    assert resolve(DemoConfig, "demo", toml, {}) == DemoConfig(7, "tiny")
    assert resolve(DemoConfig, "demo", toml, {"iters": 3, "preset": None}) == DemoConfig(3, "tiny")
    assert as_record(DemoConfig()) == {"iters": 100, "preset": "fast"}
    assert help_for(DemoConfig, "iters").startswith("Optimisation steps.")


def test_unknown_setting_and_bad_file(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text("[demo]\nitres = 7\n")
    with pytest.raises(UsageError, match="itres"):
        resolve(DemoConfig, "demo", toml, {})
    toml.write_text("not toml ][")
    with pytest.raises(InvalidInput):
        resolve(DemoConfig, "demo", toml, {})


def _cli_modules():
    from talkavatar.cli import app

    return [importlib.import_module(f"talkavatar.cli.{cmd.name.replace('-', '_')}")
            for cmd in typer.main.get_command(app).commands.values()]


@pytest.mark.parametrize("module", _cli_modules(), ids=lambda m: m.NAME)
def test_cli_options_match_the_stage_config(module):
    """A command with a ``CONFIG`` dataclass has an option for each of its fields, and no stray twin."""
    config_cls = getattr(module, "CONFIG", None)
    if config_cls is None:
        pytest.skip(f"{module.NAME} has no stage config")
    from talkavatar.cli import app

    command = typer.main.get_command(app).commands[module.NAME]
    params = {p.name for p in command.params}
    fields = {f.name for f in dataclasses.fields(config_cls)}
    assert fields <= params, f"fields without an option: {sorted(fields - params)}"
