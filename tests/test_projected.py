"""The frozen EfficientNet-Lite0 features (real ImageNet weights), the projected discriminator,
and the trainer running, checkpointing and resuming with it; the CPU-time budget of a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import data

from stylegan2.efficientnet import (FEATURE_CHANNELS, EfficientNetLite0Features, default_weights_path,
                                    fold_batchnorm, same_padding)
from stylegan2.projected import (ProjectedConfig, ProjectedDiscriminator, head_width, hinge_discriminator_loss,
                                 hinge_generator_loss, minibatch_std, straight_through_clamp)
from stylegan2.train_checkpoint import load_training_checkpoint
from stylegan2.training import RunLimits, TrainConfig, Trainer, run_training

TINY_PROJECTED = dict(resolution=16, z_dim=16, w_dim=16, mapping_layers=2, channel_base=128, channel_max=16,
                      batch=4, device="cpu", discriminator="projected", projected_input=64)


@pytest.fixture(scope="module")
def weights() -> dict[str, torch.Tensor]:
    return torch.load(default_weights_path(), map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def features(weights) -> EfficientNetLite0Features:
    return EfficientNetLite0Features(weights)


def _photo(name: str, size: int = 224) -> torch.Tensor:
    x = torch.from_numpy(getattr(data, name)()).permute(2, 0, 1)[None].float() / 127.5 - 1
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True)


def test_same_padding_is_tensorflows():
    assert same_padding(224, 3, 2) == (0, 1)      # the odd pixel goes after
    assert same_padding(112, 5, 2) == (1, 2)
    assert same_padding(56, 5, 1) == (2, 2)
    assert same_padding(7, 1, 1) == (0, 0)


def test_lite0_features_classify_imagenet_photos(features, weights):
    """The network is right end to end: with the (separately held) classifier head on top of its
    last feature map, a cat photo comes out as ImageNet cats and a coffee cup as espresso."""
    head_w, head_b = fold_batchnorm(weights["_conv_head.weight"], weights, "_bn1")
    with torch.no_grad():
        for name, expected in (("chelsea", {281, 282, 283, 284, 285}), ("coffee", {967})):
            maps = features(_photo(name))
            assert [m.shape[1] for m in maps] == list(FEATURE_CHANNELS)
            assert [m.shape[-1] for m in maps] == [56, 28, 14, 7]
            pooled = F.relu6(F.conv2d(maps[-1], head_w, head_b)).mean((2, 3))
            logits = pooled @ weights["_fc.weight"].T + weights["_fc.bias"]
            assert int(logits.argmax()) in expected, name


def test_feature_weights_are_frozen_buffers_outside_checkpoints(features):
    assert list(features.parameters()) == [] and features.state_dict() == {}
    assert sum(b.numel() for b in features.buffers()) > 2_500_000


def test_minibatch_std_sees_identical_samples():
    same = torch.randn(1, 3, 4, 4).repeat(4, 1, 1, 1)
    assert minibatch_std(same, 4)[:, -1].abs().max() < 1e-3
    varied = minibatch_std(torch.randn(4, 3, 4, 4), 4)
    assert varied.shape == (4, 4, 4, 4) and varied[:, -1].min() > 0.1


def test_projected_discriminator_trains_only_its_heads(features):
    D = ProjectedDiscriminator(ProjectedConfig(img_resolution=64, input_size=128), features)
    names = [n for n, _ in D.named_parameters()]
    assert names and all(n.startswith("heads.") for n in names)
    assert all(k.startswith("heads.") for k in D.state_dict())
    img = (torch.rand(4, 3, 64, 64) * 2 - 1).requires_grad_(True)
    logits = D(img)
    assert logits.shape[0] == 4 and logits.shape[1] == 5 * 5 * 3 + 1
    (grad,) = torch.autograd.grad(hinge_generator_loss(logits), img)
    assert grad.abs().sum() > 0, "G gets gradients through the frozen features"
    out_of_range = img.detach() * 3
    D.eval()  # no power iteration: spectral norm's estimate stays put between the two calls
    assert torch.equal(D(out_of_range), D(out_of_range.clamp(-1, 1))), "fakes are judged clamped to [-1, 1]"


def test_clamp_passes_gradients_outside_the_range():
    x = torch.tensor([-3.0, 0.5, 2.0], requires_grad=True)
    y = straight_through_clamp(x)
    assert y.tolist() == [-1.0, 0.5, 1.0]
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0], "an overshooting pixel still gets D's gradient"


def test_hinge_losses_and_head_widths():
    real, fake = torch.tensor([[2.0, 0.5]]), torch.tensor([[-3.0, 0.0]])
    assert float(hinge_discriminator_loss(real, fake)) == pytest.approx(0.25 + 0.5)
    assert float(hinge_generator_loss(fake)) == pytest.approx(1.5)
    assert [head_width(r, 256) for r in (4, 8, 16, 32, 64)] == [256, 256, 128, 64, 32]


def _images(n: int = 8) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, 16, 16, 3), dtype=np.uint8)


def test_trainer_with_projected_d_checkpoints_and_resumes(tmp_path: Path):
    torch.manual_seed(0)
    trainer = Trainer(TrainConfig(**TINY_PROJECTED, d_lr=0.001), _images())
    assert isinstance(trainer.state.D, ProjectedDiscriminator) and not trainer.config.uses_r1
    assert trainer.opt_D.defaults["lr"] == 0.001 and trainer.opt_G.defaults["lr"] == TrainConfig.lr
    before = {k: v.clone() for k, v in trainer.state.D.state_dict().items()}
    for _ in range(2):
        stats = trainer.train_step()
    assert set(stats) == {"loss_G", "loss_D"} and all(torch.isfinite(v) for v in stats.values())
    assert any(not torch.equal(before[k], v) for k, v in trainer.state.D.state_dict().items()), "D did not learn"
    path = trainer.save(tmp_path / "ckpt.safetensors")
    state = load_training_checkpoint(path)
    assert isinstance(state.D, ProjectedDiscriminator) and state.D.config == trainer.state.D.config
    resumed = Trainer.resume(path, _images())
    assert resumed.optimizer_restored and resumed.cur_nimg == 8
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    trainer.state.D.eval(), resumed.state.D.eval()
    with torch.no_grad():
        assert torch.allclose(trainer.state.D(x), resumed.state.D(x), atol=1e-5)


def test_cpu_budget_ends_the_run_and_cpu_time_accumulates(tmp_path: Path):
    trainer = Trainer(TrainConfig(**{**TINY_PROJECTED, "discriminator": "resnet"}), _images())
    ckpt = run_training(trainer, tmp_path / "run", RunLimits(total_kimg=1000, cpu_minutes=0.02, grid_kimg=1000),
                        stream=open("/dev/null", "w"))
    first = load_training_checkpoint(ckpt)
    assert 0 < first.cur_nimg < 1_000_000 and first.cpu_seconds >= 1.2
    resumed = Trainer.resume(ckpt, _images())
    run_training(resumed, tmp_path / "run", RunLimits(total_kimg=1000, cpu_minutes=0.01, grid_kimg=1000),
                 stream=open("/dev/null", "w"))
    assert load_training_checkpoint(ckpt).cpu_seconds >= first.cpu_seconds + 0.6


def test_unknown_discriminator_is_refused():
    with pytest.raises(ValueError, match="discriminator must be one of"):
        TrainConfig(discriminator="patchgan").discriminator_config()
