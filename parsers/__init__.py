"""Speech, text and keypoints -> drag commands (handles, targets, mask)."""

from .command import Command
from .parser import CommandParser

__all__ = ["Command", "CommandParser"]
