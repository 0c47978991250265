"""Expression-dependent appearance of the face (GUAVA's and DEGAS's expression-conditioned Gaussians, kept linear).

The blendshapes move the face Gaussians with the mesh, but some of what an expression does is not geometry: teeth
and a dark mouth cavity where the lips part, creases of a smile, a closed eyelid's colour where the eye was.
:class:`ExpressionAppearance` gives each face Gaussian a learned colour change and a learned canonical offset per
unit of each of :data:`CHANNELS` (ARKit weights), added to the Gaussian's own colour and offset ``dX`` in every
posed frame:

    rgb_b[n] = clamp(rgb[n] + sum_c w_b[c] * rgb_basis[n, c], 0, 1),    dX_b[n] = dX[n] + sum_c w_b[c] * offset_basis[n, c]

It is learned only from frames whose appearance shows it (real frames of a clip with varied expressions,
:func:`expression_spread`); an avatar fitted from one photo has none (its pseudo frames are the photo's own colours
re-posed: they carry no expression-dependent appearance). Pure torch on every device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from talkavatar.motion.names import ARKIT_INDEX

CHANNELS = ("eyeBlinkLeft", "eyeBlinkRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight",
            "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthSmileLeft", "mouthSmileRight",
            "mouthStretchLeft", "mouthStretchRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
            "mouthUpperUpRight", "browInnerUp", "browDownLeft", "browDownRight", "cheekSquintLeft", "cheekSquintRight")
"""The ARKit channels the term follows: eyes, lips, brows and cheeks (the ones tracking reads reliably)."""
FACE_MOTION_M = 1e-3
"""A Gaussian is a face Gaussian when one of its triangle's vertices moves this far (metres) at weight 1 of one of
the :data:`CHANNELS`."""
MIN_SPREAD = 0.1
"""Frames whose weights of the :data:`CHANNELS` spread less than this (largest standard deviation) show too little
expression to learn the term from."""


@dataclass(frozen=True)
class ExpressionAppearance:
    """``index`` [M] long: the face Gaussians (indices into the avatar's N); ``channels`` [C] long: ARKit indices;
    ``offsets`` [M, C, 3]: canonical metres per unit weight; ``rgb`` [M, C, 3]: linear colour per unit weight."""

    index: torch.Tensor
    channels: torch.Tensor
    offsets: torch.Tensor
    rgb: torch.Tensor

    def __post_init__(self):
        m, c = self.index.shape[0], self.channels.shape[0]
        for name in ("offsets", "rgb"):
            if tuple(getattr(self, name).shape) != (m, c, 3):
                raise ValueError(f"expression {name} has shape {list(getattr(self, name).shape)}, expected [{m}, {c}, 3]")

    @classmethod
    def zeros(cls, blendshapes: torch.Tensor, faces: torch.Tensor, face_index: torch.Tensor,
              channels: tuple[str, ...] = CHANNELS) -> "ExpressionAppearance":
        """A zero term on the Gaussians whose triangle (``face_index`` [N] into ``faces`` [F, 3]) the ``channels``
        move (``blendshapes`` [52, V, 3])."""
        ids = torch.tensor([ARKIT_INDEX[n] for n in channels], dtype=torch.long, device=blendshapes.device)
        moves = blendshapes[ids].norm(dim=-1).amax(0) > FACE_MOTION_M                # [V]
        index = torch.nonzero(moves[faces[face_index]].any(-1)).flatten()           # [M]
        zero = torch.zeros(index.shape[0], len(channels), 3, dtype=blendshapes.dtype, device=blendshapes.device)
        return cls(index, ids, zero, zero.clone())

    def apply(self, offsets: torch.Tensor, rgb: torch.Tensor, weights: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """(offsets [B, N, 3], rgb [B, N, 3] in 0..1) of B frames with ARKit ``weights`` [B, 52], from the avatar's
        own ``offsets`` [N, 3] and ``rgb`` [N, 3]."""
        w = weights[:, self.channels].to(offsets.dtype)                              # [B, C]
        b = w.shape[0]
        moved = torch.index_add(offsets.expand(b, -1, -1), 1, self.index,
                                torch.einsum("bc,mcd->bmd", w, self.offsets))
        shaded = torch.index_add(rgb.expand(b, -1, -1), 1, self.index, torch.einsum("bc,mcd->bmd", w, self.rgb))
        return moved, shaded.clamp(0, 1)

    def to(self, device=None, dtype: torch.dtype | None = None) -> "ExpressionAppearance":
        return ExpressionAppearance(self.index.to(device), self.channels.to(device),
                                    self.offsets.to(device=device, dtype=dtype), self.rgb.to(device=device, dtype=dtype))

    def detach(self) -> "ExpressionAppearance":
        return ExpressionAppearance(self.index, self.channels, self.offsets.detach(), self.rgb.detach())

    def tensors(self) -> dict[str, torch.Tensor]:
        """The ``expression_*`` tensors of the avatar file."""
        return {"expression_index": self.index, "expression_channels": self.channels,
                "expression_offsets": self.offsets, "expression_rgb": self.rgb}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], count: int) -> "ExpressionAppearance | None":
        """The term stored in an avatar file's ``expression_*`` tensors (popped from ``tensors``), or None; ``count``:
        the avatar's N."""
        if "expression_index" not in tensors:
            return None
        term = cls(*(tensors.pop(f"expression_{k}") for k in ("index", "channels", "offsets", "rgb")))
        if term.index.numel() and (term.index.min() < 0 or term.index.max() >= count):
            raise ValueError("the expression term refers to Gaussians the avatar does not have")
        if term.channels.numel() and (term.channels.min() < 0 or term.channels.max() >= len(ARKIT_INDEX)):
            raise ValueError("the expression term refers to ARKit channels that do not exist")
        return term


def local_edges(edges: torch.Tensor, index: torch.Tensor, count: int) -> torch.Tensor:
    """The ``edges`` [E, 2] between Gaussians (of ``count``) whose both ends are among ``index`` [M], renumbered
    into 0..M-1: [E', 2]."""
    local = torch.full((count,), -1, dtype=torch.long, device=index.device)
    local[index] = torch.arange(index.shape[0], device=index.device)
    pairs = local[edges.to(index.device)]
    return pairs[(pairs >= 0).all(-1)]


def expression_spread(weights: torch.Tensor, channels: tuple[str, ...] = CHANNELS) -> float:
    """The largest standard deviation over frames [T, 52] of one of the ``channels`` (0 for fewer than 2 frames)."""
    if weights.shape[0] < 2:
        return 0.0
    ids = [ARKIT_INDEX[n] for n in channels]
    return float(weights[:, ids].std(0).max())
