"""talkavatar: one photo of a person in, a whole-body 3D talking avatar out.

The package is layered: ``talkavatar.cli`` (thin Typer front end) calls stage packages (``track``, ``pseudo``,
``fit``, ``audio``, ``render``, ``eval``), which call ``talkavatar.core`` (torch). ``talkavatar.bundle`` and
``talkavatar.motion`` hold the on-disk formats and import no torch.
"""

__version__ = "0.1.0"
