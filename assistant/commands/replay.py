"""`replay SCRIPT -o out.png`: redo a saved edit script headless and write the picture."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assistant.commands.edit import StderrProgress
from assistant.edit_script import EditScript, file_sha256
from assistant.editor import replay
from stylegan2 import default_model_path, load_generator


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="re-run a saved edit script (from 'save') and write the picture")
    p.add_argument("script", help="edit script (.json) written by 'save' or 'edit --script'")
    p.add_argument("-o", "--output", default="replay.png", help="PNG to write (default replay.png)")
    p.add_argument("--model", default=None, help="use this checkpoint instead of the one the script names")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    script = EditScript.load(args.script)
    script.require_replayable()
    model = args.model if args.model is not None else script.model
    path = Path(model).expanduser() if model is not None else default_model_path()
    G = load_generator(path)
    if script.model_sha256 and file_sha256(path) != script.model_sha256:
        print(f"warning: {path} is not the checkpoint the script was made with; the result will differ",
              file=sys.stderr)
    bars: list[StderrProgress] = []

    def on_edit(i: int, edit) -> StderrProgress:
        if bars:
            bars[-1].close()
        print(f"edit {i}/{len(script.edits)}: {edit.command} ({edit.steps} steps)", file=sys.stderr)
        bars.append(StderrProgress(edit.steps))
        return bars[-1]

    editor = replay(script, G, on_edit=on_edit)
    if bars:
        bars[-1].close()
    png = editor.save_png(args.output)
    if args.json:
        edits = [{"command": e.label, "steps": e.steps, "status": e.status,
                  "final_points": [list(p) for p in e.final_points]} for e in editor.edits()]
        print(json.dumps({"output": str(png), "seed": script.seed, "model": str(path), "edits": edits}))
    else:
        print(f"wrote {png}", file=sys.stderr)
    return 0
