"""Examples and hints that fit the picture in use and the interface the user has.

Messages below the parser are written with one generic coordinate example (`EXAMPLE`) and one
generic no-face hint (`NO_FACE`); `Hints.localise` replaces them in a finished `Command`. A
coordinate example must lie inside the picture it is shown for ('drag 120,88 to 120,70' is off a
64-px picture), and only the app can be clicked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .command import Command
from .coordinates import EXAMPLE

INTERFACES = ("cli", "app")
DEFAULT_SIZE = 64  # the embedded model's; used when no picture is given (any larger one holds it too)
NO_FACE = f"no face found in the image: give coordinates instead ('{EXAMPLE}') or click the handle and target points"


@dataclass(frozen=True)
class Hints:
    """The examples one parse answers with."""

    width: int = DEFAULT_SIZE
    height: int = DEFAULT_SIZE
    interface: str = "cli"  # one of INTERFACES

    @classmethod
    def for_picture(cls, image: np.ndarray | None, interface: str) -> "Hints":
        """Hints for this picture's size (the embedded model's without a picture)."""
        shape = np.shape(image) if image is not None else ()
        if len(shape) < 2 or not (shape[0] and shape[1]):
            return cls(interface=interface)
        return cls(width=int(shape[1]), height=int(shape[0]), interface=interface)

    @property
    def drag(self) -> str:
        """A short upward drag below the centre, inside the picture."""
        x = round((self.width - 1) / 2)
        return f"drag {x},{round((self.height - 1) * 0.6)} to {x},{round((self.height - 1) * 0.5)}"

    @property
    def no_face(self) -> str:
        clicks = " or click the handle and then the target on the picture" if self.interface == "app" else ""
        return (f"no face found in the {self.width}x{self.height} picture: give coordinates instead "
                f"('{self.drag}'){clicks}")

    def fit(self, text: str) -> str:
        return text.replace(NO_FACE, self.no_face).replace(EXAMPLE, self.drag)

    def localise(self, cmd: Command) -> Command:
        """`cmd` with the generic example and no-face hint in its message and suggestions made to
        fit this picture and interface."""
        cmd.message = self.fit(cmd.message)
        cmd.suggestions = [self.fit(s) for s in cmd.suggestions]
        return cmd
