"""The built-in talking-motion library: keyframed clips (:mod:`keyframes`) of gestures, rest poses, head motion
and facial expressions, with natural joint limits (:mod:`anatomy`) and a sampler that composes them.

``clips()`` lists every clip; ``motions()`` samples them as :class:`~talkavatar.motion.file.Motion`;
:func:`talkavatar.motion.library.sampling.sample_poses` draws pseudo-label poses from them.
"""

from __future__ import annotations

import functools

from talkavatar.motion.library.expressions import expression_clips
from talkavatar.motion.library.gestures import gesture_clips, rest_clips
from talkavatar.motion.library.head import head_clips
from talkavatar.motion.library.keyframes import Clip


@functools.cache
def clips() -> tuple[Clip, ...]:
    """Every library clip (unique names), in a fixed order."""
    out = tuple(gesture_clips() + rest_clips() + head_clips() + expression_clips())
    names = [c.name for c in out]
    assert len(set(names)) == len(names), "library clip names must be unique"
    return out


def clip(name: str) -> Clip:
    for c in clips():
        if c.name == name:
            return c
    raise KeyError(f"no library clip named {name!r}")


@functools.cache
def motions(fps: float = 30.0) -> dict:
    """{clip name: Motion} of every clip sampled at ``fps``."""
    return {c.name: c.sample(fps) for c in clips()}
