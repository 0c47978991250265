"""Face and head: blinks, brow raises, head nods and sway, eye saccades, all seeded and smooth.

Blinks come at natural rates (about 15-20 per minute, gamma-distributed gaps) and are moved off accents (people
do not blink on the stressed syllable); brows rise and the head nods on the strongest accents.
"""

from __future__ import annotations

import numpy as np

from talkavatar.audio.noise import smooth_noise
from talkavatar.audio.prosody import Accent
from talkavatar.motion.names import ARKIT_INDEX, JOINT_INDEX

BLINK_CLOSE_S, BLINK_OPEN_S = 0.07, 0.16


def pulse(times: np.ndarray, at: float, rise_s: float, fall_s: float) -> np.ndarray:
    """A smooth 0..1..0 bump peaking at ``at`` (raised-cosine rise and fall), ``[len(times)]``."""
    up = np.clip((times - (at - rise_s)) / rise_s, 0.0, 1.0)
    down = np.clip(((at + fall_s) - times) / fall_s, 0.0, 1.0)
    return np.where(times < at, 0.5 - 0.5 * np.cos(np.pi * up), 0.5 - 0.5 * np.cos(np.pi * down))


def blink_times(rng: np.random.Generator, seconds: float, per_minute: float, accent_times: np.ndarray,
                avoid_s: float = 0.15) -> list[float]:
    """Blink onsets over ``seconds``: gamma gaps (mean 60/per_minute, min 1 s), moved past nearby accents."""
    out: list[float] = []
    t = rng.uniform(0.5, 2.0)
    mean_gap = 60.0 / per_minute
    while t < seconds - 0.3:
        if len(accent_times):
            near = accent_times[np.abs(accent_times - t) < avoid_s]
            if len(near):
                t = float(near.max()) + avoid_s
        out.append(t)
        if rng.uniform() < 0.08:                        # an occasional double blink
            out.append(t + 0.35)
            t += 0.35
        t += max(1.0, rng.gamma(4.0, mean_gap / 4.0))
    return [b for b in out if b < seconds - 0.3]


def face_and_head(frames: int, fps: float, accents: list[Accent], rng: np.random.Generator,
                  liveliness: float) -> tuple[np.ndarray, np.ndarray]:
    """Blinks/brows/eye-look ARKit weights ``[T, 52]`` and neck/head/eye rotations ``[T, 55, 3]`` (others zero).

    ``liveliness`` (about 0.6 calm .. 1 lively) scales head motion and brow raises.
    """
    times = np.arange(frames) / fps
    arkit = np.zeros((frames, 52), np.float32)
    joints = np.zeros((frames, 55, 3), np.float32)
    if frames == 0:
        return arkit, joints
    rng_blink, rng_head, rng_eye = (np.random.default_rng(s) for s in rng.bit_generator.seed_seq.spawn(3))
    accent_t = np.array([a.time for a in accents])
    blink = np.zeros(frames)
    for b in blink_times(rng_blink, frames / fps, 14.0 + 6.0 * liveliness, accent_t):
        blink = np.maximum(blink, pulse(times, b + BLINK_CLOSE_S, BLINK_CLOSE_S, BLINK_OPEN_S))
    for side in ("Left", "Right"):
        arkit[:, ARKIT_INDEX["eyeBlink" + side]] = blink
    # Brows and nods on accents, stronger accents more.
    brow = np.zeros(frames)
    nod = np.zeros(frames)
    for a in accents:
        if a.strength < 0.55:
            continue
        if a.pitch_rise > 1.0 or a.strength > 0.85:
            brow = np.maximum(brow, 0.35 * liveliness * a.strength * pulse(times, a.time, 0.12, 0.4))
        nod += 0.06 * liveliness * a.strength * pulse(times, a.time + 0.05, 0.15, 0.3)
    arkit[:, ARKIT_INDEX["browInnerUp"]] = brow
    arkit[:, ARKIT_INDEX["browOuterUpLeft"]] = 0.7 * brow
    arkit[:, ARKIT_INDEX["browOuterUpRight"]] = 0.7 * brow
    # Head: slow sway (yaw, pitch, roll) plus nods (pitch down, about +x); shared 40 % neck, 60 % head.
    sway = smooth_noise(rng_head, frames, fps, 1.2, 1.0, 3) * (np.array([0.06, 0.03, 0.025]) * liveliness)
    head = np.stack([sway[:, 1] + nod, sway[:, 0], sway[:, 2]], axis=1)   # (x pitch, y yaw, z roll)
    joints[:, JOINT_INDEX["neck"]] = 0.4 * head
    joints[:, JOINT_INDEX["head"]] = 0.6 * head
    # Eyes: hold gaze, small saccades every 1-3 s, counter-rotating a little against the head yaw.
    gaze = np.zeros((frames, 2))
    t = rng_eye.uniform(0.5, 1.5)
    while t < frames / fps:
        k = int(t * fps)
        gaze[k:] = rng_eye.normal(0.0, [0.04, 0.025])
        t += rng_eye.uniform(1.0, 3.0)
    gaze[:, 0] -= 0.5 * head[:, 1]
    for eye in ("left_eye_smplhf", "right_eye_smplhf"):
        joints[:, JOINT_INDEX[eye], 1] = gaze[:, 0]
        joints[:, JOINT_INDEX[eye], 0] = gaze[:, 1]
    # Matching ARKit eye-look weights (about 0.5 rad = full).
    yaw, pitch = gaze[:, 0] / 0.5, gaze[:, 1] / 0.5
    arkit[:, ARKIT_INDEX["eyeLookOutLeft"]] = np.clip(yaw, 0, 1)
    arkit[:, ARKIT_INDEX["eyeLookInLeft"]] = np.clip(-yaw, 0, 1)
    arkit[:, ARKIT_INDEX["eyeLookInRight"]] = np.clip(yaw, 0, 1)
    arkit[:, ARKIT_INDEX["eyeLookOutRight"]] = np.clip(-yaw, 0, 1)
    for side in ("Left", "Right"):
        arkit[:, ARKIT_INDEX["eyeLookDown" + side]] = np.clip(pitch, 0, 1)
        arkit[:, ARKIT_INDEX["eyeLookUp" + side]] = np.clip(-pitch, 0, 1)
    return arkit, joints
