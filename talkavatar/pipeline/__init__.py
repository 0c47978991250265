"""The pipeline: the one place where stages meet (DESIGN.md's layering: cli -> pipeline / public API -> stages).

- :mod:`~talkavatar.pipeline.photo`: ``fit PHOTO`` runs track -> pseudo -> fit as needed; pseudo with imported
  videos re-tracked by the track stage;
- :mod:`~talkavatar.pipeline.speech`: render speech (drive-audio -> render);
- :mod:`~talkavatar.pipeline.evaluate`: eval's measurements fed by track's detection and fitting and render's
  frames;
- :mod:`~talkavatar.pipeline.demo`: the whole pipeline on the shipped samples.
"""
