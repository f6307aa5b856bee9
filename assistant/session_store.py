"""Session folders in the user data dir, written so a killed process never loses a finished edit.

Layout of one session (`<data dir>/sessions/<id>/`):

    session.json      which snapshot is current, the edit script (model, seed, edits) and the
                      editor's settings that are not part of a drag (the kept mask)
    current.png       the picture of the current state
    snap-000007/      the drag session's own save (history JSON + latents) and image.png

Each save writes a whole new snapshot folder under a temporary name, renames it into place, and
only then replaces `session.json` (write + fsync + rename). Whatever moment the process dies at,
`session.json` names a complete snapshot: the new one or the one before it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

from assistant.edit_script import EditScript, ScriptError, write_atomic

HOME_ENV = "DRAGGAN_ASSISTANT_HOME"
SESSION_FORMAT = "draggan-assistant-session"
SESSION_VERSION = 1
_SNAPSHOT = re.compile(r"snap-(\d{6})")


class SessionError(Exception):
    """A session that does not exist or cannot be read."""


def data_dir() -> Path:
    """$DRAGGAN_ASSISTANT_HOME, else the platform's user data dir for the app."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return platformdirs.user_data_path("draggan-assistant", appauthor=False)


def native_log_path() -> Path:
    """Where MediaPipe's and TensorFlow Lite's own C++ log lines go, in the app and headless."""
    return data_dir() / "app.log"


def sessions_dir() -> Path:
    return data_dir() / "sessions"


def png_bytes(image: np.ndarray) -> bytes:
    buf = BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buf, format="PNG")
    return buf.getvalue()


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())


@dataclass
class SessionStore:
    """One session folder; `save` is the autosave after every change of state."""

    folder: Path

    @property
    def id(self) -> str:
        return self.folder.name

    @classmethod
    def create(cls, script: EditScript, root: Path | None = None) -> "SessionStore":
        """A new, empty session named after the time and the seed."""
        root = sessions_dir() if root is None else root
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-seed{script.seed}"
        folder = root / base
        n = 1
        while folder.exists():
            n += 1
            folder = root / f"{base}-{n}"
        folder.mkdir(parents=True)
        return cls(folder)

    @classmethod
    def open(cls, name: str | None = None, root: Path | None = None) -> "SessionStore":
        """A session by id or folder path; None means the most recently saved one."""
        root = sessions_dir() if root is None else root
        if name is None:
            found = [p.parent for p in root.glob("*/session.json")] if root.is_dir() else []
            if not found:
                raise SessionError(f"no saved sessions in {root}")
            return cls(max(found, key=lambda p: (p / "session.json").stat().st_mtime))
        for folder in (Path(name).expanduser(), root / name):
            if (folder / "session.json").is_file():
                return cls(folder)
        raise SessionError(f"no session {name!r} (neither a folder with session.json nor an id in {root})")

    def read_meta(self) -> dict[str, Any]:
        path = self.folder / "session.json"
        try:
            meta = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SessionError(f"{path}: unreadable ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != SESSION_FORMAT:
            raise SessionError(f"{path}: not a draggan-assistant session")
        return meta

    def script(self) -> EditScript:
        try:
            return EditScript.from_json(self.read_meta().get("script"))
        except ScriptError as exc:
            raise SessionError(f"{self.folder}: {exc}") from None

    def snapshot(self) -> Path:
        """The folder of the current snapshot (what `DragSession.load` reads)."""
        meta = self.read_meta()
        folder = self.folder / str(meta.get("snapshot", ""))
        if not _SNAPSHOT.fullmatch(folder.name) or not folder.is_dir():
            raise SessionError(f"{self.folder}: the snapshot named in session.json is missing")
        return folder

    def _next_snapshot(self) -> Path:
        numbers = [int(m.group(1)) for p in self.folder.iterdir() if (m := _SNAPSHOT.fullmatch(p.name))]
        return self.folder / f"snap-{max(numbers, default=0) + 1:06d}"

    def editor_state(self) -> dict[str, Any]:
        """What `save` was given as `editor_state` ({} for sessions saved before it existed)."""
        state = self.read_meta().get("editor")
        return state if isinstance(state, dict) else {}

    def save(self, write_state: Callable[[Path], None], image: np.ndarray, script: EditScript,
             editor_state: dict[str, Any] | None = None) -> Path:
        """Write a complete snapshot (`write_state(folder)` + image), then point session.json at it."""
        final = self._next_snapshot()
        tmp = self.folder / f".{final.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        write_state(tmp)
        (tmp / "image.png").write_bytes(png_bytes(image))
        _fsync_tree(tmp)
        os.replace(tmp, final)
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        created = now
        if (self.folder / "session.json").is_file():
            created = self.read_meta().get("created", now)
        meta = {"format": SESSION_FORMAT, "version": SESSION_VERSION, "id": self.id, "created": created,
                "updated": now, "snapshot": final.name, "script": script.to_json(), "editor": editor_state or {}}
        write_atomic(self.folder / "session.json", json.dumps(meta, indent=1).encode())
        write_atomic(self.folder / "current.png", (final / "image.png").read_bytes())
        for old in self.folder.iterdir():
            if old != final and (_SNAPSHOT.fullmatch(old.name) or old.name.endswith(".tmp")) and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
        return final
