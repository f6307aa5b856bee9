"""One exception type for every checkpoint problem a user can cause.

The CLI prints its message as a single line; nothing the user did wrong shows a traceback.
Messages quote names and values read from the file, which a hostile or corrupt file can fill
with newlines, terminal escape sequences or megabytes of text, so the message is made one short
printable line here, once, for every raiser, and values are quoted with `shown`, whose output
stays short whatever the value (deeply nested, a 5000-digit integer, an object with its own repr).
"""

import reprlib
from typing import Any

MAX_MESSAGE = 500


def printable_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` with every non-printable character escaped (`\\n`, `\\x1b`, ...), cut to `limit`."""
    line = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    return line if len(line) <= limit else line[: limit - 3] + "..."


class _ShortRepr(reprlib.Repr):
    """repr for messages about values read from a file: bounded in depth and length, and safe
    for integers past Python's digit limit and for objects whose own repr could recurse."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxstring, self.maxother = 3, 60, 60

    def repr_int(self, x: int, level: int) -> str:
        return super().repr_int(x, level) if x.bit_length() <= 64 else f"<an integer of {x.bit_length()} bits>"

    def repr_instance(self, x: Any, level: int) -> str:
        plain = isinstance(x, (float, complex, bool, type(None), bytes))
        return super().repr_instance(x, level) if plain else f"<{type(x).__name__}>"


def shown(value: Any) -> str:
    """A value from a file, quoted for a message."""
    return _ShortRepr().repr(value)


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable, corrupt, unsafe or does not fit its config."""

    def __init__(self, message: str) -> None:
        super().__init__(printable_line(message))
