"""Speech, text and keypoints -> drag commands (handles, targets, mask)."""

from .command import Command
from .errors import AudioError
from .parser import CommandParser
from .speech import SpeechConfig, Transcriber

__all__ = ["AudioError", "Command", "CommandParser", "SpeechConfig", "Transcriber"]
