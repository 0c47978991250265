"""Generated docs never drift from the code; the format spec's examples hold; man pages and completions load."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from talkavatar.docs import artifacts, bundle_spec

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return artifacts()


def test_committed_docs_match_the_code(generated):
    stale = [rel for rel, text in generated.items() if not (ROOT / rel).is_file() or (ROOT / rel).read_text() != text]
    assert not stale, f"regenerate with `python -m talkavatar.docs`: {stale}"


def test_spec_examples_validate():
    assert bundle_spec.refusal(bundle_spec.valid_example()) == ""
    for what, doc in bundle_spec.invalid_examples():
        assert bundle_spec.refusal(doc), what


def test_spec_lists_every_schema(generated):
    from talkavatar.bundle.schemas import json_schema_names, tensor_schema_names

    spec = generated["man/talkavatar-bundle.5"]
    for name in json_schema_names() + tensor_schema_names():
        assert name.replace("-", "\\-") in spec


@pytest.mark.skipif(shutil.which("man") is None, reason="man(1) not installed")
@pytest.mark.parametrize("page", ["man/talkavatar.1", "man/talkavatar-bundle.5"])
def test_man_pages_render(page):
    out = subprocess.run(["man", "-l", str(ROOT / page)], capture_output=True, text=True,
                         env={"MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "100", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert "EXIT STATUS" in out.stdout or "CONVENTIONS" in out.stdout
    assert "warning" not in out.stderr.lower()


def test_bash_completion_loads():
    out = subprocess.run(["bash", "-c", f"source {ROOT / 'completions/talkavatar.bash'}; complete -p talkavatar"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "talkavatar" in out.stdout
