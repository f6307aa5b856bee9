"""Edit history of a drag session: undo/redo/reset and a JSON + tensors form for autosave."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .errors import DragInputError

Point = tuple[float, float]


@dataclass
class Edit:
    """One finished (or cancelled) drag: enough to show it in a list and to replay or restore it."""

    label: str
    handles: list[Point]
    targets: list[Point]
    final_points: list[Point]
    mask: np.ndarray | None
    settings: dict[str, Any]
    steps: int
    seconds: float
    status: str
    ws: torch.Tensor  # latent after the edit, (1, num_ws, w_dim)

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "handles": [list(p) for p in self.handles],
                "targets": [list(p) for p in self.targets], "final_points": [list(p) for p in self.final_points],
                "has_mask": self.mask is not None, "settings": self.settings, "steps": self.steps,
                "seconds": round(self.seconds, 4), "status": self.status}


@dataclass
class EditHistory:
    """Edits in order; the first `position` of them are applied, the rest can be redone."""

    ws0: torch.Tensor
    edits: list[Edit] = field(default_factory=list)
    position: int = 0

    @property
    def applied(self) -> list[Edit]:
        return self.edits[:self.position]

    def current_ws(self) -> torch.Tensor:
        return self.edits[self.position - 1].ws if self.position else self.ws0

    def push(self, edit: Edit) -> None:
        """A new edit discards the undone ones after the current position (linear history)."""
        del self.edits[self.position:]
        self.edits.append(edit)
        self.position = len(self.edits)

    def mark(self) -> tuple[list[Edit], int]:
        """The edits and the position now, for `restore`: a drag found to have changed nothing is
        taken back whole, with the undone edits its push discarded."""
        return list(self.edits), self.position

    def restore(self, mark: tuple[list[Edit], int]) -> None:
        self.edits, self.position = list(mark[0]), mark[1]

    def undo(self) -> bool:
        if self.position == 0:
            return False
        self.position -= 1
        return True

    def redo(self) -> bool:
        if self.position == len(self.edits):
            return False
        self.position += 1
        return True

    def reset(self) -> bool:
        """Back to the original latent; the edits stay available to redo."""
        if self.position == 0:
            return False
        self.position = 0
        return True

    def to_json(self) -> dict[str, Any]:
        return {"position": self.position, "edits": [e.to_json() for e in self.edits]}

    def tensors(self) -> dict[str, torch.Tensor]:
        out = {"ws0": self.ws0.detach().cpu().contiguous()}
        for i, edit in enumerate(self.edits):
            out[f"edit_{i}.ws"] = edit.ws.detach().cpu().contiguous()
            if edit.mask is not None:
                out[f"edit_{i}.mask"] = torch.from_numpy(edit.mask.astype(np.uint8))
        return out

    @classmethod
    def from_parts(cls, data: dict[str, Any], tensors: dict[str, torch.Tensor]) -> "EditHistory":
        try:
            edits = []
            for i, e in enumerate(data["edits"]):
                mask = tensors[f"edit_{i}.mask"].numpy().astype(bool) if e["has_mask"] else None
                edits.append(Edit(label=e["label"], handles=[tuple(p) for p in e["handles"]],
                                  targets=[tuple(p) for p in e["targets"]],
                                  final_points=[tuple(p) for p in e["final_points"]], mask=mask,
                                  settings=e["settings"], steps=int(e["steps"]), seconds=float(e["seconds"]),
                                  status=e["status"], ws=tensors[f"edit_{i}.ws"]))
            position = int(data["position"])
            ws0 = tensors["ws0"]
        except (KeyError, TypeError, ValueError) as exc:
            raise DragInputError(f"the saved edit history is incomplete or corrupt ({exc!r})") from exc
        if not 0 <= position <= len(edits):
            raise DragInputError(f"the saved edit history has an invalid position {position}")
        return cls(ws0=ws0, edits=edits, position=position)
