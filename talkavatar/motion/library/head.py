"""Head motion while talking: nods, tilts, turns, shakes and their mixes (neck and head share each movement)."""

from __future__ import annotations

from talkavatar.motion.library.keyframes import Clip, Track, keys


def _split(channel: str, track: Track, neck_share: float = 0.4) -> dict[str, Track]:
    """One head movement shared by the neck and the head joint."""
    return {f"neck.{channel}": Track(track.times, tuple(neck_share * v for v in track.values)),
            f"head.{channel}": Track(track.times, tuple((1 - neck_share) * v for v in track.values))}


def _oscillation(amplitude: float, period: float, count: int, start: float = 0.4, bias: float = 0.0) -> Track:
    pairs = [(0.0, 0.0)]
    for k in range(2 * count):
        pairs.append((start + (k + 0.5) * period / 2, bias + (amplitude if k % 2 == 0 else -amplitude * 0.6)))
    pairs.append((start + count * period + 0.5, 0.0))
    return keys(*pairs)


def head_clips() -> list[Clip]:
    specs: list[tuple[str, dict[str, Track]]] = [
        ("nod_small", _split("pitch", _oscillation(0.12, 0.7, 4))),
        ("nod_deep", _split("pitch", _oscillation(0.3, 1.4, 2))),
        ("nod_fast", _split("pitch", _oscillation(0.08, 0.4, 7))),
        ("shake_no", _split("yaw", _oscillation(0.3, 0.9, 3))),
        ("tilt_left", _split("roll", keys((0, 0), (1.0, -0.22), (3.0, -0.2), (4.0, 0)))),
        ("tilt_right", _split("roll", keys((0, 0), (1.0, 0.22), (3.0, 0.2), (4.0, 0)))),
        ("turn_left", _split("yaw", keys((0, 0), (1.2, 0.6), (3.2, 0.55), (4.5, 0)), 0.5)),
        ("turn_right", _split("yaw", keys((0, 0), (1.2, -0.6), (3.2, -0.55), (4.5, 0)), 0.5)),
        ("look_up", _split("pitch", keys((0, 0), (1.0, -0.35), (2.8, -0.3), (4.0, 0)))),
        ("look_down", _split("pitch", keys((0, 0), (1.0, 0.4), (2.8, 0.35), (4.0, 0)))),
        ("tilt_and_nod", {**_split("roll", keys((0, 0), (0.8, 0.15), (4.2, 0.12), (5.0, 0))),
                          **_split("pitch", _oscillation(0.1, 0.8, 4, start=0.8))}),
        ("scan_room", {**_split("yaw", keys((0, 0), (1.5, 0.5), (3.5, -0.5), (5.5, 0)), 0.5),
                       **_split("pitch", keys((0, 0), (1.5, -0.1), (3.5, 0.1), (5.5, 0)))}),
    ]
    out = []
    for name, channels in specs:
        seconds = min(8.0, max(3.0, max(t.times[-1] for t in channels.values()) + 0.3))
        out.append(Clip(name, "head", round(seconds, 2), channels))
    return out
