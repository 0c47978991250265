#!/bin/bash
# speed7 (issue 23): the graphed fit terms' GPU parity tests and the EfficientNet CUDA-vs-CPU test, then (when they
# pass) a fast fit step with the terms graphed vs op by op and the astronaut fast fit both ways (and with the
# perceptual network in full float32, TF32 off, when time is left). ~3.5 min.
# Run from the repo root on a CUDA machine with gsplat 1.5.3 and the fit's dependencies, e.g. the lead's
# environment (lead_batch.sh's part 3, or carry [".device-cache"]: bash benchmarks/gpu_session.sh x 'bash benchmarks/graphs_gpu.sh')
# BUNDLE: a tracked + pseudo-labelled astronaut bundle (default .device-cache/astro/astronaut.avatar); without one,
# profile_pipeline tracks and pseudo-labels the astronaut first (mediapipe and anny needed, ~40 s more).
# Writes $OUT/speed7/{tests.log,perceptual.txt,summary.json,sweep.json} (/tmp/speed7 without $OUT); prints a table
# last.
set -uo pipefail
export PYTHONUNBUFFERED=1
D=${OUT:-/tmp}/speed7
W=/tmp/speed7-work
BUNDLE=${BUNDLE:-.device-cache/astro/astronaut.avatar}
mkdir -p "$D" "$W"
python3 -c "from gsplat.cuda._backend import _C; assert _C is not None"  # gsplat's JIT build outside the timings

# 1. the GPU tests (graphed terms and gradients per step, a graphed 24-step fit vs two op-by-op fits; EfficientNet
#    channels-last on CUDA vs the CPU in float32, and its distance under TF32)
timeout 100 python3 -m pytest tests/test_fit_graphs.py tests/test_losses_perceptual.py -m gpu -q \
  -p no:cacheprovider 2>&1 | tee "$D/tests.log" | tail -25
tests_rc=${PIPESTATUS[0]}

# 2. the perceptual network's CUDA-vs-CPU input-gradient gap, channels-last or not, TF32 on or off, and its time on
#    the fit's 2 pseudo frames with TF32 on and off (figures only)
timeout 60 python3 - <<'EOF' 2>&1 | tee "$D/perceptual.txt"
import torch
from talkavatar.core.losses import perceptual_distance
g = torch.Generator().manual_seed(4)
x, y = torch.rand(2, 64, 48, 3, generator=g), torch.rand(2, 64, 48, 3, generator=g)
def run(dist, device):
    image = x.to(device).requires_grad_(True)
    d = dist(image, y.to(device))
    return d.detach().cpu(), torch.autograd.grad(d.sum(), image)[0].cpu()
d_cpu, g_cpu = run(perceptual_distance("efficientnet", "cpu"), "cpu")
for channels_last in (True, False):
    dist = perceptual_distance("efficientnet", torch.device("cuda"))
    if not channels_last:
        dist.network.to(memory_format=torch.contiguous_format)
    for tf32 in (True, False):
        torch.backends.cudnn.allow_tf32 = tf32
        d, grad = run(dist, "cuda")
        print(f"perceptual channels-last {channels_last} tf32 {tf32}: distance rel "
              f"{float(((d - d_cpu).abs() / d_cpu.abs()).max()):.2e}, gradient max gap / max "
              f"{float((grad - g_cpu).abs().max() / g_cpu.abs().max()):.2e}, relative L2 "
              f"{float((grad - g_cpu).norm() / g_cpu.norm()):.2e}")
# the fit's perceptual pass: 2 pseudo frames of 384 px, forward + backward (the target under no_grad), ms
import time
dist = perceptual_distance("efficientnet", torch.device("cuda"))
a, b = torch.rand(2, 384, 384, 3, device="cuda"), torch.rand(2, 384, 384, 3, device="cuda")
for tf32 in (True, False, True, False):
    torch.backends.cudnn.allow_tf32 = tf32
    for i in range(25):
        if i == 5:
            torch.cuda.synchronize(); t = time.perf_counter()
        image = a.clone().requires_grad_(True)
        torch.autograd.grad(dist(image, b).sum(), image)
    torch.cuda.synchronize()
    print(f"perceptual fwd+bwd 2x384 px tf32 {tf32}: {1000 * (time.perf_counter() - t) / 20:.2f} ms")
torch.backends.cudnn.allow_tf32 = True
EOF

# 3. when the tests pass: ms per fit step graphed vs op by op (profile_pipeline's fit section, fast preset, 20 steps;
#    its 60-step graphed / op-by-op / op-by-op-again parity row), then the astronaut fast fit graphed and op by op
if [ "$tests_rc" -eq 0 ]; then
  if [ -d "$BUNDLE" ]; then src=(--bundle "$BUNDLE"); else src=(); fi
  timeout 120 python3 benchmarks/profile_pipeline.py --out "$W/profile" --workdir "$W" --sections fit --steps 20 \
    --device cuda "${src[@]}" > "$W/profile.log" 2>&1; echo "profile_pipeline rc=$?"
  cp "$W/profile/summary.json" "$D/" 2>/dev/null; grep "^| fit" "$W/profile.log"
  variants="graphed,op by op"  # and the perceptual network in full float32 when time is left (~25 s a fit)
  [ "$SECONDS" -lt 130 ] && variants="$variants,perceptual fp32"
  timeout 110 python3 benchmarks/fit_sweep.py "$W/astronaut.avatar" --variants "$variants" --preset fast \
    --device cuda --out "$W/sweep" 2> "$W/sweep.log"; echo "fit_sweep rc=$?"
  cp "$W/sweep/sweep.json" "$D/" 2>/dev/null
else
  echo "GPU tests failed (rc=$tests_rc): no timing; see $D/tests.log"
fi

python3 - "$D" "$tests_rc" <<'EOF'
import json, re, sys
from pathlib import Path
d, rc = Path(sys.argv[1]), sys.argv[2]
rows = []
log = (d / "tests.log").read_text() if (d / "tests.log").exists() else ""
summary = [l for l in log.splitlines() if re.search(r"\d+ (passed|failed|errors?|skipped) ", l)]
rows.append(("GPU tests (fit graphs, perceptual)", summary[-1].strip("= ") if summary else f"rc {rc}"))
for line in (d / "perceptual.txt").read_text().splitlines() if (d / "perceptual.txt").exists() else []:
    if line.startswith("perceptual"):
        name, figures = line.rsplit(":", 1) if "fwd+bwd" in line else line.split(":", 1)
        rows.append((name, figures.strip()))
if (d / "summary.json").exists():
    f = json.loads((d / "summary.json").read_text()).get("fit", {})
    for kind in ("photo", "pseudo"):
        rows.append((f"fit {kind} step ms, graphed / op by op (target 10)",
                     f"{f.get(f'{kind}_ms_per_step')} / {f.get(f'{kind}_ms_per_step_op_by_op')}"))
    p = f.get("graphed_vs_op_by_op")
    if p:
        for run in ("graphed", "op_by_op_again"):
            rows.append((f"{p['steps']} steps, {run.replace('_', ' ')} vs op by op: loss, mean abs diff of rgb, "
                         f"of offsets", f"{p[f'loss_{run}']} / {p['loss_op_by_op']}, "
                         f"{p[f'param_diff_{run}']['rgb']['mean']:.2g}, {p[f'param_diff_{run}']['offsets']['mean']:.2g}"))
    for key in ("error", "error_op_by_op"):
        if key in f:
            rows.append((f"fit {key}", f[key][:200]))
if (d / "sweep.json").exists():
    for name, s in json.loads((d / "sweep.json").read_text()).items():
        rows.append((f"astronaut fast fit, {name}: input dB / SSIM, holes views / poses %, fit s",
                     f"{s['psnr_db']:.2f} / {s['ssim']:.4f}, {s['views_holes_pct']:.2f} / {s['poses_holes_pct']:.2f}, "
                     f"{s['seconds']}"))
print("\n| speed7 | figure |\n|---|---|")
for row in rows:
    print(f"| {row[0]} | {row[1]} |")
EOF
