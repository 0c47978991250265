"""`FitConfig`: the settings of the fit stage (one field per CLI option of `talkavatar fit`).

Fields left at None take their value from the preset (:data:`PRESETS`); :meth:`FitConfig.effective` fills them in,
and the effective config is what the bundle records.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from talkavatar.config import setting

PRESETS = {
    # iters, uv_res, image_size (longer side, px), crop_size (px), pseudo_frames, pseudo_size (px), pseudo_batch
    # video_frames: real frames of a clip (fit VIDEO), video_batch: of them per step
    "tiny": dict(iters=160, uv_res=64, image_size=160, crop_size=48, pseudo_frames=8, pseudo_size=96,
                 pseudo_batch=1, video_frames=6, video_batch=1),
    "fast": dict(iters=500, uv_res=512, image_size=512, crop_size=192, pseudo_frames=64, pseudo_size=384,
                 pseudo_batch=2, video_frames=48, video_batch=2),
    "quality": dict(iters=3000, uv_res=512, image_size=1024, crop_size=256, pseudo_frames=256, pseudo_size=512,
                    pseudo_batch=4, video_frames=128, video_batch=4),
}
PRESET_NAMES = ("auto", *PRESETS)
PRESET_FIELDS = tuple(PRESETS["tiny"])
SHAPES = ("flat", "round", "free")
# Gaussian shape per preset: tiny's few, large Gaussians (UV 64) leave gaps between flat discs seen obliquely.
PRESET_SHAPES = {"tiny": "round", "fast": "flat", "quality": "flat"}
# Settings of the pseudo stage when `talkavatar fit PHOTO` runs it itself (the pseudo stage's defaults otherwise):
# as many frames as the preset's fit uses.
PSEUDO_PRESETS = {"tiny": dict(frames=12, size=192, uv_res=128), "fast": dict(frames=64),
                  "quality": dict(frames=256)}


@dataclass(frozen=True)
class FitConfig:
    preset: str = setting("auto", "Speed/quality preset: tiny (~1 min on a CPU), fast (~15 s on a GPU), quality, or "
                                  "auto (tiny on a CPU, fast on a GPU: whichever device the fit runs on).")
    iters: Optional[int] = setting(None, "Optimisation steps. (preset tiny/fast/quality: 160/500/3000)")
    uv_res: Optional[int] = setting(None, "UV map resolution: one Gaussian per covered texel (512 -> ~150k). "
                                          "(preset tiny/fast/quality: 64/512/512)")
    image_size: Optional[int] = setting(None, "Longer side of the input photo as fitted, px. "
                                              "(preset tiny/fast/quality: 160/512/1024)")
    crop_size: Optional[int] = setting(None, "Side of the face and hand crops rendered for their own loss, px. "
                                             "(preset tiny/fast/quality: 48/192/256)")
    pseudo_frames: Optional[int] = setting(None, "Use at most this many pseudo-label frames (evenly spaced). "
                                                 "(preset tiny/fast/quality: 8/64/256)")
    pseudo_size: Optional[int] = setting(None, "Longer side of the pseudo frames as fitted, px. "
                                               "(preset tiny/fast/quality: 96/384/512)")
    pseudo_batch: Optional[int] = setting(None, "Pseudo frames per step. (preset tiny/fast/quality: 1/2/4)")
    video_frames: Optional[int] = setting(None, "Video: real frames of the clip fitted to, chosen to cover its poses, "
                                                "views and expressions. (preset tiny/fast/quality: 6/48/128)")
    video_batch: Optional[int] = setting(None, "Video: real frames per step. (preset tiny/fast/quality: 1/2/4)")
    seed: int = setting(0, "Random seed; the same bundle, seed and settings give the same avatar on one device.")
    perceptual: str = setting("auto", "Perceptual distance on pseudo frames: auto (LPIPS-VGG when its weights are "
                                      "present locally, else efficientnet), lpips or efficientnet.")
    pseudo_weight: float = setting(1.0, "Scale of the perceptual loss on pseudo frames (0: ignore pseudo-labels).")
    mesh_weight: float = setting(1.0, "Scale of the mesh regularisers: normal consistency, mask, Laplacian, "
                                      "|dX - Bary(dT)| (0: off).")
    crop_weight: float = setting(1.0, "Scale of the extra face and hand crop losses (0: off).")
    video_weight: float = setting(1.0, "Video: scale of the losses on the clip's real frames (0: ignore the clip).")
    warmup: float = setting(0.3, "Fraction of the steps before the pseudo-frame loss starts.")
    refine: float = setting(0.2, "Fraction of the steps, at the end, fitted to the photo alone (sharpens the input "
                                 "view once the pseudo-labels have shaped the rest).")
    shape: Optional[str] = setting(None, "Gaussian shape: flat (discs in the surface, one scale: clean silhouettes "
                                         "in new views), round (isotropic) or free (three scales and a rotation). "
                                         "(preset tiny/fast/quality: round/flat/flat)")

    def __post_init__(self):
        if self.preset not in PRESET_NAMES:
            raise ValueError(f"preset must be one of {', '.join(PRESET_NAMES)}, not {self.preset!r}")
        for name in PRESET_FIELDS:
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1")
        for name, low in (("uv_res", 8), ("image_size", 64), ("crop_size", 32), ("pseudo_size", 64)):
            value = getattr(self, name)
            if value is not None and value < low:
                raise ValueError(f"{name} must be at least {low}")
        if self.shape is not None and self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {', '.join(SHAPES)}, not {self.shape!r}")
        if self.perceptual not in ("auto", "lpips", "efficientnet"):
            raise ValueError(f"perceptual must be auto, lpips or efficientnet, not {self.perceptual!r}")
        if min(self.pseudo_weight, self.mesh_weight, self.crop_weight, self.video_weight) < 0:
            raise ValueError("loss weights must be non-negative")
        if not 0 <= self.warmup < 1:
            raise ValueError("warmup must be in [0, 1)")
        if not 0 <= self.refine < 1 or self.warmup + self.refine >= 1:
            raise ValueError("refine must be in [0, 1) and warmup + refine below 1")

    def effective(self, device_type: str = "cpu") -> "FitConfig":
        """This config with the preset resolved for ``device_type`` (:func:`preset_for`) and every
        preset-dependent field filled in."""
        preset = preset_for(self.preset, device_type)
        values = {k: v for k, v in PRESETS[preset].items() if getattr(self, k) is None}
        if self.shape is None:
            values["shape"] = PRESET_SHAPES[preset]
        return replace(self, preset=preset, **values)


def preset_for(preset: str, device_type: str) -> str:
    """``auto`` becomes ``fast`` on a GPU (``device_type`` "cuda") and ``tiny`` elsewhere (fast takes ~12 s per
    step on a 2-core CPU: ~100 min); a named preset stays."""
    if preset != "auto":
        return preset
    return "fast" if device_type == "cuda" else "tiny"
