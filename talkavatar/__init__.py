"""talkavatar: one photo of a person in, a whole-body 3D talking avatar out.

The Python API (:mod:`talkavatar.api`) is bound here: ``talkavatar.track``, ``.pseudo``, ``.fit``,
``.drive_audio``, ``.render``, ``.evaluate`` and ``.demo`` (functions; the stages they run are imported when they
run, so ``import talkavatar`` loads no torch). The stage packages of the same names are reached with from-imports
(``from talkavatar.fit import stage``, ``from talkavatar.fit.stage import run_fit``): ``talkavatar.fit`` itself is
the function.

The layers: ``cli`` (thin Typer front end) -> ``api`` / ``pipeline`` (the only place stages meet) -> the stage
packages (``track``, ``pseudo``, ``fit``, ``audio``, ``render``, ``eval``) -> ``core`` (torch), ``motion`` and
``bundle`` (on-disk formats, no torch).
"""

from talkavatar.version import __version__

# Binding the functions after api has imported the stages' config modules (and so their packages): a package
# imported later would otherwise set its attribute over the function of the same name.
from talkavatar.api import demo, drive_audio, evaluate, fit, pseudo, render, track  # noqa: E402

API = ("track", "pseudo", "fit", "drive_audio", "render", "evaluate", "demo")
__all__ = ["__version__", *API]
