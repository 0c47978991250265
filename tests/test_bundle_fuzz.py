"""The bundle reader under mutation: damaged ``bundle.json``, safetensors headers and tensor data are refused with
:class:`InvalidInput` (exit 3, one line through the CLI), never a traceback, a hang or a memory blow-up."""

from __future__ import annotations

import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from talkavatar.bundle import sha256_file
from talkavatar.errors import InvalidInput
from talkavatar.render.stage import open_bundle
from tests.render_fixtures import toy_bundle

MUTATIONS = int(os.environ.get("FUZZ_MUTATIONS", "10000"))
REPO = Path(__file__).resolve().parents[1]
TARGETS = ("bundle.json", "fit/avatar.safetensors", "fit/rig.safetensors")


def _mutate(data: bytes, rng: np.random.Generator, target: str) -> bytes:
    """One random damage: flipped bytes, a cut, a splice, a huge or tiny header size, or a JSON value swapped."""
    kind = rng.integers(7)
    buf = bytearray(data)
    if kind == 0:  # flip a few bytes (in the header for tensor files: where the parser reads)
        span = len(buf) if target == "bundle.json" else min(len(buf), 8 + struct.unpack("<Q", data[:8])[0])
        for i in rng.integers(0, span, size=rng.integers(1, 8)):
            buf[i] = rng.integers(256)
    elif kind == 1:  # truncate
        del buf[rng.integers(0, len(buf)):]
    elif kind == 2:  # splice a chunk elsewhere
        a, b = sorted(rng.integers(0, len(buf), size=2))
        at = rng.integers(0, len(buf))
        buf[at:at] = buf[a:b]
    elif kind == 3 and target != "bundle.json":  # a header size from 0 to 2**64 - 1
        sizes = [0, 1, 7, len(buf), 2 ** 31, 2 ** 63, 2 ** 64 - 1, int(rng.integers(0, 2 ** 40))]
        buf[:8] = struct.pack("<Q", sizes[rng.integers(len(sizes))])
    elif kind in (3, 4, 5):  # change one value in the JSON (bundle.json or the safetensors header)
        start = 0 if target == "bundle.json" else 8
        end = len(buf) if target == "bundle.json" else 8 + struct.unpack("<Q", data[:8])[0]
        doc = json.loads(bytes(buf[start:end]))
        _poke(doc, rng)
        text = json.dumps(doc).encode()
        if target != "bundle.json":
            text += b" " * (-len(text) % 8)
            buf[:end] = struct.pack("<Q", len(text)) + text
        else:
            buf = bytearray(text)
    else:  # deep nesting / garbage
        buf = bytearray(b"[" * int(rng.integers(1, 200_000)) if rng.integers(2) else rng.bytes(rng.integers(0, 64)))
    return bytes(buf)


def _poke(doc, rng: np.random.Generator) -> None:
    """Replace one value somewhere inside ``doc`` with a hostile one."""
    path = []
    node = doc
    while isinstance(node, (dict, list)) and node and rng.random() < 0.8:
        key = list(node)[rng.integers(len(node))] if isinstance(node, dict) else int(rng.integers(len(node)))
        path.append((node, key))
        node = node[key]
    if not path:
        return
    parent, key = path[-1]
    parent[key] = [None, -1, 2 ** 62, "x" * 10, [], {}, [2 ** 40, 2 ** 40], "F64", 1e308, "../../etc/passwd",
                   [0, 2 ** 62]][rng.integers(11)]


def _damage(root: Path, originals: dict, rng: np.random.Generator) -> None:
    for name, data in originals.items():
        (root / name).write_bytes(data)
    target = TARGETS[rng.integers(len(TARGETS))]
    (root / target).write_bytes(_mutate(originals[target], rng, target))
    if target != "bundle.json" and rng.random() < 0.7:  # re-hash, so that the parser itself meets the damage
        doc = json.loads(originals["bundle.json"])
        doc["stages"]["fit"]["outputs"][target]["sha256"] = sha256_file(root / target)
        (root / "bundle.json").write_text(json.dumps(doc))


@pytest.mark.slow
def test_ten_thousand_mutated_bundles_are_refused_cleanly(tmp_path):
    root = toy_bundle(tmp_path / "toy.avatar")
    originals = {name: (root / name).read_bytes() for name in TARGETS}
    rng = np.random.default_rng(18)
    refused, accepted, slowest = 0, 0, 0.0
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for trial in range(MUTATIONS):
        _damage(root, originals, rng)
        t0 = time.perf_counter()
        try:
            open_bundle(root)
            accepted += 1  # a mutation the reader cannot tell from valid data (e.g. a changed float)
        except InvalidInput as e:
            assert "\n" not in e.message, e.message
            refused += 1
        slowest = max(slowest, time.perf_counter() - t0)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    print(f"fuzz: {MUTATIONS} mutations, {refused} refused, {accepted} read, slowest {slowest * 1000:.0f} ms, "
          f"peak RSS +{grown_mb:.0f} MB")
    assert refused > MUTATIONS * 0.8 and slowest < 5.0 and grown_mb < 500


def test_a_damaged_bundle_gives_one_line_and_exit_3_through_the_cli(tmp_path):
    first = toy_bundle(tmp_path / "toy.avatar")
    originals = {name: (first / name).read_bytes() for name in TARGETS}
    rng = np.random.default_rng(5)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "TALKAVATAR_THREADS": "1"}
    runs = []
    for trial in range(6):  # six damaged copies, their CLI processes run side by side (each mostly imports)
        root = first if trial == 0 else Path(shutil.copytree(first, tmp_path / f"toy{trial}.avatar"))
        _damage(root, originals, rng)
        runs.append(subprocess.Popen([sys.executable, "-m", "talkavatar", "render", "-b", str(root), "--export-ply",
                                      str(tmp_path / f"a{trial}.ply")], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env))
    for run in runs:
        _, err = run.communicate(timeout=900)
        if run.returncode == 0:
            continue
        assert run.returncode == 3, err
        lines = err.strip().splitlines()
        assert lines[0].startswith("error: ") and len(lines) <= 2 and "Traceback" not in err, err
