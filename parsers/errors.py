"""Exception types for the speech layer.

Everything a user can get wrong with audio (no microphone, no PortAudio, an unreadable or silent
file) or with Whisper weights (a corrupt checkpoint, a failed conversion, no weights offline)
surfaces as an `AudioError`, which the CLI prints as one line; typed commands keep working.
"""


class AudioError(Exception):
    """Audio could not be captured, read or transcribed; the message says why and what to do."""


class WhisperWeightsError(AudioError):
    """Whisper weights are missing, corrupt or could not be converted."""
