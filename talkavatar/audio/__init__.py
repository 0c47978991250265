"""drive-audio: speech in, talking motion out (lips, face, head, blinks, gestures).

Modules, one concept each: ``load`` (decoding any audio, in blocks), ``phones`` (phone segments; pocketsphinx
forced alignment), ``sphinx_model`` (reading pocketsphinx's bundled en-us acoustic model), ``sphinx_features``
(its front end, vectorised), ``phone_loop`` (our phone recogniser on that model), ``visemes`` (phone -> viseme ->
ARKit with coarticulation), ``prosody`` (loudness, pitch, accents), ``face`` (blinks, brows, head, eyes),
``gestures`` (the motion library's stroke gestures on accents, idle body), ``noise`` and ``resample`` (helpers),
``config`` (``DriveAudioConfig``), ``drive`` (the stage).
Import ``talkavatar.audio.drive.drive_audio`` for the stage; this package itself imports nothing heavy.
"""
