"""Shared fixtures. Everything is generated here; nothing is downloaded."""

from __future__ import annotations

import os

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
        group.addoption("--no-loadscope-reorder", dest="loadscopereorder", action="store_false", default=True,
                        help="ignored: pytest-xdist is not installed")


def pytest_configure(config):
    """Under pytest-xdist (pyproject's addopts run ``-n auto``), each worker holds torch to its share of the cores,
    and so does every process it starts (``$TALKAVATAR_THREADS``: the ``talkavatar`` commands tests run, a batch's Ray
    jobs): two workers, or a worker and a child, with a thread per core each spin against each other
    (tests/test_eval_real_clip.py's commands with 2 threads beside the other worker)."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        import torch

        from talkavatar.core.threads import THREADS_ENV, usable_cores

        share = max(1, usable_cores() // int(workers))
        os.environ.setdefault(THREADS_ENV, str(share))
        torch.set_num_threads(share)


def pytest_collection_modifyitems(config, items):
    _slow_files_first(items)
    if _cuda_ready():
        return
    skip = pytest.mark.skip(reason="needs CUDA (run through the device tool)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def _slow_files_first(items) -> None:
    """Test files with a ``slow`` test first, the largest share of slow tests first (a file of one or two end-to-end
    runs before a file of many quick tests and one slow one; most tests first among equals), in place.
    pytest-xdist hands each worker a whole file at a time in this order (pyproject: ``--dist loadfile
    --no-loadscope-reorder``): the long files start at once and the short ones fill the gaps at the end, instead of a
    long file of few tests (xdist's own order: most tests first) starting last and keeping one worker busy while the
    other idles (the longest files: test_demo's two tests, test_eval_real_clip's one)."""
    files: dict[str, list] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::")[0], []).append(item)

    def order(tests: list) -> tuple[float, int]:
        return -sum("slow" in t.keywords for t in tests) / len(tests), -len(tests)

    items[:] = [item for tests in sorted(files.values(), key=order) for item in tests]


@pytest.fixture
def one_torch_thread():
    """Run a test on one torch thread: the reference rasterizer is far slower with two threads on a shared 2-core
    machine (CI)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
