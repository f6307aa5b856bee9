"""DragGAN's face-landmark benchmark with the machine it ran on: `draggan-assistant benchmark landmarks
--json` plus the CPU name, like every script here. Takes the command's options.

    python benchmarks/drag_landmarks.py --model CKPT --quick --fallback-box
"""

from __future__ import annotations

import contextlib
import io
import json
import sys

from _machine import cpu_name
from assistant.cli import main as cli_main


def main(argv: list[str]) -> int:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli_main(["benchmark", "landmarks", *argv, "--json"])
    if code != 0:
        return code
    report = json.loads(out.getvalue())
    report["machine"] = cpu_name()
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
