"""Do photo edits visibly land? Four named edits on held-out CelebA faces through the real
`draggan-assistant edit --image` path, each checked with MediaPipe on the pasted-back photo.

Each face (images 9,501-10,000 of `celeba10k.tar.gz`, which the shipped model's training run,
`train --limit 9500`, never read) is enlarged and placed off-centre in a larger canvas, so it goes
through detection, alignment, fitting, the drag and paste-back like a user's photo. Every command
is a separate `edit` run on the unedited photo (its own fitting), as a user would type it. Prints
one JSON object: per command the share of edits that moved their measure the stated way (an edit
the editor refused, e.g. a drag that changed no pixel, counts as not moved), the mean change in
inter-ocular units, the share of edited photos in which MediaPipe still finds the face, seconds
per run, and the machine.

    python benchmarks/photo_edit_measures.py --faces 5 --fit-steps 80   # 80 = InversionConfig.fast()'s budget
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from _machine import cpu_name
from assistant.cli import main as cli_main
from stylegan2 import default_model_path

CELEBA = Path(__file__).resolve().parents[2] / "shared" / "data" / "celeba10k.tar.gz"
COMMANDS = ("make her smile", "open the mouth", "raise the eyebrows", "close the eyes")
FIRST_HELD_OUT = 9501  # the training run read the first 9,500 images (`train --limit 9500`)


@dataclass(frozen=True)
class CanvasConfig:
    """How a 89 x 109 CelebA image becomes a photo: enlarged `scale` times (MediaPipe wants a
    face of a few dozen pixels and more) and placed at a random spot in a canvas `margin` of its
    own size wider on every side, filled with the image's mean border colour."""

    scale: int = 3
    margin: float = 0.25


def held_out_faces(path: Path, first: int, count: int) -> list[tuple[str, Image.Image]]:
    """Images number `first`..`first + count - 1` (1-based, in the archive's sorted order)."""
    with tarfile.open(path) as tf:
        members = sorted((m for m in tf.getmembers() if m.isfile()), key=lambda m: m.name)
        chosen = members[first - 1:first - 1 + count]
        out = []
        for m in chosen:
            with Image.open(io.BytesIO(tf.extractfile(m).read())) as im:
                out.append((Path(m.name).name, im.convert("RGB")))
    return out


def as_photo(face: Image.Image, index: int, canvas: CanvasConfig) -> Image.Image:
    """The face as a user's photo would show it: larger, not centred, with room around it."""
    big = face.resize((face.width * canvas.scale, face.height * canvas.scale), Image.BICUBIC)
    pad_x, pad_y = round(big.width * canvas.margin), round(big.height * canvas.margin)
    arr = np.asarray(big)
    border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]]).mean(axis=0)
    photo = Image.new("RGB", (big.width + 2 * pad_x, big.height + 2 * pad_y), tuple(int(c) for c in border))
    rng = np.random.RandomState(index)
    photo.paste(big, (int(rng.randint(0, 2 * pad_x + 1)), int(rng.randint(0, 2 * pad_y + 1))))
    return photo


def model_kimg(path: Path) -> str | None:
    """How far the checkpoint was trained, from its metadata: the shipped model is still training."""
    if path.suffix != ".safetensors":
        return None
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        return (fh.metadata() or {}).get("kimg")


def run_edit(photo: Path, command: str, out: Path, extra: list[str]) -> dict:
    """One `edit --image` run in this process; its JSON summary and its last stderr line."""
    stdout, stderr = io.StringIO(), io.StringIO()
    start = time.monotonic()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        rc = cli_main(["edit", "--image", str(photo), *extra, command, "-o", str(out), "--json"])
    seconds = time.monotonic() - start
    lines = stderr.getvalue().strip().splitlines()
    summary = json.loads(stdout.getvalue()) if stdout.getvalue().strip() else None
    measure = summary["edits"][-1]["measure"] if summary else None
    return {"command": command, "exit_status": rc, "seconds": round(seconds, 1), "measure": measure,
            "last_line": lines[-1] if lines else ""}


def summarise(runs: list[dict]) -> dict:
    """Shares over all runs (a refused edit did not move), the change over the edits that ran."""
    measured = [r["measure"] for r in runs if r["measure"] is not None]
    changes = [m["change"] for m in measured if m["change"] is not None]
    return {
        "edits": len(runs),
        "moved_share": round(sum(bool(m["moved"]) for m in measured) / len(runs), 3) if runs else None,
        "mean_change_inter_ocular": round(statistics.mean(changes), 4) if changes else None,
        "face_found_share": round(sum(m["face_found"] for m in measured) / len(measured), 3) if measured else None,
        "refused_by_editor": sum(r["exit_status"] == 2 for r in runs),
        "seconds_mean": round(statistics.mean(r["seconds"] for r in runs), 1) if runs else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=int, default=5, help="how many held-out faces (default 5)")
    ap.add_argument("--first", type=int, default=FIRST_HELD_OUT, help="first image number (default 9501)")
    ap.add_argument("--data", default=str(CELEBA))
    ap.add_argument("--model", default=None, help="checkpoint (default: the embedded model)")
    ap.add_argument("--fit-steps", type=int, default=None,
                    help="`edit --fit-steps`: inversion steps (default the editor's 400; 80 is the budget of "
                         "InversionConfig.fast())")
    ap.add_argument("--steps", type=int, default=None, help="drag step budget, said as 'steps N' before each command")
    ap.add_argument("--say", action="append", default=[], metavar="SETTING",
                    help="a drag setting said before each command, e.g. --say 'lr 0.005' --say 'mask weight 5'")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--command", action="append", choices=COMMANDS, dest="commands",
                    help="run only this command (repeatable; default all four)")
    args = ap.parse_args()
    if args.faces < 1 or not FIRST_HELD_OUT <= args.first <= 10_000:
        print("error: --faces must be at least 1 and --first within the held-out 9501..10000", file=sys.stderr)
        return 2
    commands = tuple(args.commands or COMMANDS)

    torch.set_num_threads(args.threads)
    extra = [] if args.model is None else ["--model", args.model]
    if args.fit_steps is not None:
        extra += ["--fit-steps", str(args.fit_steps)]
    if args.steps is not None:
        extra.append(f"steps {args.steps}")
    extra += args.say
    load_before = os.getloadavg()
    started = time.monotonic()
    runs = []
    faces = held_out_faces(Path(args.data), args.first, args.faces)
    with tempfile.TemporaryDirectory() as tmp:
        for index, (name, face) in enumerate(faces):
            photo = Path(tmp) / f"{Path(name).stem}.png"
            as_photo(face, args.first + index, CanvasConfig()).save(photo)
            for command in commands:
                run = run_edit(photo, command, Path(tmp) / "out.png", extra)
                runs.append({"face": name, **run})
                print(f"{name} ({index + 1}/{len(faces)}) {command!r}: exit {run['exit_status']}, "
                      f"{run['seconds']} s", file=sys.stderr, flush=True)
    print(json.dumps({
        "benchmark": "photo_edit_measures",
        "machine": {"cpu": cpu_name(), "platform": platform.platform(), "cpus": os.cpu_count(),
                    "torch": torch.__version__, "threads": torch.get_num_threads(),
                    "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)]},
        "model": args.model or "embedded",
        "model_kimg": model_kimg(Path(args.model) if args.model else default_model_path()),
        "fit_steps": args.fit_steps, "drag_steps": args.steps, "said_before": args.say,
        "faces": [name for name, _ in faces],
        "canvas": asdict(CanvasConfig()),
        "per_command": {c: summarise([r for r in runs if r["command"] == c]) for c in commands},
        "all": summarise(runs),
        "seconds_total": round(time.monotonic() - started, 1),
        "runs": runs,
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
