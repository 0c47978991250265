"""drive-audio: speech in, talking motion out (lips, face, head, blinks, gestures).

Modules, one concept each: ``load`` (decoding any audio via ffmpeg, in blocks), ``phones`` (pocketsphinx all-phone
recognition and forced alignment), ``visemes`` (phone -> viseme -> ARKit with coarticulation), ``prosody``
(loudness, pitch, accents), ``face`` (blinks, brows, head, eyes), ``gestures`` (gesture clips, stroke scheduling,
idle body), ``noise`` and ``resample`` (helpers), ``config`` (``DriveAudioConfig``), ``drive`` (the stage).
Import ``talkavatar.audio.drive.drive_audio`` for the stage; this package itself imports nothing heavy.
"""
