"""ARKit expression tracks: visemes (talking mouth shapes), smiles, brows, blinks, surprise.

A viseme is a small set of ARKit weights (:data:`VISEMES`); a talking track strings visemes at syllable rate with
a short attack and release. Every expression clip also blinks at a natural rate (every 2.5-4 s, 0.15 s long).
"""

from __future__ import annotations

import numpy as np

from talkavatar.motion.library.keyframes import Clip, Track, keys

VISEMES: dict[str, dict[str, float]] = {
    "sil": {},
    "AA": {"jawOpen": 0.55, "mouthLowerDownLeft": 0.3, "mouthLowerDownRight": 0.3},
    "AE": {"jawOpen": 0.4, "mouthStretchLeft": 0.3, "mouthStretchRight": 0.3, "mouthUpperUpLeft": 0.2,
           "mouthUpperUpRight": 0.2},
    "EE": {"jawOpen": 0.15, "mouthSmileLeft": 0.35, "mouthSmileRight": 0.35, "mouthStretchLeft": 0.3,
           "mouthStretchRight": 0.3},
    "IH": {"jawOpen": 0.22, "mouthStretchLeft": 0.2, "mouthStretchRight": 0.2},
    "OH": {"jawOpen": 0.4, "mouthFunnel": 0.55},
    "OO": {"jawOpen": 0.15, "mouthPucker": 0.7, "mouthFunnel": 0.3},
    "MBP": {"jawOpen": 0.06, "mouthClose": 0.06, "mouthPressLeft": 0.5, "mouthPressRight": 0.5, "mouthRollLower": 0.2,
            "mouthRollUpper": 0.15},  # mouthClose only on top of jawOpen (ARKit; alone it drives the lips through each other)
    "FV": {"jawOpen": 0.08, "mouthRollLower": 0.5, "mouthUpperUpLeft": 0.2, "mouthUpperUpRight": 0.2},
    "TH": {"jawOpen": 0.18, "tongueOut": 0.35},
    "SZ": {"jawOpen": 0.06, "mouthStretchLeft": 0.25, "mouthStretchRight": 0.25},
    "CH": {"jawOpen": 0.15, "mouthFunnel": 0.3, "mouthShrugUpper": 0.2},
    "LN": {"jawOpen": 0.25, "mouthShrugLower": 0.1},
    "KG": {"jawOpen": 0.3},
}


def weights_track(times: list[float], shapes: list[dict[str, float]]) -> dict[str, Track]:
    """ARKit channels from a sequence of blendshape dicts at ``times`` (names missing from a dict are 0 there)."""
    names = sorted({n for s in shapes for n in s})
    return {f"arkit.{n}": keys(*[(t, s.get(n, 0.0)) for t, s in zip(times, shapes)]) for n in names}


def blinks(seconds: float, seed: int) -> dict[str, Track]:
    rng = np.random.default_rng(seed)
    pairs = [(0.0, 0.0)]
    t = rng.uniform(0.6, 1.5)
    while t + 0.3 < seconds:
        pairs += [(t, 0.0), (t + 0.07, 1.0), (t + 0.16, 0.0)]
        t += rng.uniform(2.5, 4.0)
    pairs.append((seconds, 0.0))
    track = keys(*pairs)
    return {"arkit.eyeBlinkLeft": track, "arkit.eyeBlinkRight": track}


def talking(seconds: float, seed: int, vocabulary: tuple[str, ...] | None = None, rate: float = 5.0,
            scale: float = 1.0) -> dict[str, Track]:
    """Visemes at about ``rate`` per second (deterministic in ``seed``), pauses included."""
    rng = np.random.default_rng(seed)
    pool = vocabulary or tuple(v for v in VISEMES if v != "sil")
    times, shapes = [0.0], [{}]
    t = 0.3
    while t < seconds - 0.5:
        name = "sil" if rng.random() < 0.12 else pool[rng.integers(len(pool))]
        shapes.append({k: v * scale * rng.uniform(0.8, 1.1) for k, v in VISEMES[name].items()})
        times.append(round(t, 3))
        t += rng.uniform(0.7, 1.3) / rate
    times.append(round(max(seconds - 0.05, times[-1] + 0.1), 3))
    shapes.append({})
    return weights_track(times, shapes)


def _hold(name: str, weights: dict[str, float], seconds: float = 4.0, attack: float = 0.6,
          release: float = 0.8) -> Clip:
    times = [0.0, attack, seconds - release, seconds - 0.05]
    return Clip(name, "expression", seconds,
                {**weights_track(times, [{}, weights, weights, {}]), **blinks(seconds, len(name))})


def expression_clips() -> list[Clip]:
    clips = [
        Clip("talk_neutral", "expression", 6.0, {**talking(6.0, 1), **blinks(6.0, 1)}),
        Clip("talk_fast", "expression", 5.0, {**talking(5.0, 2, rate=7.0), **blinks(5.0, 2)}),
        Clip("talk_emphatic", "expression", 6.0, {**talking(6.0, 3, scale=1.4), **blinks(6.0, 3),
                                                  "arkit.browInnerUp": keys((0, 0), (1.5, 0.5), (2.5, 0.1),
                                                                            (4.0, 0.6), (6.0, 0))}),
        Clip("vowels", "expression", 5.0, {**weights_track(
            [0.0, 0.5, 1.3, 2.1, 2.9, 3.7, 4.6], [{}] + [VISEMES[v] for v in ("AA", "EE", "IH", "OH", "OO")] + [{}]),
            **blinks(5.0, 4)}),
        Clip("bilabials", "expression", 4.0, {**talking(4.0, 5, ("MBP", "AA", "MBP", "OH", "FV")), **blinks(4.0, 5)}),
        Clip("talk_smiling", "expression", 6.0, {**talking(6.0, 6, scale=0.8), **blinks(6.0, 6),
                                                 "arkit.mouthSmileLeft": keys((0, 0), (1, 0.5), (5, 0.45), (6, 0)),
                                                 "arkit.mouthSmileRight": keys((0, 0), (1, 0.5), (5, 0.45), (6, 0)),
                                                 "arkit.cheekSquintLeft": keys((0, 0), (1, 0.3), (5, 0.3), (6, 0)),
                                                 "arkit.cheekSquintRight": keys((0, 0), (1, 0.3), (5, 0.3), (6, 0))}),
        _hold("smile", {"mouthSmileLeft": 0.7, "mouthSmileRight": 0.7, "cheekSquintLeft": 0.3,
                        "cheekSquintRight": 0.3}),
        _hold("grin", {"mouthSmileLeft": 0.9, "mouthSmileRight": 0.9, "jawOpen": 0.25, "mouthUpperUpLeft": 0.4,
                       "mouthUpperUpRight": 0.4, "cheekSquintLeft": 0.5, "cheekSquintRight": 0.5,
                       "eyeSquintLeft": 0.3, "eyeSquintRight": 0.3}, 4.5),
        _hold("smirk", {"mouthSmileLeft": 0.6, "mouthDimpleLeft": 0.3, "browOuterUpLeft": 0.2}, 3.5),
        _hold("brows_raised", {"browInnerUp": 0.8, "browOuterUpLeft": 0.7, "browOuterUpRight": 0.7,
                               "eyeWideLeft": 0.3, "eyeWideRight": 0.3}, 3.5),
        _hold("frown", {"browDownLeft": 0.7, "browDownRight": 0.7, "mouthFrownLeft": 0.5, "mouthFrownRight": 0.5,
                        "eyeSquintLeft": 0.3, "eyeSquintRight": 0.3}),
        _hold("skeptical", {"browOuterUpLeft": 0.7, "browDownRight": 0.5, "mouthPressLeft": 0.3,
                            "mouthLeft": 0.3}, 3.5),
        _hold("surprise", {"jawOpen": 0.5, "browInnerUp": 0.9, "browOuterUpLeft": 0.8, "browOuterUpRight": 0.8,
                           "eyeWideLeft": 0.8, "eyeWideRight": 0.8, "mouthFunnel": 0.2}, 3.5, attack=0.3),
        _hold("concern", {"browInnerUp": 0.6, "mouthFrownLeft": 0.3, "mouthFrownRight": 0.3, "mouthPressLeft": 0.2,
                          "mouthPressRight": 0.2}),
        _hold("pout", {"mouthPucker": 0.6, "mouthShrugLower": 0.4, "mouthRollUpper": 0.2}, 3.0),
        Clip("blinks_and_looks", "expression", 6.0, {
            **blinks(6.0, 9),
            "arkit.eyeLookOutLeft": keys((0, 0), (1.5, 0.5), (2.5, 0.5), (3.0, 0)),
            "arkit.eyeLookInRight": keys((0, 0), (1.5, 0.5), (2.5, 0.5), (3.0, 0)),
            "arkit.eyeLookUpLeft": keys((0, 0), (3.5, 0), (4.2, 0.4), (5.2, 0.4), (6.0, 0)),
            "arkit.eyeLookUpRight": keys((0, 0), (3.5, 0), (4.2, 0.4), (5.2, 0.4), (6.0, 0))}),
        Clip("laugh", "expression", 4.0, {
            **weights_track([0, 0.5] + [0.8 + 0.25 * k for k in range(10)] + [3.5, 3.95],
                            [{}, {"mouthSmileLeft": 0.8, "mouthSmileRight": 0.8, "jawOpen": 0.3}]
                            + [{"mouthSmileLeft": 0.9, "mouthSmileRight": 0.9, "cheekSquintLeft": 0.6,
                                "cheekSquintRight": 0.6, "eyeSquintLeft": 0.5, "eyeSquintRight": 0.5,
                                "jawOpen": 0.45 if k % 2 == 0 else 0.2} for k in range(10)]
                            + [{"mouthSmileLeft": 0.5, "mouthSmileRight": 0.5}, {}])}),
    ]
    return clips
