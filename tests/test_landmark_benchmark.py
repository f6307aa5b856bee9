"""The face-landmark benchmark: its arithmetic, the dlib detector on a real photo, and the protocol's
plumbing on a tiny random generator."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from assistant.cli import main
from assistant.landmark_benchmark import (BenchmarkError, LandmarkBenchmarkSettings, detector_floor, redetect,
                                          run_benchmark, shift_image)
from assistant.landmark_metrics import (clip_to_image, landmark_subset, mean_distance, paper_stop_distance, ratio,
                                        to_paper_pixels)
from assistant.landmarks68 import FaceLandmarks, fraction_box, largest_box, to_image_pixels
from draggan_core import DragConfig
from tests.conftest import tiny_generator

pytestmark = pytest.mark.usefixtures("one_thread")


# ----- arithmetic ------------------------------------------------------------------------------------------------
def test_subset_is_fixed_distinct_and_sorted():
    five = landmark_subset(5)
    assert five == landmark_subset(5) and five == sorted(set(five)) and len(five) == 5
    assert all(0 <= i < 68 for i in five)
    assert landmark_subset(68) == list(range(68))
    assert len(landmark_subset(1)) == 1
    with pytest.raises(ValueError):
        landmark_subset(0)


def test_mean_distance_and_scaling():
    a = np.array([[0.0, 0.0], [1.0, 1.0]])
    b = np.array([[3.0, 4.0], [1.0, 1.0]])
    assert mean_distance(a, b) == pytest.approx(2.5)
    with pytest.raises(ValueError):
        mean_distance(a, b[:1])
    assert to_paper_pixels(1.5, 64) == pytest.approx(12.0)
    assert to_paper_pixels(3.0, 512) == pytest.approx(3.0)
    assert ratio(1.0, 4.0) == 0.25 and math.isnan(ratio(1.0, 0.0))


def test_clip_and_stop_distance():
    clipped = clip_to_image(np.array([[-2.0, 10.0], [70.0, 63.5]]), 64, 64)
    assert clipped.tolist() == [[0.0, 10.0], [63.0, 63.0]]
    assert paper_stop_distance(512, 1) == 1.0 and paper_stop_distance(512, 68) == 2.0
    assert paper_stop_distance(1024, 68) == 4.0
    assert paper_stop_distance(64, 68) == 1.0  # the engine's floor


def test_detector_geometry_helpers():
    assert to_image_pixels(np.array([[1.5, 5.5]]), 4.0).tolist() == [[0.0, 1.0]]
    assert largest_box([(0, 0, 2, 2), (0, 0, 5, 5), (1, 1, 3, 3)]) == (0, 0, 5, 5)
    assert largest_box([]) is None
    assert fraction_box((0.25, 0.5, 0.75, 1.0), 64, 32) == (16.0, 16.0, 48.0, 32.0)


def test_settings_refuse_nonsense():
    with pytest.raises(BenchmarkError):
        LandmarkBenchmarkSettings(pairs=0)
    with pytest.raises(BenchmarkError):
        LandmarkBenchmarkSettings(point_counts=(3,))
    with pytest.raises(BenchmarkError):
        LandmarkBenchmarkSettings(pairs=5, max_tries=2)


# ----- the real detector -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def detector():
    from assistant.landmarks68 import Landmarks68
    return Landmarks68()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    skimage_data = pytest.importorskip("skimage.data")
    return skimage_data.astronaut()


def test_dlib_finds_the_astronauts_face(detector, astronaut):
    face = detector.detect(astronaut)
    assert face is not None and face.detected and face.points.shape == (68, 2)
    left, top, right, bottom = face.box
    margin = 0.15 * (right - left)
    assert (face.points[:, 0] > left - margin).all() and (face.points[:, 0] < right + margin).all()
    assert (face.points[:, 1] > top - margin).all() and (face.points[:, 1] < bottom + margin).all()
    eyes, mouth = face.points[36:48], face.points[48:68]
    assert eyes[:, 1].max() < mouth[:, 1].min()
    assert face.points[36:42, 0].mean() < face.points[42:48, 0].mean()  # the image-left eye first


def test_small_images_are_enlarged_and_mapped_back(detector, astronaut):
    """A 64-px crop of the face gives the same landmarks, in the crop's pixels, as the photo."""
    full = detector.detect(astronaut)
    top, left, side = 56, 157, 130
    crop = astronaut[top:top + side, left:left + side]
    small = detector.detect(np.asarray(Image.fromarray(crop).resize((64, 64), Image.LANCZOS)))
    assert small is not None and small.detected
    back = (small.points + 0.5) * (side / 64) - 0.5 + [left, top]
    assert np.linalg.norm(back - full.points, axis=1).mean() < 1.5


def test_fallback_box_and_lost_faces(detector):
    flat = np.full((64, 64, 3), 128, np.uint8)
    assert detector.detect(flat) is None
    edited = redetect(detector, flat, (10.0, 10.0, 50.0, 50.0))
    assert not edited.detected and edited.box == (10.0, 10.0, 50.0, 50.0) and edited.points.shape == (68, 2)


def test_shift_image_moves_content_by_whole_pixels():
    image = np.arange(5 * 6 * 3, dtype=np.uint8).reshape(5, 6, 3)
    right = shift_image(image, 1, 0)
    assert right.shape == image.shape and (right[:, 1:] == image[:, :-1]).all() and (right[:, 0] == image[:, 0]).all()
    up = shift_image(image, 0, -2)
    assert (up[:-2] == image[2:]).all() and (up[-1] == image[-1]).all()
    assert (shift_image(image, 0, 0) == image).all()


def test_the_detectors_floor_on_a_64_px_face(detector, astronaut):
    """dlib's landmarks on a 64-px face move by more than the face when it moves 1 px: that floor is
    what the benchmark reports beside each ratio. A detector that follows the picture exactly has none."""
    crop = astronaut[56:186, 157:287]
    small = np.asarray(Image.fromarray(crop).resize((64, 64), Image.LANCZOS))
    face = detector.detect(small)
    floor = detector_floor(detector, small, face, list(range(68)))
    assert 0.0 < floor < 1.5

    class Exact:
        """Landmarks at the brightest pixel of the picture, wherever it moves."""

        def detect_box(self, image):
            return (0.0, 0.0, 8.0, 8.0)

        def predict(self, image, box, detected=False):
            y, x = np.unravel_index(image[..., 0].argmax(), image.shape[:2])
            return FaceLandmarks(np.tile([float(x), float(y)], (68, 1)), box, detected)

    dot = np.zeros((16, 16, 3), np.uint8)
    dot[7, 9] = 255
    exact = Exact()
    assert detector_floor(exact, dot, exact.predict(dot, (0, 0, 8, 8)), [0, 5]) == 0.0


# ----- the protocol on a tiny generator --------------------------------------------------------------------------
class StubDetector:
    """Stands in for dlib on a generator that draws no faces: a fixed face shape shifted by the
    picture's mean colour, and no face at all for pictures darker than `dark`."""

    def __init__(self, dark: float = -1.0):
        self.dark = dark
        self.shape = np.random.RandomState(1).uniform(8, 24, (68, 2))

    def detect_box(self, image):
        return None if image.mean() < self.dark else (4.0, 4.0, 28.0, 28.0)

    def predict(self, image, box, detected=False):
        shift = (image.reshape(-1, 3).mean(0)[:2] - 128) / 32
        return FaceLandmarks(points=self.shape + shift, box=box, detected=detected)

    def detect(self, image):
        box = self.detect_box(image)
        return None if box is None else self.predict(image, box, detected=True)


def test_protocol_counts_pairs_edits_and_distances():
    G = tiny_generator(32)
    settings = LandmarkBenchmarkSettings(pairs=2, point_counts=(1, 68), max_steps=3)
    bench = run_benchmark(G, StubDetector(), settings, DragConfig(lr=0.01))
    assert bench.pairs_used == 2 and bench.pairs_skipped == 0
    assert [r.points for r in bench.records] == [1, 68, 1, 68]
    assert all(r.steps <= 3 and r.no_edit_px >= 0 and r.face_found for r in bench.records)
    rows = {r["points"]: r for r in bench.summary()}
    assert rows[68]["md_512"] == pytest.approx(rows[68]["md_px"] * 16)
    assert rows[68]["md_ratio"] == pytest.approx(rows[68]["md_px"] / rows[68]["no_edit_px"])
    assert all(r.floor_px >= 0 for r in bench.records)
    assert rows[1]["floor_ratio"] == pytest.approx(rows[1]["detector_floor_px"] / rows[1]["no_edit_px"])
    assert bench.config.max_steps == 3 and bench.to_json()["pairs"]["used"] == 2


def test_pairs_without_a_face_are_skipped_and_counted():
    class FacelessAtFirst(StubDetector):
        """No face in the first two pictures asked about (the sources of seed pairs 0 and 1)."""

        calls = 0

        def detect(self, image):
            self.calls += 1
            return None if self.calls <= 2 else super().detect(image)

    settings = LandmarkBenchmarkSettings(pairs=1, point_counts=(1,), max_steps=1, max_tries=4)
    bench = run_benchmark(tiny_generator(32), FacelessAtFirst(), settings)
    assert (bench.pairs_used, bench.pairs_skipped) == (1, 2)
    assert bench.records[0].source_seed == 4


def test_cli_runs_with_the_fallback_box_and_refuses_bad_settings(tiny_path, capsys):
    code = main(["benchmark", "landmarks", "--model", str(tiny_path), "--pairs", "1", "--points", "5",
                 "--steps", "2", "--fallback-box", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["pairs"] == {"wanted": 1, "used": 1, "skipped_no_face": 0, "with_fallback_box": 1}
    assert out["results"][0]["points"] == 5 and out["results"][0]["edits"] == 1
    assert main(["benchmark", "landmarks", "--model", str(tiny_path), "--set", "nosuch=1"]) == 2
    assert main(["benchmark", "landmarks", "--set", "lr=fast"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-2].startswith("error: unknown drag setting") and err[-1].startswith("error: setting value")


def test_a_pair_already_within_the_stop_distance_is_a_zero_step_edit():
    """The drag engine refuses a drag with nothing to do (issue 16); the benchmark records it."""
    from assistant.landmark_benchmark import FacePair, drag_pair

    G = tiny_generator(32)
    points = np.column_stack([np.linspace(8, 24, 68), np.linspace(10, 22, 68)])
    face = FaceLandmarks(points, (4.0, 4.0, 28.0, 28.0), True)
    record = drag_pair(G, FacePair(0, 1, face, face), 68, DragConfig(), StubDetector(), 0.7)
    assert (record.steps, record.status, record.md_px, record.no_edit_px) == (0, "converged", 0.0, 0.0)


def test_the_benchmark_runs_its_edits_without_the_stall_test_unless_set():
    from assistant.commands.benchmark import drag_config

    assert drag_config([]).stall_patience is None
    assert drag_config(["stall_patience=40"]).stall_patience == 40


def test_official_setting_runs_on_the_same_pairs(tiny_path, capsys):
    code = main(["benchmark", "landmarks", "--model", str(tiny_path), "--pairs", "1", "--points", "1",
                 "--steps", "2", "--fallback-box", "--official", "--set", "subpixel=true", "--json"])
    out = json.loads(capsys.readouterr().out)
    official = out["official"]
    assert code == 0 and official["drag_config"]["lr"] == 0.001 and official["drag_config"]["linspace_grid"]
    assert not official["drag_config"]["subpixel"] and out["drag_config"]["subpixel"]
    assert [e["source_seed"] for e in official["edits"]] == [e["source_seed"] for e in out["edits"]]
    assert official["results"][0]["no_edit_px"] == out["results"][0]["no_edit_px"]


def test_the_stop_floor_follows_the_drag_setting():
    assert paper_stop_distance(64, 5, minimum=0.1) == 0.125 and paper_stop_distance(64, 68, minimum=0.1) == 0.25
