"""`edit "open the mouth" ... -o out.png`: the app's commands without the app.

Each text goes through the same parser and editor as in the app, in order; progress goes to
stderr, the picture to `-o`, and with `--json` a summary to stdout. The edits are kept as a
session (unless `--no-session`), so `draggan-assistant --resume` can continue them in the app.

On a photo, each named edit is measured on the pasted-back photo (`assistant.edit_measure`): an
edit that did not move its measure the way the command says is reported and the run exits with
status 1 (the photo is still written, to be looked at); an edit after which MediaPipe no longer
finds the face is taken back, and the run exits with status 1 and writes nothing. Status 2 stays
for the user's mistakes and the drags the editor refuses.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from assistant import arg_types
from assistant.edit_measure import EditMeasure, apply_measured
from assistant.editor import DEFAULT_PSI, Editor, Outcome

NOT_LANDED = 1  # exit status of a photo run in which an edit did not move what it names


class EditCommandError(Exception):
    """A command in an `edit` run that could not be understood or carried out."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("edit", help="apply typed commands headless and write the picture")
    p.add_argument("commands", nargs="+", metavar="COMMAND",
                   help="what to do, as typed in the app: 'open the mouth', 'drag 20,30 to 28,30', 'steps 80'")
    p.add_argument("--seed", type=arg_types.seed, default=0, help="seed of the starting picture (default 0)")
    p.add_argument("--model", default=None, help="generator checkpoint (default: the embedded model)")
    p.add_argument("--psi", type=arg_types.psi, default=DEFAULT_PSI, help="truncation psi (default 0.7)")
    p.add_argument("-o", "--output", default=None,
                   help="picture to write (default edit.png; with --image, PHOTO_edited.png beside the photo)")
    photo = p.add_argument_group("editing a photo")
    photo.add_argument("--image", default=None, metavar="PHOTO",
                       help="edit the face in this photo instead of a generated picture; the output is the whole "
                            "photo at its own size")
    photo.add_argument("--face", type=arg_types.face_number, default=None, metavar="N",
                       help="which face when the photo has several: 1 = the largest (default), 2 = the next, ...")
    photo.add_argument("--align", choices=("auto", "celeba", "ffhq"), default="auto",
                       help="face framing: the embedded model's (celeba) or FFHQ's; auto picks by model name")
    photo.add_argument("--paste", choices=("changed", "face"), default="changed",
                       help="paste back only what the edit changed (default) or the whole face crop")
    photo.add_argument("--fit-steps", type=arg_types.fit_steps, default=None, metavar="N",
                       help="optimisation steps for fitting the photo (default 30 after the model's encoder, "
                            "400 without one; fewer is faster and rougher)")
    photo.add_argument("--full-fit", action="store_true",
                       help="fit with the full optimisation even when the model has an encoder")
    photo.add_argument("--overwrite", action="store_true", help="allow -o to be the input photo itself")
    p.add_argument("--script", default=None, help="also write the replayable edit script here (.json)")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.add_argument("--no-session", action="store_true", help="do not keep a session folder")
    p.set_defaults(func=run)


class StderrProgress:
    """Progress lines for a drag on stderr: redrawn in place on a terminal, every second otherwise."""

    def __init__(self, max_steps: int) -> None:
        self.max_steps = max_steps
        self.start = time.monotonic()
        self.last = -1.0
        self.tty = sys.stderr.isatty()

    def __call__(self, result) -> None:
        now = time.monotonic()
        if not result.done and now - self.last < (0.2 if self.tty else 1.0):
            return
        self.last = now
        far = max(result.distances) if result.distances else 0.0
        rate = (result.step + 1) / max(now - self.start, 1e-9)
        line = f"step {result.step + 1}/{self.max_steps}  {far:.1f} px to target  {rate:.1f} steps/s"
        print(("\r" + line) if self.tty else line, end="" if self.tty else "\n", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty and self.last >= 0:
            print(file=sys.stderr)


def check_headless(command, text: str) -> None:
    """What cannot run headless (app-only commands, the not understood, a drag without points,
    e.g. no face found) is an EditCommandError."""
    if command.command in ("help", "quit", "history", "cancel"):
        raise EditCommandError(f"{text!r}: '{command.command}' only makes sense in the app")
    if command.command == "unknown" or (command.command == "drag" and not command.handles):
        raise EditCommandError(f"{text!r}: {command.message or 'not understood'}")


def commands_checker(parser, texts: list[str]):
    """`check_crop` for a photo: every command parsed on the aligned crop before the fitting, so a
    command that cannot be carried out fails in seconds, not after minutes of fitting."""

    def check(crop) -> None:
        for text in texts:
            check_headless(parser.parse(text, image=crop), text)
        parser.reset_context()

    return check


def apply_text(editor: Editor, text: str) -> tuple[Outcome, EditMeasure | None]:
    """Parse and apply one command; what cannot run headless is an error. On a photo, a named
    edit comes back with how it moved its measure on the pasted-back photo."""
    command = editor.parse(text)
    check_headless(command, text)
    progress = StderrProgress(editor.config.max_steps) if command.command == "drag" else None
    try:
        outcome, measured = apply_measured(editor, command,
                                           lambda: editor.apply(command, text=text, progress=progress))
    finally:
        if progress is not None:
            progress.close()
    if outcome.error and measured is None:
        raise EditCommandError(f"{text!r}: {outcome.message}")
    return outcome, measured


def edit_summary(editor: Editor, output: str | None, script: str | None,
                 outcomes: list[tuple[str, Outcome, EditMeasure | None]]) -> dict:
    edits = []
    for text, outcome, measured in outcomes:
        item = {"command": text, "kind": outcome.kind, "message": outcome.message,
                "measure": measured.to_json() if measured is not None else None}
        if outcome.result is not None:
            r = outcome.result
            item.update(status=r.status, steps=r.steps, seconds=round(r.seconds, 3),
                        final_points=[list(p) for p in r.points],
                        distances=[round(float(d), 3) for d in r.distances])
        edits.append(item)
    from_seed = editor.script_source == "seed"
    return {"output": output, "script": script, "source": editor.script_source,
            "seed": editor.seed if from_seed else None, "psi": editor.psi if from_seed else None,
            "model": editor.model,
            "session": str(editor.store.folder) if editor.store is not None else None, "edits": edits,
            "landed": all(m is None or m.moved for _, _, m in outcomes)}


def open_photo(args: argparse.Namespace) -> tuple[Editor, str]:
    """The editor on the photo's face, after checking that the output will not replace the input."""
    from assistant.photo import FitOptions, InversionPrinter, open_photo_editor, output_path

    from parsers.parser import CommandParser

    output = str(output_path(args.image, args.output, overwrite=args.overwrite))
    printer = InversionPrinter()
    parser = CommandParser()
    try:
        editor = open_photo_editor(args.image, model=args.model, face=args.face, align=args.align,
                                   fit=FitOptions(args.fit_steps, args.full_fit), paste=args.paste,
                                   overwrite=args.overwrite, progress=printer,
                                   check_crop=commands_checker(parser, args.commands), notice=printer.notice)
    finally:
        printer.close()
    editor.parser = parser
    return editor, output


def run(args: argparse.Namespace) -> int:
    if args.image:
        editor, output = open_photo(args)
    else:
        editor, output = Editor.open(args.model, args.seed, args.psi, keep_session=not args.no_session), args.output
    outcomes = []
    for text in args.commands:
        outcome, measured = apply_text(editor, text)
        outcomes.append((text, outcome, measured))
        print(f"{text}: {outcome.message}", file=sys.stderr)
    measures = [(text, m) for text, _, m in outcomes if m is not None]
    lost = [text for text, m in measures if not m.face_found]
    if lost:
        if args.json:
            print(json.dumps(edit_summary(editor, None, None, outcomes)))
        print(f"nothing written: MediaPipe found no face in the photo after {', '.join(map(repr, lost))} "
              "(taken back)", file=sys.stderr)
        return NOT_LANDED
    if args.image and not editor.photo_changed():
        raise EditCommandError(f"no command changed {args.image}, so nothing was written; "
                               "give an edit ('open the mouth a lot', 'drag X,Y to X,Y')")
    missed = [text for text, m in measures if not m.moved]
    png = editor.save_png(output or "edit.png")
    script_path = None if args.script is None else str(editor.script().save(args.script))
    if args.json:
        print(json.dumps(edit_summary(editor, str(png), script_path, outcomes)))
    else:
        print(f"wrote {png}", file=sys.stderr)
    if missed:
        print(f"the photo was written, but {len(missed)} of {len(measures)} measured edit(s) did not move what "
              f"they name: {', '.join(map(repr, missed))}", file=sys.stderr)
        return NOT_LANDED
    return 0
