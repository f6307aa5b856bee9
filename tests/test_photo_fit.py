"""Fitting a photo's face: the encoder beside the generator and a short refinement when one
matches it, the full optimisation (said once) when none does, and the shipped encoder itself."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from assistant.photo import FitOptions, PhotoCrop, invert_photo
from draggan_core.align import FaceKeypoints, align_face, warp_to_crop
from draggan_core.encoder import encoder_path_for, find_encoder, generator_fingerprint, save_encoder
from draggan_core.encoder_training import build_encoder
from draggan_core.errors import DragInputError
from draggan_core.inversion import InversionConfig
from draggan_core.perceptual import PerceptualDistance
from stylegan2 import default_model_path, load_generator
from tests.conftest import tiny_generator

FEW = InversionConfig(w_steps=3, wplus_steps=2, pti_steps=2, w_avg_samples=64)


def crop_for(size: int) -> PhotoCrop:
    photo = np.random.default_rng(0).integers(0, 256, (120, 100, 3), dtype=np.uint8)
    kp = FaceKeypoints((40.0, 50.0), (60.0, 50.0), (43.0, 72.0), (57.0, 72.0))
    alignment = align_face(kp, size, (100, 120), "celeba")
    return PhotoCrop(photo, alignment, warp_to_crop(photo, alignment), 1, 1)


@pytest.fixture()
def model_dir(tmp_path: Path, tiny_path: Path) -> Path:
    """A copy of the tiny checkpoint in its own folder, so encoders written beside it stay there."""
    shutil.copy(tiny_path, tmp_path / "tiny.safetensors")
    return tmp_path / "tiny.safetensors"


def write_encoder(G, path: Path, fingerprint: str | None = None) -> None:
    encoder = build_encoder(G, PerceptualDistance(), samples=64)
    save_encoder(encoder, encoder_path_for(path), fingerprint or generator_fingerprint(G))


def test_refinement_budget_keeps_the_w_stage_skipped():
    config = InversionConfig.refinement()
    assert config.w_steps == 0 and 0 < config.total_steps < 60
    shared = config.with_budget(12)
    assert (shared.w_steps, shared.wplus_steps, shared.total_steps) == (0, config.wplus_steps, 12)
    two = InversionConfig.refinement(wplus_steps=10, pti_steps=20).with_budget(9)
    assert (two.w_steps, two.wplus_steps, two.pti_steps) == (0, 3, 6)
    assert FitOptions(steps=40).config(False) == InversionConfig().with_budget(40)
    assert FitOptions().config(True) == config
    with pytest.raises(DragInputError, match="at least 2"):
        InversionConfig.refinement(wplus_steps=10, pti_steps=20).with_budget(1)


def test_no_encoder_falls_back_to_the_full_fitting_and_says_so_once(model_dir: Path, one_thread):
    G = load_generator(model_dir)
    lookup = find_encoder(G)
    assert lookup.encoder is None and "no encoder" in lookup.reason
    notices, stages = [], []
    result = invert_photo(G, crop_for(G.img_resolution), FEW, progress=lambda s: stages.append(s.stage),
                          notice=notices.append)
    assert len(notices) == 1 and "full 7-step optimisation" in notices[0]
    assert stages.count("w") == FEW.w_steps and result.status == "done"


def test_a_matching_encoder_gives_the_start_and_the_short_refinement(model_dir: Path, one_thread):
    G = load_generator(model_dir)
    write_encoder(G, model_dir)
    lookup = find_encoder(G)
    assert lookup.encoder is not None and lookup.path == encoder_path_for(model_dir)
    notices, stages = [], []
    result = invert_photo(G, crop_for(G.img_resolution), progress=lambda s: stages.append(s.stage),
                          fit=FitOptions(steps=6), notice=notices.append)
    assert notices == [] and "w" not in stages and len(stages) == 6 and result.steps == 6
    forced = []
    invert_photo(G, crop_for(G.img_resolution), FEW, progress=lambda s: forced.append(s.stage),
                 fit=FitOptions(full=True), notice=notices.append)
    assert forced.count("w") == FEW.w_steps and notices == []


def test_a_stale_or_damaged_encoder_is_reported_not_raised(model_dir: Path, one_thread):
    G = load_generator(model_dir)
    write_encoder(tiny_generator(32, seed=7), model_dir)
    lookup = find_encoder(G)
    assert lookup.encoder is None and "another generator" in lookup.reason
    notices = []
    invert_photo(G, crop_for(G.img_resolution), FEW, notice=notices.append)
    assert len(notices) == 1 and "another generator" in notices[0]
    encoder_path_for(model_dir).write_bytes(b"\x00" * 40)
    assert find_encoder(G).encoder is None
    assert find_encoder(tiny_generator(32)).reason.startswith("the generator was not loaded from a file")


@pytest.mark.slow
def test_the_shipped_encoder_belongs_to_the_shipped_generator_and_beats_the_average_face(one_thread):
    """The committed encoder file is small, matches the embedded model's fingerprint, and its
    one-pass guess is closer to a real face than the average face is (the astronaut photo,
    found and aligned by MediaPipe; no CelebA image, held out or not)."""
    import skimage.data

    from assistant.photo import prepare_photo
    from draggan_core.image_metrics import psnr

    path = default_model_path()
    assert encoder_path_for(path).stat().st_size < 5_000_000
    G = load_generator(path)
    lookup = find_encoder(G)
    assert lookup.encoder is not None, lookup.reason
    target = prepare_photo(skimage.data.astronaut(), G.img_resolution).target()
    with torch.no_grad():
        guess = G.synthesis(lookup.encoder(target), noise_mode="const")
        average = G.synthesis(G.mapping.w_avg.view(1, 1, -1).repeat(1, G.num_ws, 1), noise_mode="const")
        perceptual = PerceptualDistance(lookup.encoder.features)
        assert float(perceptual(guess, target)[0]) < float(perceptual(average, target)[0])
        assert float(psnr(guess, target)[0]) > float(psnr(average, target)[0])
