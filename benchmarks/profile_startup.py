"""Per-process start-up costs of the stages (issue 23), each measured in a fresh Python process, CPU and wall seconds.

    python benchmarks/profile_startup.py                                   # this checkout
    python benchmarks/profile_startup.py --code /work/main --code .        # two checkouts side by side
    python benchmarks/profile_startup.py --bundle B.avatar                 # + the pseudo proxy fit of a tracked bundle

Rows: importing torch; importing ``torch._dynamo`` (what ``torch.optim``, ``torch.use_deterministic_algorithms``,
``torch.func`` and the ``anny`` package pull in); the Anny body model as track loads it (``anny_body("cpu")``), and
whether ``torch._dynamo`` got imported by it; with ``--bundle``: ``fit_proxy`` on the bundle's tracked photo (the
pseudo stage's first step) and two fit steps (``run_fit``, tiny preset) with the dynamo check. CPU seconds are the
process's own (``time.process_time``), so they hold on a busy machine; wall seconds do not. Prints a table last.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

PROBES = {
    "import torch": "import torch",
    "import torch._dynamo": "import torch\nc0, w0 = clock()\nimport torch._dynamo",
    "anny_body('cpu')": "import torch\nc0, w0 = clock()\nfrom talkavatar.core.body.anny import anny_body\nanny_body('cpu')",
    "fit_proxy (bundle)": """import torch
from talkavatar.bundle import Bundle
from talkavatar.pseudo.config import PseudoConfig
from talkavatar.pseudo.stage import read_photo_view
from talkavatar.pseudo.proxy import fit_proxy
view, cfg = read_photo_view(Bundle.open(BUNDLE)), PseudoConfig()
c0, w0 = clock()
fit_proxy(view.rig, view.joint_rotations, view.root_translation, view.arkit_weights, view.camera, view.mask,
          smooth=cfg.proxy_smooth, max_offset=cfg.proxy_max)""",
    "run_fit 2 steps (bundle copy)": """import shutil, tempfile, torch
from talkavatar.fit.config import FitConfig
from talkavatar.fit.stage import run_fit
work = Path(tempfile.mkdtemp()) / "b.avatar"
shutil.copytree(BUNDLE, work, ignore=shutil.ignore_patterns("fit"))
c0, w0 = clock()
run_fit(work, FitConfig(preset="tiny", iters=2), "cpu", True, log=lambda m: None, warn=lambda m: None)""",
}
PRELUDE = """import sys, time, json
from pathlib import Path
def clock():
    return time.process_time(), time.perf_counter()
BUNDLE = {bundle!r}
c0, w0 = clock()
"""
EPILOGUE = """
print(json.dumps({"cpu": time.process_time() - c0, "wall": time.perf_counter() - w0,
                  "dynamo": "torch._dynamo" in sys.modules}))
"""


def probe(code: Path, body: str, bundle: str | None) -> dict:
    path = os.pathsep.join([str(code)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "TALKAVATAR_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", PRELUDE.format(bundle=bundle) + body + EPILOGUE], env=env,
                         capture_output=True, text=True, cwd=code)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code", type=Path, action="append", help="checkout(s) to measure (default: this one)")
    ap.add_argument("--bundle", type=Path, default=None, help="a bundle with track (and pseudo) for the last rows")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    codes = [c.resolve() for c in (args.code or [Path(__file__).resolve().parents[1]])]
    names = [n for n in PROBES if args.bundle is not None or "bundle" not in n]
    bundle = None if args.bundle is None else str(args.bundle.resolve())
    results = {str(c): {n: [probe(c, PROBES[n], bundle) for _ in range(args.repeats)] for n in names} for c in codes}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(f"load average {os.getloadavg()[0]:.1f}; one thread; CPU / wall seconds per fresh process (each run)\n")
    print("| probe | " + " | ".join(Path(c).name or c for c in results) + " |")
    print("|---|" + "---|" * len(results))
    for n in names:
        cells = []
        for runs in (results[str(c)][n] for c in codes):
            cells.append("; ".join(r.get("error", f"{r['cpu']:.2f} / {r['wall']:.2f}" + (" (dynamo)" if r["dynamo"]
                                                                                          else "")) for r in runs))
        print(f"| {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
