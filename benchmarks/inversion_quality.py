"""Photo fitting on faces neither network saw: the full optimisation against the encoder's guess
plus a short refinement, in one run, on the same photos.

The faces are celeba10k images 9,501-10,000, which the shipped generator and its encoder were
trained without (`train --limit 9500`, `train-encoder --limit 9500`). Each is resized and placed
at a random spot of a larger canvas, so that it reaches the fitting the way a user's photo does:
found by MediaPipe, aligned to the model's framing (`assistant.photo.prepare_photo`), inverted
(`assistant.photo.invert_photo`). Every reconstruction is scored against its aligned crop:

- PSNR (dB) and the perceptual distance (`draggan_core.perceptual`, lower is better);
- landmark error: MediaPipe's 478 points on the reconstruction against those on the crop, mean
  distance in units of the crop's inter-ocular distance (both upsampled the same way by the
  detector); a reconstruction in which MediaPipe finds no face is counted, not scored;
- seconds from the aligned crop to an editable latent (encoder pass included; loading the
  encoder once per process is reported apart).

(b) runs on all `--faces` first; then (a), `InversionConfig()` from the average face, on the first
`--full-faces` of them (about a minute a face on a CPU; `--full-minutes` stops starting new ones
after a time budget); `paired` compares the two on the faces both ran.

    python benchmarks/inversion_quality.py --faces 100 --full-faces 40 --full-minutes 26
    python benchmarks/inversion_quality.py --quick      # 4 faces, (a) on 2: a smoke test
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import tarfile
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from PIL import Image

from _machine import cpu_name

from assistant.photo import FitOptions, PhotoError, invert_photo, prepare_photo
from draggan_core.align import FaceKeypoints
from draggan_core.encoder import find_encoder
from draggan_core.image_metrics import psnr
from draggan_core.perceptual import PerceptualDistance
from stylegan2 import default_model_path, load_generator
from stylegan2.imaging import to_uint8

CELEBA = Path(__file__).resolve().parents[2] / "shared" / "data" / "celeba10k.tar.gz"
FIRST_HELD_OUT = 9501  # 1-based: images 9,501-10,000 were left out of both networks' training
LAST_HELD_OUT = 10000
FACE_SCALE = (1.3, 2.2)  # the 178 x 218 CelebA image is resized by a factor drawn from this range
CANVAS = (640, 480)


def held_out_faces(path: Path) -> Iterator[tuple[str, np.ndarray]]:
    """The held-out images of the archive in order, whole (not cropped), as RGB arrays."""
    with tarfile.open(path) as tf:
        members = sorted((m for m in tf.getmembers() if m.isfile()), key=lambda m: m.name)
        for m in members[FIRST_HELD_OUT - 1: LAST_HELD_OUT]:
            with Image.open(io.BytesIO(tf.extractfile(m).read())) as im:
                yield Path(m.name).name, np.asarray(im.convert("RGB"))


def as_photo(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The face image resized and pasted at a random place of a canvas with a smooth random
    background, so detection and alignment have to find it like a face in any photo."""
    im = Image.fromarray(face)
    scale = rng.uniform(*FACE_SCALE)
    im = im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS)
    w, h = CANVAS
    corners = rng.uniform(0, 255, (2, 2, 3))
    ys, xs = np.linspace(0, 1, h)[:, None, None], np.linspace(0, 1, w)[None, :, None]
    top = corners[0, 0] * (1 - xs) + corners[0, 1] * xs
    bottom = corners[1, 0] * (1 - xs) + corners[1, 1] * xs
    canvas = top * (1 - ys) + bottom * ys + rng.normal(0, 4, (h, w, 3))
    photo = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    x, y = int(rng.integers(0, w - im.width + 1)), int(rng.integers(0, h - im.height + 1))
    photo[y: y + im.height, x: x + im.width] = np.asarray(im)
    return photo


def landmark_error(landmarker, image: np.ndarray, reference: np.ndarray) -> float | None:
    """Mean distance between MediaPipe's points on `image` and `reference` (478, 2), in units
    of the reference's inter-ocular distance; None when no face is found in `image`."""
    found = landmarker.detect(image)
    if found is None:
        return None
    return float(np.linalg.norm(found - reference, axis=1).mean() / FaceKeypoints.from_mediapipe(reference).eye_distance)


def scores(image: torch.Tensor, target: torch.Tensor, perceptual: PerceptualDistance, landmarker,
           reference: np.ndarray) -> dict:
    with torch.no_grad():
        lm = landmark_error(landmarker, to_uint8(image)[0], reference)
        return {"psnr": round(float(psnr(image, target)[0]), 3),
                "perceptual": round(float(perceptual(image, target)[0]), 4),
                "landmark_error": None if lm is None else round(lm, 4)}


def fit(G, crop, encoder, perceptual, landmarker, reference) -> dict:
    target = crop.target()
    started = time.perf_counter()
    result = invert_photo(G, crop, fit=FitOptions(full=encoder is None), encoder=encoder)
    seconds = time.perf_counter() - started
    return {**scores(result.image(), target, perceptual, landmarker, reference), "seconds": round(seconds, 3),
            "steps": result.steps, "status": result.status}


def summary(rows: list[dict]) -> dict:
    """Mean and median of each score over `rows`; landmark error over the faces MediaPipe found
    in the reconstruction, with how many it missed."""
    out: dict = {"faces": len(rows)}
    for key in ("psnr", "perceptual", "landmark_error", "seconds"):
        values = [r[key] for r in rows if r.get(key) is not None]
        out[key] = ({"mean": round(statistics.mean(values), 4), "median": round(statistics.median(values), 4)}
                    if values else None)
    out["no_face_in_reconstruction"] = sum(1 for r in rows if r.get("landmark_error") is None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="generator checkpoint (default: the embedded model)")
    ap.add_argument("--data", default=str(CELEBA), help="celeba10k.tar.gz")
    ap.add_argument("--faces", type=int, default=100,
                    help="held-out faces for (b), the encoder (default 100); images are taken in order, skipping "
                         "those MediaPipe cannot find in the photo or mark on the aligned crop, until this many")
    ap.add_argument("--full-faces", type=int, default=20,
                    help="how many of them also get (a), the full optimisation (default 20)")
    ap.add_argument("--full-minutes", type=float, default=None,
                    help="start (a) on no further face after this many minutes of it (the JSON says how many ran)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0, help="placement of the faces on their canvases")
    ap.add_argument("--quick", action="store_true", help="4 faces, (a) on 2: a smoke test of the whole path")
    args = ap.parse_args()
    if args.quick:
        args.faces, args.full_faces = 4, 2
    if not 1 <= args.faces <= LAST_HELD_OUT - FIRST_HELD_OUT + 1 or not 0 <= args.full_faces <= args.faces:
        ap.error(f"--faces must be 1..{LAST_HELD_OUT - FIRST_HELD_OUT + 1} and --full-faces 0..--faces")

    torch.set_num_threads(args.threads)
    path = Path(args.model) if args.model else default_model_path()
    G = load_generator(path)
    started = time.perf_counter()
    lookup = find_encoder(G)
    encoder_load = time.perf_counter() - started
    if lookup.encoder is None:
        raise SystemExit(f"error: {lookup.reason}")
    from parsers.landmarks import FaceLandmarks

    landmarker = FaceLandmarks(max_faces=8)
    perceptual = PerceptualDistance(lookup.encoder.features)
    load_before = os.getloadavg()
    rows, crops, missed, unmarked = [], [], [], []
    for i, (name, face) in enumerate(held_out_faces(Path(args.data))):
        if len(rows) == args.faces:
            break
        photo = as_photo(face, np.random.default_rng([args.seed, i]))
        try:
            crop = prepare_photo(photo, G.img_resolution, method="celeba", landmarker=landmarker, name=name)
        except PhotoError:
            missed.append(name)
            continue
        reference = landmarker.detect(crop.crop)
        if reference is None:
            unmarked.append(name)
            continue
        with torch.no_grad():
            guess = G.synthesis(lookup.encoder(crop.target()), noise_mode="const")
        row = {"face": name, "encoder_guess_only": scores(guess, crop.target(), perceptual, landmarker, reference),
               "b_encoder_refined": fit(G, crop, lookup.encoder, perceptual, landmarker, reference)}
        rows.append(row)
        crops.append((crop, reference))
        print(f"(b) {len(rows)}/{args.faces} {name}: {json.dumps(row['b_encoder_refined'])}", file=sys.stderr, flush=True)
    full_started = time.monotonic()
    for row, (crop, reference) in list(zip(rows, crops))[: args.full_faces]:
        if args.full_minutes is not None and time.monotonic() - full_started > args.full_minutes * 60:
            break
        row["a_full_optimisation"] = fit(G, crop, None, perceptual, landmarker, reference)
        print(f"(a) {row['face']}: {json.dumps(row['a_full_optimisation'])}", file=sys.stderr, flush=True)
    both = [r for r in rows if "a_full_optimisation" in r]
    report = {
        "benchmark": "inversion_quality",
        "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
        "machine": {"cpu": cpu_name(), "cpus": os.cpu_count(), "platform": platform.platform(),
                    "torch": torch.__version__, "threads": torch.get_num_threads(),
                    "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)]},
        "model": str(path),
        "encoder": {"path": str(lookup.path), "load_seconds": round(encoder_load, 3),
                    "file_bytes": lookup.path.stat().st_size},
        "config": {"a_full_optimisation": FitOptions(full=True).config(False).to_dict(),
                   "b_encoder_refined": FitOptions().config(True).to_dict(),
                   "photos": {"held_out_images": f"celeba10k {FIRST_HELD_OUT}-{LAST_HELD_OUT}, the first {args.faces}",
                              "face_scale": FACE_SCALE, "canvas": CANVAS, "seed": args.seed,
                              "alignment": "MediaPipe + celeba template (assistant.photo.prepare_photo)"}},
        "faces_asked": args.faces,
        "faces_skipped": {"no_face_found_in_the_photo": missed,
                          "no_landmarks_on_the_aligned_64px_crop": unmarked},
        "faces_used": {"a_full_optimisation": len(both), "b_encoder_refined": len(rows),
                       "a_limits": {"full_faces": args.full_faces, "full_minutes": args.full_minutes}},
        "summary": {"a_full_optimisation": summary([r["a_full_optimisation"] for r in both]),
                    "b_encoder_refined": summary([r["b_encoder_refined"] for r in rows]),
                    "encoder_guess_only": summary([r["encoder_guess_only"] for r in rows])},
        "paired_on_the_faces_both_ran": {"a_full_optimisation": summary([r["a_full_optimisation"] for r in both]),
                                         "b_encoder_refined": summary([r["b_encoder_refined"] for r in both])},
        "faces": rows,
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
