"""The fit's pseudo perceptual terms alone (issue 23: the pseudo step's largest part), as the fit runs them: the
frames' linear rendering and alpha shaded over a background and compared with their targets by the perceptual
network (:func:`talkavatar.fit.objective.perceptual_losses`), forward and backward replayed as CUDA graphs
(:class:`~talkavatar.core.cuda_graphs.GraphedTerms`), ms per call (CUDA events, the median of --repeats after the
capture) for cheaper variants of the term:

    python benchmarks/perceptual_speed.py [--bundle B.avatar] [--size 384] [--batch 2] [--repeats 50]

- "as is": the fast preset's (``--batch`` frames of ``--size`` px on the longer side, the aspect of the bundle's
  pseudo frames, square without one), cuDNN off as the fast fit runs it (fit.stage.CUDNN_PRESETS);
- "blocks ..": the distance read off fewer of the network's blocks (perceptual.FEATURE_BLOCKS: an earlier cut);
- "batch 1", "N px": fewer or smaller frames (the fit's --pseudo-batch, --pseudo-size);
- "cuDNN on": the same with cuDNN (the quality preset's);
- "op by op": not graphed (the profiler's 19.0 ms figure, nineteenth session).

Every variant in one process, one after the other (their captures kept apart); the distance's value on the same
frames is printed beside (a cut or another size differs by design). Prints a Markdown table; ``--json FILE`` keeps
it. H100, twentieth session: as is 3.43 ms, blocks 0-7 2.76, blocks 0-4 2.19, batch 1 2.16, 256 px 2.40, 192 px
2.18, cuDNN on 2.16 (its capture 4.0 s), op by op 11.69; the 1x1 convolutions as matrix products (speed20's
branch, not kept) 3.54 ms.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from talkavatar.core.cuda_graphs import GraphedTerms  # noqa: E402
from talkavatar.core.device import cudnn_enabled  # noqa: E402
from talkavatar.core.losses import perceptual, perceptual_distance  # noqa: E402
from talkavatar.fit.objective import perceptual_losses  # noqa: E402

BLOCKS = perceptual.FEATURE_BLOCKS  # the distance's blocks as it is


def variants(size: int) -> dict[str, dict]:
    """The measured variants, each a dict of its settings (``size``: the longer side as is)."""
    base = dict(blocks=BLOCKS, batch_scale=1.0, side=size, cudnn=False, graphed=True)
    return {"as is": base,
            "blocks 0-7": {**base, "blocks": (0, 2, 4, 7)},
            "blocks 0-4": {**base, "blocks": (0, 2, 4)},
            "batch 1": {**base, "batch_scale": 0.5},
            "256 px": {**base, "side": 256},
            "192 px": {**base, "side": 192},
            "cuDNN on": {**base, "cudnn": True},
            "op by op": {**base, "graphed": False}}


def frame_shape(bundle: Path | None, side: int) -> tuple[int, int]:
    """(H, W) of a pseudo frame at ``side`` px on its longer side: the bundle's first frame's aspect, else square."""
    frames = [] if bundle is None else sorted((bundle / "pseudo" / "frames").glob("*.png"))
    if not frames:
        return side, side
    from PIL import Image

    w, h = Image.open(frames[0]).size
    scale = side / max(w, h)
    return round(h * scale), round(w * scale)


class Clock:
    """ms of a block: CUDA events on a GPU (what the GPU spent from its first to its last kernel), else the wall."""

    def __init__(self, device: torch.device):
        self.cuda, self.ms = device.type == "cuda", 0.0

    def __enter__(self) -> "Clock":
        if self.cuda:
            self.events = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            self.events[0].record()
        else:
            self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self.cuda:
            self.events[1].record()
            self.events[1].synchronize()
            self.ms = self.events[0].elapsed_time(self.events[1])
        else:
            self.ms = 1000 * (time.perf_counter() - self.started)


def measure(settings: dict, batch: int, bundle: Path | None, repeats: int, device: torch.device) -> dict:
    """ms per forward + backward of the graphed terms under ``settings`` and the distance's mean value."""
    kept, perceptual.FEATURE_BLOCKS = perceptual.FEATURE_BLOCKS, settings["blocks"]
    try:
        distance = perceptual_distance("efficientnet", device)
        b = max(1, round(batch * settings["batch_scale"]))
        h, w = frame_shape(bundle, settings["side"])
        g = torch.Generator().manual_seed(0)
        target = torch.rand(b, h, w, 3, generator=g).to(device)
        mask = (torch.rand(b, h, w, generator=g) > 0.3).float().to(device)
        linear = (target ** 2.2 * mask[..., None] + 0.05 * torch.rand(b, h, w, 3, generator=g).to(device))
        alpha = mask[..., None].clone()
        background = torch.rand(3, generator=g).to(device)
        terms = GraphedTerms(functools.partial(perceptual_losses, distance), settings["graphed"])
        times, values = [], []
        with cudnn_enabled(settings["cudnn"]):
            for i in range(repeats + 3):
                x, a = linear.clone().requires_grad_(True), alpha.clone().requires_grad_(True)
                with Clock(device) as clock:
                    value, alphas = terms(x, a, target, mask, background)
                    (value.sum() + alphas.sum()).backward()
                if i >= 3:  # the capture and the first replays apart
                    times.append(clock.ms)
                    values.append(float(value.detach().mean()))
        return {"ms": round(statistics.median(times), 3), "batch": b, "frame": [h, w],
                "distance": round(statistics.mean(values), 5), "graphed": terms.status()}
    finally:
        perceptual.FEATURE_BLOCKS = kept


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, default=None, help="take the pseudo frames' aspect from this bundle")
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--only", default=None, help="comma-separated variant names (default: all)")
    ap.add_argument("--device", default="cuda", help="cpu: a check that the script runs (nothing is graphed)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    device = torch.device(args.device)
    chosen = variants(args.size)
    if args.only:
        chosen = {k: v for k, v in chosen.items() if k in args.only.split(",")}
    results = {}
    where = torch.cuda.get_device_name() if device.type == "cuda" else "CPU (a check: not the fit's figures)"
    print(f"the fit's pseudo perceptual terms (EfficientNet-Lite0), forward + backward, {where}")
    print("| variant | frames | ms a call | x as is | distance | graphed |\n|---|---|---|---|---|---|")
    for name, settings in chosen.items():
        r = results[name] = measure(settings, args.batch, args.bundle, args.repeats, device)
        ratio = r["ms"] / results["as is"]["ms"] if "as is" in results else float("nan")
        print(f"| {name} | {r['batch']} x {r['frame'][0]}x{r['frame'][1]} | **{r['ms']:.2f}** | {ratio:.2f} | "
              f"{r['distance']:.5f} | {r['graphed']} |", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
