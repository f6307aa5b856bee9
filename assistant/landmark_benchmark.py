"""DragGAN's face-landmark benchmark on any generator: how close a drag brings one face's landmarks
to another's (the paper's Table 1 protocol).

Pairs of faces come from fixed seeds (source seed 2k, target seed 2k+1 from `first_seed`); dlib's
68 landmarks are detected on both, the source's are dragged onto the target's (all 68, or the fixed
subset of 1 or 5), the edited picture is detected again and the mean remaining distance (MD) is
compared with the distance before the edit. A pair whose source or target has no detected face is
skipped and counted; with a fallback box the pair is kept and counted as such instead. When the
detector loses the face in the edited picture, its landmarks are predicted in the source's box and
the edit counts as one without a face found. Each edit also records the detector's floor: how far
its landmarks stray when the source picture only moves by one pixel, the least MD it can report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from draggan_core import DragConfig, DragInputError, DragResult, DragSession
from stylegan2 import Generator
from stylegan2.imaging import to_uint8

from .landmark_metrics import (PAPER_DRAGGAN, PAPER_NO_EDIT, POINT_COUNTS, clip_to_image, landmark_subset, mean,
                               mean_distance, paper_stop_distance, ratio, to_paper_pixels)
from .landmarks68 import FaceLandmarks, Landmarks68


class BenchmarkError(Exception):
    """Benchmark settings a user got wrong (no pairs, an unknown point count, ...)."""


@dataclass(frozen=True)
class LandmarkBenchmarkSettings:
    pairs: int = 100  # usable pairs wanted
    point_counts: tuple[int, ...] = POINT_COUNTS
    first_seed: int = 0
    psi: float = 0.7  # the official sampling truncation
    max_steps: int = 200  # budget per edit (the paper's edits take 30-200 steps)
    max_tries: int | None = None  # seed pairs tried at most; None = 10 x pairs
    stop_distance: float | None = None  # None = the paper's, scaled (paper_stop_distance)

    def __post_init__(self) -> None:
        if self.pairs < 1:
            raise BenchmarkError(f"--pairs must be at least 1, got {self.pairs}")
        if self.max_steps < 1:
            raise BenchmarkError(f"--steps must be at least 1, got {self.max_steps}")
        bad = [n for n in self.point_counts if n not in POINT_COUNTS]
        if bad or not self.point_counts:
            raise BenchmarkError(f"point counts must be among {', '.join(map(str, POINT_COUNTS))}, got {bad}")
        if self.max_tries is not None and self.max_tries < self.pairs:
            raise BenchmarkError(f"--max-tries ({self.max_tries}) must be at least --pairs ({self.pairs})")

    @property
    def tries(self) -> int:
        return self.max_tries if self.max_tries is not None else 10 * self.pairs


@dataclass(frozen=True)
class FacePair:
    source_seed: int
    target_seed: int
    source: FaceLandmarks
    target: FaceLandmarks

    @property
    def fallback(self) -> bool:
        """The source or target face was not detected and the fallback box stood in."""
        return not (self.source.detected and self.target.detected)


@dataclass(frozen=True)
class EditRecord:
    source_seed: int
    points: int
    no_edit_px: float  # MD between source and target landmarks before the edit
    md_px: float  # MD between the edited picture's landmarks and the target's
    tracked_px: float  # MD between the tracked handles and their targets (what the tracker believes)
    steps: int
    seconds: float
    status: str
    face_found: bool  # the detector found a face in the edited picture
    floor_px: float  # how far the detector's own landmarks move when the source face moves 1 px (see detector_floor)


@dataclass
class LandmarkBenchmark:
    resolution: int
    settings: LandmarkBenchmarkSettings
    config: DragConfig
    records: list[EditRecord] = field(default_factory=list)
    pairs_used: int = 0
    pairs_skipped: int = 0
    fallback_pairs: int = 0

    def summary(self) -> list[dict]:
        """Per point count: MD and the no-edit MD in raw and 512-px pixels, their ratio, steps,
        seconds and the share of edited pictures with a face found."""
        out = []
        for count in self.settings.point_counts:
            rs = [r for r in self.records if r.points == count]
            md, base = mean([r.md_px for r in rs]), mean([r.no_edit_px for r in rs])
            out.append({
                "points": count, "edits": len(rs),
                "md_px": md, "no_edit_px": base,
                "md_512": to_paper_pixels(md, self.resolution), "no_edit_512": to_paper_pixels(base, self.resolution),
                "md_ratio": ratio(md, base),
                "tracked_md_px": mean([r.tracked_px for r in rs]),
                "steps_per_edit": mean([r.steps for r in rs]),
                "seconds_per_edit": mean([r.seconds for r in rs]),
                "converged": mean([r.status == "converged" for r in rs]),
                "face_found": mean([r.face_found for r in rs]),
                "detector_floor_px": mean([r.floor_px for r in rs]),
                "floor_ratio": ratio(mean([r.floor_px for r in rs]), base),
                "paper_no_edit_512": PAPER_NO_EDIT[count], "paper_draggan_512": PAPER_DRAGGAN[count],
                "paper_ratio": PAPER_DRAGGAN[count] / PAPER_NO_EDIT[count],
            })
        return out

    def to_json(self) -> dict:
        return {"resolution": self.resolution, "settings": asdict(self.settings), "drag_config": self.config.to_dict(),
                "pairs": {"wanted": self.settings.pairs, "used": self.pairs_used, "skipped_no_face": self.pairs_skipped,
                          "with_fallback_box": self.fallback_pairs},
                "results": self.summary(), "edits": [asdict(r) for r in self.records]}


def render_uint8(G: Generator, ws: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return to_uint8(G.synthesis(ws, noise_mode="const"))[0]


def find_pairs(G: Generator, detector: Landmarks68, settings: LandmarkBenchmarkSettings,
               progress: Callable[[str], None] | None = None) -> tuple[list[FacePair], int]:
    """Up to `settings.pairs` pairs with a face in both pictures, from consecutive seed pairs; also
    how many seed pairs were skipped for want of a face."""
    pairs: list[FacePair] = []
    skipped = 0
    for k in range(settings.tries):
        if len(pairs) == settings.pairs:
            break
        s, t = settings.first_seed + 2 * k, settings.first_seed + 2 * k + 1
        source = detector.detect(render_uint8(G, G.ws_from_seed(s, settings.psi)))
        target = detector.detect(render_uint8(G, G.ws_from_seed(t, settings.psi))) if source is not None else None
        if source is None or target is None:
            skipped += 1
            continue
        pairs.append(FacePair(s, t, source, target))
    if progress is not None:
        progress(f"{len(pairs)} pairs with faces, {skipped} seed pairs skipped (no face found)")
    return pairs, skipped


def redetect(detector: Landmarks68, image: np.ndarray, source_box: tuple) -> FaceLandmarks:
    """The edited picture's landmarks: in the detected face, or in the source's box when the
    detector no longer finds one (`detected=False`)."""
    box = detector.detect_box(image)
    if box is not None:
        return detector.predict(image, box, detected=True)
    return detector.predict(image, source_box, detected=False)


# One-pixel moves of the whole picture: the same face, landmarks that should move by exactly as much.
FLOOR_SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))


def shift_image(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """`image` with its content moved by whole pixels (dx right, dy down), edges repeated."""
    h, w = image.shape[:2]
    padded = np.pad(image, ((abs(dy), abs(dy)), (abs(dx), abs(dx)), (0, 0)), mode="edge")
    top, left = abs(dy) - dy, abs(dx) - dx
    return np.ascontiguousarray(padded[top:top + h, left:left + w])


def detector_floor(detector: Landmarks68, image: np.ndarray, face: FaceLandmarks, idx: list[int]) -> float:
    """The MD the detector itself adds: the mean distance between the landmarks `idx` of `face` and
    those re-detected on `image` moved 1 px (and moved back), over the four directions. A drag
    cannot be measured closer than this, however exactly it moves the face."""
    distances = []
    for dx, dy in FLOOR_SHIFTS:
        box = tuple(v + d for v, d in zip(face.box, (dx, dy, dx, dy)))
        moved = redetect(detector, shift_image(image, dx, dy), box)
        distances.append(mean_distance(moved.points[idx] - (dx, dy), face.points[idx]))
    return mean(distances)


def drag_pair(G: Generator, pair: FacePair, count: int, config: DragConfig, detector: Landmarks68,
              psi: float) -> EditRecord:
    """One edit: drag the pair's chosen source landmarks onto the target's and measure."""
    idx = landmark_subset(count)
    size = G.img_resolution
    src, tgt = pair.source.points[idx], pair.target.points[idx]
    ws = G.ws_from_seed(pair.source_seed, psi)
    floor = detector_floor(detector, render_uint8(G, ws), pair.source, idx)
    session = DragSession(G, ws, config)
    try:
        session.start_drag([tuple(p) for p in clip_to_image(src, size, size)],
                           [tuple(p) for p in clip_to_image(tgt, size, size)], label=f"landmarks x{count}")
    except DragInputError:  # every landmark already within the stop distance: the edit is the source face
        no_edit = mean_distance(src, tgt)
        return EditRecord(source_seed=pair.source_seed, points=count, no_edit_px=no_edit, md_px=no_edit,
                          tracked_px=no_edit, steps=0, seconds=0.0, status="converged", face_found=True,
                          floor_px=floor)
    result: DragResult = session.run()
    edited = redetect(detector, to_uint8(session.image())[0], pair.source.box)
    return EditRecord(source_seed=pair.source_seed, points=count, no_edit_px=mean_distance(src, tgt),
                      md_px=mean_distance(edited.points[idx], tgt),
                      tracked_px=mean_distance(np.array(result.points, np.float64), tgt),
                      steps=result.steps, seconds=result.seconds, status=result.status,
                      face_found=edited.detected, floor_px=floor)


def run_benchmark(G: Generator, detector: Landmarks68, settings: LandmarkBenchmarkSettings,
                  config: DragConfig | None = None, progress: Callable[[str], None] | None = None,
                  found: tuple[list[FacePair], int] | None = None) -> LandmarkBenchmark:
    """The whole protocol; `config` is the drag engine's setting (default `DragConfig()`), whose
    stop distance and budget the benchmark sets per point count. `found` is `find_pairs`' answer
    when another setting already searched them, so settings compared in one run edit the same pairs."""
    base = (config or DragConfig()).with_overrides(max_steps=settings.max_steps)
    bench = LandmarkBenchmark(resolution=G.img_resolution, settings=settings, config=base)
    pairs, bench.pairs_skipped = found if found is not None else find_pairs(G, detector, settings, progress)
    bench.pairs_used = len(pairs)
    bench.fallback_pairs = sum(p.fallback for p in pairs)
    for i, pair in enumerate(pairs, 1):
        for count in settings.point_counts:
            stop = settings.stop_distance or paper_stop_distance(G.img_resolution, count, base.min_stop_distance)
            record = drag_pair(G, pair, count, base.with_overrides(stop_distance=stop), detector, settings.psi)
            bench.records.append(record)
            if progress is not None:
                progress(f"pair {i}/{len(pairs)} (seed {pair.source_seed}), {count} pt: MD {record.md_px:.2f} px "
                         f"from {record.no_edit_px:.2f}, {record.steps} steps, {record.seconds:.1f} s")
    return bench
