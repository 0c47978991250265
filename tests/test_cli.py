"""The command-line surface: commands, global flags, help, bundle resolution, error mapping, import weight."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from talkavatar import __version__
from talkavatar.bundle import Bundle
from talkavatar.cli import app
from talkavatar.cli.common import BundleOpt, report_errors, resolve_bundle

COMMANDS = ["track", "pseudo", "fit", "drive-audio", "render", "eval", "demo"]
runner = CliRunner()


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_with_examples(name):
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Examples:" in result.stdout


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"talkavatar {__version__}"


def test_cli_import_leaves_torch_out():
    code = "import sys, talkavatar.cli; print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in " \
           "('torch', 'mediapipe', 'anny', 'librosa', 'cv2', 'gsplat'))))"
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_console_help_is_fast():
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "talkavatar", "--help"],
                         capture_output=True, text=True, check=True)
    self_times = [line.removeprefix("import time:").split("|")[0] for line in out.stderr.splitlines()
                  if line.startswith("import time:")]
    total_us = sum(int(t) for t in self_times if t.strip().isdigit())
    assert total_us < 1_000_000, f"imports for --help took {total_us / 1e6:.2f} s"


def _bundle_app():
    """A one-command app over the shared bundle option, as every bundle-taking command uses it."""
    probe = typer.Typer()

    @probe.command()
    @report_errors
    def show(bundle: BundleOpt = None) -> None:
        typer.echo(Bundle.open(resolve_bundle(bundle)).root.name)

    return probe


def test_bundle_resolution_none_found_is_usage_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TALKAVATAR_BUNDLE", raising=False)
    result = runner.invoke(_bundle_app(), [])
    assert result.exit_code == 2
    assert "tip:" in result.stderr


def test_bundle_resolution_picks_the_only_one_then_refuses_two(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TALKAVATAR_BUNDLE", raising=False)
    Bundle.create(tmp_path / "a.avatar")
    assert runner.invoke(_bundle_app(), []).stdout.strip() == "a.avatar"
    Bundle.create(tmp_path / "b.avatar")
    result = runner.invoke(_bundle_app(), [])
    assert result.exit_code == 2 and "several" in result.stderr
    monkeypatch.setenv("TALKAVATAR_BUNDLE", str(tmp_path / "b.avatar"))
    assert runner.invoke(_bundle_app(), []).stdout.strip() == "b.avatar"
    assert runner.invoke(_bundle_app(), ["-b", str(tmp_path / "a.avatar")]).stdout.strip() == "a.avatar"


def test_invalid_bundle_is_exit_3_with_one_line(tmp_path):
    root = tmp_path / "x.avatar"
    Bundle.create(root)
    doc = json.loads((root / "bundle.json").read_text())
    doc["version"] = "9.0.0"
    (root / "bundle.json").write_text(json.dumps(doc))
    result = runner.invoke(_bundle_app(), ["-b", str(root)])
    assert result.exit_code == 3
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("error:") and "newer" in lines[0]
    assert "Traceback" not in result.output


def test_not_a_bundle_is_exit_3(tmp_path):
    result = runner.invoke(_bundle_app(), ["-b", str(tmp_path)])
    assert result.exit_code == 3
    assert "not a talkavatar bundle" in result.stderr
