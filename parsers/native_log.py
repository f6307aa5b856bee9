"""Where the C++ libraries' own log lines go (MediaPipe, TensorFlow Lite).

They write straight to file descriptor 2, past Python's `sys.stderr`, so a headless command's
stderr (its progress and its one `error:` line) carried lines like `W0000 ...
inference_feedback_manager.cc ...`. `native_output()` points fd 2 at the native-library log
(the app's, named by `log_to`) for the length of a call into such a library, then restores it.
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

_lock = threading.Lock()
_depth = 0  # calls inside native_output() now: only the first redirects, only the last restores
_saved_fd: int | None = None
_log_path: Path | None = None


def log_to(path: Path | None) -> None:
    """Send native log lines to `path` (appended, made on first use); None discards them."""
    global _log_path
    _log_path = path


def _open_target() -> int:
    if _log_path is not None:
        try:
            _log_path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(_log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError:
            pass  # an unwritable log must not stop the command: the lines are dropped instead
    return os.open(os.devnull, os.O_WRONLY)


@contextmanager
def native_output() -> Iterator[None]:
    """Redirect fd 2 for the calls inside; safe to nest and to use from several threads."""
    global _depth, _saved_fd
    with _lock:
        if _depth == 0:
            sys.stderr.flush()
            target = _open_target()
            _saved_fd = os.dup(2)
            os.dup2(target, 2)
            os.close(target)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved_fd is not None:
                os.dup2(_saved_fd, 2)
                os.close(_saved_fd)
                _saved_fd = None
