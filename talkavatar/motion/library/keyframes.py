"""Keyframed channels and clips: the readable, extendable form every library motion is written in.

A :class:`Clip` is a set of named scalar channels, each a :class:`Track` of keyframes ``(time seconds, value)``.
Between keyframes a shape-preserving cubic (Fritsch-Carlson monotone Hermite, the PCHIP of SciPy) interpolates,
so a motion never overshoots its keyframes and therefore never leaves the range its keyframes respect; before the
first and after the last keyframe the value is held. Channel names (see :mod:`anatomy` for their meaning):

- ``left.<ArmPose field>`` / ``right.<ArmPose field>``: the arms in anatomical terms (radians);
- ``spine.pitch|yaw|roll``, ``neck.pitch|yaw|roll``, ``head.pitch|yaw|roll``: the trunk and head (radians);
- ``arkit.<ARKit name>``: an expression weight in 0..1.

Unset channels keep their rest value (:data:`anatomy.REST`). :meth:`Clip.sample` turns a clip into a
:class:`~talkavatar.motion.file.Motion` at any frame rate; the same representation serves drive-audio's gestures
(a gesture is a clip whose times are relative to its stroke).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from talkavatar.motion.library.anatomy import channels_to_motion


def monotone_cubic(times: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Fritsch-Carlson monotone cubic interpolation of ``values`` [K] at ``times`` [K] (strictly increasing),
    evaluated at ``at`` [N]; values are held outside ``[times[0], times[-1]]``. Returns [N]."""
    times, values, at = (np.asarray(a, np.float64) for a in (times, values, at))
    if times.ndim != 1 or times.shape != values.shape or len(times) == 0:
        raise ValueError("times and values must be 1-D and of one length")
    if len(times) == 1:
        return np.full(at.shape, values[0])
    h = np.diff(times)
    if (h <= 0).any():
        raise ValueError("keyframe times must increase strictly")
    delta = np.diff(values) / h
    slope = np.zeros_like(values)
    if len(times) > 2:
        w1, w2 = 2 * h[1:] + h[:-1], h[1:] + 2 * h[:-1]
        same = delta[:-1] * delta[1:] > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            harmonic = (w1 + w2) / (w1 / delta[:-1] + w2 / delta[1:])
        slope[1:-1] = np.where(same, harmonic, 0.0)
    # ends: zero slope, so clips start and end at rest in both value and velocity
    t = np.clip(at, times[0], times[-1])
    k = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(h) - 1)
    s = (t - times[k]) / h[k]
    h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
    return h00 * values[k] + h10 * h[k] * slope[k] + h01 * values[k + 1] + h11 * h[k] * slope[k + 1]


@dataclass(frozen=True)
class Track:
    """Keyframes of one scalar channel: ``times`` [K] seconds (increasing), ``values`` [K]."""

    times: tuple[float, ...]
    values: tuple[float, ...]

    def __post_init__(self):
        if len(self.times) != len(self.values) or not self.times:
            raise ValueError("a track needs as many values as times, at least one")
        if any(b <= a for a, b in zip(self.times, self.times[1:])):
            raise ValueError(f"keyframe times must increase strictly: {self.times}")

    def sample(self, at: np.ndarray) -> np.ndarray:
        return monotone_cubic(np.array(self.times), np.array(self.values), at)

    def shifted(self, seconds: float) -> "Track":
        return Track(tuple(t + seconds for t in self.times), self.values)


@dataclass(frozen=True)
class Clip:
    """A named motion of ``seconds`` length: ``channels`` maps channel names to tracks; ``family`` groups clips
    (gesture, head, expression, rest, ...)."""

    name: str
    family: str
    seconds: float
    channels: dict[str, Track] = field(default_factory=dict)

    def frame_count(self, fps: float = 30.0) -> int:
        """How many frames the clip has at ``fps``: ``round(seconds * fps)``, at least one."""
        return max(1, int(round(self.seconds * fps)))

    def sample(self, fps: float = 30.0, frames=None):
        """The clip as a :class:`~talkavatar.motion.file.Motion` of :meth:`frame_count` frames, or of only the frames
        numbered ``frames`` (a sequence of indices; each frame as it is in the whole clip)."""
        index = np.arange(self.frame_count(fps)) if frames is None else np.asarray(frames, np.int64)
        at = index / fps
        return channels_to_motion({name: track.sample(at) for name, track in self.channels.items()}, len(index), fps)

    def with_channels(self, name: str, **tracks: Track) -> "Clip":
        """A copy named ``name`` with extra or replaced channels (keyword ``a__b`` means channel ``a.b``)."""
        merged = dict(self.channels)
        merged.update({k.replace("__", "."): v for k, v in tracks.items()})
        return Clip(name, self.family, self.seconds, merged)


def keys(*pairs: tuple[float, float]) -> Track:
    """``keys((t0, v0), (t1, v1), ...)`` -> :class:`Track`."""
    return Track(tuple(float(t) for t, _ in pairs), tuple(float(v) for _, v in pairs))
