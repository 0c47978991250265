"""Expression fidelity measured independently: MediaPipe Face Mesh (its own graph, run by eval on the real frames and
on the renders, not the tracking's Holistic points) gives per frame the eye aspect ratio, the inner-lip gap and the
brow height, and the render's are compared with the real ones.

- eye aspect ratio (EAR, Soukupová and Čech 2016 on Face Mesh points): mean over both eyes of the two lid-to-lid
  distances over twice the eye width; ~0.25-0.3 open, < 0.1 shut. Agreement: |EAR_render - EAR_real| <= 0.05.
- inner-lip gap: distance between the inner lip midpoints (13, 14) over the inter-ocular distance (33-263).
  Agreement: Pearson correlation of the real and rendered gaps over the frames.
- brow height: mean distance from the brow's middle (105, 66; 334, 296) to the upper lid's middle (159; 386) over
  the inter-ocular distance. A frame raises the brows when the real height exceeds the clip's 20th percentile by
  :data:`BROW_RAISE`; the render follows when its own rise (over its 20th percentile) is at least half the real one.
"""

from __future__ import annotations

import numpy as np

from talkavatar.mediapipe_import import import_mediapipe

EAR_TOLERANCE = 0.05
BROW_RAISE = 0.02
"""Rise of the brow height (inter-ocular units) that counts as raised brows (~2 mm on an adult face)."""
_EYES = (((160, 144), (158, 153), (33, 133)), ((385, 380), (387, 373), (362, 263)))
_BROWS = (((105, 66), 159), ((334, 296), 386))


def face_mesh_points(frames: list[np.ndarray]) -> list[np.ndarray | None]:
    """MediaPipe Face Mesh (refined, one face, static images) on each RGB uint8 frame [H, W, 3]: its 478 points
    [478, 2] in pixels, or None where no face is found."""
    mp = import_mediapipe()
    out = []
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True,
                                         min_detection_confidence=0.3) as mesh:
        for frame in frames:
            result = mesh.process(np.ascontiguousarray(frame[..., :3]))
            if not result.multi_face_landmarks:
                out.append(None)
                continue
            h, w = frame.shape[:2]
            points = np.array([(p.x * w, p.y * h) for p in result.multi_face_landmarks[0].landmark])
            out.append(points)
    return out


def face_measures(points: np.ndarray) -> tuple[float, float, float]:
    """(eye aspect ratio, inner-lip gap, brow height) of one face's Face Mesh points [478, 2] (module docstring)."""
    d = lambda a, b: float(np.linalg.norm(points[a] - points[b]))  # noqa: E731
    ear = np.mean([(d(*v1) + d(*v2)) / (2 * max(d(*width), 1e-6)) for v1, v2, width in _EYES])
    iod = max(d(33, 263), 1e-6)
    brow = np.mean([np.linalg.norm(points[list(mid)].mean(0) - points[lid]) for mid, lid in _BROWS]) / iod
    return float(ear), d(13, 14) / iod, float(brow)


def measures(faces: list[np.ndarray | None]) -> np.ndarray:
    """[T, 3] :func:`face_measures` per frame (nan rows where no face was found)."""
    return np.array([face_measures(f) if f is not None else (np.nan,) * 3 for f in faces], dtype=np.float64)


def expression_fidelity(real: np.ndarray, rendered: np.ndarray) -> dict:
    """Agreement of the render's measures with the real ones, both [T, 3] from :func:`measures`: {frames (both found),
    ear_within (fraction of them), ear_mean_abs_error, blink_frames (real EAR < 0.15), blinks_matched (of those,
    render within tolerance), lip_gap_r (None: fewer than 3 frames or no variation), brow_raised_frames,
    brow_follow (median rendered/real rise on them, None: no raise), brow_visible (fraction of them with >= 0.5)}."""
    both = np.isfinite(real).all(1) & np.isfinite(rendered).all(1)
    r, g = real[both], rendered[both]
    out: dict = {"frames": int(both.sum())}
    if not both.any():
        return out
    ear_error = np.abs(g[:, 0] - r[:, 0])
    blink = r[:, 0] < 0.15
    out.update(ear_within=float((ear_error <= EAR_TOLERANCE).mean()), ear_mean_abs_error=float(ear_error.mean()),
               blink_frames=int(blink.sum()),
               blinks_matched=int((ear_error[blink] <= EAR_TOLERANCE).sum()))
    varied = len(r) >= 3 and r[:, 1].std() > 1e-6 and g[:, 1].std() > 1e-6
    out["lip_gap_r"] = float(np.corrcoef(r[:, 1], g[:, 1])[0, 1]) if varied else None
    rise_real = r[:, 2] - np.percentile(r[:, 2], 20)
    rise_render = g[:, 2] - np.percentile(g[:, 2], 20)
    raised = rise_real >= BROW_RAISE
    out["brow_raised_frames"] = int(raised.sum())
    ratio = rise_render[raised] / rise_real[raised]
    out["brow_follow"] = float(np.median(ratio)) if raised.any() else None
    out["brow_visible"] = float((ratio >= 0.5).mean()) if raised.any() else None
    return out
