"""What shows behind the avatar: a colour, an image (cover-cropped to the frame), or nothing (transparent)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from talkavatar.core.color import srgb_to_linear
from talkavatar.errors import InvalidInput, UsageError
from talkavatar.render.color import parse_color


@dataclass(frozen=True)
class Background:
    """kind: "color", "image" or "transparent"; ``linear``: [3] (colour) or [H, W, 3] (image) linear RGB."""

    kind: str
    linear: Tensor | None = None

    @property
    def transparent(self) -> bool:
        return self.kind == "transparent"

    @classmethod
    def parse(cls, text: str, width: int, height: int) -> "Background":
        """``transparent``, a colour (see :func:`parse_color`) or the path of an image file.

        Raises :class:`UsageError` when ``text`` is none of these and :class:`InvalidInput` for an unreadable image.
        """
        if text.strip().lower() == "transparent":
            return cls("transparent")
        srgb = parse_color(text)
        if srgb is not None:
            return cls("color", srgb_to_linear(torch.tensor(srgb, dtype=torch.float32)))
        path = Path(text)
        if not path.is_file():
            raise UsageError(f"--background {text!r} is neither a colour, an image file nor 'transparent'",
                             tip="e.g. --background white, --background '#203040', --background room.jpg")
        return cls("image", srgb_to_linear(_load_image(path, width, height)))

    def to(self, device) -> "Background":
        return Background(self.kind, None if self.linear is None else self.linear.to(device))

    def composite(self, rgb: Tensor, alpha: Tensor) -> Tensor:
        """Linear colour over the background: ``rgb`` [B, H, W, 3] rendered over black, ``alpha`` [B, H, W, 1].

        Transparent: returns the un-premultiplied colour (straight alpha; 0 where nothing is seen).
        """
        if self.kind == "transparent":
            return torch.where(alpha > 1e-6, rgb / alpha.clamp_min(1e-6), torch.zeros_like(rgb)).clamp(0, 1)
        return rgb + (1.0 - alpha) * self.linear.to(rgb.dtype)


def _load_image(path: Path, width: int, height: int) -> Tensor:
    """sRGB [height, width, 3] in 0..1: the image scaled to cover the frame, centre-cropped."""
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            scale = max(width / im.width, height / im.height)
            size = (max(width, round(im.width * scale)), max(height, round(im.height * scale)))
            im = im.resize(size, Image.LANCZOS)
            left, top = (size[0] - width) // 2, (size[1] - height) // 2
            im = im.crop((left, top, left + width, top + height))
            return torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0)
    except (OSError, UnidentifiedImageError) as e:
        raise InvalidInput(f"{path}: cannot read background image ({e})") from None
