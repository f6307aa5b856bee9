"""One exception type for every checkpoint problem a user can cause.

The CLI prints its message as a single line; nothing the user did wrong shows a traceback.
"""


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable, corrupt, unsafe or does not fit its config."""
