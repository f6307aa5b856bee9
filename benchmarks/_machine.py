"""What machine a benchmark ran on, for the JSON every benchmark prints.

Benchmarks run as scripts (`python benchmarks/x.py`), so they import this as a sibling module.
"""

from __future__ import annotations

import platform
from pathlib import Path


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo: `platform.processor()` is often empty on Linux."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"
