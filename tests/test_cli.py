"""The command-line surface: commands, global flags, help, bundle resolution, error mapping, what --help loads."""

from __future__ import annotations

import importlib.metadata
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
from tests.test_code_shape import declared_distributions

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


@pytest.mark.parametrize("name", ["track", "pseudo", "fit", "drive-audio", "render", "export", "demo", "batch"])
def test_every_command_that_writes_has_force(name):
    command = typer.main.get_command(app).commands[name]
    assert any("--force" in p.opts for p in command.params)


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"talkavatar {__version__}"


CLI_LIBRARIES = {"typer", "rich"}
"""The declared dependencies ``talkavatar --help`` and ``import talkavatar`` may load (and what these pull in,
which the project does not declare: click, shellingham, ...)."""
LOADED = ("import atexit, json, sys; atexit.register(lambda: print(json.dumps(sorted({m.split('.')[0] for m in "
          "sys.modules})), file=sys.stderr)); ")


def _heavy_modules() -> set[str]:
    """Top-level import names of every other declared dependency: torch, numpy, mediapipe, cv2, anny, scipy, ..."""
    distributions = importlib.metadata.packages_distributions()
    heavy = declared_distributions() - CLI_LIBRARIES
    return {module for module, dists in distributions.items()
            if {d.lower().replace("_", "-") for d in dists} & heavy}


@pytest.mark.parametrize("program", [
    "from talkavatar.cli import main; main()",    # the `talkavatar` console script, run with --help
    "import talkavatar; talkavatar.track, talkavatar.fit, talkavatar.render",
], ids=["talkavatar --help", "import talkavatar"])
def test_help_and_import_load_no_heavy_dependency(program):
    heavy = _heavy_modules()
    assert {"torch", "numpy", "mediapipe", "cv2", "anny", "scipy", "librosa", "safetensors", "PIL"} <= heavy
    out = subprocess.run([sys.executable, "-c", LOADED + program, "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    loaded = set(json.loads(out.stderr.splitlines()[-1]))
    assert "talkavatar" in loaded and not loaded & heavy, sorted(loaded & heavy)


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


def test_the_console_script_joins_threads_runs_atexit_and_keeps_the_exit_status(tmp_path):
    """``main`` ends the process by os._exit (no interpreter teardown: 1.6-2.0 s after a fit) only after what the
    interpreter does first: a thread still running is waited for (this one starts its last work once the main
    thread is done), atexit handlers run, the output is flushed, the exit status is kept."""
    program = ("import atexit, sys, threading, time\n"
               "class Teardown:\n    def __del__(self): print('teardown', file=sys.stderr)\n"
               "kept = Teardown()  # a module global: the interpreter's teardown would delete it\n"
               "atexit.register(lambda: print('atexit ran', file=sys.stderr)); "
               "threading.Thread(target=lambda: (threading.main_thread().join(), time.sleep(0.2), "
               "print('thread done', file=sys.stderr))).start(); "
               "from talkavatar.cli import main; main()")
    out = subprocess.run([sys.executable, "-c", program, "track", str(tmp_path / "none.png"), "-o",
                          str(tmp_path / "none.avatar")], capture_output=True, text=True)
    assert out.returncode == 3, out.stderr
    lines = out.stderr.strip().splitlines()
    assert "no such file" in out.stderr and lines[-2:] == ["thread done", "atexit ran"]
    assert "teardown" not in out.stderr  # the interpreter's teardown was skipped


def test_the_console_script_exits_ordinarily_under_cprofile(tmp_path):
    """Under cProfile (which writes its results at the interpreter's exit; on Python 3.12+ it watches through
    ``sys.monitoring``, not ``sys.setprofile``) ``main`` leaves the exit to the interpreter: the profile is written."""
    stats = tmp_path / "run.prof"
    out = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(stats), "-m", "talkavatar", "track",
                          str(tmp_path / "none.png"), "-o", str(tmp_path / "none.avatar")], capture_output=True, text=True)
    assert "no such file" in out.stderr  # (cProfile's runner swallows the exit status)
    import pstats

    assert any(name == "main" for _, _, name in pstats.Stats(str(stats)).stats)  # talkavatar.cli.main was profiled
