#!/usr/bin/env bash
# The real-clip self-reenactment (benchmarks/eval_real_clip.py) on the GPU machine (device tool). Needs mediapipe
# 0.10.21 and anny 0.6.2 (+ ANNY_CACHE_DIR) installed there, and gsplat as in benchmarks/fit_astronaut_gpu.sh.
# Prepare on the CPU machine (the device has no network: the clip travels in the worktree's git-ignored .pyfeat/):
#   cd /work/wt-eval && python -c "from tests.real_clip import fetch_clip; print(fetch_clip())"
#   mkdir -p /work/main/.device-cache && rsync -a --delete --exclude .git --exclude __pycache__ \
#       --exclude '.pyfeat/*.whl' /work/wt-eval/ /work/main/.device-cache/eval/
# then run with carry [".device-cache"]:  cd .device-cache/eval && bash benchmarks/eval_real_clip_gpu.sh
# Runs the tiny preset (the CPU figures' twin) and the fast preset (GPU default) and writes tables, logs, JSON and
# the report plots into $OUT.
set -euo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/site
pip install --no-index --no-deps --target /tmp/site ../whl/*.whl >/dev/null 2>&1 || true
export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
export MAX_JOBS=16 TORCH_CUDA_ARCH_LIST=9.0 TORCH_EXTENSIONS_DIR=$PWD/../torch-ext
python -c "import torch; from talkavatar.core.splats import gsplat_backend as g; print('gsplat:', g.unavailable_reason(torch.device('cuda'), torch.float32) or 'ok')"
run() {  # name, then eval_real_clip.py options
  local name=$1; shift
  python benchmarks/eval_real_clip.py "/tmp/real_$name" --device cuda "$@" > "$OUT/real_$name.txt" \
      2> "$OUT/real_$name.log" || echo "real_$name failed (see real_$name.log)"
  cp -r "/tmp/real_$name/report" "$OUT/report_$name" 2>/dev/null || true
  cp "/tmp/real_$name/results.json" "$OUT/real_$name.json" 2>/dev/null || true
  cat "$OUT/real_$name.txt"
}
run tiny --preset tiny
run fast --preset fast --start 6 --stride 6 --frames 11 --size 640 --track-steps 240
