"""Thread counts: explicit settings win; otherwise talkavatar processes on one machine share its cores."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from talkavatar.core import threads

ROOT = Path(__file__).resolve().parent.parent


def test_explicit_thread_count_precedence(monkeypatch):
    monkeypatch.delenv("TALKAVATAR_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.explicit_threads() == 3 and threads.explicit_threads(5) == 5
    monkeypatch.setenv("TALKAVATAR_THREADS", "2")
    assert threads.explicit_threads() == 2
    monkeypatch.setenv("TALKAVATAR_THREADS", "zero")
    with pytest.raises(ValueError, match="TALKAVATAR_THREADS"):
        threads.explicit_threads()
    monkeypatch.delenv("TALKAVATAR_THREADS")
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert threads.explicit_threads() is None and 1 <= threads.usable_cores() <= os.cpu_count()


def test_worker_threads_are_the_explicit_count_else_the_usable_cores(monkeypatch):
    monkeypatch.delenv("TALKAVATAR_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert threads.worker_threads() == threads.usable_cores()  # the affinity, capped by a container's quota
    monkeypatch.setenv("TALKAVATAR_THREADS", "3")
    assert threads.worker_threads() == 3

def test_registered_processes_share_the_cores(tmp_path, monkeypatch, one_torch_thread):
    import torch

    registry = tmp_path / "registry"
    monkeypatch.setattr(threads, "REGISTRY", registry)
    monkeypatch.setattr(threads, "_registration", {})
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    assert threads.settle() is None  # not registered: leaves torch alone
    threads.register()
    try:
        assert threads.running_processes() == 1 and threads.settle() == 2 == torch.get_num_threads()
        other = subprocess.Popen(
            [sys.executable, "-c", "import sys, time; from pathlib import Path; from talkavatar.core import threads; "
             f"threads.REGISTRY = Path({str(registry)!r}); threads.register(); print('ready', flush=True); "
             "time.sleep(120)"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
            text=True)
        assert other.stdout.readline().strip() == "ready"
        assert threads.running_processes() == 2 and threads.settle() == 1 == torch.get_num_threads()
        other.kill()
        other.wait()
        assert threads.running_processes() == 1 and not (registry / str(other.pid)).exists()  # stale file removed
    finally:
        threads._registration["file"].close()


def test_one_thread_holds_torch_to_one_thread_and_restores_the_count():
    import torch

    from talkavatar.core.threads import one_thread

    outside = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with one_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError), one_thread():
            raise RuntimeError("restored on the way out too")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(outside)


def test_few_or_all_threads_keeps_many_and_narrows_few_to_one():
    import torch

    from talkavatar.core.threads import MANY_THREADS, few_or_all_threads

    before = torch.get_num_threads()
    try:
        for threads, inside in ((MANY_THREADS, MANY_THREADS), (MANY_THREADS - 1, 1), (1, 1)):
            torch.set_num_threads(threads)
            with few_or_all_threads():
                assert torch.get_num_threads() == inside
            assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)
