"""One exception type for every checkpoint problem a user can cause.

The CLI prints its message as a single line; nothing the user did wrong shows a traceback.
Messages quote names and values read from the file, which a hostile or corrupt file can fill
with newlines, terminal escape sequences or megabytes of text, so the message is made one short
printable line here, once, for every raiser.
"""

MAX_MESSAGE = 500


def printable_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` with every non-printable character escaped (`\\n`, `\\x1b`, ...), cut to `limit`."""
    line = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    return line if len(line) <= limit else line[: limit - 3] + "..."


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable, corrupt, unsafe or does not fit its config."""

    def __init__(self, message: str) -> None:
        super().__init__(printable_line(message))
