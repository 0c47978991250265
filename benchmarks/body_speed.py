"""Body-model speed: Anny's full forward (shape + facial actions + pose) and the baked rig's posing.

    ANNY_CACHE_DIR=... python benchmarks/body_speed.py [--device cpu|cuda] [--batch 64] [--repeats 50]

Prints the median and the minimum milliseconds per call (the minimum is the robust figure on a shared machine,
the median the typical one). On CUDA the timings synchronise the device around each call.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def _time(fn, repeats: int, device: str) -> tuple[float, float]:
    """(median, minimum) milliseconds of ``fn()`` over ``repeats`` calls after 3 warm-up calls."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def _once(start: float) -> tuple[float, float]:
    ms = (time.perf_counter() - start) * 1000
    return ms, ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--resolution", type=int, default=512, help="UV resolution of the bound Gaussians")
    args = parser.parse_args()

    from talkavatar.core.binding import Binding
    from talkavatar.core.body.anny import AnnyBody
    from talkavatar.core.body.anny_data import anny_data

    rows = []
    start = time.perf_counter()
    anny_data()
    rows.append(("anny: read talkavatar's anny-body cache (built from anny's the first time)", _once(start), 1))
    start = time.perf_counter()
    body = AnnyBody(args.device)
    rows.append(("anny: adapter setup (copies to the device)", _once(start), 1))
    phenotypes_only = AnnyBody(args.device, local_changes=False)

    g = torch.Generator().manual_seed(0)
    shape = body.default_shape[None].clone()
    shape[0, :6] = torch.rand(6, generator=g)
    shape = shape.to(args.device)

    def frame(batch):
        return (0.3 * torch.randn(batch, 55, 3, generator=g).to(args.device),
                torch.randn(batch, 3, generator=g).to(args.device),
                torch.rand(batch, 52, generator=g).to(args.device))

    one, many = frame(1), frame(args.batch)
    with torch.no_grad():
        rows.append(("anny forward: 6 phenotypes + ARKit + pose", _time(
            lambda: phenotypes_only(shape[:, :6], *one), args.repeats, args.device), 1))
        rows.append(("anny forward: phenotypes + local changes + ARKit + pose", _time(
            lambda: body(shape, *one), args.repeats, args.device), 1))
        rows.append(("anny forward, batch", _time(lambda: body(shape, *many), args.repeats, args.device), args.batch))
    theta, transl, arkit = (t.requires_grad_() for t in frame(1))
    shape_param = shape.clone().requires_grad_()

    def forward_backward():
        posed = body(shape_param, theta, transl, arkit)
        body.landmarks(posed.vertices, posed.joints).square().sum().backward()

    rows.append(("anny forward + landmarks + backward (tracking step)", _time(forward_backward, args.repeats,
                                                                               args.device), 1))
    rig = body.bake_rig().to(args.device)
    with torch.no_grad():
        rows.append(("rig.pose", _time(lambda: rig.pose(*one), args.repeats, args.device), 1))
        rows.append(("rig.pose, batch", _time(lambda: rig.pose(*many), args.repeats, args.device), args.batch))
        rows.append(("rig.pose without expressions", _time(lambda: rig.pose(one[0], one[1]), args.repeats,
                                                           args.device), 1))
        start = time.perf_counter()
        binding = Binding.from_uv(rig.face_uvs.cpu(), args.resolution).to(args.device)
        rows.append((f"binding: sample UV texels at R={args.resolution} ({binding.count} Gaussians)",
                     _once(start), 1))
        offsets = torch.zeros(binding.count, 3, device=args.device)
        faces = rig.faces

        def pose_gaussians(frames):
            posed = rig.pose(*frames)
            return binding.positions(posed.vertices, faces, posed.vertex_transforms, offsets)

        rows.append(("rig.pose + Gaussian centres with offsets", _time(lambda: pose_gaussians(one), args.repeats,
                                                                       args.device), 1))
        small = frame(8)
        rows.append(("rig.pose + Gaussian centres with offsets, batch", _time(lambda: pose_gaussians(small),
                                                                              args.repeats, args.device), 8))

    print(f"device={args.device} torch={torch.__version__} threads={torch.get_num_threads()} "
          f"loadavg={open('/proc/loadavg').read().split()[0] if args.device == 'cpu' else '-'} "
          f"vertices={rig.vertices.shape[0]} bones={len(rig.bone_names)}")
    print(f"{'what':<66} {'batch':>5} {'median ms':>10} {'min ms':>9} {'min ms/frame':>13}")
    for name, (median, least), batch in rows:
        print(f"{name:<66} {batch:>5} {median:>10.2f} {least:>9.2f} {least / batch:>13.3f}")


if __name__ == "__main__":
    main()
