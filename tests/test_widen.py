"""Widening a training state: same images, same logits, moments that fit, clear refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from assistant.cli import main as cli_main
from stylegan2.train_checkpoint import TrainingState, load_training_checkpoint
from stylegan2.training import TrainConfig, Trainer
from stylegan2.widen import WidenError, embed, widen_state

from .test_training import TINY, image_folder  # noqa: F401  (fixture)

SHIPPED_TRAINING = Path(__file__).resolve().parents[1] / "stylegan2" / "weights" / "training" / "celeba64-train.safetensors"


def _images() -> np.ndarray:
    return (np.random.RandomState(0).rand(8, 16, 16, 3) * 255).astype(np.uint8)


def _trained(folder: Path, steps: int = 3) -> TrainingState:
    """A tiny run's state as a resumed run sees it (Adam's moments by parameter name)."""
    torch.manual_seed(0)
    trainer = Trainer(TrainConfig(**TINY), _images())
    for _ in range(steps):
        trainer.train_step()
    return load_training_checkpoint(trainer.save(folder / "t.safetensors"))


def test_embed_keeps_old_outputs_reading_only_old_inputs():
    old = torch.arange(6.0).reshape(2, 3)
    fresh = torch.full((4, 5), 9.0)
    new = embed(old, fresh, torch.arange(3), scale=2.0)
    assert torch.equal(new[:2, :3], old * 2) and torch.equal(new[:2, 3:], torch.zeros(2, 2))
    assert torch.equal(new[2:], fresh[2:]), "new outputs keep their fresh initialisation"
    moved = embed(old, fresh, torch.tensor([0, 1, 4]))
    assert torch.equal(moved[:2, [0, 1, 4]], old) and torch.equal(moved[:2, 2:4], torch.zeros(2, 2))
    assert torch.equal(embed(torch.ones(2), torch.zeros(3), fill=5.0), torch.tensor([1.0, 1.0, 5.0]))


def test_widened_networks_compute_the_same_and_keep_training(tmp_path: Path):
    state = _trained(tmp_path)
    # 128/16 -> 256/16: the 8 and 16 px blocks double, the 4x4 head (16 channels) stays
    wide = widen_state(state, 256, 16)
    assert wide.G.config.channels(16) == 2 * state.G.config.channels(16)
    assert sum(p.numel() for p in wide.G.parameters()) > sum(p.numel() for p in state.G.parameters())
    ws = state.G_ema.mapping(torch.randn(4, state.G.z_dim), None)
    for old, new in ((state.G, wide.G), (state.G_ema, wide.G_ema)):
        a, b = old.synthesis(ws), new.synthesis(ws)
        assert (a - b).abs().max() < 1e-5 * a.abs().max()
    x = torch.randn(4, 3, 16, 16)
    assert torch.allclose(state.D(x), wide.D(x), atol=1e-6)
    assert wide.train_config["channel_base"] == 256 and wide.cur_nimg == state.cur_nimg

    config = TrainConfig.from_dict(wide.train_config)
    resumed = Trainer(config, _images(), wide)
    assert resumed.optimizer_restored
    losses = [resumed.train_step() for _ in range(3)]
    assert all(torch.isfinite(v) for step in losses for v in step.values())
    grown = dict(wide.G.named_parameters())["synthesis.b16.conv1.weight"]
    assert grown[:4, 4:].abs().sum() > 0, "the zero weights from new channels into old ones start learning"


def test_new_moments_are_ordinary_sized(tmp_path: Path):
    state = _trained(tmp_path)
    wide = widen_state(state, 256, 16)
    old = state.optimizers["G"]["synthesis.b16.conv1.weight"]["exp_avg_sq"]
    new = wide.optimizers["G"]["synthesis.b16.conv1.weight"]["exp_avg_sq"]
    assert torch.equal(new[:old.shape[0], :old.shape[1]], old)
    assert torch.allclose(new[old.shape[0]:], torch.full_like(new[old.shape[0]:], float(old.mean())))
    rgb_old = state.optimizers["G"]["synthesis.b16.torgb.weight"]["exp_avg_sq"]
    rgb_new = wide.optimizers["G"]["synthesis.b16.torgb.weight"]["exp_avg_sq"]
    # torgb's fan-in doubled: stored weights x sqrt(2), so the second moment / 2
    assert torch.allclose(rgb_new[:, :rgb_old.shape[1]], rgb_old / 2)


def test_narrowing_is_refused(tmp_path: Path):
    with pytest.raises(WidenError, match="would shrink"):
        widen_state(_trained(tmp_path, steps=1), 64, 16)


def test_train_widen_needs_resume_and_writes_the_wider_config(image_folder: Path, tmp_path: Path, capsys):  # noqa: F811
    arch = ["--resolution", "16", "--batch", "4", "--device", "cpu"]
    assert cli_main(["train", str(image_folder), "--out", str(tmp_path / "a"), "--kimg", "0.008",
                     "--channel-base", "128", "--channel-max", "16", *arch]) == 0
    capsys.readouterr()
    assert cli_main(["train", str(image_folder), "--out", str(tmp_path / "b"), "--kimg", "0.008", "--widen",
                     "--channel-base", "256", "--channel-max", "16", *arch]) == 2
    assert "error: --widen grows a resumed checkpoint" in capsys.readouterr().err
    assert cli_main(["train", str(image_folder), "--out", str(tmp_path / "b"), "--kimg", "0.016", "--widen",
                     "--resume", str(tmp_path / "a" / "latest.safetensors"),
                     "--channel-base", "256", "--channel-max", "16", *arch]) == 0
    widened = load_training_checkpoint(tmp_path / "b" / "latest.safetensors")
    assert widened.G.config.synthesis.channel_base == 256 and widened.cur_nimg == 16
    assert "with optimiser state" in capsys.readouterr().err


def test_the_shipped_training_checkpoint_widens_exactly():
    """The real 64-px face model (training checkpoint in the repository) to twice its 16-64 px width."""
    state = load_training_checkpoint(SHIPPED_TRAINING)
    wide = widen_state(state, 2 * state.G.config.synthesis.channel_base, state.G.config.synthesis.channel_max)
    with torch.no_grad():
        ws = torch.cat([state.G_ema.ws_from_seed(s) for s in (0, 1, 2)])
        a, b = state.G_ema.synthesis(ws), wide.G_ema.synthesis(ws)
        x = a.clamp(-1, 1)
        logits_old, logits_new = state.D(x), wide.D(x)
    assert (a - b).abs().max() < 1e-4
    assert torch.allclose(logits_old, logits_new, atol=1e-4)
    assert wide.G.config.channels(64) == 2 * state.G.config.channels(64)
