"""Shared fixtures. Everything is generated here; nothing is downloaded."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pytest


def _cuda_ready() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def pytest_addoption(parser, pluginmanager):
    """Without pytest-xdist (the GPU device image has none, or ``-p no:xdist``), pyproject's ``-n auto --dist
    loadfile`` are accepted and ignored: the tests run in one process."""
    if not pluginmanager.has_plugin("xdist"):
        group = parser.getgroup("xdist absent")
        group._addoption("-n", "--numprocesses", dest="numprocesses", default=None,
                         help="ignored: pytest-xdist is not installed")
        group.addoption("--dist", dest="dist", default="no", help="ignored: pytest-xdist is not installed")


def pytest_configure(config):
    """Under pytest-xdist (pyproject's addopts run ``-n auto``), each worker holds torch to its share of the cores:
    two workers with a thread per core each spin against each other."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        import torch

        from talkavatar.core.threads import usable_cores

        torch.set_num_threads(max(1, usable_cores() // int(workers)))


def pytest_collection_modifyitems(config, items):
    if _cuda_ready():
        return
    skip = pytest.mark.skip(reason="needs CUDA (run through the device tool)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def one_torch_thread():
    """Run a test on one torch thread: the reference rasterizer is far slower with two threads on a shared 2-core
    machine (CI)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@dataclass(frozen=True)
class FitRun:
    """One ``talkavatar fit PHOTO`` run: the folder it ran in, the photo, the bundle it made and the CLI result."""

    folder: Path
    photo: Path
    bundle: Path
    result: object  # typer.testing.Result


@pytest.fixture(scope="session")
def astronaut_tiny_fit(tmp_path_factory) -> FitRun:
    """``talkavatar fit astronaut.png --preset tiny --device cpu --json`` run once for the session, in a folder of
    its own (the default bundle ``astronaut.avatar`` beside the photo's copy): track, pseudo and fit from the sample
    photo take ~1 minute on 2 cores, and both the fit test and the demo test of tests/test_demo.py (whose first step is
    this same fit) read it."""
    from typer.testing import CliRunner

    from talkavatar.cli import app

    folder = tmp_path_factory.mktemp("astronaut_tiny")
    photo = folder / "astronaut.png"
    shutil.copyfile(resources.files("talkavatar.samples") / "astronaut.png", photo)
    before = Path.cwd()
    os.chdir(folder)
    try:
        result = CliRunner().invoke(app, ["fit", str(photo), "--preset", "tiny", "--device", "cpu", "--json"])
    finally:
        os.chdir(before)
    return FitRun(folder, photo, folder / "astronaut.avatar", result)
