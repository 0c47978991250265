#!/bin/bash
# Issue 23, pseudo on the GPU: main against a branch on the device, ~5-6 minutes. Run by the lead, from the repo root
# on the device, on an archive of the branch (carry [".device-cache"]):
#   git archive BRANCH talkavatar benchmarks tests pyproject.toml | gzip > .device-cache/br-BRANCH.tar.gz
#   bash benchmarks/gpu_session.sh br BRANCH 'bash benchmarks/pseudo_gpu_ab.sh'
# main is the tree that holds .device-cache (the lead's checkout), the branch the current directory.
# 1. the GPU parity tests of pseudo's device work (z-buffers, the proxy's solves, the gutter fill, the completion);
# 2. `talkavatar fit PHOTO --preset fast` end to end on PHOTOS (default 4 of photos16), main and branch interleaved
#    (the order turned each photo) after one warm-up process: stage seconds, pseudo's own timings, input view;
# 3. the texture step alone (benchmarks/texture_ab.py: the same proxy, main and branch in turn, 3 calls each after
#    a warm-up) on main's bundles: seconds and the textures compared texel by texel; the astronaut's and messi5's
#    textures of both trees come back (textures.tar);
# 4. the pseudo stage alone, main and branch interleaved again, on main's tracked bundles (benchmarks/pseudo_ab.py;
#    AB=1 only, ~80 s more): its timings and what lies outside them (reading, writing, committing);
# 5. the moved parts alone on the first photo's bundle, CPU and device (benchmarks/pseudo_parts.py; PARTS=1 only);
# 6. what the two pseudo stages wrote, side by side (benchmarks/pseudo_compare.py: texels, frames, fit figures);
# 7. the branch's pseudo stage on the first photo's bundle under cProfile (benchmarks/profile_pipeline.py
#    --sections pseudo; PROFILE=0 skips it).
# Files back (at most 8): $OUT/NAME/run.txt (this output), logs.tar.gz (logs, JSON, the profile), sheets.tar (each
# bundle's pseudo/contact.png and fit/preview.png), textures.tar. The tables come last.
set -uo pipefail
T0=$(date +%s)
B=$PWD
M=$(dirname "$(readlink -f .device-cache)")
S=$M/.device-cache/photos16
O=/tmp/pseudo_gpu_ab
NAME=$(basename "$B")
rm -rf $O /tmp/pga_main /tmp/pga_branch /tmp/pga_keep && mkdir -p $O $OUT/$NAME
PHOTOS=${PHOTOS:-astronaut messi5 soldier_bw laughing}
DEVICE=${DEVICE:-cuda}; PRESET=${PRESET:-fast}  # (DEVICE=cpu PRESET=tiny PHOTOS=astronaut: a check on a CPU)
elapsed() { echo "$(( $(date +%s) - T0 )) s"; }

python3 -m pytest tests/test_pseudo_texture.py tests/test_pseudo_proxy.py tests/test_pseudo_garments.py -m gpu -q \
  -p no:cacheprovider \
  > $O/gpu_tests.log 2>&1; echo "gpu tests rc=$? ($(elapsed))"; tail -2 $O/gpu_tests.log

(cd $M && timeout 120 python3 $B/benchmarks/photo_speed.py $S --photos astronaut --workdir /tmp/pga_warm \
  --device $DEVICE --preset $PRESET \
  > $O/warm.txt 2>&1); echo "warm-up process rc=$? ($(elapsed))"
i=0
for p in $PHOTOS; do
  order="main branch"; [ $((i % 2)) = 1 ] && order="branch main"; i=$((i + 1))
  for t in $order; do
    D=$B; [ $t = main ] && D=$M
    (cd $D && PYTHONPATH=$D:$PYTHONPATH timeout 150 python3 $B/benchmarks/photo_speed.py $S --photos $p \
      --device $DEVICE --preset $PRESET --workdir /tmp/pga_$t --json $O/e2e-$t-$p.json \
      > $O/e2e-$t-$p.txt 2>&1)
    echo "$p $t rc=$? ($(elapsed)): $(grep -m1 "^| $p " $O/e2e-$t-$p.txt | cut -d'|' -f3-7,10)"
  done
done

BUNDLES=""; PAIRS=""
for p in $PHOTOS; do
  [ -f /tmp/pga_main/$p.avatar/pseudo/contact.png ] && BUNDLES="$BUNDLES /tmp/pga_main/$p.avatar"
  PAIRS="$PAIRS /tmp/pga_main/$p.avatar /tmp/pga_branch/$p.avatar"
done
timeout 150 python3 benchmarks/texture_ab.py $M $B $BUNDLES --device $DEVICE --repeats 3 --work /tmp/pga_tex \
  --save $O/textures --json $O/texture_ab.json > $O/texture_ab.txt 2> $O/texture_ab.log
echo "texture_ab rc=$? ($(elapsed))"
if [ "${AB:-0}" = 1 ]; then
  timeout 150 python3 benchmarks/pseudo_ab.py $M $B $BUNDLES --rounds 1 --device $DEVICE --preset $PRESET \
    --keep /tmp/pga_keep --json $O/pseudo_ab.json > $O/pseudo_ab.txt 2> $O/pseudo_ab.log
  echo "pseudo_ab rc=$? ($(elapsed))"
fi
P1=$(echo $PHOTOS | cut -d' ' -f1)
if [ "${PARTS:-0}" = 1 ]; then
  timeout 60 python3 benchmarks/pseudo_parts.py /tmp/pga_branch/$P1.avatar --device $DEVICE > $O/parts.txt 2>&1
  echo "pseudo_parts rc=$? ($(elapsed))"
fi
python3 benchmarks/pseudo_compare.py $PAIRS --json $O/compare.json > $O/compare.txt 2> $O/compare.log
echo "pseudo_compare rc=$? ($(elapsed))"

for t in main branch; do for p in $PHOTOS; do
  for f in pseudo/contact.png fit/preview.png; do
    [ -f /tmp/pga_$t/$p.avatar/$f ] && cp /tmp/pga_$t/$p.avatar/$f $O/$t-$p-$(basename $f)
  done
done; done
(cd $O && tar -cf $OUT/$NAME/sheets.tar *-contact.png *-preview.png 2>/dev/null)
[ $(stat -c %s $OUT/$NAME/sheets.tar) -lt 16000000 ] || (cd $O && tar -cf $OUT/$NAME/sheets.tar *-contact.png)
if [ "${PROFILE:-1}" = 1 ] && [ -f /tmp/pga_branch/$P1.avatar/pseudo/contact.png ]; then
  timeout 90 python3 benchmarks/profile_pipeline.py --sections pseudo --bundle /tmp/pga_branch/$P1.avatar \
    --device $DEVICE --preset $PRESET --out $O/profile > $O/profile.log 2>&1
  echo "profile rc=$? ($(elapsed))"
fi
(cd $O/textures 2>/dev/null && tar -cf $OUT/$NAME/textures.tar astronaut-*.png messi5-*.png 2>/dev/null)
(cd $O && tar -czf $OUT/$NAME/logs.tar.gz --exclude='*.png' .)
echo; echo "== photo -> avatar (main, branch; input PSNR / SSIM from each fit) =="
for p in $PHOTOS; do for t in main branch; do
  grep -m1 "^| $p " $O/e2e-$t-$p.txt | sed "s/^| $p /| $p ($t) /"
done; done
python3 - $O $PHOTOS <<'EOF'
import json, sys
from pathlib import Path
o, photos = Path(sys.argv[1]), sys.argv[2:]
print("\n| photo | tree | pseudo s | proxy | texture | input_view | sample | render | outside | pseudo input view dB "
      "(covered) | fit input PSNR / SSIM |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for p in photos:
    for t in ("main", "branch"):
        f = o / f"e2e-{t}-{p}.json"
        if not f.is_file():
            print(f"| {p} | {t} | missing |"); continue
        runs = json.loads(f.read_text())["photos"]
        if not runs or "error" in runs[0]:
            print(f"| {p} | {t} | failed |"); continue
        r = runs[0]
        tm = r.get("stages", {}).get("pseudo", {})
        try:
            m = json.loads(Path(f"/tmp/pga_{t}/{p}.avatar/bundle.json").read_text())["stages"]["pseudo"]["metrics"]
            view = f"{m['psnr_input_view_db']:.3f} ({m['psnr_input_view_covered_db']:.3f})"
        except (OSError, KeyError, ValueError):
            view = "-"
        parts = ("proxy", "texture", "input_view", "sample", "render")
        stage = r.get("stage_seconds", {}).get("pseudo", 0)
        print(f"| {p} | {t} | {stage:.2f} | " + " | ".join(f"{tm.get(k, 0):.2f}" for k in parts)
              + f" | {stage - sum(tm.get(k, 0) for k in parts):.2f} | {view}"
              + f" | {r.get('psnr_db', float('nan')):.2f} / {r.get('ssim', float('nan')):.4f} |")
EOF
echo; echo "== the texture step alone (texture_ab: A = main, B = branch) =="; cat $O/texture_ab.txt 2>/dev/null
grep -v "^|" $O/texture_ab.log | tail -3
echo; echo "== pseudo alone (pseudo_ab: A = main, B = branch) =="; cat $O/pseudo_ab.txt 2>/dev/null
[ -f $O/parts.txt ] && { echo; echo "== the moved parts alone (pseudo_parts, the branch) =="; grep -v Warning $O/parts.txt; }
if [ -f $O/profile/profile.txt ]; then
  echo; echo "== the branch's pseudo stage under cProfile ($P1) =="
  sed -n '/==== pseudo (second run/,/-- torch profiler/p' $O/profile/profile.txt | head -48
fi
echo; echo "== main (A) vs branch (B) outputs =="; cat $O/compare.txt; tail -3 $O/compare.log
echo "total $(elapsed)"
