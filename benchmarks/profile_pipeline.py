"""Where the time of photo -> avatar -> video goes, stage by stage, on one device (issue 23).

    python benchmarks/profile_pipeline.py --out $OUT/speed                      # GPU: fast preset
    python benchmarks/profile_pipeline.py --out /tmp/prof --preset tiny --device cpu --steps 4   # CPU smoke run

Sections (``--sections``, default all):

* ``track``: ``run_track`` on the photo as ``talkavatar fit PHOTO`` runs it (on the CPU), its recorded phase
  timings; then again (``force``) under cProfile and the torch profiler.
* ``pseudo``: ``run_pseudo`` with the preset's settings, the same two runs.
* ``fit``: one fit step taken apart with ``torch.cuda.synchronize`` boundaries (pose, raster, each loss term,
  backward, Adam, projection, the per-step host reads), for a photo-only step and a step with pseudo frames; the
  host synchronisations of one real step counted (``torch.cuda.set_sync_debug_mode``); ms per step of the real loop
  (:func:`talkavatar.fit.optimize.run_steps`) without boundaries; a torch-profiler table of that loop. cuDNN on or
  off as the fit stage has it (:data:`talkavatar.fit.stage.CUDNN_PRESETS`).
* ``render``: pose + raster fps at 512² batch 1, posing eager and replayed as a CUDA graph
  (:mod:`talkavatar.core.cuda_graphs`), and render's own frame producer.

The bundle: ``--bundle`` (copied, never changed; used as is when it has track and pseudo and neither section is
asked for), else the photo (``--photo``, default the astronaut) tracked and pseudo-labelled into ``--workdir``.
Writes ``profile.txt`` (every table) and ``summary.json`` under ``--out``; prints a short table last.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter
from contextlib import contextmanager, nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PHOTO = Path(__file__).resolve().parents[1] / "talkavatar" / "samples" / "astronaut.png"
SECTIONS = ("track", "pseudo", "fit", "render")


class Clock:
    """Wall seconds per named phase, with a device synchronisation at both ends of each phase."""

    def __init__(self, device):
        import torch

        self.cuda = device.type == "cuda"
        self.sync = (lambda: torch.cuda.synchronize(device)) if self.cuda else (lambda: None)
        self.times: dict[str, list[float]] = {}

    @contextmanager
    def __call__(self, name: str):
        self.sync()
        t0 = time.perf_counter()
        yield
        self.sync()
        self.times.setdefault(name, []).append(time.perf_counter() - t0)

    def medians_ms(self) -> dict[str, float]:
        return {k: round(1000 * statistics.median(v), 3) for k, v in self.times.items()}


def profiled(fn, device, rows: int = 20, torch_ops: bool = True):
    """Run ``fn()`` under cProfile and (``torch_ops``) the torch profiler -> (its value, the tables as text).

    The torch profiler records every op: over a whole CPU stage (track's thousands of small steps) it costs
    minutes and gigabytes, so CPU-bound stages are profiled by cProfile alone."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    py = cProfile.Profile()
    prof = profile(activities=activities) if torch_ops else None
    with prof if prof is not None else nullcontext():
        py.enable()
        value = fn()
        py.disable()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    stream = io.StringIO()
    pstats.Stats(py, stream=stream).sort_stats("cumulative").print_stats(rows)
    text = f"-- cProfile (cumulative, top {rows}) --\n{stream.getvalue()}"
    if prof is not None:
        sort = "cuda_time_total" if device.type == "cuda" else "cpu_time_total"
        table = prof.key_averages().table(sort_by=sort, row_limit=rows, max_name_column_width=60)
        text += f"\n-- torch profiler --\n{table}"
    return value, text


def stage_timings(bundle: Path, stage: str) -> dict:
    record = json.loads((bundle / "bundle.json").read_text())["stages"][stage]
    return {k: round(v, 3) for k, v in record.get("timings", {}).items()}


def profile_track(photo: Path, bundle: Path, device: str, report: dict, texts: list) -> None:
    from talkavatar.track.config import TrackConfig
    from talkavatar.track.stage import run_track

    quiet = (lambda m: None)
    t0 = time.perf_counter()
    run_track(photo, bundle, TrackConfig(), device=device, log=quiet, warn=quiet, photo_on_cpu=True)
    report["track"] = {"seconds": round(time.perf_counter() - t0, 2), "timings": stage_timings(bundle, "track")}
    _, text = profiled(lambda: run_track(photo, bundle, TrackConfig(), device=device, force=True, log=quiet,
                                         warn=quiet, photo_on_cpu=True), _torch_device("cpu"), rows=30,
                       torch_ops=False)
    report["track"]["second_run_timings"] = stage_timings(bundle, "track")
    texts.append(f"==== track (second run, profiled) {report['track']['second_run_timings']}\n{text}")


def profile_pseudo(bundle: Path, preset: str, device: str, report: dict, texts: list) -> None:
    from talkavatar.pseudo.config import PseudoConfig
    from talkavatar.pseudo.stage import run_pseudo

    quiet = (lambda m: None)
    config = PseudoConfig.for_preset(preset)
    t0 = time.perf_counter()
    run_pseudo(bundle, config, device=device, force=True, progress=quiet, warn=quiet)
    report["pseudo"] = {"seconds": round(time.perf_counter() - t0, 2), "timings": stage_timings(bundle, "pseudo")}
    dev = _torch_device(device)
    _, text = profiled(lambda: run_pseudo(bundle, config, device=device, force=True, progress=quiet, warn=quiet),
                       dev, rows=30, torch_ops=dev.type == "cuda")
    texts.append(f"==== pseudo (second run, profiled) {stage_timings(bundle, 'pseudo')}\n{text}")


def _torch_device(name: str):
    from talkavatar.core.device import resolve_device

    return resolve_device(name)


def fit_setup(bundle: Path, preset: str, device):
    """(params, data, weights, distance, config) as the fit stage builds them."""
    from talkavatar.bundle import Bundle
    from talkavatar.core.losses import perceptual_distance
    from talkavatar.fit.config import FitConfig
    from talkavatar.fit.data import load_fit_data
    from talkavatar.fit.model import AvatarParameters
    from talkavatar.fit.objective import LossWeights

    cfg = FitConfig(preset=preset).effective(device.type)
    data = load_fit_data(Bundle.open(bundle), cfg.image_size, cfg.crop_size, cfg.pseudo_frames, cfg.pseudo_size)
    data = data.to(device)
    params = AvatarParameters.initial(data.rig, cfg.uv_res, data.texture, data.proxy_offsets, cfg.shape)
    weights = LossWeights().scaled(cfg.pseudo_weight, cfg.mesh_weight, cfg.crop_weight, cfg.video_weight,
                                   cfg.colour_anchor)
    distance = perceptual_distance(cfg.perceptual, device) if data.pseudo is not None else None
    return params, data, weights, distance, cfg


def step_apart(clock: Clock, params, data, objective, optimizer, weights, distance, pick, backend="auto"):
    """One fit step as :func:`run_steps` takes it, each phase timed on its own (pick: pseudo frames or None)."""
    import torch

    from talkavatar.core.losses import l1, ssim_loss
    from talkavatar.fit.objective import composite, first_pose, pose_views, raster_views, weighted_total
    from talkavatar.fit.optimize import _same_pose

    device = params.offsets.device
    with clock("host: background + pick upload"):
        background = torch.rand(3).to(device)
        pick = None if pick is None else pick.to(device)
        sel = None if pick is None else data.pseudo.select(pick)
    terms = {}
    for name, views in [("photo", data.photo)] + ([] if sel is None else [("pseudo", sel)]):
        with clock(f"{name}: pose"):
            frame = objective.photo_frame if name == "photo" else objective.pseudo_frames.select(pick)
            gaussians = pose_views(params, views, frame)
            if name == "photo":
                photo_posed = gaussians
        with clock(f"{name}: raster"):
            rgb, alpha, _ = raster_views(gaussians, views, background, backend)
        with clock(f"{name}: target + alpha"):
            target = composite(views, background)
            terms[f"{name}_alpha"] = (alpha[..., 0] - views.mask).abs().mean()
        if name == "pseudo":
            with clock("pseudo: perceptual"):
                terms["pseudo_perceptual"] = distance(rgb, target).mean()
        else:
            with clock("photo: L1"):
                terms["photo_l1"] = l1(rgb, target)
            with clock("photo: SSIM"):
                terms["photo_ssim"] = ssim_loss(rgb, target)
    if data.crops is not None:  # in the photo's pose (posed with it), as the loop does when they share it
        with clock("crops: raster + L1/SSIM/alpha"):
            shared = _same_pose(data.photo.poses, data.crops.poses)
            terms.update(objective.crop_terms(params, data.crops, data.crop_names, background, backend,
                                              first_pose(photo_posed) if shared else None))
    with clock("mesh terms"):
        terms.update(objective.mesh_terms(params))
    with clock("weighted total"):
        loss = weighted_total(terms, weights)
    with clock("backward"):
        optimizer.zero_grad()
        loss.backward()
    with clock("adam"):
        optimizer.step(1.0)
    with clock("project"):
        params.project_()
    with clock("host: finite check + term reads"):
        bool(torch.isfinite(loss))
        [float(v.detach()) for v in terms.values()]


def count_syncs(fn) -> list[str]:
    """Where ``fn()`` synchronised the host with the GPU (torch's sync debug mode): one ``file:line`` per sync."""
    import torch

    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fn()
    finally:
        torch.cuda.set_sync_debug_mode(0)
    return [f"{Path(w.filename).name}:{w.lineno}" for w in caught if "synchroniz" in str(w.message).lower()]


def syncs_per_step(run) -> dict:
    """Host synchronisations per step of the loop: ``run(steps)`` for 40 and 20 steps, the difference over 20 (the
    loop's set-up happens once either way, and its loss history is read back 20 times a run either way), and where
    the extra ones come from."""
    short, long = Counter(count_syncs(lambda: run(20))), Counter(count_syncs(lambda: run(40)))
    extra = long - short
    return {"count": sum(extra.values()) / 20, "from": sorted(extra)[:20], "per_run": sum(short.values())}


def profile_fit(bundle: Path, preset: str, device, steps: int, report: dict, texts: list) -> None:
    import torch

    from talkavatar.fit import objective as objective_module
    from talkavatar.fit.model import learning_rates
    from talkavatar.fit.objective import Objective
    from talkavatar.fit.optimize import Adam, Schedule, run_steps

    params, data, weights, distance, cfg = fit_setup(bundle, preset, device)
    rates = learning_rates(cfg.iters)
    fit = {"gaussians": params.binding.count, "image": [data.photo.cameras.width, data.photo.cameras.height],
           "crops": list(data.crop_names), "pseudo_batch": cfg.pseudo_batch,
           "perceptual": None if distance is None else distance.kind}
    objective_module.GRAPH_TERMS = False  # the breakdown: each phase op by op, timed alone
    objective = Objective(params, data.photo, cfg.seed, data.pseudo)
    optimizer = Adam(dict(params.named_parameters()), rates)
    start = {k: v.detach().clone() for k, v in params.named_parameters()}
    with torch.enable_grad():
        for kind in ("photo", "pseudo"):
            if kind == "pseudo" and data.pseudo is None:
                continue
            clock = Clock(device)
            for i in range(steps + 2):  # two warm-up steps (first perceptual call, allocator)
                pick = None if kind == "photo" else torch.randint(len(data.pseudo.poses), (cfg.pseudo_batch,))
                step_apart(clock, params, data, objective, optimizer, weights, distance, pick)
                if i == 1:
                    clock.times.clear()
            fit[f"{kind}_step_phases_ms"] = clock.medians_ms()
        graph_modes = (True, False) if device.type == "cuda" else (False,)
        for graphed in graph_modes:
            objective_module.GRAPH_TERMS = graphed
            suffix = "" if graphed or device.type != "cuda" else "_op_by_op"
            try:
                fit.update(loop_speed(params, data, weights, rates, distance, cfg, steps, device, suffix))
            except Exception as exc:  # a capture that fails is a finding, not the end of the profile
                fit[f"error{suffix}"] = f"{type(exc).__name__}: {exc}"[:2000]
        if device.type == "cuda":
            fit["graphed_vs_op_by_op"] = graph_parity(params, start, data, weights, rates, distance, cfg)
        objective_module.GRAPH_TERMS = True
        if distance is not None:
            fit["perceptual_fwd_bwd_ms"] = perceptual_speed(distance, data.pseudo, cfg.pseudo_batch, steps, device)
        schedule = Schedule(steps, 0, cfg.pseudo_batch, 0)
        _, text = profiled(lambda: run_steps(params, data, schedule, weights, rates, distance, cfg.seed), device,
                           rows=30)
    texts.append(f"==== fit: {steps} steps with pseudo frames (terms graphed on CUDA), profiled\n{text}")
    report["fit"] = fit


def loop_speed(params, data, weights, rates, distance, cfg, steps: int, device, suffix: str) -> dict:
    """ms per step of :func:`run_steps` (photo-only steps, steps with pseudo frames) in the steady state: runs of
    ``steps`` and ``2 * steps`` steps, the difference over ``steps`` (each run builds its Objective and captures its
    graphs once: that set-up, in ms, is the short run's time beyond its steps); and the host syncs per step."""
    from talkavatar.fit.optimize import Schedule, run_steps

    out = {}
    for kind, warmup in (("photo", steps * 100), ("pseudo", 0)):
        if kind == "pseudo" and data.pseudo is None:
            continue
        def run(n, w=warmup):
            return run_steps(params, data, Schedule(n, w, cfg.pseudo_batch, 0), weights, rates, distance, cfg.seed)
        out[f"{kind}_graphs{suffix}"] = run(2).graphs  # warm-up (first calls, the allocator); what was graphed
        clock = Clock(device)
        for n in (steps, 2 * steps):
            with clock(str(n)):
                run(n)
        short, long = clock.times[str(steps)][0], clock.times[str(2 * steps)][0]
        per_step = (long - short) / steps
        out[f"{kind}_ms_per_step{suffix}"] = round(1000 * per_step, 2)
        out[f"{kind}_setup_ms{suffix}"] = round(1000 * (short - steps * per_step), 1)
        if device.type == "cuda":
            out[f"{kind}_host_syncs_per_step{suffix}"] = syncs_per_step(run)
    return out


def graph_parity(params, start: dict, data, weights, rates, distance, cfg, steps: int = 60) -> dict:
    """The same fit from the same start, terms graphed and op by op, and op by op again (the noise floor: gsplat's
    atomics make no run bitwise reproducible), with Adam's epsilon at 1e-4 as tests/test_fit_graphs.py sets it (at
    the fit's 1e-15 rounding-size gradients take whole steps and runs part chaotically): each run's final loss, and
    the largest and mean difference of each parameter from the first op-by-op run."""
    import torch

    from talkavatar.fit import objective as objective_module
    from talkavatar.fit import optimize
    from talkavatar.fit.optimize import Schedule, run_steps

    ends, eps = [], optimize.ADAM_EPS
    optimize.ADAM_EPS = 1e-4
    for graphed in (True, False, False):
        objective_module.GRAPH_TERMS = graphed
        with torch.no_grad():
            for k, p in params.named_parameters():
                p.copy_(start[k])
        progress = run_steps(params, data, Schedule(steps, steps // 4, cfg.pseudo_batch, steps // 6), weights,
                             rates, distance, cfg.seed)
        ends.append(({k: p.detach().clone() for k, p in params.named_parameters()}, progress.recent["total"]))
    optimize.ADAM_EPS = eps
    (graphed, loss_graphed), (reference, loss_reference), (again, loss_again) = ends

    def apart(a: dict) -> dict:
        return {k: {"max": float((a[k] - reference[k]).abs().max()), "mean": float((a[k] - reference[k]).abs().mean())}
                for k in a}

    return {"steps": steps, "adam_eps": 1e-4, "loss_graphed": round(loss_graphed, 6),
            "loss_op_by_op": round(loss_reference, 6), "loss_op_by_op_again": round(loss_again, 6),
            "param_diff_graphed": apart(graphed), "param_diff_op_by_op_again": apart(again)}


def perceptual_speed(distance, pseudo, batch: int, repeats: int, device) -> dict:
    """ms of one forward + backward of the perceptual distance on ``batch`` pseudo frames, float32 vs bfloat16."""
    images = pseudo.rgb[:batch]
    out, kept = {}, distance.reduced_precision
    for reduced in (False, True):
        distance.reduced_precision = reduced
        clock = Clock(device)
        for i in range(repeats + 2):
            x = images.clone().requires_grad_(True)
            with clock("fwd+bwd"):
                distance(x, images.flip(0)).sum().backward()
            if i == 1:
                clock.times.clear()
        out["bfloat16" if reduced else "float32"] = clock.medians_ms()["fwd+bwd"]
    distance.reduced_precision = kept
    return out


def profile_render(bundle: Path, preset: str, device, repeats: int, report: dict) -> None:
    import torch

    from benchmarks.render_speed import frontal_cameras, plausible_avatar, random_motion
    from talkavatar.core.body.rig import Rig
    from talkavatar.core.splats import rasterize
    from talkavatar.fit.config import PRESETS

    side = 512 if preset != "tiny" else 160
    rig = Rig.load(bundle / "track" / "rig.safetensors").to(dtype=torch.float32)
    avatar = plausible_avatar(rig, PRESETS[preset]["uv_res"], device)
    motions = [random_motion(1, device, seed) for seed in range(4)]
    cams = frontal_cameras(rig, 1, side, side, device)
    white = torch.ones(3, device=device)  # on the device once: a tuple is a pageable upload (a sync) per frame
    clock = Clock(device)
    out = {"gaussians": avatar.count, "size": side}
    with torch.no_grad():
        cases = [("eager", avatar.pose)]
        if device.type == "cuda":
            from talkavatar.core.cuda_graphs import CudaGraphed

            cases.append(("graphed pose", CudaGraphed(avatar.pose, *motions[0])))
        for name, pose in cases:
            for i in range(repeats + 3):
                with clock(f"{name}: pose"):
                    g = pose(*motions[i % 4])
                with clock(f"{name}: raster"):
                    rasterize(g, cams, background=white)
                with clock(f"{name}: pose+raster"):
                    rasterize(pose(*motions[i % 4]), cams, background=white)
                if i == 2:
                    for k in [k for k in clock.times if k.startswith(name)]:
                        clock.times[k].clear()
        streamed = {f"{name}: pose+raster": streamed_fps(
            lambda i, p=pose: rasterize(p(*motions[i % 4]), cams, background=white), 4 * repeats, device)
            for name, pose in cases}
        if device.type == "cuda":
            streamed["graphed pose, 2 streams: pose+raster"] = streamed_fps(
                two_streams(avatar, motions, cams, white), 4 * repeats, device)
        streamed.update(producer_frames(avatar, side, repeats, device, clock))
    ms = clock.medians_ms()
    out["phases_ms"] = ms
    out["fps"] = {k.split(":")[0]: round(1000 / v, 1) for k, v in ms.items() if k.endswith(("pose+raster", "frame"))}
    out["streamed_fps"] = streamed
    report["render"] = out


def two_streams(avatar, motions, cams, background):
    """``frame(i)``: graphed posing + raster of frame i on stream i % 2, each stream with its own posing graph (what
    render's producer does with ``STREAMS = 2``)."""
    import torch

    from talkavatar.core.cuda_graphs import CudaGraphed
    from talkavatar.core.splats import rasterize

    streams = [torch.cuda.Stream() for _ in range(2)]
    graphs = []
    for s in streams:
        with torch.cuda.stream(s):
            graphs.append(CudaGraphed(avatar.pose, *motions[0]))
    torch.cuda.synchronize()

    def frame(i):
        with torch.cuda.stream(streams[i % 2]):
            rasterize(graphs[i % 2](*motions[i % 4]), cams, background=background)
    return frame


def streamed_fps(frame, frames: int, device) -> float:
    """Frames per second of ``frame(i)`` for i = 0 .. frames - 1 back to back, one device synchronisation at the end:
    what a render loop attains (the host queues frame i + 1 while the GPU finishes frame i). The per-phase clock
    synchronises around every phase, which serialises host and GPU work."""
    import torch

    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    for i in range(3):
        frame(i)
    sync()
    t0 = time.perf_counter()
    for i in range(frames):
        frame(i)
    sync()
    return round(frames / (time.perf_counter() - t0), 1)


def producer_frames(avatar, side: int, repeats: int, device, clock: Clock) -> dict:
    """render's own frame producer, one yuv420p frame per call (pose, raster, colour conversion), posing eager and
    graphed: each frame timed alone (``clock``), and the frames streamed (returned: fps on the device's side; the
    render stage's writer thread copies each frame to the host meanwhile)."""
    import numpy as np

    from talkavatar.motion import Motion
    from talkavatar.render.background import Background
    from talkavatar.render.camera_path import CameraPath
    from talkavatar.render.frames import FrameProducer
    from talkavatar.render.framing import Framing
    from talkavatar.render.timeline import Timeline

    clip = Timeline.of(Motion.still(repeats + 3, fps=30.0), 30.0)
    streamed = {}
    means = avatar.pose(*[t[:1] for t in (avatar.rig.joints.new_zeros(1, 55, 3), avatar.rig.joints.new_zeros(1, 3),
                                          avatar.rig.joints.new_zeros(1, 52))]).means[0]
    cams = CameraPath.around("orbit", Framing.of_points(means.double().cpu()), width=side, height=side,
                             frames=clip.frames, orbit_degrees=0)
    variants = [("producer eager", False, 1)]
    if device.type == "cuda":
        variants += [("producer graphed", True, 1), ("producer graphed, 2 streams", True, 2)]
    for name, graphed, streams in variants:
        producer = FrameProducer(avatar, clip, cams, Background.parse("black", side, side), pixel_format="yuv420p",
                                 batch=1, device=device)
        producer.graph_posing, producer.streams = graphed, streams
        for i in range(clip.frames):
            with clock(f"{name}: frame"):
                producer.render(np.array([i]))
            if i == 2:
                clock.times[f"{name}: frame"].clear()
        streamed[f"{name}: frame"] = streamed_fps(lambda i: producer.render(np.array([i % clip.frames])), repeats,
                                                  device)
    return streamed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--photo", type=Path, default=PHOTO)
    ap.add_argument("--bundle", type=Path, default=None, help="start from a copy of this bundle")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--preset", default="fast", choices=("tiny", "fast", "quality"))
    ap.add_argument("--device", default="auto")
    ap.add_argument("--steps", type=int, default=20, help="fit steps per measurement")
    ap.add_argument("--repeats", type=int, default=50, help="render frames per measurement")
    ap.add_argument("--sections", default=",".join(SECTIONS))
    args = ap.parse_args()
    sections = set(args.sections.split(","))
    device = _torch_device(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    bundle = (args.workdir or Path(tempfile.mkdtemp(prefix="profile_"))) / f"{args.photo.stem}.avatar"
    if args.bundle is not None:
        shutil.rmtree(bundle, ignore_errors=True)
        shutil.copytree(args.bundle, bundle)
    if not (bundle / "bundle.json").is_file():
        sections |= {"track", "pseudo"}
    report = {"device": str(device), "preset": args.preset}
    if device.type == "cuda":
        import torch

        report["gpu"] = torch.cuda.get_device_name(device)
    texts: list[str] = []
    for name in SECTIONS:
        if name not in sections:
            continue
        t0 = time.perf_counter()
        print(f"profile: {name} ...", file=sys.stderr, flush=True)
        if name == "track":
            profile_track(args.photo, bundle, args.device, report, texts)
        elif name == "pseudo":
            profile_pseudo(bundle, args.preset, args.device, report, texts)
        elif name == "fit":
            import torch

            from talkavatar.core.device import cudnn_enabled
            from talkavatar.fit.stage import CUDNN_PRESETS

            with cudnn_enabled(torch.backends.cudnn.enabled and args.preset in CUDNN_PRESETS):  # as the fit stage
                profile_fit(bundle, args.preset, device, args.steps, report, texts)
        else:
            profile_render(bundle, args.preset, device, args.repeats, report)
        print(f"profile: {name} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    (args.out / "profile.txt").write_text("\n\n".join(texts) + "\n")
    (args.out / "summary.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=1))
    print_table(report)


def print_table(report: dict) -> None:
    rows = []
    for stage in ("track", "pseudo"):
        if stage in report:
            r = report[stage]
            rows.append((stage, f"{r['seconds']} s", " ".join(f"{k} {v}" for k, v in r["timings"].items())))
    if "fit" in report:
        f = report["fit"]
        for kind in ("photo", "pseudo"):
            if f"{kind}_ms_per_step" in f:
                phases = f[f"{kind}_step_phases_ms"]
                top = sorted(phases.items(), key=lambda kv: -kv[1])[:6]
                syncs = f.get(f"{kind}_host_syncs_per_step", {}).get("count", "-")
                rows.append((f"fit {kind} step", f"{f[f'{kind}_ms_per_step']} ms",
                             f"syncs {syncs}; set-up {f[f'{kind}_setup_ms']} ms; op-by-op phases: "
                             + ", ".join(f"{k} {v}" for k, v in top)))
        for kind in ("photo", "pseudo"):
            if f"{kind}_ms_per_step_op_by_op" in f:
                rows.append((f"fit {kind} step, op by op", f"{f[f'{kind}_ms_per_step_op_by_op']} ms",
                             f"terms not graphed (objective.GRAPH_TERMS = False); set-up "
                             f"{f[f'{kind}_setup_ms_op_by_op']} ms"))
    if "fit" in report and "graphed_vs_op_by_op" in report["fit"]:
        g = report["fit"]["graphed_vs_op_by_op"]
        for run in ("graphed", "op_by_op_again"):
            rows.append((f"fit {run.replace('_', ' ')} vs op by op",
                         f"loss {g[f'loss_{run}']} / {g['loss_op_by_op']}",
                         f"{g['steps']} steps; param diff max / mean: " + ", ".join(
                             f"{k} {v['max']:.2g} / {v['mean']:.2g}" for k, v in g[f"param_diff_{run}"].items())))
    if "fit" in report and report["fit"].get("pseudo_graphs", report["fit"].get("photo_graphs")):
        graphs = report["fit"].get("pseudo_graphs") or report["fit"]["photo_graphs"]
        rows.append(("fit CUDA graphs", f"{sum(v.startswith('graphed') for v in graphs.values())}/{len(graphs)}",
                     "; ".join(f"{k}: {v[:120]}" for k, v in graphs.items())))
    for key in ("error", "error_op_by_op"):
        if key in report.get("fit", {}):
            rows.append((f"fit {key}", "failed", report["fit"][key][:300]))
    if "render" in report:
        r = report["render"]
        for name, fps in r["fps"].items():
            rows.append((f"render {name} {r['size']}² b1", f"{fps} fps",
                         ", ".join(f"{k.split(': ')[1]} {v} ms" for k, v in r["phases_ms"].items()
                                   if k.startswith(name))))
        for name, fps in r.get("streamed_fps", {}).items():
            rows.append((f"render {name} {r['size']}² b1, streamed", f"{fps} fps", "frames back to back, one sync"))
    print(f"\n| section | figure | breakdown ({report['device']}, {report['preset']}) |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
