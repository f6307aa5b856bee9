"""`draggan-assistant` entry point: subcommands live in `assistant.commands.<name>`.

User mistakes (a bad path, a corrupt checkpoint, an out-of-range point) surface as one line on
stderr and exit status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from assistant import app_args
from assistant.arg_types import OneLineParser, UsageError
from assistant.commands.edit import EditCommandError
from assistant.edit_script import ScriptError
from assistant.landmark_benchmark import BenchmarkError
from assistant.landmarks68 import LandmarkError
from assistant.photo import PhotoError
from assistant.session_store import SessionError, native_log_path
from draggan_core.errors import DragInputError
from parsers.errors import AudioError
from parsers.images import ImageError
from parsers.native_log import log_to
from stylegan2.dataset import DataError
from stylegan2.distributed import DistributedError
from stylegan2.errors import CheckpointError

# Each module registers one subcommand; adding a command is adding a name here.
COMMAND_MODULES = ["info", "sample", "train", "train_encoder", "model_report", "edit", "replay", "parse", "transcribe",
                   "doctor", "benchmark"]

# Exceptions whose message is meant for the user. Layers add theirs here as they appear. OSError
# covers every file the user names that cannot be read or written (missing, a folder, no
# permission, a name too long, a full disk).
USER_ERRORS: tuple[type[BaseException], ...] = (CheckpointError, DataError, DragInputError, OSError,
                                                SessionError, ScriptError, EditCommandError, ImageError,
                                                PhotoError, AudioError, DistributedError, BenchmarkError,
                                                LandmarkError, UsageError)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="draggan-assistant",
        description="Edit StyleGAN2 images by dragging points, typed or spoken (DragGAN).",
    )
    app_args.register(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"assistant.commands.{name}").register(sub)
    return parser


def user_message(exc: BaseException) -> str:
    """The one line for a user error; a file error names the file and the reason, as a user
    reads it, without Python's `[Errno N]` prefix."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror.lower()}"
    return " ".join(str(exc).split())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a bad argument already reported in one line
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    log_to(native_log_path())
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as exc:
        print(f"error: {user_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
