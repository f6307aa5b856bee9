"""Range-checked argparse types shared by every subcommand.

argparse turns an `ArgumentTypeError` into its usage line and exit status 2, so an out-of-range
number never reaches the code that would fail on it with a traceback (a seed of -3 used to end
in numpy's `ValueError`). Values that can only be checked against a loaded model (a truncation
cutoff beyond its `num_ws`) raise `UsageError`, which the CLI prints as one `error:` line.
"""

from __future__ import annotations

import argparse
import math
from typing import Callable

SEED_MAX = 2**32 - 1  # numpy's RandomState, the official seed convention, takes 0..2**32-1
PSI_RANGE = (-1.0, 2.0)  # 1 = no truncation, 0 = the average face; outside this only noise is left
MAX_THREADS = 256


class UsageError(Exception):
    """An argument whose value does not fit what it is used with (e.g. this model's layers)."""


class OneLineParser(argparse.ArgumentParser):
    """argparse with the CLI's error contract: one `error: ...` line on stderr, exit status 2
    (argparse's own usage block would bury the line that says what is wrong)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _whole(text: str) -> int:
    try:
        return int(text.strip(), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None


def int_range(low: int, high: int | None = None, what: str = "value") -> Callable[[str], int]:
    """An argparse type for whole numbers in low..high (no upper end when `high` is None)."""

    def parse(text: str) -> int:
        value = _whole(text)
        if value < low or (high is not None and value > high):
            upper = f" to {high:,}" if high is not None else " up"
            raise argparse.ArgumentTypeError(f"{what} must be a whole number from {low:,}{upper}, not {text!r}")
        return value

    return parse


def float_range(low: float, high: float | None = None, what: str = "value", *,
                low_open: bool = False) -> Callable[[str], float]:
    """An argparse type for finite numbers in [low, high] ((low, high] with `low_open`)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
        too_low = value <= low if low_open else value < low
        if not math.isfinite(value) or too_low or (high is not None and value > high):
            bound = f"above {low:g}" if low_open else f"from {low:g}"
            upper = f" to {high:g}" if high is not None else ""
            raise argparse.ArgumentTypeError(f"{what} must be a finite number {bound}{upper}, not {text!r}")
        return value

    return parse


seed = int_range(0, SEED_MAX, "a seed")
positive_int = int_range(1, None, "the number")
threads = int_range(1, MAX_THREADS, "the thread count")
face_number = int_range(1, 1000, "the face number (1 = the largest)")
fit_steps = int_range(3, 100_000, "the fitting steps (one per stage at least)")
psi = float_range(*PSI_RANGE, what="psi")
positive_float = float_range(0.0, None, "the number", low_open=True)
non_negative_float = float_range(0.0, None, "the number")


def resolution(text: str) -> int:
    """A generator resolution: a power of two from 4 (its first block) to 2048 px."""
    value = _whole(text)
    if not 4 <= value <= 2048 or value & (value - 1):
        raise argparse.ArgumentTypeError(f"the resolution must be a power of two from 4 to 2048, not {text!r}")
    return value


def check_index(value: int | None, count: int, option: str) -> None:
    """`option`'s value must index one of `count` things (0-based); None means the default."""
    if value is not None and not 0 <= value < count:
        raise UsageError(f"{option} must be in 0..{count - 1} for this model, got {value}")
