"""Export posed Gaussians as a standard 3D Gaussian Splatting PLY, the layout common splat viewers read.

The file is ``binary_little_endian`` PLY 1.0 with one ``vertex`` element of N Gaussians and these float32
properties, in this order (the layout of the 3DGS reference implementation, Kerbl et al. 2023):

=================  ==========================================================================================
``x, y, z``        centre in metres, world frame of the bundle (+Y up, right-handed)
``nx, ny, nz``     always 0 (unused; kept because viewers expect them)
``f_dc_0..2``      degree-0 spherical-harmonic coefficient per channel: (sRGB colour - 0.5) / 0.28209479
                   (viewers show 0.5 + 0.28209479 * f_dc, i.e. display sRGB; our linear ``rgb`` is sRGB-encoded
                   first). No ``f_rest_*``: SH degree 0
``opacity``        opacity before the sigmoid (logit): opacity = 1 / (1 + exp(-value))
``scale_0..2``     natural log of the standard deviations (metres) along the Gaussian's axes: scale = exp(value)
``rot_0..3``       unit rotation quaternion w, x, y, z (rotates the scaled axes into the world)
=================  ==========================================================================================

Viewers written for the 3DGS convention (camera-space -Y up in the capture) may show the avatar upside down;
turn it in the viewer.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from talkavatar.bundle.atomic import write_bytes_atomic
from talkavatar.core.splats import Gaussians
from talkavatar.core.color import linear_to_srgb

SH_C0 = 0.28209479177387814
PROPERTIES = ("x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
              "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3")


def ply_bytes(gaussians: Gaussians) -> bytes:
    """The PLY file of one set of Gaussians (fields [N, ...], or [1, N, ...])."""
    if gaussians.batch_size not in (None, 1):
        raise ValueError(f"export one pose at a time, got a batch of {gaussians.batch_size}")

    g = gaussians.to("cpu", torch.float64)
    if g.batch_size == 1:
        one = g.per_camera(1)
        g = Gaussians(**{name: getattr(one, name)[0] for name in ("means", "quats", "log_scales", "opacity_logit",
                                                                   "rgb")})
    n = g.count
    quats = g.quats / g.quats.norm(dim=-1, keepdim=True)
    f_dc = (linear_to_srgb(g.rgb) - 0.5) / SH_C0
    columns = [g.means, torch.zeros(n, 3, dtype=torch.float64), f_dc, g.opacity_logit[:, None], g.log_scales, quats]
    table = torch.cat(columns, dim=1).to(torch.float32).numpy()
    header = "ply\nformat binary_little_endian 1.0\ncomment talkavatar: 3D Gaussian splats (3DGS layout)\n" \
             f"element vertex {n}\n" + "".join(f"property float {p}\n" for p in PROPERTIES) + "end_header\n"
    return header.encode("ascii") + np.ascontiguousarray(table, dtype="<f4").tobytes()


def write_ply(path: Path, gaussians: Gaussians) -> None:
    """Write :func:`ply_bytes` atomically to ``path`` (parent directories created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, ply_bytes(gaussians))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)  # the atomic writer's temporary file was private
