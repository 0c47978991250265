"""CPU seconds of the test suite per file and per worker: a figure that holds on a loaded machine, where wall time
does not (issue 23: the CPU suite under 5 minutes).

    python benchmarks/suite_cpu.py                          # the README's test command (xdist, 2 workers)
    python benchmarks/suite_cpu.py tests/test_fit_stage.py -n 0

Runs pytest with the arguments given, measures each test's CPU (user + sys of the worker and of the processes it
started and waited for, ``resource.getrusage``) and wall, and prints the files by CPU, then each worker's CPU and
span (first start to last end) last.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pytest

OUT_ENV = "TALKAVATAR_SUITE_CPU_DIR"
ROOT = Path(__file__).resolve().parents[1]


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    cpu, start = _cpu(), time.time()
    yield
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(Path(os.environ[OUT_ENV]) / f"{worker}.tsv", "a") as f:
        f.write(f"{item.nodeid.split('::')[0]}\t{_cpu() - cpu:.3f}\t{start:.3f}\t{time.time():.3f}\n")


def report(folder: Path) -> None:
    files: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    print("\n| worker | CPU s | span s |\n|---|---|---|")
    for path in sorted(folder.glob("*.tsv")):
        rows = [line.split("\t") for line in path.read_text().splitlines()]
        for name, cpu, start, end in rows:
            files[name][0] += float(cpu)
            files[name][1] += float(end) - float(start)
        span = max(float(r[3]) for r in rows) - min(float(r[2]) for r in rows)
        print(f"| {path.stem} | {sum(float(r[1]) for r in rows):.1f} | {span:.1f} |")
    print("\n| file | CPU s | wall s |\n|---|---|---|")
    for name, (cpu, wall) in sorted(files.items(), key=lambda kv: -kv[1][0])[:25]:
        print(f"| {name} | {cpu:.1f} | {wall:.1f} |")
    print(f"| all {len(files)} files | {sum(v[0] for v in files.values()):.1f} | |")


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="suite_cpu_"))
    os.environ[OUT_ENV] = str(folder)  # the xdist workers inherit it, and the path that finds this plugin
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
    code = pytest.main(["-p", "benchmarks.suite_cpu", *sys.argv[1:]])
    report(folder)
    return int(code)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
