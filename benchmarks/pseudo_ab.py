"""The pseudo stage of two source trees on tracked bundles, interleaved: wall and CPU seconds, the stage's timings,
and whether every file it writes is the same.

On a machine other processes load, times of separate runs do not compare; this runs the two trees bundle by bundle,
alternating which goes first, so both see the same load (as benchmarks/track_ab.py does for track). Each run is a
fresh process on a fresh copy of the bundle (``run_pseudo`` with the preset's settings, ``force``); the files are
compared by the sha256 the bundle's manifest records for them.

    git archive main talkavatar | tar -x -C /tmp/main     # tree A: a snapshot of main
    python benchmarks/pseudo_ab.py /tmp/main . A.avatar B.avatar ... [--rounds 2] [--preset fast] [--device cpu]
        [--json FILE] [--keep DIR]

Per bundle: the median over the rounds of each tree's process wall and CPU (user + sys of the stage's process, from
its own clock) and of each timing (proxy, texture, input_view, sample, render; 0 where a tree has none) and of
what lies outside them ("outside": the wall less the timings: reading, the renderer's set-up, writing, committing),
their ratios B / A, and "same" when every output file's sha256 agrees in every run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RUN = """
import json, sys, time
from talkavatar.pseudo.config import PRESETS, PseudoConfig
from talkavatar.pseudo.stage import run_pseudo
started, cpu = time.perf_counter(), time.process_time()
run_pseudo(sys.argv[1], PseudoConfig(**PRESETS[sys.argv[2]]), device=sys.argv[3], force=True, progress=lambda m: None)
print(json.dumps({"wall": time.perf_counter() - started, "cpu": time.process_time() - cpu}))
"""
TIMINGS = ("proxy", "texture", "input_view", "sample", "render")


def run(tree: Path, bundle: Path, work: Path, preset: str, device: str) -> dict:
    """One pseudo process of ``tree``'s code on a copy of ``bundle`` under ``work``: seconds, timings, outputs."""
    copy = work / bundle.name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(bundle, copy)
    # the tree first, then what the caller's path holds (a device's carried packages: gsplat, anny)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(tree.resolve()), os.environ.get("PYTHONPATH"))
                                                        if p)}
    done = subprocess.run([sys.executable, "-c", RUN, str(copy), preset, device], capture_output=True, text=True,
                          env=env, cwd=tree)
    if done.returncode:
        raise SystemExit(f"{tree}: pseudo of {bundle} failed:\n{done.stderr[-3000:]}")
    stage = json.loads((copy / "bundle.json").read_text())["stages"]["pseudo"]
    seconds = json.loads(done.stdout.strip().splitlines()[-1])
    return {**seconds, "timings": stage.get("timings", {}),
            "outside": seconds["wall"] - sum(v for k, v in stage.get("timings", {}).items() if k in TIMINGS),
            "outputs": {k: v["sha256"] for k, v in stage.get("outputs", {}).items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree_a", type=Path)
    ap.add_argument("tree_b", type=Path)
    ap.add_argument("bundles", type=Path, nargs="+")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--preset", default="fast", choices=("tiny", "fast", "quality"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--keep", type=Path, default=None,
                    help="keep each tree's bundles of the last round in KEEP/A and KEEP/B (for pseudo_compare.py)")
    args = ap.parse_args()
    trees = {"A": args.tree_a, "B": args.tree_b}
    runs: dict[tuple[str, str], list[dict]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        work = args.keep or Path(scratch)
        for r in range(args.rounds):
            for bundle in args.bundles:
                for tree in ("A", "B") if r % 2 == 0 else ("B", "A"):
                    out = run(trees[tree], bundle, Path(work) / tree, args.preset, args.device)
                    runs.setdefault((bundle.stem, tree), []).append(out)
                    print(f"{bundle.stem} {tree}: wall {out['wall']:.2f} s, cpu {out['cpu']:.2f} s, "
                          + ", ".join(f"{k} {v:.2f}" for k, v in out["timings"].items()), file=sys.stderr, flush=True)
    print(f"pseudo --preset {args.preset} --device {args.device}, {args.rounds} rounds interleaved (medians), "
          f"A = {args.tree_a}, B = {args.tree_b}")
    print("| bundle | wall A / B s | B/A | CPU A / B s | B/A | " + " | ".join(f"{k} A / B" for k in TIMINGS)
          + " | outside A / B | outputs |")
    print("|---" * (7 + len(TIMINGS)) + "|")
    summary = []
    for bundle in args.bundles:
        a, b = runs[(bundle.stem, "A")], runs[(bundle.stem, "B")]

        def med(rows, key, timing=False):
            return statistics.median(r["timings"].get(key, 0.0) if timing else r[key] for r in rows)

        same = all(x["outputs"] == a[0]["outputs"] for x in a + b) and bool(a[0]["outputs"])
        cells = [f"{med(a, k, True):.2f} / {med(b, k, True):.2f}" for k in TIMINGS]
        print(f"| {bundle.stem} | {med(a, 'wall'):.2f} / {med(b, 'wall'):.2f} | {med(b, 'wall') / med(a, 'wall'):.2f} "
              f"| {med(a, 'cpu'):.2f} / {med(b, 'cpu'):.2f} | {med(b, 'cpu') / med(a, 'cpu'):.2f} | "
              + " | ".join(cells) + f" | {med(a, 'outside'):.2f} / {med(b, 'outside'):.2f} | "
              f"{'same' if same else 'DIFFER'} ({len(a[0]['outputs'])} files) |")
        summary.append({"bundle": bundle.stem, "same": same, "A": a, "B": b})
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
