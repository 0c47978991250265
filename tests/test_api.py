"""The public Python API (``import talkavatar``): its docstring examples run as doctests, in pipeline order on the
shipped samples with tiny settings; ``help()`` shows units and an example; errors are typed and carry the exit
status the CLI uses."""

from __future__ import annotations

import doctest
import subprocess
import sys

import pytest

ORDER = ("track", "pseudo", "fit", "drive_audio", "render", "evaluate")


def test_every_api_function_documents_units_and_an_example():
    import talkavatar
    from talkavatar import api

    assert set(ORDER) <= set(talkavatar.API)
    for name in ORDER:
        function = getattr(talkavatar, name)
        assert function is getattr(api, name)
        doc = function.__doc__
        assert "Examples:" in doc and ">>> " in doc, name
        assert "Returns" in doc, name
    assert "dB" in api.fit.__doc__ and "%" in api.track.__doc__ and "seconds" in api.drive_audio.__doc__


def test_typed_errors_carry_the_cli_exit_codes(tmp_path):
    import talkavatar
    from talkavatar.errors import InvalidInput, TalkavatarError, UsageError

    with pytest.raises(InvalidInput) as missing:
        talkavatar.fit(tmp_path / "nobody.jpg", log=lambda m: None)
    assert missing.value.exit_code == 3 and isinstance(missing.value, TalkavatarError)
    with pytest.raises(UsageError) as both:
        talkavatar.evaluate(video=tmp_path / "a.mp4", render=tmp_path / "b.mp4")
    assert both.value.exit_code == 2
    with pytest.raises(InvalidInput):
        talkavatar.render(tmp_path / "no.avatar", motion=tmp_path / "x.motion.safetensors", log=lambda m: None)
    cli = subprocess.run([sys.executable, "-m", "talkavatar", "fit", str(tmp_path / "nobody.jpg")],
                         capture_output=True, text=True)
    assert cli.returncode == 3 and "nobody.jpg: no such file or bundle" in cli.stderr


@pytest.mark.slow
def test_api_examples_run_as_doctests(tmp_path, monkeypatch, one_torch_thread):
    """The examples of help(talkavatar.track) ... help(talkavatar.evaluate), run in that order: each stage finds
    what the one before made in ``tmp`` (and skips what is up to date)."""
    from talkavatar import api

    monkeypatch.chdir(tmp_path)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for name in ORDER:
        (test,) = finder.find(getattr(api, name), f"talkavatar.{name}", globs={"tmp": tmp_path})
        assert test.examples, name
        result = runner.run(test)
        assert result.failed == 0, f"the example of talkavatar.{name} failed (see the captured stdout)"
    assert runner.summarize(verbose=False).attempted >= 15
