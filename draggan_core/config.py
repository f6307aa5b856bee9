"""Drag hyper-parameters and how they scale with the image resolution.

The official renderer expresses its radii for a 512-px image and scales them with
`round(r / 512 * h)`; at 64 px that rounds the motion radius to 0 (an empty loss), hence the
minimum radii here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .errors import DragInputError

OFFICIAL_FEATURE_BLOCK = 5
SUBPIXEL_MIN_STOP = 0.1
# Below this resolution a drag takes larger steps against a weaker mask (see `step_size`).
SMALL_GENERATOR_RESOLUTION = 256
PAPER_LR, SMALL_LR = 2e-3, 5e-3
PAPER_LAMBDA_MASK, SMALL_LAMBDA_MASK = 20.0, 2.0


@dataclass(frozen=True)
class DragRadii:
    """Radii in image pixels for one resolution."""

    motion: int
    tracking: int
    stop: float


@dataclass(frozen=True)
class DragConfig:
    """Everything that changes the result of a drag.

    Radii `r1` (motion supervision) and `r2` (tracking) are given for a 512-px image, as in the
    paper and the official code, and scaled to the generator's resolution.
    """

    lr: float | None = None  # None = per resolution (`step_size`)
    r1: float = 3.0
    r2: float = 12.0
    min_motion_radius: int = 2
    min_tracking_radius: int = 3
    stop_distance: float | None = None
    feature_block: int | None = None
    w_plus: bool = True
    num_optimized_layers: int = 6
    lambda_mask: float | None = None  # None = per resolution (`mask_weight`)
    max_steps: int = 300
    linspace_grid: bool = False
    local_features: bool = True
    # A drag ends as "stalled" when `stall_patience` steps bring the farthest handle no
    # `stall_min_improvement` px closer than it had been (seen: 7.3 px off for 60+ steps while the
    # handle drifted sideways); None runs the whole budget, as the official code does.
    stall_patience: int | None = 40
    stall_min_improvement: float = 0.5

    # ----- Beyond the official method (FreeDrag-style tracking and step control, issue 18) -----
    # Each is off at its default, so DragConfig() and DragConfig.official() behave as without them.
    # Measured with `draggan-assistant benchmark landmarks` (docs/drag-core.md).
    template_rate: float = 0.0  # adaptive template: blend of the tracked feature into it when a handle advances
    line_width: float | None = None  # line-constrained tracking: only pixels this close to the handle-target segment
    backtrack_tolerance: float | None = None  # undo a step whose match distance grew by this fraction; halve the step
    lr_decay: float = 1.0  # step-size schedule: lr * lr_decay ** step
    subpixel: bool = False  # track between pixels and push handles closer than 1 px (small generators)

    def __post_init__(self) -> None:
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise DragInputError(f"the step size (lr) must be a positive number, got {self.lr}")
        if self.r1 <= 0 or self.r2 <= 0:
            raise DragInputError("the radii r1 and r2 must be positive")
        if self.min_motion_radius < 1 or self.min_tracking_radius < 1:
            raise DragInputError("the minimum radii must be at least 1 pixel")
        if self.num_optimized_layers < 1:
            raise DragInputError("at least one latent layer must be optimised")
        if self.max_steps < 1:
            raise DragInputError(f"the step budget must be at least 1, got {self.max_steps}")
        if self.stop_distance is not None and not self.stop_distance >= self.min_stop_distance:
            raise DragInputError(f"the stop distance must be at least {self.min_stop_distance:g} pixel"
                                 + (" (closer handles are not pushed; subpixel tracking allows less)"
                                    if not self.subpixel else ""))
        if self.lambda_mask is not None and not self.lambda_mask >= 0:
            raise DragInputError("the mask weight lambda_mask must not be negative")
        if self.stall_patience is not None and self.stall_patience < 1:
            raise DragInputError(f"the stall patience must be at least 1 step (or None), got {self.stall_patience}")
        if not (self.stall_min_improvement >= 0 and math.isfinite(self.stall_min_improvement)):
            raise DragInputError(f"the stall test's minimum improvement must be a number of pixels >= 0, "
                                 f"got {self.stall_min_improvement}")
        self._check_tracking_extras()

    def _check_tracking_extras(self) -> None:
        """Validation of the block of options beyond the official method."""
        if not 0.0 <= self.template_rate <= 1.0:
            raise DragInputError(f"template_rate must be in 0..1, got {self.template_rate}")
        if self.line_width is not None and not self.line_width >= 0:
            raise DragInputError(f"line_width must be a non-negative number of pixels, got {self.line_width}")
        if self.backtrack_tolerance is not None and not self.backtrack_tolerance >= 0:
            raise DragInputError(f"backtrack_tolerance must not be negative, got {self.backtrack_tolerance}")
        if not 0.0 < self.lr_decay <= 1.0:
            raise DragInputError(f"lr_decay must be in (0, 1], got {self.lr_decay}")

    @property
    def min_stop_distance(self) -> float:
        """The closest a drag can be asked to bring its handles: 1 px where points move in whole pixels
        and a handle within 1 px is not pushed (the official rule), a tenth of a pixel with `subpixel`."""
        return SUBPIXEL_MIN_STOP if self.subpixel else 1.0

    @classmethod
    def official(cls, **overrides: Any) -> "DragConfig":
        """The official DragGAN renderer's behaviour (the parity setting): lr 1e-3, the
        `linspace(0, h, h)` motion-disk grid, feature block 5, lambda 20, no step limit to speak of
        and no stall test."""
        base = cls(lr=1e-3, linspace_grid=True, feature_block=OFFICIAL_FEATURE_BLOCK, max_steps=10_000,
                   stall_patience=None, lambda_mask=PAPER_LAMBDA_MASK)
        return replace(base, **overrides)

    def with_overrides(self, **overrides: Any) -> "DragConfig":
        unknown = set(overrides) - {f.name for f in fields(self)}
        if unknown:
            raise DragInputError(f"unknown drag setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DragConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def step_size(self, resolution: int) -> float:
        """Adam's step size: `lr` if set, else the paper's 2e-3 from 256 px up and 5e-3 below.

        At 64 px the paper's step with its mask weight (`mask_weight`) holds a masked drag still:
        on 20 held-out photos (CelebA 9,511-9,530, the 990.3-kimg face model) "make her smile",
        "open the mouth", "raise the eyebrows" and "close the eyes" moved their measure in 0 of 80
        edits (55 refused: no pixel changed), and in 48 of 80 with lr 5e-3 and mask weight 2
        (docs/photos.md)."""
        if self.lr is not None:
            return self.lr
        return PAPER_LR if resolution >= SMALL_GENERATOR_RESOLUTION else SMALL_LR

    def mask_weight(self, resolution: int) -> float:
        """DragGAN's lambda for the unmasked region: `lambda_mask` if set, else the paper's 20 from
        256 px up and 2 below (see `step_size`)."""
        if self.lambda_mask is not None:
            return self.lambda_mask
        return PAPER_LAMBDA_MASK if resolution >= SMALL_GENERATOR_RESOLUTION else SMALL_LAMBDA_MASK

    def radii(self, resolution: int) -> DragRadii:
        """Pixel radii at this resolution: the official scaling with Python's round (half to even),
        then the minimums; the stop distance is the official max(2/512*h, 2) unless set."""
        motion = max(round(self.r1 / 512 * resolution), self.min_motion_radius)
        tracking = max(round(self.r2 / 512 * resolution), self.min_tracking_radius)
        stop = self.stop_distance if self.stop_distance is not None else max(2 / 512 * resolution, 2.0)
        return DragRadii(motion=motion, tracking=tracking, stop=float(stop))

    def shortest_drag(self, resolution: int) -> float:
        """The shortest handle-to-target distance worth a drag at this resolution: twice the stop
        distance. A handle stops once it is within the stop distance, so a drag not much longer than
        that moves its content a pixel or none (at 64 px the stop distance is 2 px)."""
        return 2.0 * self.radii(resolution).stop

    def block_index(self, num_blocks: int) -> int:
        """The synthesis block whose features drive the drag (b4 is block 0)."""
        block = self.feature_block if self.feature_block is not None else default_feature_block(num_blocks)
        if not 0 <= block < num_blocks:
            raise DragInputError(f"feature_block must be in 0..{num_blocks - 1} for this generator, got {block}")
        return block


def default_feature_block(num_blocks: int) -> int:
    """Official block 5 (the 128-px block) where the generator has it with at least one block
    after it; smaller generators use their half-resolution block (see docs/drag-core.md)."""
    if num_blocks > OFFICIAL_FEATURE_BLOCK + 1:
        return OFFICIAL_FEATURE_BLOCK
    return max(num_blocks - 2, 0)
