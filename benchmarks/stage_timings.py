"""Print where a bundle's stages spent their time: each stage's timings from bundle.json and the fit's loss
history clock (seconds at every 1/20 of the steps), to see one-time warm-ups against the steady step rate.

    python benchmarks/stage_timings.py BUNDLE
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    root = Path(sys.argv[1])
    stages = json.loads((root / "bundle.json").read_text())["stages"]
    for name in ("track", "pseudo", "fit"):
        if name in stages:
            print(name, {k: round(v, 2) for k, v in stages[name].get("timings", {}).items()})
    fit = root / "fit" / "fit.json"
    if fit.is_file():
        history = json.loads(fit.read_text())["losses"]["history"]
        clock = [(h["step"], h["seconds"]) for h in history if "seconds" in h]
        print("fit clock (step: s):", ", ".join(f"{s}: {t:.1f}" for s, t in clock))
        rates = [(b[1] - a[1]) / (b[0] - a[0]) * 1000 for a, b in zip(clock, clock[1:])]
        print("ms per step between entries:", ", ".join(f"{r:.0f}" for r in rates))


if __name__ == "__main__":
    main()
