"""The contact sheet: the photo, the completed texture and a grid of pseudo frames on one PNG."""

from __future__ import annotations

import numpy as np
from PIL import Image


def contact_sheet(photo: np.ndarray, texture: np.ndarray, frames: list[np.ndarray], tile: int = 192,
                  columns: int = 6, background: int = 40) -> np.ndarray:
    """photo: [H, W, 3] uint8; texture: [R, R, 3] uint8; frames: RGBA uint8 [S, S, 4] -> [h, w, 3] uint8.

    Row 0: the photo and the texture (two tiles each); then up to ``columns`` frames per row (composited over
    grey), evenly chosen from ``frames``.
    """
    def fit(img: np.ndarray, size: int) -> np.ndarray:
        im = Image.fromarray(img)
        im.thumbnail((size, size), Image.LANCZOS)
        out = np.full((size, size, 3), background, np.uint8)
        a = np.asarray(im)
        y, x = (size - a.shape[0]) // 2, (size - a.shape[1]) // 2
        out[y:y + a.shape[0], x:x + a.shape[1]] = a[..., :3]
        return out

    rows = [np.concatenate([fit(photo, 2 * tile), fit(texture, 2 * tile),
                            np.full((2 * tile, (columns - 4) * tile, 3), background, np.uint8)], 1)]
    count = min(len(frames), columns * 3)
    pick = np.linspace(0, len(frames) - 1, count).round().astype(int) if count else []
    tiles = []
    for i in pick:
        f = frames[i].astype(np.float32)
        alpha = f[..., 3:4] / 255
        over = (f[..., :3] * alpha + background * (1 - alpha)).astype(np.uint8)
        tiles.append(fit(over, tile))
    while len(tiles) % columns:
        tiles.append(np.full((tile, tile, 3), background, np.uint8))
    for r in range(0, len(tiles), columns):
        rows.append(np.concatenate(tiles[r:r + columns], 1))
    return np.concatenate(rows, 0)
