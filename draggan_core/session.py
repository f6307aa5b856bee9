"""A drag session: one generator, one picture, drags applied one after another with history.

Per step (the official order): synthesise the feature block for the current latent, track each
handle to the best match of its original feature, test whether all handles are at their
targets, and otherwise take one Adam step on the motion-supervision (+ mask) loss.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from stylegan2 import Generator

from .config import DragConfig, DragRadii
from .errors import DragInputError
from .features import BlockFeatures, resize_full
from .guided_tracking import track_point_near_line
from .history import Edit, EditHistory
from .motion import mask_loss, motion_loss
from .patch import FeaturePatch
from .step_control import scheduled_lr, shrink, worsened
from .stop import point_distances, stalled, targets_reached
from .template import advanced, blend_template, match_distances
from .tracking import track_point

Point = tuple[float, float]
SESSION_JSON = "session.json"
SESSION_TENSORS = "session.safetensors"
STATUSES = ("converged", "budget", "stalled", "cancelled", "nonfinite")


@dataclass
class StepResult:
    step: int  # 0-based index of this step within the drag
    points: list[Point]  # handles tracked at this step (x, y): whole pixels unless DragConfig.subpixel
    loss: float
    distances: list[float]
    done: bool  # every handle is within the stop distance; no update was made
    image: torch.Tensor | None = None  # (1, C, H, W) at this step's latent when a preview was asked
    nonfinite: bool = False  # the loss was not finite; the latent was rolled back
    backtracked: bool = False  # the last update made the match worse; it was undone (backtrack_tolerance)


@dataclass
class DragResult:
    status: str  # one of STATUSES
    steps: int
    seconds: float
    points: list[Point]
    distances: list[float]
    message: str

    @property
    def final_points(self) -> list[Point]:
        return self.points


@dataclass
class _Drag:
    """State of the drag in progress."""

    handles: list[Point]
    targets: list[Point]
    mask: np.ndarray | None
    fixed: torch.Tensor | None  # 1 where the image must stay, (H, W) float; None without a mask term
    label: str
    base: torch.Tensor  # latent at the start of the drag
    param: torch.Tensor  # what Adam optimises
    optimizer: torch.optim.Adam
    points: list[Point]
    references: torch.Tensor | None = None  # (N, C) features of the handles at the start
    low0: torch.Tensor | None = None  # the block's map at the start (for the mask term)
    steps: int = 0
    seconds: float = 0.0
    updated_since_track: bool = False
    snapshot: tuple[torch.Tensor, dict, list[Point], torch.Tensor] | None = field(default=None, repr=False)
    match: float | None = None  # mean match distance of the last accepted step (backtracking)
    lr_factor: float = 1.0  # step-size factor left by backtracking


class DragSession:
    """Owns the generator, the current latent, the drag in progress and the edit history."""

    def __init__(self, G: Generator, ws0: torch.Tensor, config: DragConfig | None = None):
        expected = (1, G.num_ws, G.w_dim)
        if tuple(ws0.shape) != expected:
            raise DragInputError(f"the latent must have shape {expected}, got {tuple(ws0.shape)}")
        self.G = G.requires_grad_(False)
        self.config = config or DragConfig()
        self.history = EditHistory(ws0=ws0.detach().clone().to(torch.float32))
        self.height = self.width = G.img_resolution
        self._drag: _Drag | None = None
        self._image: torch.Tensor | None = None
        self._image_of: torch.Tensor | None = None
        self._lock = threading.RLock()

    # ----- the picture -------------------------------------------------------------------------
    @property
    def ws(self) -> torch.Tensor:
        """The current latent: the drag in progress, else the last applied edit. (Waits for a step
        running in another thread, so the latent is never read half-updated.)"""
        with self._lock:
            if self._drag is not None:
                return self._drag_ws(self._drag).detach().clone()
            return self.history.current_ws()

    @property
    def dragging(self) -> bool:
        return self._drag is not None

    def image(self) -> torch.Tensor:
        """(1, C, H, W) image of the current latent, rendered once per latent."""
        ws = self.ws
        if self._image is None or self._image_of is None or not torch.equal(self._image_of, ws):
            self._image = self.render(ws)
            self._image_of = ws.clone()
        return self._image

    def render(self, ws: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.G.synthesis(ws, noise_mode="const")

    @property
    def radii(self) -> DragRadii:
        return self.config.radii(self.height)

    # ----- starting a drag ---------------------------------------------------------------------
    def start_drag(self, handles: Sequence[Point], targets: Sequence[Point], mask: np.ndarray | None = None,
                   label: str = "", config: DragConfig | None = None) -> None:
        """Validate everything first (DragInputError, nothing changed), then set up the optimiser.
        An unfinished drag in progress is kept as a cancelled edit."""
        cfg = config or self.config
        hs = self._check_points(handles, "handle")
        ts = self._check_points(targets, "target")
        if len(hs) != len(ts):
            raise DragInputError(f"{len(hs)} handle(s) but {len(ts)} target(s): give one target per handle")
        fixed = self._check_mask(mask)
        rounded = [(int(round(x)), int(round(y))) for x, y in hs]
        starts = hs if cfg.subpixel else rounded
        self._check_distance(starts, ts, cfg.radii(self.height).stop)
        if fixed is not None:
            self._check_handles_in_mask(rounded, fixed)
        block = cfg.block_index(len(self.G.synthesis.blocks))
        with self._lock:
            if self._drag is not None:
                self.finish_drag("cancelled")
            self.config = cfg
            self._features = BlockFeatures(self.G, block)
            base = self.history.current_ws().detach().clone()
            k = min(cfg.num_optimized_layers, self.G.num_ws)
            if cfg.w_plus:
                param = base[:, :k].clone().requires_grad_(True)
            else:
                param = torch.zeros(1, 1, self.G.w_dim, requires_grad=True)
            self._drag = _Drag(handles=list(starts), targets=ts, mask=None if mask is None else np.asarray(mask, bool).copy(),
                               fixed=fixed, label=label, base=base, param=param,
                               optimizer=torch.optim.Adam([param], lr=cfg.step_size(self.height)), points=list(starts))

    def _check_points(self, points: Sequence[Point], kind: str) -> list[Point]:
        try:
            pts = [(float(p[0]), float(p[1])) for p in points]
            if any(len(p) != 2 for p in points):
                raise ValueError
        except (TypeError, ValueError, IndexError):
            raise DragInputError(f"{kind}s must be a list of (x, y) pixel pairs") from None
        if not pts:
            raise DragInputError(f"no {kind}s given: a drag needs at least one handle and its target")
        for i, (x, y) in enumerate(pts, 1):
            if not (math.isfinite(x) and math.isfinite(y) and 0 <= x <= self.width - 1 and 0 <= y <= self.height - 1):
                raise DragInputError(f"{kind} {i} ({x:g}, {y:g}) is outside the {self.width}x{self.height} image "
                                     f"(x must be in 0..{self.width - 1}, y in 0..{self.height - 1})")
        return pts

    @staticmethod
    def _check_distance(handles: list[Point], targets: list[Point], stop: float) -> None:
        """A drag whose handles all start within the stop distance would end at its first step
        having changed nothing, and report that as reaching its targets."""
        far = max(point_distances(handles, targets))
        if far <= stop:
            raise DragInputError(f"nothing to drag: every handle is already within {stop:g} px of its target "
                                 f"(the farthest is {far:.1f} px away); put the targets farther away")

    @staticmethod
    def _check_handles_in_mask(handles: list[tuple[int, int]], fixed: torch.Tensor) -> None:
        """A mask that holds none of a handle keeps it fixed: the drag would push against its own mask."""
        for i, (x, y) in enumerate(handles, 1):
            if fixed[y, x] > 0:
                raise DragInputError(f"handle {i} ({x}, {y}) is outside the mask, the region that may change, so it "
                                     "cannot move; use a mask that contains the handles, or none")

    def _check_mask(self, mask: np.ndarray | None) -> torch.Tensor | None:
        if mask is None:
            return None
        m = np.asarray(mask)
        if m.shape != (self.height, self.width):
            raise DragInputError(f"the mask must be {self.height}x{self.width} (H x W) to match the image, "
                                 f"got shape {m.shape}")
        if m.dtype != bool and not np.isin(m, (0, 1)).all():
            raise DragInputError("the mask must be boolean (True = may change)")
        m = m.astype(bool)
        if not m.any():
            raise DragInputError("the mask is empty: mark at least one pixel that may change")
        if m.all():
            return None
        return torch.from_numpy((~m).astype(np.float32))

    # ----- stepping ----------------------------------------------------------------------------
    def _drag_ws(self, d: _Drag) -> torch.Tensor:
        k = min(self.config.num_optimized_layers, self.G.num_ws)
        if self.config.w_plus:
            return torch.cat([d.param, d.base[:, k:]], dim=1)
        return torch.cat([d.base[:, :k] + d.param, d.base[:, k:]], dim=1)

    def _require_drag(self) -> _Drag:
        if self._drag is None:
            raise DragInputError("no drag in progress: start one with handles and targets first")
        return self._drag

    def _patches(self, d: _Drag, ws: torch.Tensor) -> tuple[list[FeaturePatch], torch.Tensor | None]:
        """One feature patch per handle, and the mask term's feature change at image resolution.
        The loss and the tracking read only windows around the handles; without a mask term only
        those windows are synthesised, with one the block's whole map is (the mask term reads every
        pixel) and the windows are cut from it. `local_features=False` uses the full resized map
        for everything, as the official code does."""
        radii = self.radii
        half = radii.tracking + radii.motion + 4  # the tracking window, then the disk around the tracked point
        centers = [(int(round(x)), int(round(y))) for x, y in d.points]
        if self.config.local_features and d.fixed is None:
            patches = self._features.window_patches(ws, centers, half)
            change = None
        else:
            low = self._features.low(ws)
            if d.low0 is None and d.fixed is not None:
                d.low0 = low.detach()
            if self.config.local_features:
                patches = self._features.window_patches(ws, centers, half, low=low)
            else:
                patches = [self._features.full_patch(low)] * len(d.points)
            change = resize_full(low - d.low0, self.height, self.width) if d.fixed is not None else None
        if d.references is None:
            d.references = _features_at(patches, d.handles)
        return patches, change

    def step(self, preview: bool = False) -> StepResult:
        with self._lock:
            d = self._require_drag()
            t0 = time.perf_counter()
            radii = self.radii
            ws = self._drag_ws(d)
            with torch.enable_grad():
                patches, change = self._patches(d, ws)
                points = [self._track_one(d, j, p) for j, p in enumerate(patches)]
                distances = point_distances(points, d.targets)
                done = targets_reached(distances, radii.stop)
                loss = sum(motion_loss(p, pt, t, radii.motion, self.config.linspace_grid, self.config.subpixel)
                           for p, pt, t in zip(patches, points, d.targets))
                if change is not None:
                    loss = loss + mask_loss(change, d.fixed, self.config.mask_weight(self.height))
                loss_value = float(loss.detach())
                image = self.render(ws.detach()) if preview else None
                nonfinite = not math.isfinite(loss_value)
                backtracked = False
                if nonfinite:
                    self._roll_back(d)
                    points = list(d.points)
                    distances = point_distances(points, d.targets)
                    done = False
                elif not done and self._should_backtrack(d, patches, points):
                    self._roll_back(d)
                    points = list(d.points)
                    distances = point_distances(points, d.targets)
                    backtracked = True
                elif not done and loss.requires_grad:
                    self._adapt_templates(d, patches, points)
                    d.snapshot = (d.param.detach().clone(), _clone_state(d.optimizer.state_dict()), list(points),
                                  d.references.clone())
                    self._schedule_lr(d)
                    d.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    d.optimizer.step()
                    if not torch.isfinite(d.param).all():
                        self._roll_back(d)
                        nonfinite = True
            if not nonfinite:
                d.points = points
            d.updated_since_track = not done and not nonfinite and not backtracked and loss.requires_grad
            result = StepResult(step=d.steps, points=list(points), loss=loss_value, distances=distances,
                                done=done, image=image, nonfinite=nonfinite, backtracked=backtracked)
            d.steps += 1
            d.seconds += time.perf_counter() - t0
            return result

    def _roll_back(self, d: _Drag) -> None:
        if d.snapshot is None:
            return
        param, state, points, references = d.snapshot
        with torch.no_grad():
            d.param.copy_(param)
        d.optimizer.load_state_dict(state)
        d.points = list(points)
        d.references = references.clone()

    # ----- options beyond the official method (DragConfig's last block; all off by default) -----
    def _track_one(self, d: _Drag, j: int, patch: FeaturePatch) -> Point:
        """Handle j's new position: the official window search, or only near its path (line_width)."""
        radius = self.radii.tracking
        if self.config.line_width is None:
            return track_point(patch, d.references[j], d.points[j], radius, self.config.subpixel)
        return track_point_near_line(patch, d.references[j], d.points[j], radius, d.handles[j], d.targets[j],
                                     self.config.line_width, self.config.subpixel)

    def _should_backtrack(self, d: _Drag, patches: list[FeaturePatch], points: list[Point]) -> bool:
        """With backtrack_tolerance: True when the content at the tracked points matches its templates
        worse than after the previous accepted step by more than the tolerance, and the step size
        can still be halved (then it is, for the retried step)."""
        tolerance = self.config.backtrack_tolerance
        if tolerance is None:
            return False
        current = float(match_distances(_features_at(patches, points), d.references).mean())
        if d.snapshot is not None and worsened(d.match, current, tolerance):
            factor = shrink(d.lr_factor)
            if factor is not None:
                d.lr_factor = factor
                return True
        d.match = current
        return False

    def _adapt_templates(self, d: _Drag, patches: list[FeaturePatch], points: list[Point]) -> None:
        """With template_rate: each handle that got closer to its target blends its new feature into
        its template."""
        rate = self.config.template_rate
        if rate == 0:
            return
        features = _features_at(patches, points)
        for j, (before, now, target) in enumerate(zip(d.points, points, d.targets)):
            if advanced(before, now, target):
                d.references[j] = blend_template(d.references[j], features[j], rate)

    def _schedule_lr(self, d: _Drag) -> None:
        """With lr_decay or backtracking: this update's step size (the official lr stays untouched)."""
        if self.config.lr_decay == 1.0 and self.config.backtrack_tolerance is None:
            return
        lr = scheduled_lr(self.config.step_size(self.height), d.steps, self.config.lr_decay) * d.lr_factor
        for group in d.optimizer.param_groups:
            group["lr"] = lr

    def _track_only(self, d: _Drag) -> list[Point]:
        """Handle positions for the current latent, without an update (after the last step)."""
        with torch.no_grad():
            patches, _ = self._patches(d, self._drag_ws(d))
            return [self._track_one(d, j, p) for j, p in enumerate(patches)]

    # ----- running and finishing ---------------------------------------------------------------
    def run(self, max_steps: int | None = None, progress: Callable[[StepResult], None] | None = None,
            cancel: Callable[[], bool] | threading.Event | None = None, preview_every: float = 2.0) -> DragResult:
        """Step until the handles reach their targets, the budget is spent, the farthest handle
        stalls (`DragConfig.stall_patience`), `cancel` says so, or the loss stops being finite;
        then commit the edit to the history (also when cancelled).

        `progress` gets every StepResult; at most one every `preview_every` seconds carries an
        image, because a preview costs a full synthesis (more than a whole step at 512 px)."""
        self._require_drag()
        budget = max_steps if max_steps is not None else self.config.max_steps
        if budget < 1:
            raise DragInputError(f"the step budget must be at least 1, got {budget}")
        is_cancelled = cancel.is_set if isinstance(cancel, threading.Event) else cancel
        status = "budget"
        last_preview = -math.inf
        farthest: list[float] = []
        for _ in range(budget):
            if is_cancelled is not None and is_cancelled():
                status = "cancelled"
                break
            want_preview = progress is not None and time.monotonic() - last_preview >= preview_every
            result = self.step(preview=want_preview)
            if want_preview:
                last_preview = time.monotonic()
            if progress is not None:
                progress(result)
            if result.nonfinite:
                status = "nonfinite"
                break
            if result.done:
                status = "converged"
                break
            farthest.append(max(result.distances))
            patience = self.config.stall_patience
            if patience is not None and stalled(farthest, patience, self.config.stall_min_improvement):
                status = "stalled"
                break
        return self.finish_drag(status)

    def finish_drag(self, status: str = "cancelled") -> DragResult:
        """End the drag in progress and record it as an edit (undoable like any other)."""
        if status not in STATUSES:
            raise DragInputError(f"unknown drag status {status!r}")
        with self._lock:
            d = self._require_drag()
            if d.updated_since_track:
                t0 = time.perf_counter()
                d.points = self._track_only(d)
                d.seconds += time.perf_counter() - t0
            distances = point_distances(d.points, d.targets)
            ws = self._drag_ws(d).detach().clone()
            edit = Edit(label=d.label, handles=[tuple(map(float, h)) for h in d.handles],
                        targets=list(d.targets), final_points=[tuple(map(float, p)) for p in d.points],
                        mask=d.mask, settings=self.config.to_dict(), steps=d.steps, seconds=d.seconds,
                        status=status, ws=ws)
            self.history.push(edit)
            self._drag = None
            return DragResult(status=status, steps=d.steps, seconds=d.seconds, points=list(d.points),
                              distances=distances, message=_message(status, d.steps, d.seconds, distances))

    # ----- history -----------------------------------------------------------------------------
    def _history_op(self, op: Callable[[], bool]) -> bool:
        with self._lock:
            if self._drag is not None:
                raise DragInputError("a drag is in progress: cancel or finish it first")
            return op()

    def undo(self) -> bool:
        """Step back one edit; False when there is nothing to undo."""
        return self._history_op(self.history.undo)

    def redo(self) -> bool:
        return self._history_op(self.history.redo)

    def reset(self) -> bool:
        """Back to the original latent (the edits can still be redone)."""
        return self._history_op(self.history.reset)

    # ----- persistence -------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write `session.json` (settings, history) and `session.safetensors` (latents, masks)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"format": "draggan-session", "version": 1, "img_resolution": self.G.img_resolution,
                "num_ws": self.G.num_ws, "w_dim": self.G.w_dim, "config": self.config.to_dict(),
                "history": self.history.to_json()}
        save_file(self.history.tensors(), str(folder / SESSION_TENSORS))
        (folder / SESSION_JSON).write_text(json.dumps(meta, indent=1))
        return folder

    @classmethod
    def load(cls, folder: str | Path, G: Generator) -> "DragSession":
        folder = Path(folder)
        try:
            meta = json.loads((folder / SESSION_JSON).read_text())
            tensors = load_file(str(folder / SESSION_TENSORS))
        except (OSError, ValueError) as exc:
            raise DragInputError(f"cannot read a saved session in {folder}: {exc}") from exc
        if (meta.get("img_resolution"), meta.get("num_ws"), meta.get("w_dim")) != (G.img_resolution, G.num_ws, G.w_dim):
            raise DragInputError(f"the session in {folder} was made with a {meta.get('img_resolution')}px generator "
                                 f"(num_ws {meta.get('num_ws')}, w_dim {meta.get('w_dim')}); this one is "
                                 f"{G.img_resolution}px (num_ws {G.num_ws}, w_dim {G.w_dim})")
        history = EditHistory.from_parts(meta["history"], tensors)
        session = cls(G, history.ws0, DragConfig.from_dict(meta.get("config", {})))
        session.history = history
        return session


def _features_at(patches: list[FeaturePatch], points: list[tuple[float, float]]) -> torch.Tensor:
    """(N, C) detached features of each handle's patch at its point (bilinear between pixels)."""
    return torch.stack([p.feature(pt).detach() for p, pt in zip(patches, points)])


def _clone_state(state: dict[str, Any]) -> dict[str, Any]:
    return {k: ({i: {n: (v.clone() if torch.is_tensor(v) else v) for n, v in s.items()} for i, s in state[k].items()}
                if k == "state" else v) for k, v in state.items()}


def _message(status: str, steps: int, seconds: float, distances: list[float]) -> str:
    far = max(distances) if distances else 0.0
    if status == "converged":
        return f"reached the targets in {steps} steps ({seconds:.1f} s)"
    if status == "budget":
        return f"stopped after {steps} steps (the budget); the farthest handle is {far:.1f} px from its target"
    if status == "stalled":
        return f"stalled after {steps} steps: the farthest handle stopped getting closer, {far:.1f} px from its target"
    if status == "cancelled":
        return f"cancelled after {steps} steps; the partial edit is kept (undo reverts it)"
    return (f"the optimisation diverged (non-finite loss) after {steps} steps; rolled back to the last good "
            f"step; try a smaller step size (lr)")
