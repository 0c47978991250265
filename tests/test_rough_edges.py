"""The rough edges of issue 18, each reproduced as a new user hits it: device-aware defaults, progress without a
terminal, escaping, output checks before the work, eval on stdout, one writer per bundle, file modes, signals,
stale partial files, --force everywhere, byte-reproducible files."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from talkavatar.cli import app
from talkavatar.fit.config import FitConfig, preset_for
from talkavatar.render.config import RenderConfig
from tests.fit_fixtures import make_bundle

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]
# A fit of the synthetic bundle small enough for tests (the preset's other fields as tiny).
SMALL_FIT = dict(preset="tiny", uv_res=20, image_size=96, crop_size=32, pseudo_size=64, pseudo_frames=4)


def _env(**extra) -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "TALKAVATAR_THREADS": "1", **extra}


def _cli(*args: str, **kwargs) -> subprocess.Popen:
    """``talkavatar ARGS`` as a real process, stderr a pipe (not a terminal), as in CI or ``2>log``."""
    return subprocess.Popen([sys.executable, "-m", "talkavatar", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(), **kwargs)


def _fit_config(path: Path, **overrides) -> Path:
    values = {**SMALL_FIT, **overrides}
    path.write_text("[fit]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items()))
    return path


@pytest.fixture(scope="module")
def fit_bundle(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("rough") / "syn.avatar")


# ---- 1. device-aware defaults ---------------------------------------------------------------------------------
def test_auto_preset_is_tiny_on_a_cpu_and_fast_on_a_gpu():
    assert FitConfig().preset == "auto"
    assert FitConfig().effective("cpu").preset == "tiny" and FitConfig().effective("cpu").iters == 120
    assert FitConfig().effective("cuda").preset == "fast"
    assert preset_for("quality", "cpu") == "quality"


def test_render_size_follows_the_device_and_the_framing():
    cpu, gpu = RenderConfig().sized("cpu"), RenderConfig().sized("cuda")
    assert (cpu.width, cpu.height, cpu.batch) == (360, 640, 2)
    assert (gpu.width, gpu.height, gpu.batch) == (1080, 1920, 8)
    landscape = RenderConfig().sized("cpu", aspect=4 / 3)  # --camera input on a landscape photo
    assert (landscape.width, landscape.height) == (640, 480)
    # --camera auto's square and 4:5 frames on a GPU: 1080 wide at most (a 1920 long side made 1920x1920)
    sizes = [RenderConfig().sized("cuda", aspect) for aspect in (1.0, 4 / 5, 4 / 3)]
    assert [(c.width, c.height) for c in sizes] == [(1080, 1080), (1080, 1350), (1920, 1440)]  # 4:3: landscape input
    assert RenderConfig(width=300).sized("cpu").height == 534  # one side given: the framing's aspect
    assert RenderConfig(width=33, height=47, batch=5).sized("cuda") == RenderConfig(width=33, height=47, batch=5)


def test_a_fit_never_reuses_pseudo_labels_made_for_another_preset():
    from dataclasses import replace

    from talkavatar.config import as_record
    from talkavatar.pseudo.config import PRESETS as PSEUDO_PRESETS
    from talkavatar.pipeline.photo import pseudo_preset
    from talkavatar.pseudo.config import PseudoConfig

    for name, overrides in PSEUDO_PRESETS.items():
        assert pseudo_preset(as_record(replace(PseudoConfig(), **overrides))) == name
    assert pseudo_preset(as_record(replace(PseudoConfig(), frames=20))) is None  # the user's own


# ---- 2. progress when stderr is not a terminal ----------------------------------------------------------------
def test_plain_progress_lines_are_periodic_whole_and_estimate_slow_loops(monkeypatch):
    import io

    from talkavatar import progress

    monkeypatch.setattr(progress, "SLOW", 0.5)
    stream = io.StringIO()
    with progress.progress("fit", 40, stream=stream, faster="--preset tiny") as shown:
        assert isinstance(shown, progress.Lines)
        shown.every = 0.05
        for step in range(1, 41):
            time.sleep(0.02)
            shown.update(step, "total 0.1234")
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("fit: 1/40 steps (2%)") and lines[-1].startswith("fit: 40/40 steps (100%)")
    assert 5 <= len(lines) < 40  # periodic, not every step
    told = [line for line in lines if line.startswith("fit: about ")]
    assert len(told) == 1 and " for 40 steps at " in told[0] and told[0].endswith("faster: --preset tiny"), lines
    assert " steps/s, " in lines[-1] and "ETA 0:00 | total 0.1234" in lines[-1]


def test_fit_without_a_terminal_reports_progress_and_keeps_long_lines_whole(fit_bundle, tmp_path):
    config = _fit_config(tmp_path / "fit.toml", iters=12)
    proc = _cli("fit", str(fit_bundle), "--config", str(config), "--device", "cpu", "--force")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "fit: 1/12 steps" in err and "fit: 12/12 steps (100%)" in err
    fitting = next(line for line in err.splitlines() if line.startswith("fitting "))
    assert len(fitting) > 80  # a long log line stays one line in a log file


def test_quiet_silences_progress_and_logs(fit_bundle, tmp_path):
    config = _fit_config(tmp_path / "fit.toml", iters=3)
    proc = _cli("-q", "fit", str(fit_bundle), "--config", str(config), "--device", "cpu", "--force")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0 and err == "" and out.splitlines()[0] == str(fit_bundle)


@pytest.mark.slow
def test_mediapipe_native_log_lines_are_hidden_unless_verbose(tmp_path):
    """MediaPipe and TFLite write ~10 glog/absl lines straight to fd 2 on every track (its detection; a few fitting
    steps are enough here)."""
    proc = _cli("track", str(_astronaut(tmp_path)), "-o", str(tmp_path / "a.avatar"), "--steps", "24")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "W0000" not in err and "XNNPACK" not in err and "absl" not in err, err
    assert err.startswith("astronaut.png: image, 512x512 px")


# ---- 3. escaping ----------------------------------------------------------------------------------------------
def test_square_brackets_survive_in_errors_and_tips(tmp_path):
    result = runner.invoke(app, ["fit", str(tmp_path / "photo[red].jpg")])
    assert result.exit_code == 3
    assert f"{tmp_path / 'photo[red].jpg'}: no such file or bundle" in result.stderr
    (tmp_path / "c.toml").write_text("[fit]\nbogus = 1\n")
    result = runner.invoke(app, ["fit", str(tmp_path / "x.jpg"), "--config", str(tmp_path / "c.toml")])
    assert result.exit_code == 2 and "unknown [fit] setting(s) ['bogus']" in result.stderr


def test_dlib_install_tip_keeps_its_extra():
    from talkavatar.cli.common import error
    from talkavatar.eval.identity import INSTALL_TIP

    import io
    from contextlib import redirect_stderr

    buffer = io.StringIO()
    with redirect_stderr(buffer):
        error("face identity needs dlib", INSTALL_TIP)
    assert "[" in INSTALL_TIP and INSTALL_TIP in buffer.getvalue()


# ---- 4. outputs checked before the work -----------------------------------------------------------------------
def _astronaut(tmp_path: Path) -> Path:
    from talkavatar.samples import SAMPLE_PHOTO

    return SAMPLE_PHOTO


def test_output_naming_a_file_or_a_foreign_folder_fails_before_tracking(tmp_path):
    (tmp_path / "taken").write_text("mine")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "notes.txt").write_text("mine")
    for target, said in (("taken", "is a file, not a bundle directory"), ("folder", "is not a talkavatar bundle")):
        result = runner.invoke(app, ["-v", "track", str(_astronaut(tmp_path)), "-o", str(tmp_path / target)])
        assert result.exit_code == 3 and said in result.stderr, result.output
        # error + tip only, even with every log line on: no traceback, the photo was not even read
        assert len(result.stderr.strip().splitlines()) == 2, result.stderr
    assert (tmp_path / "taken").read_text() == "mine" and os.listdir(tmp_path / "folder") == ["notes.txt"]


def _unshare_works() -> bool:
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="needs unshare -rm (user and mount namespaces)")
@pytest.mark.parametrize("command", ["track", "fit"])
def test_read_only_file_system_fails_at_once_with_one_line(tmp_path, command):
    """A read-only bind mount (works as root, where chmod does not stop writes) over the output's folder. "At once":
    with ``-v`` (every log line on), nothing but the error is printed, so no work (reading the photo, MediaPipe) ran
    before it."""
    ro = tmp_path / "ro"
    ro.mkdir()
    script = (f"mount --bind -o ro {ro} {ro} && exec {sys.executable} -m talkavatar -v {command} "
              f"{_astronaut(tmp_path)} -o {ro / 'a.avatar'}")
    out = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, env=_env(),
                         timeout=300)
    assert out.returncode == 3, out.stderr
    assert out.stderr.startswith(f"error: cannot write in {ro} (Read-only file system)"), out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 2, out.stderr
    assert list(ro.iterdir()) == []


def test_render_output_naming_a_folder_or_png_over_a_file_exits_3(tmp_path):
    from talkavatar.errors import InvalidInput
    from talkavatar.render.stage import check_output

    (tmp_path / "dir.mp4").mkdir()
    (tmp_path / "frames").write_text("")
    with pytest.raises(InvalidInput, match="is a folder, not a mp4 file"):
        check_output(tmp_path / "dir.mp4", "mp4")
    with pytest.raises(InvalidInput, match="is a file; --format png writes a folder"):
        check_output(tmp_path / "frames", "png")


# ---- 6. one writer per bundle ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_second_run_waits_then_finds_the_work_done_or_fails_at_once_with_no_wait(fit_bundle, tmp_path):
    config = _fit_config(tmp_path / "fit.toml", iters=30)
    args = ["fit", str(fit_bundle), "--config", str(config), "--device", "cpu", "--json"]
    first = _cli(*args, "--force")
    while "fitting " not in first.stderr.readline():  # the first run holds the lock and is optimising
        assert first.poll() is None
    hasty = _cli("--no-wait", *args)
    second = _cli(*args)  # started at once too: under load the 30 steps may end before a process started later
    out, err = hasty.communicate(timeout=60)
    assert hasty.returncode == 1 and "is being written by another talkavatar process (pid" in err, err
    assert "Traceback" not in err
    out_second, err_second = second.communicate(timeout=600)
    out_first, _ = first.communicate(timeout=600)
    assert first.returncode == 0 and second.returncode == 0, err_second
    assert "waiting for it to finish" in err_second
    assert json.loads(out_first)["skipped"] is False and json.loads(out_second)["skipped"] is True


# ---- 7. file modes --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_bundle_files_follow_the_umask(tmp_path, umask):
    code = ("import os, sys; os.umask(int(sys.argv[2], 8)); from tests.fit_fixtures import make_bundle; "
            "make_bundle(__import__('pathlib').Path(sys.argv[1]))")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "m.avatar"), oct(umask)[2:]], check=True, env=_env(),
                   cwd=REPO)
    files = [p for p in (tmp_path / "m.avatar").rglob("*") if p.is_file() and p.name != ".lock"]
    assert {p.suffix for p in files} >= {".json", ".safetensors", ".png"}
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {oct(0o666 & ~umask)}


# ---- 8. interruptions other than Ctrl-C -----------------------------------------------------------------------
@pytest.mark.slow
def test_sigterm_checkpoints_and_resume_says_what_it_resumes(fit_bundle, tmp_path):
    from talkavatar.fit.stage import CHECKPOINT

    # 80 steps of ~0.1 s: the signal, 1 s after the first step, lands mid-fit; the resumed run does the rest
    config = _fit_config(tmp_path / "fit.toml", iters=80)
    args = ["fit", str(fit_bundle), "--config", str(config), "--device", "cpu"]
    proc = _cli(*args, "--force")
    while not proc.stderr.readline().startswith("fit: 1/80 steps"):
        assert proc.poll() is None
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "checkpoint saved to" in err and err.rstrip().endswith("interrupted (SIGTERM)")
    assert (fit_bundle / CHECKPOINT).is_file()
    resumed = runner.invoke(app, [*args, "--resume", "--iters", "81"])  # other settings: refuses, says why
    assert resumed.exit_code == 2 and "was made with other settings" in resumed.stderr
    proc = _cli(*args, "--resume")
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0 and "resuming the interrupted fit at step" in err, err
    again = runner.invoke(app, [*args, "--resume"])
    assert again.exit_code == 0 and "nothing to resume" in again.stderr and "fit is up to date" in again.stderr
    assert json.loads(again.stdout)["skipped"] if again.stdout.startswith("{") else True


def test_sighup_checkpoints_like_ctrl_c(fit_bundle, tmp_path):
    from talkavatar.fit.stage import CHECKPOINT

    config = _fit_config(tmp_path / "fit.toml", iters=400)
    proc = _cli("fit", str(fit_bundle), "--config", str(config), "--device", "cpu", "--force")
    while not proc.stderr.readline().startswith("fit: 1/400 steps"):
        assert proc.poll() is None
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 129, err
    assert "checkpoint saved to" in err and err.rstrip().endswith("interrupted (SIGHUP)")
    assert (fit_bundle / CHECKPOINT).is_file()


def test_a_killed_renders_partial_file_is_removed_by_the_next(tmp_path):
    from talkavatar.render.video import VideoSink

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".talk.mp4.partial-{dead.pid}-x1y2.mp4"
    old_style = tmp_path / ".talk.mp4.partial-abc123.mp4"
    live = tmp_path / f".talk.mp4.partial-{os.getpid()}-zzzz.mp4"
    for path in (stale, old_style, live):
        path.write_bytes(b"half a video")
    sink = VideoSink(tmp_path / "talk.mp4", format="mp4", width=16, height=16, fps=25)
    assert not stale.exists() and not old_style.exists() and live.exists()
    assert sink.tmp.name.startswith(f".talk.mp4.partial-{os.getpid()}-")
    sink._cleanup()


# ---- 3. tips that work ---------------------------------------------------------------------------------------
def _tip_expressions():
    """Every ``tip=`` the package can raise with: (module file, line, expression source)."""
    import ast

    for path in sorted((REPO / "talkavatar").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "tip" and not isinstance(node.value, ast.Constant) \
                    or isinstance(node, ast.keyword) and node.arg == "tip" and isinstance(node.value.value, str):
                yield path, node.value.lineno, ast.unparse(node.value)


def _tip_texts(bundle: Path) -> list[tuple[str, str]]:
    """Each tip rendered the way the code renders it, its free names bound to a real bundle and each stage name."""
    import importlib
    import types

    from talkavatar.bundle.store import stage_command  # some modules import it inside the function that raises

    texts = []
    for path, line, source in _tip_expressions():
        module = importlib.import_module(".".join(path.relative_to(REPO).with_suffix("").parts))
        where = f"{path.relative_to(REPO)}:{line}"
        names = {"self": types.SimpleNamespace(root=bundle), "bundle": types.SimpleNamespace(root=bundle),
                 "bundle_path": bundle, "name": "SMPLX_NEUTRAL.npz", "e": types.SimpleNamespace(errno=0), "fmt": "mp4", "stage_command": stage_command}
        for value in ("track", "pseudo", "fit", "drive-audio", "render", "eval"):
            local = {**names, "stage": value, "section": value, "kind": value}
            while True:
                try:
                    text = eval(source, {**vars(module)}, local)
                    break
                except NameError as e:  # another path-like local (path, root, fmt ...): a real path
                    local[e.name] = bundle
                except KeyError:
                    text = None  # e.g. a stage name the stage table does not have
                    break
            if text is not None:
                texts.append((where, text))
    return texts


def _commands(tip: str) -> list[str]:
    """The command lines a tip gives: `...` spans and plain ``e.g. talkavatar ...`` / ``pip install ...``."""
    import re

    found = [m for m in re.findall(r"`([^`]+)`", tip)]
    plain = re.sub(r"`[^`]+`", "", tip)
    for m in re.finditer(r"(?:^|e\.g\. |, or |\bor )((?:talkavatar|pip install) [^,;()]+)", plain):
        found.append(m.group(1).strip())
    return [c for c in found if c.startswith(("talkavatar ", "pip install "))]


def test_every_tip_command_parses_and_every_option_named_exists(fit_bundle, tmp_path):
    """Tips used to say `talkavatar fit -b X` (exit 2: fit takes the bundle as INPUT) and `talkavatar track -b X`."""
    import re
    import shlex

    import typer

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"")
    cli = typer.main.get_command(app)
    options = {o for c in cli.commands.values() for p in c.params for o in p.opts + p.secondary_opts}
    options |= {o for p in cli.params for o in p.opts} | {"--help"}
    texts = _tip_texts(fit_bundle)
    assert len(texts) > 60
    checked = 0
    for where, tip in texts:
        # Leave out another program's command lines (`ray start --head`): their flags are that program's.
        ours = re.sub(r"`[^`]+`", lambda m: m[0] if m[0].startswith("`talkavatar ") else "", tip)
        for flag in re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", ours):
            assert flag in options, f"{where}: tip names {flag}, which no command has: {tip}"
        for command in _commands(tip):
            argv = shlex.split(command.replace("PHOTO.avatar", str(fit_bundle)).replace("PHOTO", str(photo))
                               .replace("VIDEO", str(photo)))
            if argv[0] == "pip":
                from packaging.requirements import Requirement

                for requirement in argv[2:]:
                    Requirement(requirement)  # parses: name, extras and pin as pip reads them
                continue
            ctx = cli.make_context("talkavatar", argv[1:], resilient_parsing=False)
            sub = cli.get_command(ctx, argv[1])
            assert sub is not None, f"{where}: {command}"
            try:
                sub.make_context(argv[1], argv[2:], parent=ctx)  # raises on a missing argument or unknown option
            except typer.Exit as e:  # --help: parsed, then exits 0
                assert e.exit_code == 0, f"{where}: {command}"
            checked += 1
    assert checked >= 15


# ---- 9. --force, metavars, help = man -------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["track", "pseudo", "fit"])
def test_every_stage_command_has_force(command):
    result = runner.invoke(app, [command, "--help"])
    assert "--force" in result.stdout


def test_help_shows_no_bool_metavars_and_keeps_brackets():
    for command in ("fit", "track", "eval", "render"):
        text = runner.invoke(app, [command, "--help"], terminal_width=200).stdout
        assert "<bool>" not in text and "[default:" not in text
    assert "[<command>] table" in runner.invoke(app, ["fit", "--help"], terminal_width=200).stdout


@pytest.mark.parametrize("command", ["track", "pseudo", "fit", "drive-audio", "render", "eval", "demo"])
def test_help_and_man_page_state_the_same_defaults(command):
    """Both come from the option declarations; typer's own ``[default: X]`` (which the man page lacked) is off."""
    import re

    from talkavatar.docs.manpage import build

    def defaults(text: str) -> list[str]:
        text = re.sub(r"\s+", " ", text.replace("\\-", "-").replace("\\", ""))
        return sorted(re.findall(r"\((?:default|preset)[^()]*(?:\([^()]*\)[^()]*)*\)", text))

    help_text = runner.invoke(app, [command, "--help"], terminal_width=400).stdout
    man = build()
    heading = ".SS " + command.replace("-", "\\-") + "\n"
    section = man.split(heading, 1)[1].split(".SS ", 1)[0].split(".SH ", 1)[0]
    assert defaults(help_text) and defaults(help_text) == defaults(section)


# ---- 10. byte-reproducible files ------------------------------------------------------------------------------
def test_safetensors_files_are_byte_reproducible_across_processes(tmp_path):
    """The library writes the metadata in hash order (a new order in every process): the same motion saved by four
    processes used to give four different files."""
    code = ("import sys; from talkavatar.motion import Motion, save_motion; "
            "m = Motion.still(3); m.audio = {'path': 'a.wav', 'sha256': '0' * 64, 'offset_seconds': 0.0}; "
            "save_motion(sys.argv[1], m)")
    blobs = set()
    for i in range(4):
        path = tmp_path / f"{i}.motion.safetensors"
        subprocess.run([sys.executable, "-c", code, str(path)], env=_env(), cwd=REPO, check=True)
        blobs.add(path.read_bytes())
    assert len(blobs) == 1
    from talkavatar.motion import load_motion

    assert load_motion(tmp_path / "0.motion.safetensors").frames == 3
