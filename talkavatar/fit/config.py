"""`FitConfig`: the settings of the fit stage (one field per CLI option of `talkavatar fit`).

Fields left at None take their value from the preset (:data:`PRESETS`); :meth:`FitConfig.effective` fills them in,
and the effective config is what the bundle records.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, Optional, get_args

from talkavatar.config import Perceptual, check_fields, setting

PRESETS = {
    # iters, uv_res, image_size (longer side, px), crop_size (px), pseudo_frames, pseudo_size (px), pseudo_batch
    # video_frames: real frames of a clip (fit VIDEO), video_batch: of them per step.
    # tiny: UV 96 (5953 Gaussians on the astronaut) in 120 steps, not UV 64 (2638) in 160, for the same CPU time: at
    # UV 64 the face has too few Gaussians for eyes and mouth, and whether the demo's face was found by an independent
    # detector depended on the fit's seed (0-100 % of frames); benchmarks/demo_face_seeds.py, RESULTS.md
    "tiny": dict(iters=120, uv_res=96, image_size=160, crop_size=48, pseudo_frames=8, pseudo_size=96,
                 pseudo_batch=1, video_frames=6, video_batch=1),
    "fast": dict(iters=500, uv_res=512, image_size=512, crop_size=192, pseudo_frames=64, pseudo_size=384,
                 pseudo_batch=2, video_frames=48, video_batch=2),
    "quality": dict(iters=3000, uv_res=512, image_size=1024, crop_size=256, pseudo_frames=256, pseudo_size=512,
                    pseudo_batch=4, video_frames=128, video_batch=4),
}
Shape = Literal["flat", "oval", "round", "free"]
SHAPES = get_args(Shape)
# Gaussian shape per preset: tiny's few, large Gaussians (UV 96) leave gaps between flat discs seen obliquely. fast and
# quality: oval (flat ellipses), was flat (discs): a disc sharpens a detail only by shrinking, which opens gaps through
# which the body's far side shows in the photo (anchored to the completed texture: a quarter of the input view's error,
# benchmarks/fit_errors.py); an ellipse follows an edge instead. CPU proxy of the fast fit (UV 256, 256 px, 250 steps;
# twelfth session, fitq8): astronaut 29.37 -> 31.27 dB / 0.9483 -> 0.9649 (both with the learning rates' new decay),
# laughing 33.79 -> 34.13 dB; holes, floaters and the unseen back's Laplacian ratio no worse.
PRESET_SHAPES = {"tiny": "round", "fast": "oval", "quality": "oval"}


@dataclass(frozen=True)
class FitConfig:
    preset: Literal["auto", "tiny", "fast", "quality"] = setting(
        "auto", "Speed/quality preset: tiny (~1 min on a CPU), fast (~15 s on a GPU), quality, or auto (tiny on a CPU, "
                "fast on a GPU: whichever device the fit runs on).")
    iters: Optional[int] = setting(None, "Optimisation steps. (preset tiny/fast/quality: 120/500/3000)", ge=1)
    uv_res: Optional[int] = setting(None, "UV map resolution: one Gaussian per covered texel (512 -> ~150k). "
                                          "(preset tiny/fast/quality: 96/512/512)", ge=8)
    image_size: Optional[int] = setting(None, "Longer side of the input photo as fitted, px. "
                                              "(preset tiny/fast/quality: 160/512/1024)", ge=64)
    crop_size: Optional[int] = setting(None, "Side of the face and hand crops rendered for their own loss, px. "
                                             "(preset tiny/fast/quality: 48/192/256)", ge=32)
    pseudo_frames: Optional[int] = setting(None, "Use at most this many pseudo-label frames (evenly spaced). "
                                                 "(preset tiny/fast/quality: 8/64/256)", ge=1)
    pseudo_size: Optional[int] = setting(None, "Longer side of the pseudo frames as fitted, px. "
                                               "(preset tiny/fast/quality: 96/384/512)", ge=64)
    pseudo_batch: Optional[int] = setting(None, "Pseudo frames per step. (preset tiny/fast/quality: 1/2/4)", ge=1)
    video_frames: Optional[int] = setting(None, "Video: real frames of the clip fitted to, chosen to cover its poses, "
                                                "views and expressions. (preset tiny/fast/quality: 6/48/128)", ge=1)
    video_batch: Optional[int] = setting(None, "Video: real frames per step. (preset tiny/fast/quality: 1/2/4)",
                                         ge=1)
    seed: int = setting(0, "Random seed; the same bundle, seed and settings give the same avatar on one device.",
                        ge=0)
    perceptual: Perceptual = setting("auto", "Perceptual distance on pseudo frames: auto (LPIPS-VGG when its weights are "
                                      "present locally, else efficientnet), lpips or efficientnet.")
    pseudo_weight: float = setting(1.0, "Scale of the perceptual loss on pseudo frames (0: ignore pseudo-labels).",
                                   ge=0)
    mesh_weight: float = setting(1.0, "Scale of the mesh regularisers: normal consistency, mask, Laplacian, "
                                      "|dX - Bary(dT)| (0: off).", ge=0)
    crop_weight: float = setting(1.0, "Scale of the extra face and hand crop losses (0: off).", ge=0)
    # colour_anchor: on since the tenth session, on the Gaussians the photo does not see only (fit.visibility): weighted
    # by 1 - cosine everywhere it cost the H200 fast astronaut's input view (0 -> 33.60 dB / 0.9683, 0.03 -> 33.26,
    # 0.1 -> 33.00 / 0.9661; eighth session) and was left off, and the unseen backs turned to rainbow noise (session 9's
    # GPU sheets); tiny laughing, unseen-only: input view 23.02 (off) / 23.04 (0.1) / 23.11 dB (1.0), the back's pink
    # and green blobs faint at 0.1, gone at 1.0 (benchmarks/RESULTS.md, tenth session, present6); unseen-only, it still
    # cost the H200 fast astronaut 0.9 dB (31.60 vs 32.51 at 0, eleventh session): it held Gaussians the photo's render
    # shows (grazing, or "hidden" behind a hand placed a little off): now weighted by the pixels they show (present7)
    colour_anchor: float = setting(1.0, "Pull of the colour of each Gaussian the photo does not see (or sees only at "
                                        "a grazing angle) and whose colour its render hardly shows towards its "
                                        "initial, completed-texture colour, the head excepted (0: off; after the fit, "
                                        "what the photo neither sees nor shows takes that colour back anyway).", ge=0)
    video_weight: float = setting(1.0, "Video: scale of the losses on the clip's real frames (0: ignore the clip).",
                                  ge=0)
    frame_refine: float = setting(1.0, "Video: scale of the learning rates of the per-frame pose and expression "
                                       "corrections of the clip's frames (0: keep the tracked poses).", ge=0)
    expression_appearance: float = setting(
        1.0, "Video: scale of the learning rates of the face's expression-dependent colour and offset, learned only "
             "from real frames whose expressions vary (0: off).", ge=0)
    warmup: float = setting(0.3, "Fraction of the steps before the pseudo-frame loss starts.", ge=0, lt=1)
    refine: float = setting(0.2, "Fraction of the steps, at the end, fitted to the photo alone (sharpens the input "
                                 "view once the pseudo-labels have shaped the rest).", ge=0, lt=1)
    shape: Optional[Shape] = setting(None, "Gaussian shape: flat (discs in the surface, one scale: clean silhouettes "
                                         "in new views), oval (ellipses in the surface: two scales and a turn), "
                                         "round (isotropic) or free (three scales and a rotation). "
                                         "(preset tiny/fast/quality: round/oval/oval)")

    def __post_init__(self):
        check_fields(self)
        if self.warmup + self.refine >= 1:
            raise ValueError("warmup + refine must be below 1")

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
