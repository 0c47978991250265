"""Several people in view: which one is the main person, and how the others are told apart.

People are numbered 1, 2, ... from left to right (the overlay draws the numbers). The main person scores highest on
size (box height over image height), centrality (1 at the image centre, 0 at a corner) and completeness (the
fraction of the 33 body points seen inside the image): ``size x (0.5 + 0.5 centrality) x (0.5 + 0.5 complete)``.
"""

from __future__ import annotations

import numpy as np

from talkavatar.errors import InvalidInput


def main_score(det, width: int, height: int) -> dict[str, float]:
    """{size, centrality, completeness, score} of one person (a :class:`~talkavatar.track.detect.Detection`)."""
    x0, y0, x1, y1 = det.box
    size = (y1 - y0) / height
    centre = np.array([(x0 + x1) / 2 / width - 0.5, (y0 + y1) / 2 / height - 0.5])
    centrality = float(1.0 - np.linalg.norm(centre) / np.sqrt(0.5))
    pts = det.body[:, :2]
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < width) & (pts[:, 1] >= 0) & (pts[:, 1] < height)
    complete = float(((det.body_visibility >= 0.5) & inside).mean())
    score = size * (0.5 + 0.5 * centrality) * (0.5 + 0.5 * complete)
    return {"size": round(float(size), 3), "centrality": round(centrality, 3), "completeness": round(complete, 3),
            "score": round(float(score), 4)}


def pick(people: list, width: int, height: int, person: int | None) -> int:
    """Index into ``people`` (ordered left to right) of person number ``person`` (1-based), or of the main person
    when ``person`` is None."""
    if person is not None:
        if not 1 <= person <= len(people):
            raise InvalidInput(f"--person {person}: {len(people)} {'person' if len(people) == 1 else 'people'} "
                               "found in view", tip="see track/overlay.png for the numbers, or leave --person out")
        return person - 1
    scores = [main_score(d, width, height)["score"] for d in people]
    return int(np.argmax(scores))


def people_record(people: list, picked: int, width: int, height: int) -> list[dict]:
    """What ``--json`` says about everyone found: number, box ``[x0, y0, x1, y1]`` (pixels of the image given),
    scores, the image variant they were found on, the sides whose hand the hand search found
    (:mod:`~talkavatar.track.hand_search`), and whether they are the person tracked."""
    out = []
    for i, det in enumerate(people):
        box = [round(v, 1) for v in det.box]
        out.append({"person": i + 1, "box": box, **main_score(det, width, height), "found_on": det.variant,
                    "hands_searched": list(det.searched_hands), "picked": i == picked})
    return out
