"""Drag optimisation (DragGAN motion supervision + point tracking) with edit history."""

from .config import DragConfig, DragRadii, default_feature_block
from .errors import DragInputError
from .history import Edit, EditHistory
from .motion import disk_pixels, mask_loss, motion_direction, motion_loss
from .patch import FeaturePatch
from .session import DragResult, DragSession, StepResult
from .stop import point_distances, stalled, targets_reached
from .tracking import track_point

__all__ = [
    "DragConfig",
    "DragInputError",
    "DragRadii",
    "DragResult",
    "DragSession",
    "Edit",
    "EditHistory",
    "FeaturePatch",
    "StepResult",
    "default_feature_block",
    "disk_pixels",
    "mask_loss",
    "motion_direction",
    "motion_loss",
    "point_distances",
    "stalled",
    "targets_reached",
    "track_point",
]
