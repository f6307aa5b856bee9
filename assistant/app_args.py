"""`draggan-assistant [--seed N] [--model CKPT] [--resume [SESSION]] [--image PHOTO]`: open the app.

Kept apart from `assistant.app` so that other subcommands do not pay for importing Textual.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant import arg_types


def register(parser: argparse.ArgumentParser) -> None:
    """Top-level options; with no subcommand the parser's default action opens the app."""
    group = parser.add_argument_group("the app (no COMMAND)")
    group.add_argument("--seed", type=arg_types.seed, default=None, help="start from this seed (default: a random one)")
    group.add_argument("--model", default=None, help="generator checkpoint (default: the embedded model)")
    group.add_argument("--psi", type=arg_types.psi, default=0.7, help="truncation psi for the seed (default 0.7)")
    group.add_argument("--resume", nargs="?", const="", default=None, metavar="SESSION",
                       help="reopen a saved session (default: the latest) with its full history")
    group.add_argument("--no-autosave", action="store_true", help="do not keep a session folder")
    group.add_argument("--image", default=None, metavar="PHOTO",
                       help="edit the face in this photo (fitted first: seconds with the model's encoder, about a minute "
                            "without); 'save' writes the whole photo")
    group.add_argument("--face", type=arg_types.face_number, default=None, metavar="N",
                       help="with --image: which face, 1 = the largest (default)")
    group.add_argument("--align", choices=("auto", "celeba", "ffhq"), default="auto",
                       help="with --image: face framing (auto picks by model name)")
    group.add_argument("--fit-steps", type=arg_types.fit_steps, default=None, metavar="N",
                       help="with --image: optimisation steps for fitting the photo (default 30 after the "
                            "model's encoder, 400 without one)")
    group.add_argument("--full-fit", action="store_true",
                       help="with --image: the full optimisation even when the model has an encoder")
    group.add_argument("--threads", type=arg_types.threads, default=None, metavar="N",
                       help="CPU threads for the model (default: PyTorch's choice, one per core); on a busy "
                            "machine 1 can be many times faster")
    group.add_argument("--halfblock", action="store_true",
                       help="draw the picture with half-block characters even where sixel/kitty graphics work")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check what can fail at once (session, checkpoint path) before the screen takes over."""
    from assistant.app import AppOptions, run_app
    from assistant.session_store import SessionStore
    from stylegan2 import CheckpointError

    if args.resume is not None:
        recorded = SessionStore.open(args.resume or None).script().model
        if args.model is None and recorded is not None and not Path(recorded).is_file():
            raise CheckpointError(f"{recorded}: the session's model is no longer there; "
                                  "name it with --model CHECKPOINT")
    if args.model is not None and not Path(args.model).expanduser().is_file():
        raise CheckpointError(f"{args.model}: no such checkpoint file")
    if args.image is not None:
        from assistant.photo import check_photo

        check_photo(args.image, args.face)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    options = AppOptions(model=args.model, seed=args.seed, psi=args.psi, resume=args.resume is not None,
                         session=args.resume or None, keep_session=not args.no_autosave,
                         image=args.image, face=args.face, align=args.align, fit_steps=args.fit_steps,
                         full_fit=args.full_fit)
    return run_app(options, graphics=not args.halfblock)
