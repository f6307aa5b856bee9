"""Measuring whether a photo edit landed: the atlas's measures data, and the arithmetic on real
MediaPipe landmarks of the astronaut photo, warped so the true answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
from PIL import Image

from assistant.edit_measure import (EditMeasure, find_edited_face, intended_effect, measure_edit, measure_photo_edit,
                                    measure_value)
from assistant.photo import detect_faces, prepare_photo
from parsers.atlas import load_atlas
from parsers.command import Command

SMILE = Command("drag", action="smile", part="mouth")
OPEN_MOUTH = Command("drag", action="open", part="mouth")
RAISE_BROWS = Command("drag", action="raise", part="eyebrows", side="both")
CLOSE_EYES = Command("drag", action="close", part="eyes", side="both")


def test_every_measured_action_names_a_defined_measure_and_a_real_motion():
    atlas = load_atlas()
    assert {"mouth opening", "smile width", "brow height", "eye opening"} <= set(atlas.measures)
    for part in atlas.parts.values():
        for action, effect in part.effects.items():
            assert effect.measure in atlas.measures, (part.name, action)
            assert effect.direction in (1, -1)
            assert part.resolve(action) is not None, f"{part.name}/{action} is measured but has no motion"
    for measure in atlas.measures.values():
        assert measure.axis in ("x", "y") and measure.min_change > 0 and measure.spans


def test_the_benchmark_commands_map_to_their_measures():
    assert [(m.name, d) for m, d in map(intended_effect, (SMILE, OPEN_MOUTH, RAISE_BROWS, CLOSE_EYES))] == [
        ("smile width", 1), ("mouth opening", 1), ("brow height", 1), ("eye opening", -1)]
    widen_eyes = intended_effect(Command("drag", action="widen", part="eyes"))  # an alias of opening
    assert (widen_eyes[0].name, widen_eyes[1]) == ("eye opening", 1)
    assert intended_effect(Command("drag", handles=[(1.0, 2.0)], targets=[(3.0, 4.0)])) is None  # coordinates
    assert intended_effect(Command("drag", action="widen", part="nose")) is None
    assert intended_effect(Command("settings", settings={"steps": 80})) is None


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skimage.data.astronaut()


def stretched(photo: np.ndarray, factor: float) -> np.ndarray:
    """The photo scaled vertically only: every vertical face distance grows by `factor`, the
    inter-ocular distance (the eyes are level) does not."""
    h, w = photo.shape[:2]
    return np.asarray(Image.fromarray(photo).resize((w, round(h * factor)), Image.BICUBIC))


def landmarks(photo: np.ndarray) -> np.ndarray:
    faces = detect_faces(photo)
    assert faces, "MediaPipe found no face"
    return faces[0].landmarks


@pytest.mark.slow
def test_real_landmarks_on_a_stretched_face_move_the_vertical_measures_only(astronaut):
    before = landmarks(astronaut)
    taller = landmarks(stretched(astronaut, 1.3))
    brows = measure_edit(before, taller, RAISE_BROWS)
    assert isinstance(brows, EditMeasure) and brows.face_found and brows.moved
    assert 0.2 * brows.before < brows.change < 0.45 * brows.before  # about 30 % taller
    eyes = measure_edit(before, taller, CLOSE_EYES)
    assert eyes.change > 0 and not eyes.moved  # the eyes opened: the wrong way for "close"
    smile = measure_edit(before, taller, SMILE)
    assert abs(smile.change) < smile.min_change and not smile.moved
    flatter = landmarks(stretched(astronaut, 0.7))
    assert measure_edit(before, flatter, CLOSE_EYES).moved
    assert not measure_edit(before, flatter, RAISE_BROWS).moved
    assert "did not move" in measure_edit(before, flatter, RAISE_BROWS).describe()


@pytest.mark.slow
def test_one_side_is_measured_on_that_side(astronaut):
    lm = landmarks(astronaut)
    brow = load_atlas().measures["brow height"]
    left, right, both = (measure_value(lm, brow, side) for side in ("left", "right", "both"))
    assert left != right and both == pytest.approx((left + right) / 2)


@pytest.mark.slow
def test_a_lost_face_is_reported_and_never_counts_as_moved(astronaut):
    crop = prepare_photo(astronaut, 64)
    grey = np.full_like(astronaut, 128)
    measured = measure_photo_edit(astronaut, grey, crop.alignment, RAISE_BROWS)
    assert not measured.face_found and not measured.moved and measured.after is None
    assert "no longer finds the face" in measured.describe()
    assert measured.to_json()["change"] is None


@pytest.mark.slow
def test_the_edited_face_is_found_among_several(astronaut):
    big = astronaut[0:300, 100:400]
    small = np.asarray(Image.fromarray(big).resize((230, 230), Image.LANCZOS))  # as in test_photo.py
    group = np.full((320, 580, 3), 128, dtype=np.uint8)
    group[10:310, 10:310] = big
    group[40:270, 335:565] = small
    found = find_edited_face(group, prepare_photo(group, 64, face=2).alignment)
    assert found is not None and found[:, 0].min() > 310  # the small face on the right, not the larger one
    assert find_edited_face(group, prepare_photo(group, 64).alignment)[:, 0].max() < 310
