"""Reconstruction quality and time of photo inversion (W -> W+ -> pivotal tuning) on real photos.

Prints one JSON object: per photo the PSNR / SSIM / MS-SSIM and the perceptual distance
(`draggan_core.perceptual`, LPIPS-style on EfficientNet-Lite0 features; lower is better) of the
reconstruction after each stage, against the baseline measured in the same run (the mapping's average face, i.e. no
fitting at all), and the seconds per stage at the chosen thread count.

Photos: scikit-image's `astronaut` (never part of any training set; found and aligned with
MediaPipe like any user photo) and the last N images of `celeba10k.tar.gz`, cut exactly as the
trainer cuts them. The trainer uses every image it is given (`train --limit K` keeps the first
K), so those CelebA images are held out only from a model trained with `--limit` below their
number; the JSON says which images were in the shipped model's training set as far as its
metadata tells.

    python benchmarks/inversion_quality.py                     # embedded model, 2 threads
    python benchmarks/inversion_quality.py --celeba 8 --quick  # InversionConfig.fast()
    python benchmarks/inversion_quality.py --perceptual-weight 1  # the perceptual term in the loss too
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import tarfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from draggan_core.image_metrics import ms_ssim, psnr, ssim
from draggan_core.inversion import InversionConfig, invert
from draggan_core.perceptual import PerceptualDistance
from stylegan2 import default_model_path, load_generator
from stylegan2.dataset import prepare_image
from stylegan2.imaging import from_uint8

CELEBA = Path(__file__).resolve().parents[2] / "shared" / "data" / "celeba10k.tar.gz"


PERCEPTUAL = PerceptualDistance()
METRICS = ("psnr", "ssim", "ms_ssim", "perceptual")


def quality(image: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    with torch.no_grad():
        return {"psnr": round(float(psnr(image, target)[0]), 3), "ssim": round(float(ssim(image, target)[0]), 4),
                "ms_ssim": round(float(ms_ssim(image, target)[0]), 4),
                "perceptual": round(float(PERCEPTUAL(image, target)[0]), 4)}


def astronaut_crop(size: int) -> np.ndarray:
    import skimage.data

    from assistant.photo import prepare_photo

    return prepare_photo(skimage.data.astronaut(), size, method="celeba").crop


def celeba_crops(path: Path, count: int, size: int) -> list[tuple[str, np.ndarray]]:
    """The last `count` images of the archive, framed like the training data."""
    with tarfile.open(path) as tf:
        members = sorted((m for m in tf.getmembers() if m.isfile()), key=lambda m: m.name)[-count:]
        out = []
        for m in members:
            with Image.open(io.BytesIO(tf.extractfile(m).read())) as im:
                out.append((Path(m.name).name, prepare_image(im, size)))
    return out


def run_one(G, name: str, crop: np.ndarray, config: InversionConfig) -> dict:
    target = from_uint8(crop)
    avg = G.mapping.w_avg.view(1, 1, -1).repeat(1, G.num_ws, 1)
    with torch.no_grad():
        baseline = quality(G.synthesis(avg, noise_mode="const"), target)
    stage_end: dict[str, dict] = {}
    stage_time: dict[str, float] = {}
    clock = {"last": time.perf_counter()}

    def progress(step) -> None:
        now = time.perf_counter()
        stage_time[step.stage] = stage_time.get(step.stage, 0.0) + now - clock["last"]
        clock["last"] = now
        stage_end[step.stage] = quality(step.image, target)

    result = invert(G, target, config, progress=progress, perceptual=PERCEPTUAL)
    final = quality(result.image(), target)
    steps = {"w": config.w_steps, "w+": config.wplus_steps, "pti": config.pti_steps}
    return {
        "photo": name,
        "baseline_average_face": baseline,
        "after_w": stage_end.get("w"),
        "after_w_plus": stage_end.get("w+"),
        "final_after_pti": final,
        "seconds": round(result.seconds, 2),
        "seconds_per_step": {k: round(v / steps[k], 4) for k, v in stage_time.items() if steps[k]},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="checkpoint (default: the embedded model)")
    ap.add_argument("--celeba", type=int, default=3, help="how many CelebA images from the end of the archive")
    ap.add_argument("--data", default=str(CELEBA))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="InversionConfig.fast() instead of the defaults")
    ap.add_argument("--perceptual-weight", type=float, default=None, help="weight of the perceptual term in the loss")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    path = Path(args.model) if args.model else default_model_path()
    G = load_generator(path)
    config = InversionConfig.fast() if args.quick else InversionConfig()
    if args.perceptual_weight is not None:
        config = config.with_overrides(perceptual_weight=args.perceptual_weight)
    size = G.img_resolution
    photos = [("skimage astronaut (MediaPipe-aligned)", astronaut_crop(size))]
    if args.celeba and Path(args.data).is_file():
        photos += celeba_crops(Path(args.data), args.celeba, size)

    meta = {}
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as fh:
            meta = {k: v for k, v in (fh.metadata() or {}).items() if k != "generator_config"}
    load_before = os.getloadavg()
    results = [run_one(G, name, crop, config) for name, crop in photos]
    summary = {key: {m: round(statistics.mean(r[key][m] for r in results), 4) for m in METRICS}
               for key in ("baseline_average_face", "final_after_pti")}
    print(json.dumps({
        "benchmark": "inversion_quality",
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count()},
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "model": str(path),
        "model_metadata": meta,
        "resolution": size,
        "config": config.to_dict(),
        "held_out": {"astronaut": True,
                     "celeba": "the shipped trainer reads every image unless run with --limit K (the first K); "
                               "these are the archive's last images, so they were in training unless K was "
                               "smaller than their number"},
        "photos": results,
        "mean": summary,
    }, indent=1))


if __name__ == "__main__":
    main()
