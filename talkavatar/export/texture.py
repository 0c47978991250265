"""The avatar's colour texture, baked from its Gaussians: each Gaussian is one texel of the rig's UV map.

Texel ``(col, row)`` of the binding (row 0 at the top, v = 1) gets its Gaussian's colour, sRGB-encoded. Texels no
Gaussian covers (between UV charts) take the colour of the nearest covered texel, so that texture filtering and
mip-mapping never bleed the background into a chart's border.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from scipy.ndimage import distance_transform_edt

from talkavatar.core.avatar import Avatar
from talkavatar.core.color import linear_to_srgb


def bake_texture(avatar: Avatar) -> np.ndarray:
    """uint8 [R, R, 3] sRGB texture, ``R`` the binding's UV resolution (see the module docstring)."""
    size = avatar.binding.uv_res
    texel = avatar.binding.texel.cpu().numpy()
    srgb = linear_to_srgb(avatar.rgb.detach().cpu().double().clamp(0, 1)).numpy()
    image = np.zeros((size, size, 3), np.float64)
    covered = np.zeros((size, size), bool)
    image[texel[:, 1], texel[:, 0]] = srgb
    covered[texel[:, 1], texel[:, 0]] = True
    if covered.any() and not covered.all():
        nearest = distance_transform_edt(~covered, return_distances=False, return_indices=True)
        image = image[nearest[0], nearest[1]]
    return np.clip(np.round(image * 255), 0, 255).astype(np.uint8)


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 [H, W, 3|4] image as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()
