"""Two wrists on one point: the arms seen again on more views of the photo, each arm point their median.

MediaPipe Pose can give both hands one point: on camera.png (issue 17's tune photos) the cameraman's black-gloved
fists lie 45 and 60 px either side of the tripod's head, and the pose model puts the near wrist on that head in the
pass on the photo, and both wrists there (13 px apart) in the pass on its mirror image, at visibilities 0.6-0.95.
The fit then held both forearms to it (wrists 17 and 10 % of the person's height from their marks); gating them
out leaves the forearms to the prior (37 and 23 %). Other views of the same arms disagree where the model is
unsure and agree where it is not: on a photo (:class:`~talkavatar.track.detect.HolisticDetector`), where the two
seen wrists of one pass lie closer than :data:`APART` of the person's height, the arms are seen again on a crop
around them (:func:`arms_extent`), as given and contrast normalised, each also mirrored, and every elbow, wrist and
hand point becomes the median over those views and the pass that did not collapse, if one did not
(:func:`median_arms`; a pass that gave both hands one point is no view of either). Arms that were right stay put
(every view agrees); the cost is four more Holistic passes, on such photos only. camera: the far wrist moves onto
the camera beside its fist (its detection 3.3 % of the height from the mark, 10 % before); the near one stays on
the tripod's head in every view (a black glove on a black coat).
"""

from __future__ import annotations

import numpy as np

from talkavatar.track.metrics import VISIBLE
from talkavatar.track.pose_points import ELBOWS, SHOULDERS, SIDES, WRISTS, hand_points

APART = 0.05
"""Two seen wrists closer than this many person heights are one point given to both hands (wrist centres of two
hands side by side lie ~9 cm apart, 0.05 of an adult's height)."""
MARGIN = 0.3
"""The arms' crop: the box of the nose, shoulders, elbows and wrists grown by this fraction of its longer side."""
ARM_POINTS = tuple(sorted(i for side in SIDES for i in (ELBOWS[side], WRISTS[side], *hand_points(side))))
"""MediaPipe's elbows, wrists and hand points (pinky, index, thumb) of both arms."""


def collapsed(passes: list[tuple[np.ndarray, np.ndarray]], height: float) -> bool:
    """Whether the two wrists of one of ``passes`` ((body [33, 3] px, visibility [33]) of one person) are seen and
    lie within :data:`APART` ``height`` of each other."""
    left, right = WRISTS["left"], WRISTS["right"]
    return any(min(vis[left], vis[right]) >= VISIBLE and np.linalg.norm(body[left, :2] - body[right, :2])
               < APART * height for body, vis in passes)


def arms_extent(body: np.ndarray) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)``: the box of ``body``'s ([33, 3] px) nose, shoulders, elbows and wrists (the arms' crop is
    this grown by :data:`MARGIN` of its longer side: :func:`~talkavatar.track.detect.grown_box`)."""
    idx = [0, *SHOULDERS.values(), *ELBOWS.values(), *WRISTS.values()]
    (x0, y0), (x1, y1) = body[idx, :2].min(0), body[idx, :2].max(0)
    return float(x0), float(y0), float(x1), float(y1)


def median_arms(body: np.ndarray, visibility: np.ndarray, views: list[tuple[np.ndarray, np.ndarray]]
                ) -> tuple[np.ndarray, np.ndarray]:
    """``body`` [33, 3] and ``visibility`` [33] with every arm point (:data:`ARM_POINTS`) and its visibility the
    median over ``views`` ((body, visibility) pairs of the same person)."""
    arm = list(ARM_POINTS)
    out, vis = body.copy(), visibility.copy()
    out[arm] = np.median(np.stack([b[arm] for b, _ in views]), axis=0)
    vis[arm] = np.median(np.stack([v[arm] for _, v in views]), axis=0)
    return out, vis
