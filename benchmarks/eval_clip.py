"""Eval on rendered clips of a known avatar: lip sync against the driving speech vs different speech, and control
accuracy of a full-body render against its motion.

    ANNY_CACHE_DIR=/work/anny-cache python benchmarks/eval_clip.py OUT_DIR [--fps 25] [--uv 128]

1. The default Anny rig with skin-coloured, normal-shaded Gaussians (tests/eval_fixtures.py) in a bundle.
2. drive-audio on ``talkavatar/samples/speech.wav`` (LibriVox, Sense and Sensibility, clip 0920) -> a motion whose
   mouth is its jawOpen curve (no arm gestures); a head close-up of the upper body's Gaussians rendered with
   render's frame producer and video sink, with the speech muxed in -> ``talk.mp4``.
3. ``evaluate_clip`` scores its lip sync against the same speech, and against different speech (LibriVox clip
   0870, same reader) -> correlation at lag 0 and best lag.
4. ``talkavatar render`` of the same motion, full body, front camera (1 s) -> ``body.mp4``; ``evaluate_clip`` with
   ``--motion`` and the bundle -> control accuracy per part.
Reports (plots, contact sheets) go to OUT_DIR/report-*/; a markdown table is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPEECH = ROOT / "talkavatar" / "samples" / "speech.wav"
OTHER = Path("/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav")


def head_camera(rig, size: int, distance: float = 0.9, fov_y: float = 30.0):
    """A camera ``distance`` m in front of the rest-pose head (the nose landmark), looking at it."""
    from talkavatar.core.cameras import Cameras

    posed = rig.pose(torch.zeros(1, 55, 3))
    nose_row = rig.landmarks.select("pose")[0]  # MediaPipe pose point 0: the nose
    nose = rig.landmarks(posed.vertices, posed.joints)[0, nose_row]
    target = nose - torch.tensor([0.0, 0.03, 0.05])
    cams = Cameras.look_at(target + torch.tensor([0.0, 0.0, distance]), target, width=size, height=size,
                           fov_y_degrees=fov_y)
    return cams.world_to_camera[0].double().numpy(), cams.K[0].double().numpy()


def upper_body(avatar, below_shoulders: float = 0.12):
    """The avatar's Gaussians from ``below_shoulders`` m under the shoulders up (what a head close-up sees; the
    rest only costs CPU time in the reference rasterizer)."""
    from dataclasses import fields, replace

    from talkavatar.core.binding import Binding

    rig = avatar.rig
    posed = rig.pose(torch.zeros(1, 55, 3))
    shoulder_y = rig.landmarks(posed.vertices, posed.joints)[0, rig.landmarks.select("pose")[11], 1]
    keep = avatar.binding.surface_points(rig.vertices[None], rig.faces)[0, :, 1] > shoulder_y - below_shoulders
    b = avatar.binding
    binding = Binding(b.face_index[keep], b.barycentrics[keep], b.texel[keep], b.uv_res)
    per_gaussian = {f.name: getattr(avatar, f.name)[keep] for f in fields(avatar)
                    if f.name in ("offsets", "rgb", "log_scales", "quats", "opacity_logit")}
    return replace(avatar, binding=binding, **per_gaussian)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--fps", type=float, default=20.0)
    parser.add_argument("--uv", type=int, default=128, help="UV resolution of the avatar's Gaussians")
    parser.add_argument("--size", type=int, default=160, help="head close-up size in pixels")
    args = parser.parse_args()
    torch.set_num_threads(2)
    from talkavatar.audio.drive import drive_audio
    from talkavatar.eval.config import EvalConfig
    from talkavatar.pipeline.evaluate import evaluate_clip
    from talkavatar.eval.report import json_ready, write_clip_report
    from talkavatar.motion.file import load_motion, save_motion
    from talkavatar.render.audio_track import AudioTrack
    from tests.eval_fixtures import anny_rig, avatar_bundle, shaded_avatar, write_video

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    timings = {}
    t = time.perf_counter()
    rig = anny_rig()
    avatar = shaded_avatar(rig, args.uv)
    bundle = out / "known.avatar"
    if not bundle.exists():
        avatar_bundle(bundle, avatar)
    timings["avatar"] = time.perf_counter() - t

    t = time.perf_counter()
    motion_path = out / "speech.motion.safetensors"
    if motion_path.exists():  # kept with the renders made from it
        motion = load_motion(motion_path)
    else:
        motion = drive_audio(SPEECH, fps=args.fps, gestures=False).motion
        save_motion(motion_path, motion)
    timings["drive_audio"] = time.perf_counter() - t
    from talkavatar.motion.names import ARKIT_INDEX

    jaw = motion.arkit_weights[:, ARKIT_INDEX["jawOpen"]]
    print(f"drive-audio: {motion.frames} frames, jawOpen mean {jaw.mean():.3f} max {jaw.max():.3f}", flush=True)

    t = time.perf_counter()
    w2c, K = head_camera(avatar.rig, args.size)
    talk = out / "talk.mp4"
    if not talk.exists():  # the motion and renders are reused: delete OUT_DIR to redo them
        write_video(upper_body(avatar), motion, talk, args.size, args.size, w2c, K,
                    audio=AudioTrack(SPEECH, 0.0, motion.seconds), background="white")
    timings["render_head"] = time.perf_counter() - t
    print(f"rendered {talk} in {timings['render_head']:.1f} s", flush=True)

    config = EvalConfig()
    results = {}
    for name, audio in (("same speech", SPEECH), ("different speech", OTHER)):
        t = time.perf_counter()
        r = evaluate_clip(talk, config, audio=audio, log=lambda m: None)
        timings[f"eval {name}"] = time.perf_counter() - t
        write_clip_report(r, out / f"report-lipsync-{name.split()[0]}")
        results[name] = r.summary()
        print(name, json_ready(r.summary()["lip_sync"]), flush=True)

    # control accuracy: full body through `talkavatar render`'s stage, front camera, 1 s
    from talkavatar.render.config import RenderConfig
    from talkavatar.pipeline.speech import render_input as run_render

    t = time.perf_counter()
    body = out / "body.mp4"
    if not body.exists():
        run_render(bundle, RenderConfig(width=192, height=256, duration=1.0, background="white"),
                   motion=motion_path, output=body, force=True, log=lambda m: None, warn=print)
    timings["render_body"] = time.perf_counter() - t
    t = time.perf_counter()
    r = evaluate_clip(body, config, motion=motion_path, bundle=bundle, log=lambda m: None)
    timings["eval control"] = time.perf_counter() - t
    write_clip_report(r, out / "report-control")
    results["control"] = r.summary()
    (out / "results.json").write_text(json_ready({"results": results, "timings_s": timings}))

    same, other = results["same speech"]["lip_sync"], results["different speech"]["lip_sync"]
    control = results["control"]["control_error_pct_of_height"]
    print("\n| lip sync of the render (mouth = drive-audio's jawOpen) scored against | Pearson r at 0 ms | best r "
          "(lag) |\n|---|---|---|")
    for name, s in (("the speech that drove it (speech.wav)", same), ("different speech (LibriVox 0870)", other)):
        print(f"| {name} | {s['correlation']:.3f} | {s['best_correlation']:.3f} ({s['best_lag_ms']:+.0f} ms) |")
    print(f"\nframes with a face: {same['frames_with_face']}/{results['same speech']['frames']}")
    print("\n| control accuracy (1 s, full body, front camera) | error, % of body height |\n|---|---|")
    for part, value in control.items():
        print(f"| {part} | {'-' if value is None else f'{value:.2f}'} |")
    print("\ntimings (s):", json.dumps({k: round(v, 1) for k, v in timings.items()}))


if __name__ == "__main__":
    main()
