"""Where dlib's HOG detector puts the face in real CelebA crops: the fallback box of the landmark
benchmark (`assistant.landmarks68.CELEBA_FALLBACK_BOX`), for models whose faces it cannot find yet.

Real crops are brought to 64 px exactly as the training data is (`stylegan2.dataset.prepare_image`),
then detected as the benchmark detects generated images. Prints JSON: the detection rate for each
dlib upsampling level and the median box as fractions of the side.

    python benchmarks/landmark_fallback_box.py --n 1000
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from _machine import cpu_name
from assistant.landmarks68 import DEFAULT_UPSCALE, Landmarks68
from stylegan2.dataset import load_images

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "celeba10k.tar.gz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--real", default=str(REAL), help="real face crops (default ../shared/data/celeba10k.tar.gz)")
    ap.add_argument("--n", type=int, default=1000, help="first N images")
    ap.add_argument("--resolution", type=int, default=64)
    args = ap.parse_args()
    images = load_images(args.real, args.resolution, limit=args.n)
    rates, boxes = {}, []
    for upsample in (0, 1):
        detector = Landmarks68(upsample=upsample)
        found = [detector.detect_box(im) for im in images]
        rates[str(upsample)] = round(sum(b is not None for b in found) / len(images), 4)
        if upsample == 0:
            boxes = [b for b in found if b is not None]
    median = np.median(np.array(boxes), axis=0) / args.resolution
    print(json.dumps({"images": len(images), "resolution": args.resolution, "upscale": DEFAULT_UPSCALE,
                      "detection_rate_by_upsample": rates,
                      "median_box_fractions": [round(float(v), 4) for v in median],
                      "machine": cpu_name()}, indent=1))


if __name__ == "__main__":
    main()
