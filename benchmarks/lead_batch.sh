#!/bin/bash
# The lead's GPU batch (eleventh session), in parts of under 10 minutes each, run on the device machine after the
# setup calls (see gpu_session.sh): carry [".device-cache"]:
#   PART=N bash benchmarks/gpu_session.sh x 'bash benchmarks/lead_batch.sh'
# 1: GPU tests, the astronaut fast end to end, colour-anchor variants on its bundle
# 2: issue 16's presentable video (PHOTOS=a,b picks some of .device-cache/photos16; ~75 s a photo)
# 3: GPU tests, the astronaut end to end, anchor variants, graphs_gpu.sh (graphed fit terms: parity, ms per step),
#    render fps (profile_pipeline --sections render), 60 s of speech to MP4 (render_video.py)
# 4: issue 25's rendered lip check per language (LIPONLY=a,b picks clips of .device-cache/lip-languages)
# 5: (TESTS=1: the graph GPU tests) the astronaut fast end to end (the input-view guard) -- a short check first
# 6: the GPU tests, the astronaut fast end to end with its stages' timings, then part 2 (PHOTOS=a,b)
# 7: issue 23's figures: photo to avatar on five photos (photo_speed), ms per fit step on the last photo's bundle
#    (fit_speed), 60 s of speech to MP4 (render_video, drive-audio run on the device)
# 8: issue 23's A/B of cheaper variants (~8 min; O=DIR for the files, default $OUT): the graphed pseudo perceptual
#    terms per variant (perceptual_speed), the imports before track, then photo to avatar on five photos (with
#    E2E="name=ITEMS": main's defaults and that variant interleaved) and fit-only variants on each photo's bundle
#    (photo_speed --variant / --fit-variant; VARIANTS="a=ITEMS;b=ITEMS" replaces the fit variants, BUDGET=s the
#    time it may take). Twentieth session, H100: benchmarks/RESULTS.md, helper speed20.
# 9: issue 23's open question (~7 min; PHOTOS=a,b, default messi5,side_45; BUDGET=s): the fast fit's figures over
#    rounding-level perturbations of each track (LANDMARK_UNIT scaled by 1 + 1e-6 and 1 - 5e-6), the CPU track and the
#    CUDA track interleaved: do the CUDA track's input view and holes sit inside the CPU track's spread? Then the
#    fit's own spread: seeds 1 and 2 of the fit on the first (CPU, as is) track's bundle.
# 10: issue 23's host costs (~4 min): a cProfile of `talkavatar fit PHOTO` (astronaut, after a first process), 60 s
#    of speech to MP4 with drive-audio run here and the split, x264 alone on that video's frames per preset (fps, size,
#    PSNR against its input), then photo to avatar on the five photos again (another draw of this host's median)
# 12: issue 23's last draw (~4 min): the CLI's exit tests, photo to avatar on five photos, 60 s of speech to MP4
#    (drive-audio here), a cProfile of fit PHOTO (part 10's, which Python 3.12 lost); everything packed into one file at the end (few files come back)
set -uo pipefail
T0=$(date +%s)
case "${PART:-1}" in
1)
  python3 -m pytest $(grep -l "mark.gpu" tests/*.py) -m gpu -q -p no:cacheprovider > $OUT/gpu_tests.log 2>&1
  echo "gpu tests rc=$? ($(( $(date +%s) - T0 )) s)"; grep -E "passed|failed|FAILED|XPASS" $OUT/gpu_tests.log | tail -6
  python3 benchmarks/fit_astronaut.py --preset fast --device cuda --workdir .devsite/e2e --json $OUT/e2e.json \
    > $OUT/e2e.txt 2> $OUT/e2e.log; echo "e2e rc=$? ($(( $(date +%s) - T0 )) s)"; cat $OUT/e2e.txt; tail -2 $OUT/e2e.log
  cp .devsite/e2e/astronaut.avatar/fit/preview.png $OUT/e2e_preview.png 2>/dev/null
  python3 -c "import json; s=json.load(open('.devsite/e2e/astronaut.avatar/bundle.json'))['stages']
for k in ('track', 'pseudo', 'fit'): print(k, {n: round(v, 2) for n, v in s[k].get('timings', {}).items()})"
  python3 benchmarks/fit_sweep.py .devsite/e2e/astronaut.avatar --out $OUT/sweep --device cuda \
    --variants "current,anchor 0.1,anchor 0" 2> $OUT/sweep.log | tee $OUT/sweep.txt; echo "sweep rc=$? ($(( $(date +%s) - T0 )) s)"
  ;;
2)
  python3 benchmarks/presentable_video.py .device-cache/photos16 --out /tmp/pv --preset fast --device cuda \
    ${PHOTOS:+--photos $PHOTOS} --json $OUT/presentable.json --sheets $OUT/sheets > $OUT/presentable.txt \
    2> $OUT/presentable.log; echo "presentable rc=$? ($(( $(date +%s) - T0 )) s)"; cat $OUT/presentable.txt
  # one file: the device brings back only a few files a call (the twentieth session lost eight sheets to that)
  tar -C $OUT -czf $OUT/sheets.tar.gz sheets && rm -rf $OUT/sheets
  grep -i "error" $OUT/presentable.log | tail -5
  ;;
3)
  python3 -m pytest $(grep -l "mark.gpu" tests/*.py) -m gpu -q -p no:cacheprovider > $OUT/gpu_tests.log 2>&1
  echo "gpu tests rc=$? ($(( $(date +%s) - T0 )) s)"; grep -E "passed|failed|FAILED|XPASS" $OUT/gpu_tests.log | tail -6
  python3 benchmarks/fit_astronaut.py --preset fast --device cuda --workdir .devsite/e2e --json $OUT/e2e.json \
    > $OUT/e2e.txt 2> $OUT/e2e.log; echo "e2e rc=$? ($(( $(date +%s) - T0 )) s)"; cat $OUT/e2e.txt; tail -2 $OUT/e2e.log
  cp .devsite/e2e/astronaut.avatar/fit/preview.png $OUT/e2e_preview.png 2>/dev/null
  cp .devsite/e2e/astronaut.avatar/track/overlay.png $OUT/e2e_overlay.png 2>/dev/null
  timeout 150 python3 benchmarks/fit_sweep.py .devsite/e2e/astronaut.avatar --out $OUT/sweep --device cuda \
    --variants "current,anchor 0" 2> $OUT/sweep.log | tail -4; echo "sweep rc=$? ($(( $(date +%s) - T0 )) s)"
  bash benchmarks/graphs_gpu.sh 2>&1 | tail -22; echo "speed7 ($(( $(date +%s) - T0 )) s)"
  B=.devsite/e2e/astronaut.avatar
  timeout 120 python3 benchmarks/profile_pipeline.py --out $OUT/render_prof --bundle $B --workdir /tmp/rprof \
    --sections render --device cuda > $OUT/render_prof.log 2>&1; echo "render profile rc=$? ($(( $(date +%s) - T0 )) s)"
  tail -12 $OUT/render_prof.log
  timeout 120 python3 benchmarks/render_video.py --rig $B/track/rig.safetensors --audio .device-cache/render-bench/speech60.wav \
    --motion .device-cache/render-bench/speech60.motion.safetensors --out /tmp/rv --json $OUT/render_video.json \
    > $OUT/render_video.log 2>&1; echo "render_video rc=$? ($(( $(date +%s) - T0 )) s)"; tail -10 $OUT/render_video.log
  ;;
4)
  python3 benchmarks/lip_check_languages.py .device-cache/lip-languages --redrive /tmp/lip11 ${LIPONLY:+--only $LIPONLY} \
    > $OUT/lip.txt 2> $OUT/lip.log; echo "lip check rc=$? ($(( $(date +%s) - T0 )) s)"; tail -20 $OUT/lip.txt
  ;;
5)
  [ -n "${TESTS:-}" ] && timeout 150 python3 -m pytest tests/test_fit_graphs.py -m gpu -q -p no:cacheprovider \
    > $OUT/gpu_tests.log 2>&1; echo "gpu tests rc=$? ($(( $(date +%s) - T0 )) s)"; tail -3 $OUT/gpu_tests.log
  python3 benchmarks/fit_astronaut.py --preset fast --device cuda --workdir .devsite/e2e --json $OUT/e2e.json \
    > $OUT/e2e.txt 2> $OUT/e2e.log; echo "e2e rc=$? ($(( $(date +%s) - T0 )) s)"; cat $OUT/e2e.txt; tail -2 $OUT/e2e.log
  cp .devsite/e2e/astronaut.avatar/fit/preview.png $OUT/e2e_preview.png 2>/dev/null
  python3 benchmarks/stage_timings.py .devsite/e2e/astronaut.avatar
  ;;
6)
  timeout 240 python3 -m pytest $(grep -l "mark.gpu" tests/*.py) -m gpu -q -p no:cacheprovider > $OUT/gpu_tests.log 2>&1
  echo "gpu tests rc=$? ($(( $(date +%s) - T0 )) s)"; grep -E "passed|failed|FAILED|XPASS" $OUT/gpu_tests.log | tail -6
  python3 benchmarks/fit_astronaut.py --preset fast --device cuda --workdir .devsite/e2e --json $OUT/e2e.json \
    > $OUT/e2e.txt 2> $OUT/e2e.log; echo "e2e rc=$? ($(( $(date +%s) - T0 )) s)"; cat $OUT/e2e.txt; tail -2 $OUT/e2e.log
  cp .devsite/e2e/astronaut.avatar/fit/preview.png $OUT/e2e_preview.png 2>/dev/null
  python3 benchmarks/stage_timings.py .devsite/e2e/astronaut.avatar
  PART=2 bash benchmarks/lead_batch.sh
  ;;
7)
  python3 benchmarks/photo_speed.py .device-cache/photos16 --first laughing --workdir /tmp/e2e --json $OUT/photo_speed.json \
    > $OUT/photo_speed.txt 2> $OUT/photo_speed.log; echo "photo_speed rc=$? ($(( $(date +%s) - T0 )) s)"
  cat $OUT/photo_speed.txt
  (cd /tmp/e2e && tar -czf $OUT/previews.tar.gz */fit/preview.png */track/overlay.png)  # one file: few come back
  B=$(ls -d /tmp/e2e/*.avatar | tail -1)
  timeout 120 python3 benchmarks/fit_speed.py $B --json $OUT/fit_speed.json > $OUT/fit_speed.txt 2> $OUT/fit_speed.log
  echo "fit_speed rc=$? ($(( $(date +%s) - T0 )) s)"; tail -8 $OUT/fit_speed.txt
  timeout 120 python3 benchmarks/render_video.py --rig $B/track/rig.safetensors --audio .device-cache/render-bench/speech60.wav \
    --out /tmp/rv --json $OUT/render_video.json \
    > $OUT/render_video.log 2>&1; echo "render_video rc=$? ($(( $(date +%s) - T0 )) s)"; tail -6 $OUT/render_video.log
  ;;
8)
  O=${O:-$OUT}; mkdir -p $O
  timeout 60 python3 benchmarks/perceptual_speed.py --json $O/perceptual.json > $O/perceptual.txt 2>&1
  echo "perceptual_speed rc=$? ($(( $(date +%s) - T0 )) s)"; cat $O/perceptual.txt
  python3 -c "import time; t = time.perf_counter(); import torch; a = time.perf_counter(); import talkavatar.cli
from talkavatar.track.stage import run_track; from talkavatar.fit.stage import run_fit; b = time.perf_counter()
from talkavatar.pseudo.stage import run_pseudo; c = time.perf_counter()
print(f'imports: torch {a - t:.2f} s, cli + track + fit {b - a:.2f} s, pseudo {c - b:.2f} s')"
  python3 -X importtime -c "import talkavatar.cli; from talkavatar.track.stage import run_track
from talkavatar.fit.stage import run_fit" 2> $O/importtime.txt; sort -t'|' -k2 -n -r $O/importtime.txt | head -8
  FITS=${VARIANTS:-"batch 1=--pseudo-batch 1;256 px=--pseudo-size 256;400 steps=--iters 400"}
  IFS=';' read -ra F <<< "$FITS"; ARGS=(); for f in "${F[@]}"; do ARGS+=(--fit-variant "$f"); done
  python3 benchmarks/photo_speed.py .device-cache/photos16 --first laughing --workdir /tmp/e2e20 \
    --budget ${BUDGET:-430} \
    ${E2E:+--variant "main=" --variant "$E2E"} "${ARGS[@]}" \
    --json $O/photo_speed.json > $O/photo_speed.txt 2> $O/photo_speed.log
  echo "photo_speed rc=$? ($(( $(date +%s) - T0 )) s)"; grep -A30 "^end to end, medians" $O/photo_speed.txt
  ;;
9)
  O=${O:-$OUT}; mkdir -p $O; U=talkavatar.track.fitting.LANDMARK_UNIT; C=talkavatar.pipeline.photo.TRACK_PHOTO_ON_CPU
  V=(); for t in cpu cuda; do [ $t = cpu ] && on=True || on=False
    for u in 0.02 0.02000002 0.0199999; do V+=(--variant "$t u$u=$C=$on $U=$u"); done; done
  python3 benchmarks/photo_speed.py .device-cache/photos16 --photos ${PHOTOS:-messi5,side_45} --first laughing \
    --preset fast --device cuda --workdir /tmp/spread23 --budget ${BUDGET:-430} "${V[@]}" \
    --fit-variant "seed 1=--seed 1" --fit-variant "seed 2=--seed 2" \
    --json $O/spread.json > $O/spread.txt 2> $O/spread.log
  echo "photo_speed rc=$? ($(( $(date +%s) - T0 )) s)"; grep -E "^\| (messi5|side_45|astronaut|grace|single)" $O/spread.txt \
    | cut -c1-60,150-260
  grep -E "^\| (seed|as is)" $O/spread.txt | cut -c1-40,150-300
  ;;
10)
  O=${O:-$OUT}; mkdir -p $O; P=.device-cache/photos16
  talkavatar fit $P/laughing.png -o /tmp/p10first.avatar --preset fast --device cuda --force > /dev/null 2>&1
  echo "first process rc=$? ($(( $(date +%s) - T0 )) s)"
  python3 -m cProfile -o /tmp/e2e.prof -m talkavatar fit $P/astronaut.png -o /tmp/p10.avatar --preset fast \
    --device cuda --force > $O/e2e_prof.log 2>&1; echo "profiled fit PHOTO rc=$? ($(( $(date +%s) - T0 )) s)"
  python3 -c "import pstats; p = pstats.Stats('/tmp/e2e.prof'); p.sort_stats('cumulative').print_stats(70)
p.sort_stats('tottime').print_stats(40)" > $O/e2e_prof.txt
  timeout 150 python3 benchmarks/render_video.py --rig /tmp/p10.avatar/track/rig.safetensors \
    --audio .device-cache/render-bench/speech60.wav --out /tmp/rv --json $O/render_video.json > $O/render_video.log 2>&1
  echo "render_video rc=$? ($(( $(date +%s) - T0 )) s)"; tail -16 $O/render_video.log
  ffmpeg -v error -i /tmp/rv/render_video.mp4 -frames:v 600 -f rawvideo -pix_fmt yuv420p -y /dev/shm/f.yuv
  for preset in ultrafast superfast veryfast; do
    t=$(date +%s.%N); ffmpeg -v error -f rawvideo -pix_fmt yuv420p -s 1080x1920 -r 30 -i /dev/shm/f.yuv \
      -c:v libx264 -preset $preset -crf 18 -y /dev/shm/o_$preset.mp4; e=$(python3 -c "import time; print(round(time.time() - $t, 2))")
    q=$(ffmpeg -f rawvideo -pix_fmt yuv420p -s 1080x1920 -r 30 -i /dev/shm/f.yuv -i /dev/shm/o_$preset.mp4 \
      -lavfi psnr -f null - 2>&1 | grep -o "average:[0-9.inf]*")
    echo "x264 $preset: 600 frames in $e s, $(stat -c %s /dev/shm/o_$preset.mp4) bytes, PSNR $q"
  done
  python3 benchmarks/photo_speed.py $P --workdir /tmp/e2e10 --json $O/photo_speed.json > $O/photo_speed.txt \
    2> $O/photo_speed.log; echo "photo_speed rc=$? ($(( $(date +%s) - T0 )) s)"; grep -A4 "^| variant" $O/photo_speed.txt
  tail -3 $O/e2e_prof.log
  ;;
12)
  O=${O:-$OUT}; mkdir -p $O; P=.device-cache/photos16
  python3 -m pytest tests/test_cli.py -q -p no:cacheprovider -k console_script 2>&1 | tail -1
  python3 benchmarks/photo_speed.py $P --first laughing --workdir /tmp/e2e --json $O/photo_speed.json \
    > $O/photo_speed.txt 2> $O/photo_speed.log; echo "photo_speed rc=$? ($(( $(date +%s) - T0 )) s)"
  grep -A3 "^| variant" $O/photo_speed.txt
  (cd /tmp/e2e && tar -czf $O/previews.tar.gz */fit/preview.png */track/overlay.png)
  timeout 100 python3 benchmarks/render_video.py --rig /tmp/e2e/astronaut.avatar/track/rig.safetensors \
    --audio .device-cache/render-bench/speech60.wav --out /tmp/rv --json $O/render_video.json > $O/render_video.log 2>&1
  echo "render_video rc=$? ($(( $(date +%s) - T0 )) s)"; grep -E "drive-audio|render \+ encode|total" $O/render_video.log
  timeout 60 python3 -m cProfile -o /tmp/e2e.prof -m talkavatar fit $P/astronaut.png -o /tmp/p12.avatar \
    --preset fast --device cuda --force > $O/e2e_prof.log 2>&1; echo "profile rc=$? ($(( $(date +%s) - T0 )) s)"
  python3 -c "import pstats; p = pstats.Stats('/tmp/e2e.prof'); p.sort_stats('cumulative').print_stats(150)
p.sort_stats('tottime').print_stats(60)" > $O/e2e_prof.txt
  tar -C $O -czf /tmp/part12.tar.gz . && rm -rf $O/* && mv /tmp/part12.tar.gz $O/
  ;;
esac
