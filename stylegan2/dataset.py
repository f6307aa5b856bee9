"""Training images from a folder, a `.zip` or a `.tar(.gz)`, decoded once into memory.

At 64 px, 10,000 faces are 123 MB of uint8: holding them in RAM removes the data loader (and
its worker processes) from the training loop entirely, which is what keeps a launch-bound GPU
loop fed. Aligned CelebA images are cropped to a square around the face first, the same way
`../shared/tools/face_fd.py` crops its reference set, so training and evaluation see the same
framing.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .batch_rows import BatchRows

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class DataError(Exception):
    """A training data set is missing, empty, unreadable or holds a corrupt image."""


def celeba_crop_box(width: int, height: int, crop: str) -> tuple[int, int, int, int] | None:
    """Square crop box for aligned CelebA: 89x109 -> 89x89 from y=10, 178x218 -> 178x178 from y=20.

    crop='auto' applies it only to those two sizes and centre-crops other non-square images;
    'celeba' scales the rule to any size; 'none' keeps the whole image (it is then stretched)."""
    if crop == "none":
        return None
    if crop == "celeba" or (width, height) in ((89, 109), (178, 218)):
        top = round(10 * width / 89)
        return 0, top, width, top + width
    if crop != "auto":
        raise DataError(f"unknown crop {crop!r}: use auto, celeba or none")
    if width == height:
        return None
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def prepare_image(im: Image.Image, resolution: int, crop: str = "auto") -> np.ndarray:
    """PIL image -> (resolution, resolution, 3) uint8: RGB, face crop, LANCZOS resize."""
    im = im.convert("RGB")
    box = celeba_crop_box(im.width, im.height, crop)
    if box is not None:
        im = im.crop(box)
    if im.size != (resolution, resolution):
        im = im.resize((resolution, resolution), Image.LANCZOS)
    return np.asarray(im, dtype=np.uint8)


def _members(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every image file in a folder, zip or tar, sorted by name."""
    name = path.name.lower()
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
                yield str(p.relative_to(path)), p.read_bytes()
    elif name.endswith(".zip"):
        try:
            with zipfile.ZipFile(path) as zf:
                for info in sorted(zf.infolist(), key=lambda i: i.filename):
                    if not info.is_dir() and info.filename.lower().endswith(IMAGE_SUFFIXES):
                        yield info.filename, zf.read(info)
        except (zipfile.BadZipFile, zlib.error) as exc:
            raise DataError(f"{path}: not a readable zip archive ({exc})") from None
    elif name.endswith((".tar", ".tar.gz", ".tgz")):
        try:
            with tarfile.open(path) as tf:
                members = sorted((m for m in tf.getmembers() if m.isfile()
                                  and m.name.lower().endswith(IMAGE_SUFFIXES)), key=lambda m: m.name)
                for m in members:
                    fh = tf.extractfile(m)
                    yield m.name, fh.read() if fh is not None else b""
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise DataError(f"{path}: not a readable tar archive ({exc})") from None
    else:
        raise DataError(f"{path}: expected a folder, a .zip or a .tar/.tar.gz/.tgz of images")


def load_images(path: str | Path, resolution: int = 64, crop: str = "auto", limit: int | None = None) -> np.ndarray:
    """All images of a data set as one (N, resolution, resolution, 3) uint8 array."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    out = []
    for name, data in _members(path):
        try:
            with Image.open(io.BytesIO(data)) as im:
                out.append(prepare_image(im, resolution, crop))
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
            raise DataError(f"{path}: image {name} is corrupt or not an image ({exc})") from None
        if limit is not None and len(out) >= limit:
            break
    if not out:
        raise DataError(f"{path}: no images found (looked for {', '.join(IMAGE_SUFFIXES)})")
    return np.stack(out)


class ImageBank:
    """Images held on the training device as uint8 NCHW; batches are random draws with
    random horizontal flips (faces are left-right symmetric, so flips double the data)."""

    def __init__(self, images: np.ndarray, device: torch.device | str = "cpu", xflip: bool = True):
        self.images = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous().to(device)
        self.xflip = xflip

    def __len__(self) -> int:
        return self.images.shape[0]

    def batch(self, size: int, generator: torch.Generator | None = None, rows: BatchRows | None = None) -> torch.Tensor:
        """(size, 3, H, W) float in [-1, 1]; with `rows`, only this process's rows of a batch of
        `size` (indices and flips drawn for the whole batch, see `stylegan2.batch_rows`)."""
        dev = self.images.device
        rows = rows if rows is not None else BatchRows(size)
        if rows.total != size:
            raise ValueError(f"rows of a batch of {rows.total} asked for in a batch of {size}")
        idx = rows.randint(0, len(self), device=dev, generator=generator)
        x = self.images[idx].to(torch.float32) / 127.5 - 1
        if self.xflip:
            flip = rows.rand(1, 1, 1, device=dev, generator=generator) < 0.5
            x = torch.where(flip, x.flip(3), x)
        return x
