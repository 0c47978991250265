"""The demo: the whole pipeline on the bundled sample photo and speech (``talkavatar demo``)."""
