"""Reading a picture to ground commands on, with one-line errors for unreadable files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError


class ImageError(ValueError):
    """An image file that cannot be read as a picture; the message names the file."""


def load_image(path: str | Path) -> np.ndarray:
    """H x W x 3 uint8 RGB from any file Pillow reads (a missing file stays FileNotFoundError)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such image file")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageError(f"{path}: not a readable image ({exc.__class__.__name__})") from None
