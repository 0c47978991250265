"""First-use cost of the perceptual distance on CUDA (the fit's one-time stall when pseudo frames start), with
cuDNN on and off, each in a fresh process: the CUDA context, load, first forward+backward, then the steady per-call
time op by op and replayed as CUDA graphs (forward and backward, as the fit's graphed terms run it).

    python benchmarks/perceptual_warmup.py [--size 384] [--batch 2] [--calls 30]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def measure(size: int, batch: int, calls: int, cudnn: bool) -> dict:
    import torch

    from talkavatar.core.losses import perceptual_distance

    torch.backends.cudnn.enabled = cudnn
    t = time.perf_counter()
    torch.zeros(1, device="cuda")  # CUDA context outside the other timings
    context = time.perf_counter() - t
    t = time.perf_counter()
    distance = perceptual_distance("efficientnet", torch.device("cuda"))
    torch.cuda.synchronize()
    load = time.perf_counter() - t
    x = torch.rand(batch, size, size, 3, device="cuda", requires_grad=True)
    y = torch.rand(batch, size, size, 3, device="cuda")

    def call():
        distance(x, y).mean().backward()

    t = time.perf_counter()
    call()
    torch.cuda.synchronize()
    first = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(calls):
        call()
    torch.cuda.synchronize()
    steady = (time.perf_counter() - t) / calls
    t = time.perf_counter()
    graphed = torch.cuda.make_graphed_callables(lambda a: distance(a, y), (x,))
    graphed(x).mean().backward()
    torch.cuda.synchronize()
    capture = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(calls):
        graphed(x).mean().backward()
    torch.cuda.synchronize()
    return {"cudnn": cudnn, "context_s": round(context, 3), "load_s": round(load, 3), "first_call_s": round(first, 3),
            "steady_ms": round(steady * 1000, 2), "capture_s": round(capture, 3),
            "graphed_ms": round((time.perf_counter() - t) / calls * 1000, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--child", choices=("on", "off"), default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.size, args.batch, args.calls, args.child == "on")))
        return
    print("| cuDNN | context s | load s | first call s | steady ms | capture s | graphed ms |\n"
          "|---|---|---|---|---|---|---|")
    for mode in ("on", "off"):
        out = subprocess.run([sys.executable, __file__, "--child", mode, "--size", str(args.size), "--batch",
                              str(args.batch), "--calls", str(args.calls)], capture_output=True, text=True)
        if out.returncode:
            print(out.stderr[-2000:])
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {mode} | {r['context_s']} | {r['load_s']} | {r['first_call_s']} | {r['steady_ms']} | "
              f"{r['capture_s']} | {r['graphed_ms']} |", flush=True)


if __name__ == "__main__":
    main()
