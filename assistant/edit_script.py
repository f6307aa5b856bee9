"""Replayable edit scripts: the model, the seed and every drag with its points and settings.

A script holds what the user did, not the latents, so it is small, readable and can be edited
by hand. Each edit records how many steps it ran; replay runs exactly that many (a drag that was
cancelled at step 12 replays 12 steps), so on the same machine and model the result is the same
picture.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.arg_types import SEED_MAX

SCRIPT_FORMAT = "draggan-assistant-script"
SCRIPT_VERSION = 1

Point = tuple[float, float]


class ScriptError(Exception):
    """An edit script that cannot be read or does not fit the model."""


def encode_mask(mask: np.ndarray | None) -> dict[str, Any] | None:
    """Boolean H x W -> {"shape": [h, w], "packbits": base64} (a 256 x 256 mask is ~11 kB)."""
    if mask is None:
        return None
    mask = np.asarray(mask, dtype=bool)
    return {"shape": list(mask.shape), "packbits": base64.b64encode(np.packbits(mask)).decode("ascii")}


def decode_mask(data: dict[str, Any] | None) -> np.ndarray | None:
    if data is None:
        return None
    try:
        h, w = (int(v) for v in data["shape"])
        bits = np.frombuffer(base64.b64decode(data["packbits"], validate=True), dtype=np.uint8)
        flat = np.unpackbits(bits)[: h * w]
        if flat.size != h * w:
            raise ValueError("too few bits")
        return flat.reshape(h, w).astype(bool)
    except (KeyError, TypeError, ValueError) as exc:
        raise ScriptError(f"bad mask in edit script ({exc})") from None


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _points(value: Any, name: str) -> list[Point]:
    try:
        pts = [(float(x), float(y)) for x, y in value]
    except (TypeError, ValueError):
        raise ScriptError(f"edit script: {name} must be a list of [x, y] pairs") from None
    return pts


@dataclass
class ScriptEdit:
    """One drag as it happened: the text that asked for it, its points, mask, settings, steps."""

    command: str
    handles: list[Point]
    targets: list[Point]
    steps: int
    mask: np.ndarray | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    status: str = ""
    final_points: list[Point] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "handles": [[x, y] for x, y in self.handles],
            "targets": [[x, y] for x, y in self.targets],
            "mask": encode_mask(self.mask),
            "settings": self.settings,
            "steps": self.steps,
            "status": self.status,
            "final_points": [[round(x, 3), round(y, 3)] for x, y in self.final_points],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ScriptEdit":
        if not isinstance(data, dict):
            raise ScriptError("edit script: each edit must be a JSON object")
        try:
            steps = int(data["steps"])
        except (KeyError, TypeError, ValueError):
            raise ScriptError("edit script: each edit needs an integer 'steps'") from None
        if steps < 0:
            raise ScriptError("edit script: 'steps' must not be negative")
        settings = data.get("settings") or {}
        if not isinstance(settings, dict):
            raise ScriptError("edit script: 'settings' must be an object")
        return cls(command=str(data.get("command", "")), handles=_points(data.get("handles"), "handles"),
                   targets=_points(data.get("targets"), "targets"), steps=steps,
                   mask=decode_mask(data.get("mask")), settings=settings, status=str(data.get("status", "")),
                   final_points=_points(data.get("final_points", []), "final_points"))


@dataclass
class EditScript:
    """Where the picture came from (model + seed + psi) and the drags applied to it, in order.

    `source` is "seed" for a generated picture; anything else (e.g. "photo" for a fitted photo,
    whose latent and tuned generator are not in the script) is recorded but cannot be replayed.
    """

    seed: int
    psi: float
    model: str | None = None
    model_sha256: str | None = None
    edits: list[ScriptEdit] = field(default_factory=list)
    source: str = "seed"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": SCRIPT_FORMAT,
            "version": SCRIPT_VERSION,
            "model": self.model,
            "model_sha256": self.model_sha256,
            "source": self.source,
            "seed": self.seed,
            "psi": self.psi,
            "edits": [e.to_json() for e in self.edits],
        }

    @classmethod
    def from_json(cls, data: Any) -> "EditScript":
        if not isinstance(data, dict) or data.get("format") != SCRIPT_FORMAT:
            raise ScriptError(f"not an edit script (expected \"format\": \"{SCRIPT_FORMAT}\")")
        if data.get("version") != SCRIPT_VERSION:
            raise ScriptError(f"edit script version {data.get('version')!r} is not supported "
                              f"(this program reads version {SCRIPT_VERSION})")
        try:
            seed, psi = int(data["seed"]), float(data["psi"])
        except (KeyError, TypeError, ValueError, OverflowError):
            raise ScriptError("edit script needs an integer 'seed' and a number 'psi'") from None
        if not 0 <= seed <= SEED_MAX:
            raise ScriptError(f"edit script: 'seed' must be in 0..{SEED_MAX}, got {seed}")
        if not math.isfinite(psi):
            raise ScriptError(f"edit script: 'psi' must be a finite number, got {psi}")
        edits = data.get("edits")
        if not isinstance(edits, list):
            raise ScriptError("edit script: 'edits' must be a list")
        model = data.get("model")
        return cls(seed=seed, psi=psi, model=None if model is None else str(model),
                   model_sha256=data.get("model_sha256"), edits=[ScriptEdit.from_json(e) for e in edits],
                   source=str(data.get("source", "seed")))

    def require_replayable(self) -> None:
        if self.source != "seed":
            raise ScriptError(f"this script edits a {self.source}, whose fitted latent is not in the script; "
                              "only scripts of generated pictures (a seed) can be replayed")

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        write_atomic(path, json.dumps(self.to_json(), indent=1).encode())
        return path

    @classmethod
    def load(cls, path: str | Path) -> "EditScript":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except UnicodeDecodeError:
            raise ScriptError(f"{path}: not a text file") from None
        except json.JSONDecodeError as exc:
            raise ScriptError(f"{path}: not valid JSON ({exc})") from None
        return cls.from_json(data)


def script_beside(picture: Path) -> Path:
    """The script `save PATH` writes next to its picture: PATH.json, the picture's whole name plus
    `.json` (out.png -> out.png.json), so out.png and out.jpg keep separate scripts and a user's
    own out.json is never replaced."""
    return picture.with_name(picture.name + ".json")


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary sibling, flush to disk, then rename over `path`: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
