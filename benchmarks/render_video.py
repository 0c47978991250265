"""Audio to finished MP4: a 60 s clip at 1080x1920, 30 fps (issue 8 target on one H100: <= 30 s, 2x real time).

Runs the real stage function (:func:`talkavatar.pipeline.speech.render_input`, what ``talkavatar render`` calls) on a
bundle made here from a baked rig: Gaussians on every UV texel (``--uv-resolution 512``: ~164k on Anny's rig) with
a generated texture. Prints the split (drive-audio / posing / raster / convert / encode) and the fps, checks the
file by decoding it, and writes a JSON record with ``--json``.

The audio is the shipped sample speech (6 s of LibriVox) looped to ``--seconds``. drive-audio needs pocketsphinx,
which the device image lacks: there, pass ``--motion`` made here with ``--prepare`` (drive-audio runs on the CPU in
every case; its time is measured where it ran and printed from the prepared record).

Usage:
  here (CPU, tiny, proves it works):  python benchmarks/render_video.py --toy --width 64 --height 112 --seconds 5
  prepare the motion here:            python benchmarks/render_video.py --prepare DIR --seconds 60
  device:  python3 benchmarks/render_video.py --rig anny_rig.safetensors --audio DIR/speech60.wav \
               --motion DIR/speech60.motion.safetensors --json $OUT/render_video.json --out $OUT
Bake the rig where anny is installed: python benchmarks/render_speed.py --bake anny_rig.safetensors
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from talkavatar.bundle import Bundle  # noqa: E402
from talkavatar.core.avatar import Avatar  # noqa: E402
from talkavatar.core.body.rig import Rig  # noqa: E402
from talkavatar.motion.file import load_motion, save_motion  # noqa: E402
from talkavatar.render.config import RenderConfig  # noqa: E402
from talkavatar.pipeline.speech import render_input as run_render  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "talkavatar" / "samples" / "speech.wav"


def looped_speech(path: Path, seconds: float) -> Path:
    """The sample speech repeated to ``seconds`` (16-bit PCM wav at the sample's rate)."""
    with wave.open(str(SAMPLE), "rb") as f:
        rate, width, channels = f.getframerate(), f.getsampwidth(), f.getnchannels()
        pcm = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").reshape(-1, channels)
    total = int(round(seconds * rate))
    reps = int(np.ceil(total / len(pcm)))
    out = np.tile(pcm, (reps, 1))[:total]
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(width)
        f.setframerate(rate)
        f.writeframes(out.astype("<i2").tobytes())
    return path


def texture(resolution: int) -> torch.Tensor:
    """A smooth, varied [R, R, 3] linear texture (so that the encoder sees realistic detail)."""
    v, u = torch.meshgrid(torch.linspace(0, 1, resolution), torch.linspace(0, 1, resolution), indexing="ij")
    return torch.stack([0.35 + 0.3 * torch.sin(9 * u) * torch.cos(5 * v), 0.3 + 0.25 * torch.sin(7 * v + 1),
                        0.25 + 0.2 * torch.cos(11 * u * v)], -1).clamp(0.02, 0.98)


def make_bundle(root: Path, rig: Rig, uv_resolution: int) -> int:
    avatar = Avatar.on_surface(rig.to(dtype=torch.float32), uv_resolution, texture(uv_resolution))
    bundle = Bundle.create(root)
    with bundle.write_stage("fit", config={"benchmark": "render_video", "uv_resolution": uv_resolution}) as writer:
        avatar.save(writer.dir)
    return avatar.count


def prepare(directory: Path, seconds: float, fps: float) -> None:
    """Speech wav + its motion (drive-audio, timed) for a device run."""
    from talkavatar.audio.drive import drive_audio

    directory.mkdir(parents=True, exist_ok=True)
    stem = f"speech{seconds:g}"
    wav = looped_speech(directory / f"{stem}.wav", seconds)
    t0 = time.perf_counter()
    result = drive_audio(wav, fps=fps)
    spent = time.perf_counter() - t0
    save_motion(directory / f"{stem}.motion.safetensors", result.motion)
    record = {"seconds_of_audio": result.seconds, "drive_audio_s": spent, "frames": result.motion.frames,
              "fps": fps, "timings_s": result.timings, "cpu_threads": torch.get_num_threads()}
    (directory / f"{stem}.drive_audio.json").write_text(json.dumps(record, indent=2))
    print(f"prepared {wav} and its motion: {result.seconds:.1f} s of speech in {spent:.2f} s "
          f"({result.seconds / spent:.0f}x real time)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rig", type=Path, help="baked rig (.safetensors), e.g. Anny's")
    parser.add_argument("--toy", action="store_true", help="use the tests' toy rig (CPU proof)")
    parser.add_argument("--uv-resolution", type=int, default=512)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--width", type=int, default=1080)
    parser.add_argument("--height", type=int, default=1920)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--audio", type=Path, help="speech file [default: the sample looped to --seconds]")
    parser.add_argument("--motion", type=Path, help="motion made by --prepare from --audio (skips drive-audio)")
    parser.add_argument("--prepare", type=Path, help="write speech + motion into this folder and exit")
    parser.add_argument("--out", type=Path, help="folder for the MP4 [default: a temporary folder]")
    parser.add_argument("--json", type=Path, help="write the record here")
    parser.add_argument("--no-split-run", action="store_true",
                        help="skip the second run that synchronises CUDA between phases for an exact split")
    args = parser.parse_args()
    if args.prepare:
        prepare(args.prepare, args.seconds, args.fps)
        return
    if not (args.rig or args.toy):
        parser.error("give --rig FILE or --toy")

    work = Path(tempfile.mkdtemp(prefix="render_video-"))
    out_dir = args.out or work
    if args.toy:
        from tests.toy_body import toy_rig

        rig = toy_rig(dtype=torch.float32)
    else:
        from benchmarks.render_speed import load_rig

        rig = load_rig(args.rig)
    t0 = time.perf_counter()
    count = make_bundle(work / "bench.avatar", rig, args.uv_resolution)
    print(f"bundle: {count} Gaussians (UV {args.uv_resolution}) in {time.perf_counter() - t0:.1f} s")
    audio = args.audio or looped_speech(work / "speech.wav", args.seconds)

    inputs: dict = {"audio": audio}
    drive_record = None
    if args.motion:
        from talkavatar.bundle import sha256_file as file_sha256

        motion = load_motion(args.motion)
        motion.audio = {"path": str(Path(audio).resolve()), "sha256": file_sha256(Path(audio)), "offset_seconds": 0.0}
        save_motion(work / "clip.motion.safetensors", motion)
        inputs = {"motion": work / "clip.motion.safetensors"}
        prepared = args.motion.with_name(args.motion.name.replace(".motion.safetensors", ".drive_audio.json"))
        if prepared.is_file():
            drive_record = json.loads(prepared.read_text())

    config = RenderConfig(width=args.width, height=args.height, fps=args.fps, batch=args.batch, format="mp4")
    quiet = lambda message: None  # noqa: E731
    # warm-up: CUDA context, gsplat load, cuBLAS, x264 start (a 1 s clip)
    run_render(work / "bench.avatar", RenderConfig(width=args.width, height=args.height, fps=args.fps,
                                                   batch=args.batch, format="mp4", duration=1.0),
               output=work / "warmup.mp4", device=args.device, force=True, log=quiet, warn=print, **inputs)
    result = run_render(work / "bench.avatar", config, output=out_dir / "render_video.mp4", device=args.device,
                        force=True, log=print, warn=print, **inputs)
    split = None
    if not args.no_split_run and result.device.startswith("cuda"):
        split = run_render(work / "bench.avatar", config, output=work / "split.mp4", device=args.device,
                           force=True, log=quiet, warn=print, synchronize=True, **inputs)

    from tests.media_probe import probe

    info = probe(result.output)
    drive_s = result.timings.get("drive_audio", drive_record["drive_audio_s"] if drive_record else None)
    render_s = result.total_seconds - result.timings.get("drive_audio", 0.0)
    total_s = render_s + (drive_s or 0.0)
    t = (split or result).timings
    rows = [
        ("drive-audio (s)", drive_s, "measured here" if "drive_audio" in result.timings
         else f"measured where --prepare ran ({drive_record['cpu_threads']} threads)" if drive_record else "-"),
        ("load bundle (s)", result.timings["load"], ""),
        ("posing (s)", t["posing"], "synchronised run" if split else ""),
        ("raster (s)", t["raster"], f"backend {result.backend}"),
        ("convert to Y'CbCr (s)", t["convert"], ""),
        ("encode: writer busy (s)", t["encode_writer_busy"], "GPU->host copy + pipe into ffmpeg (overlapped)"),
        ("encode: tail after last frame (s)", t["encode_tail"], "ffmpeg finishing + faststart"),
        ("render + encode wall (s)", result.timings["frames_and_encode"], f"{result.frames} frames"),
        ("audio -> MP4 total (s)", total_s, f"{result.seconds:.1f} s clip"),
        ("fps (frames / render+encode wall)", result.frames / result.timings["frames_and_encode"], ""),
        ("real-time factor", result.seconds / total_s, ""),
    ]
    device_name = torch.cuda.get_device_name() if result.device.startswith("cuda") else "cpu"
    print(f"\n{args.width}x{args.height} @ {args.fps:g} fps, {count} Gaussians, batch {args.batch}, "
          f"{result.backend} on {device_name}")
    for name, value, note in rows:
        print(f"  {name:<36} {'-' if value is None else f'{value:9.3f}'}  {note}")
    print(f"  output: {info.video_codec}/{info.audio_codec} {info.width}x{info.height} {info.fps:g} fps, "
          f"{info.frames} frames, video {info.video_seconds:.3f} s, audio {info.audio_seconds:.3f} s")
    record = {"device": device_name, "width": args.width, "height": args.height, "fps": args.fps,
              "gaussians": count, "batch": args.batch, "result": result.as_dict(),
              "split_run": split.as_dict() if split else None, "drive_audio_s": drive_s, "total_s": total_s,
              "probe": {k: v for k, v in vars(info).items() if k != "header"}}
    if args.json:
        args.json.write_text(json.dumps(record, indent=2, default=str))


if __name__ == "__main__":
    main()
