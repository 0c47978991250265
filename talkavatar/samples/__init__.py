"""Sample inputs shipped with talkavatar, for the demo and the tests.

- ``astronaut.png``: Eileen Collins, NASA portrait (public domain), as shipped by scikit-image (``data.astronaut``).
- ``speech.wav``: 6 s of real read speech, LibriVox recording of Jane Austen's *Sense and Sensibility*, chapter 1
  (public domain), as shipped in Debian's ``pocketsphinx-testdata`` (``sense_and_sensibility_01_austen_64kb-0920``);
  ``speech.txt`` is its transcript.
"""

from importlib import resources
from pathlib import Path

_HERE = Path(str(resources.files("talkavatar.samples")))

SAMPLE_PHOTO = _HERE / "astronaut.png"
SAMPLE_SPEECH = _HERE / "speech.wav"
SAMPLE_TRANSCRIPT = _HERE / "speech.txt"
