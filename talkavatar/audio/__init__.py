"""drive-audio: speech in, talking motion out (lips, face, head, blinks, gestures)."""
