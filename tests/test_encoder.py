"""The inversion encoder: its training against a generator, files tied to that generator, and
inversion started from its guess."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from draggan_core.encoder import generator_fingerprint, load_encoder, save_encoder
from draggan_core.encoder_training import (EncoderTrainConfig, encoder_loss, real_batch, sample_latents, train_encoder,
                                           window_verdict)
from draggan_core.errors import DragInputError
from draggan_core.inversion import InversionConfig, invert
from draggan_core.perceptual import PerceptualDistance
from stylegan2 import CheckpointError
from tests.conftest import tiny_generator


def test_sampled_latents_mix_rows_for_a_share_of_samples():
    G = tiny_generator(32)
    gen = torch.Generator().manual_seed(0)
    ws = sample_latents(G, 64, 0.5, gen)
    assert ws.shape == (64, G.num_ws, G.w_dim)
    mixed = [(w[0] != w[-1]).any().item() for w in ws]
    assert 10 < sum(mixed) < 54
    assert sum((w[0] != w[-1]).any().item() for w in sample_latents(G, 16, 0.0, gen)) == 0


def test_window_verdict_steps_back_only_on_a_clearly_worse_or_broken_window():
    assert window_verdict(1.0, math.inf, 2.0) == "better"
    assert window_verdict(0.9, 1.0, 2.0) == "better"
    assert window_verdict(1.5, 1.0, 2.0) == "steady"
    assert window_verdict(2.5, 1.0, 2.0) == "diverged"
    assert window_verdict(math.nan, 1.0, 2.0) == "diverged"


def test_a_diverging_run_returns_its_best_weights_not_its_last(one_thread):
    G = tiny_generator(32)
    gen = torch.Generator().manual_seed(1)
    ws = sample_latents(G, 8, 0.0, gen)
    with torch.no_grad():
        images = G.synthesis(ws, noise_mode="const")
    perceptual = PerceptualDistance()
    reckless = EncoderTrainConfig(steps=40, batch=4, lr=3.0, min_lr_fraction=1.0, guard_every=5)
    unguarded = dataclasses.replace(reckless, guard_ratio=math.inf)
    trained = [train_encoder(G, None, c) for c in (EncoderTrainConfig(steps=0), unguarded, reckless)]
    with torch.no_grad():
        start, blown, guarded = (float(encoder_loss(e, G, perceptual, images, ws, reckless)[0]) for e in trained)
    assert blown > 3 * start  # the step size really is reckless
    assert guarded < 1.5 * start


def test_real_batch_is_scaled_and_sized():
    images = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    x = real_batch(images, 7, torch.Generator().manual_seed(0))
    assert x.shape == (7, 3, 32, 32) and x.min() >= -1 and x.max() <= 1


def test_training_brings_the_guess_closer_and_files_belong_to_their_generator(tmp_path: Path, one_thread):
    G = tiny_generator(32)
    gen = torch.Generator().manual_seed(1)
    ws = sample_latents(G, 8, 0.0, gen)
    with torch.no_grad():
        images = G.synthesis(ws, noise_mode="const")
    config = EncoderTrainConfig(steps=30, batch=4, real_fraction=0.5, lr=1e-3)
    real = ((images[:4].permute(0, 2, 3, 1) + 1) * 127.5).clamp(0, 255).to(torch.uint8).numpy()
    perceptual = PerceptualDistance()
    encoder = train_encoder(G, real, config)
    untrained = train_encoder(G, real, EncoderTrainConfig(steps=0))
    with torch.no_grad():
        before = encoder_loss(untrained, G, perceptual, images, ws, config)[0]
        after = encoder_loss(encoder, G, perceptual, images, ws, config)[0]
    assert float(after) < 0.9 * float(before)
    assert not any(p.requires_grad for p in G.parameters())

    path = save_encoder(encoder, tmp_path / "enc.safetensors", generator_fingerprint(G))
    loaded = load_encoder(path, G)
    stored = loaded.state_dict()
    assert all(torch.equal(stored[k], v.half().float()) for k, v in encoder.state_dict().items())  # fp16 file
    with pytest.raises(CheckpointError, match="trained for another generator"):
        load_encoder(path, tiny_generator(32, seed=5))
    (tmp_path / "junk.safetensors").write_bytes(b"not a file")
    with pytest.raises(CheckpointError):
        load_encoder(tmp_path / "junk.safetensors", G)


def test_inversion_refines_a_given_start_without_the_w_stage(one_thread):
    G = tiny_generator(32)
    ws = G.ws_from_seed(4, 1.0)
    target = G.synthesis(ws, noise_mode="const")
    stages = []
    result = invert(G, target, InversionConfig.fast(), progress=lambda s: stages.append(s.stage), start=ws)
    assert "w" not in stages and stages.count("w+") == InversionConfig.fast().wplus_steps
    assert result.losses["w+"][0] < 1e-4, "started from the answer"
    with pytest.raises(DragInputError, match="starting latent"):
        invert(G, target, InversionConfig.fast(), start=ws[:, :1])


def test_train_encoder_command_writes_the_file_beside_the_generator(tiny_path: Path, tmp_path: Path, capsys):
    from assistant.cli import main as cli_main
    from draggan_core.encoder import encoder_path_for
    from stylegan2 import load_generator

    model = tmp_path / "g.safetensors"
    model.write_bytes(tiny_path.read_bytes())
    (tmp_path / "g.json").write_bytes(tiny_path.with_suffix(".json").read_bytes())
    assert cli_main(["train-encoder", "--model", str(model), "--steps", "2", "--batch", "2", "--threads", "1"]) == 0
    assert "wrote" in capsys.readouterr().err
    load_encoder(encoder_path_for(model), load_generator(model))
    assert cli_main(["train-encoder", "--model", str(model), "--steps", "0"]) == 2
    assert "from 1 up, not '0'" in capsys.readouterr().err
