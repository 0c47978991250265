"""Importing MediaPipe without matplotlib.

``import mediapipe`` imports its ``solutions.drawing_utils``, which imports ``matplotlib.pyplot`` for a plotting
helper (``plot_landmarks``) that neither track nor eval calls: two thirds of MediaPipe's import, ~0.7 s of CPU in
every process that tracks or measures faces (measured with ``python -X importtime -c "import mediapipe"``).
:func:`import_mediapipe` imports it with empty stand-in modules for ``matplotlib`` and ``matplotlib.pyplot``
registered for the duration of that import only; a real ``import matplotlib`` afterwards gets the real package.
A shared module below the stages: track's detector and eval's independent Face Mesh both import MediaPipe here.
"""

from __future__ import annotations

import sys
import types

STAND_INS = ("matplotlib", "matplotlib.pyplot")


def import_mediapipe():
    """The ``mediapipe`` module (imported once; matplotlib left unimported where nothing else had imported it)."""
    if "mediapipe" in sys.modules:
        return sys.modules["mediapipe"]
    placed = [name for name in STAND_INS if name not in sys.modules]
    for name in placed:
        sys.modules[name] = types.ModuleType(name, "stand-in while mediapipe imports (talkavatar.mediapipe_import)")
    if placed == list(STAND_INS):
        sys.modules["matplotlib"].pyplot = sys.modules["matplotlib.pyplot"]
    try:
        import mediapipe
    finally:
        for name in placed:
            del sys.modules[name]
    return mediapipe
