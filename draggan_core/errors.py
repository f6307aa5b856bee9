"""The one exception type for drag requests a user can get wrong."""

from __future__ import annotations


class DragInputError(ValueError):
    """Bad drag input: points outside the image, handle/target count mismatch, no handles, an
    empty or mis-shaped mask, an unusable setting or a saved session that does not fit the model.
    Raised before any state changes, so callers can show the message and keep the session."""
