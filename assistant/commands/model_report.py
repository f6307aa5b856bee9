"""`model-report`: a 10x10 sample grid, CPU sampling time and the face Fréchet distances of a model.

The distances come from `../shared/tools/face_fd.py` (2,000 real crops vs 2,000 samples at
psi=1), run in a subprocess because its dependencies (dlib, MediaPipe) are a measuring tool's,
not the product's. When the tool or its dependencies are missing the report says how to get them.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from assistant import arg_types
from stylegan2 import Generator, load_generator
from stylegan2.sample_grid import generate_images, seed_latents, tile
from stylegan2.train_checkpoint import is_training_checkpoint, load_training_checkpoint

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
FACE_FD = SHARED / "tools" / "face_fd.py"
REAL_DATA = SHARED / "data" / "celeba10k.tar.gz"
FD_MODULES = ("dlib", "face_recognition_models", "mediapipe", "scipy")
FD_INSTALL = "pip install mediapipe dlib-bin face-recognition-models scipy 'setuptools<81'"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("model-report", help="sample grid, CPU speed and face distances of a model")
    p.add_argument("checkpoint", nargs="?", help="generator or training checkpoint (default: the embedded model)")
    p.add_argument("-o", "--out", default="model-report", help="folder for grid.png, samples.npz, report.json")
    p.add_argument("--n", type=arg_types.int_range(2, 100_000, "--n"), default=2000,
                   help="samples for the face distances (default 2000)")
    p.add_argument("--fd-first-seed", type=arg_types.seed, default=5000,
                   help="the distances use seeds FIRST..FIRST+n-1 (default 5000: the face-model issue's protocol)")
    p.add_argument("--psi", type=arg_types.psi, default=1.0, help="truncation of the grid (distances always use 1)")
    p.add_argument("--threads", type=arg_types.threads, default=2, help="CPU threads for the timing (default 2)")
    p.add_argument("--no-fd", action="store_true", help="skip the face distances")
    p.add_argument("--real", default=str(REAL_DATA), help="reference images for face_fd.py")
    p.add_argument("--face-fd", default=str(FACE_FD), help="path of face_fd.py")
    p.add_argument("--fd-cache", default="", help="folder where face_fd.py keeps the real set's features")
    p.set_defaults(func=run)


def load_any(path: str | None) -> Generator:
    """A generator file as `load_generator` reads it, or G_ema from a training checkpoint."""
    if path is not None and is_training_checkpoint(path):
        return load_training_checkpoint(path).G_ema.eval().requires_grad_(False)
    return load_generator(path)


def time_sampling(G: Generator, batch: int, repeats: int = 3) -> float:
    """Milliseconds per image for batches of `batch` (best of `repeats`, after one warm-up)."""
    z = seed_latents(G, list(range(batch)))
    generate_images(G, z, batch_size=batch)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        generate_images(G, z, batch_size=batch)
        best = min(best, time.perf_counter() - t)
    return best / batch * 1000


def fd_missing(python: str = sys.executable) -> list[str]:
    """Modules face_fd.py needs that the given Python cannot import."""
    code = "import importlib.util as u, sys; print(','.join(m for m in sys.argv[1:] if u.find_spec(m) is None))"
    out = subprocess.run([python, "-c", code, *FD_MODULES], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def run_face_fd(face_fd: Path, real: str, samples: Path, n: int, cache: str = "") -> dict:
    cmd = [sys.executable, str(face_fd), real, str(samples), "--n", str(n), "--json"]
    if cache:
        cmd += ["--cache", cache]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"face_fd.py failed: {tail} (it fails this way when MediaPipe finds a face in "
                         "none of the samples, i.e. an untrained model)", "command": " ".join(cmd)}
    return fd_summary(json.loads(out.stdout), " ".join(cmd))


def fd_summary(r: dict, command: str) -> dict:
    """The figures the model card quotes: the three distances, how often MediaPipe found a face in
    the samples, and the samples' descriptor spread against the real set's (diversity)."""
    lm = r["landmarks"]
    return {"dlib": r["dlib"]["fd"], "landmarks": lm["fd"], "landmarks_size": r["landmarks_size"]["fd"],
            "mediapipe_faces": f"{lm['n_b'] - lm['fail_b']}/{lm['n_b']}",
            "dlib_spread": {"samples": round(r["dlib"]["trace_cov_b"], 4), "real": round(r["dlib"]["trace_cov_a"], 4)},
            "command": command}


def run(args: argparse.Namespace) -> int:
    G = load_any(args.checkpoint)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    grid = tile(generate_images(G, seed_latents(G, list(range(100))), psi=args.psi), cols=10)
    Image.fromarray(grid).save(out / "grid.png")
    threads_before = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        ms_batch, ms_single = time_sampling(G, 16), time_sampling(G, 1)
    finally:
        torch.set_num_threads(threads_before)
    report: dict = {
        "model": getattr(G, "source_path", args.checkpoint or "embedded"),
        "params_M": round(G.num_parameters() / 1e6, 3),
        "grid": str(out / "grid.png"),
        "grid_psi": args.psi,
        "cpu": {"machine": platform.processor() or platform.machine(), "threads": args.threads,
                "torch": torch.__version__, "ms_per_image_batch16": round(ms_batch, 2),
                "ms_single_image": round(ms_single, 2)},
    }
    if not args.no_fd:
        face_fd = Path(args.face_fd)
        missing = fd_missing() if face_fd.is_file() else []
        if not face_fd.is_file():
            report["face_fd"] = {"skipped": f"{face_fd} not found; it lives in the project's ../shared/tools"}
        elif missing:
            report["face_fd"] = {"skipped": f"missing {', '.join(missing)}: run `{FD_INSTALL}`"}
        else:
            samples = out / "samples.npz"
            seeds = list(range(args.fd_first_seed, args.fd_first_seed + args.n))
            imgs = generate_images(G, seed_latents(G, seeds), psi=1.0)
            report["fd_seeds"] = f"{seeds[0]}-{seeds[-1]}"
            np.savez_compressed(samples, images=imgs)
            report["face_fd"] = run_face_fd(face_fd, args.real, samples, args.n, args.fd_cache)
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0
