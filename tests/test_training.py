"""Trainer, data loading, discriminator, losses, augmentation, and the shipped celeba64 weights."""

from __future__ import annotations

import json
import os
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from assistant.cli import main as cli_main
from stylegan2 import CheckpointError, load_generator, save_generator
from stylegan2.augment import cutout, diff_augment, parse_policy, translation
from stylegan2.dataset import DataError, celeba_crop_box, load_images
from stylegan2.discriminator import Discriminator, DiscriminatorConfig, minibatch_stddev
from stylegan2.loading import DEFAULT_MODEL
from stylegan2.losses import discriminator_loss, generator_loss, lazy_adam_params, r1_penalty
from stylegan2.train_checkpoint import is_training_checkpoint, load_training_checkpoint
from stylegan2.training import TrainConfig, Trainer, ema_beta

TINY = dict(resolution=16, z_dim=16, w_dim=16, mapping_layers=2, channel_base=128, channel_max=16, batch=4,
            r1_interval=2, device="cpu")


def make_images(n: int = 6, size: tuple[int, int] = (89, 109)) -> list[Image.Image]:
    """Smooth random colour fields with a bright 'face' blob: distinct, decodable, cheap."""
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        w, h = size
        yy, xx = np.mgrid[0:h, 0:w]
        base = rng.integers(0, 256, 3)
        blob = np.exp(-(((xx - w / 2) / (w / 5)) ** 2 + ((yy - h / 2) / (h / 5)) ** 2))
        arr = np.clip(base[None, None] * (1 - blob[..., None]) + 230 * blob[..., None], 0, 255).astype(np.uint8)
        out.append(Image.fromarray(arr))
    return out


@pytest.fixture()
def image_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "faces"
    folder.mkdir()
    for i, im in enumerate(make_images()):
        im.save(folder / f"{i:03d}.png")
    return folder


# ---------------------------------------------------------------- data

def test_folder_zip_and_tar_gz_load_the_same_images(image_folder: Path, tmp_path: Path):
    files = sorted(image_folder.iterdir())
    with zipfile.ZipFile(tmp_path / "faces.zip", "w") as zf:
        for f in files:
            zf.write(f, f"faces/{f.name}")
    with tarfile.open(tmp_path / "faces.tar.gz", "w:gz") as tf:
        for f in files:
            tf.add(f, f"faces/{f.name}")
    a = load_images(image_folder, 32)
    assert a.shape == (6, 32, 32, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, load_images(tmp_path / "faces.zip", 32))
    np.testing.assert_array_equal(a, load_images(tmp_path / "faces.tar.gz", 32))


def test_celeba_crop_is_the_square_around_the_face():
    assert celeba_crop_box(89, 109, "auto") == (0, 10, 89, 99)
    assert celeba_crop_box(178, 218, "auto") == (0, 20, 178, 198)
    assert celeba_crop_box(100, 60, "auto") == (20, 0, 80, 60)
    assert celeba_crop_box(64, 64, "auto") is None
    im = Image.new("RGB", (89, 109), (0, 0, 0))
    im.paste((255, 255, 255), (0, 0, 89, 10))
    arr = load_images_from([im], 64)
    assert arr.shape == (1, 64, 64, 3) and arr.max() < 40, "the 10 rows above the crop must not show"


def load_images_from(images: list[Image.Image], res: int) -> np.ndarray:
    from stylegan2.dataset import prepare_image

    return np.stack([prepare_image(im, res) for im in images])


def test_corrupt_data_gives_a_clear_error(image_folder: Path, tmp_path: Path):
    (image_folder / "zz_broken.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    with pytest.raises(DataError, match=r"zz_broken\.jpg is corrupt"):
        load_images(image_folder, 32)
    bad_tar = tmp_path / "bad.tar.gz"
    bad_tar.write_bytes(b"\x1f\x8b\x08\x00 truncated gzip")
    with pytest.raises(DataError, match="not a readable tar archive"):
        load_images(bad_tar, 32)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no images found"):
        load_images(empty, 32)
    rar = tmp_path / "faces.rar"
    rar.write_bytes(b"Rar!")
    with pytest.raises(DataError, match="expected a folder, a .zip or a .tar"):
        load_images(rar, 32)


def test_cli_reports_bad_data_in_one_line(tmp_path: Path, capsys):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK not really")
    assert cli_main(["train", str(bad), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "not a readable zip archive" in err[-1]


# ---------------------------------------------------------------- networks, losses, augmentation

def test_discriminator_has_nvidia_names_and_one_logit():
    D = Discriminator(DiscriminatorConfig(img_resolution=16, channel_base=128, channel_max=16))
    keys = set(D.state_dict())
    for k in ("b16.fromrgb.weight", "b16.conv0.weight", "b16.conv1.bias", "b16.skip.weight", "b8.conv1.resample_filter",
              "b4.conv.weight", "b4.fc.weight", "b4.out.bias"):
        assert k in keys, k
    assert "b8.fromrgb.weight" not in keys and "b16.skip.bias" not in keys
    assert D(torch.randn(8, 3, 16, 16)).shape == (8, 1)


def test_minibatch_stddev_appends_the_group_spread():
    x = torch.zeros(4, 2, 3, 3)
    x[2:] = 2.0  # group 2: samples (0, 2) and (1, 3) differ by 2 everywhere -> std 1
    y = minibatch_stddev(x, group_size=2)
    assert y.shape == (4, 3, 3, 3)
    torch.testing.assert_close(y[:, 2], torch.ones(4, 3, 3), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="not divisible"):
        minibatch_stddev(torch.zeros(6, 2, 3, 3), group_size=4)


def test_losses_and_r1():
    z = torch.zeros(3, 1)
    assert generator_loss(z).item() == pytest.approx(np.log(2))
    assert discriminator_loss(z, z).item() == pytest.approx(2 * np.log(2))
    assert discriminator_loss(torch.full((3, 1), 20.0), torch.full((3, 1), -20.0)).item() < 1e-6
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    logits = (3.0 * x).sum(dim=[1, 2, 3])  # gradient 3 everywhere -> |grad|^2 = 9 * 48
    torch.testing.assert_close(r1_penalty(logits, x), torch.full((2,), 9.0 * 48))
    lr, betas = lazy_adam_params(0.0025, (0.0, 0.99), 16)
    assert lr == pytest.approx(0.0025 * 16 / 17) and betas[1] == pytest.approx(0.99 ** (16 / 17))
    assert ema_beta(64, 10**6, 20, 0.05) == pytest.approx(0.5 ** (64 / 20000))


def test_diffaugment_keeps_gradients_and_shapes():
    torch.manual_seed(0)
    x = torch.rand(8, 3, 16, 16, requires_grad=True)
    y = diff_augment(x, parse_policy("color,translation,cutout"))
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    ones = torch.ones(16, 3, 16, 16)
    zero_frac = (cutout(ones) == 0).float().mean(dim=[1, 2, 3])
    assert ((zero_frac > 0.05) & (zero_frac <= 0.25 + 1e-6)).all()
    src = torch.arange(1.0, 257.0).view(1, 1, 16, 16)
    moved = translation(src.repeat(32, 1, 1, 1))
    padded = torch.nn.functional.pad(src, [2, 2, 2, 2])
    shifts = {(dy, dx): padded[0, 0, 2 - dy:18 - dy, 2 - dx:18 - dx] for dy in range(-2, 3) for dx in range(-2, 3)}
    found = [next((d for d, ref in shifts.items() if torch.equal(m[0], ref)), None) for m in moved]
    assert None not in found, "every output must be the input shifted by at most 2 px (1/8 of 16)"
    assert len(set(found)) > 3
    with pytest.raises(ValueError, match="unknown augmentation"):
        parse_policy("color,rotate")


# ---------------------------------------------------------------- trainer and resume

def _state_equal(a: torch.nn.Module, b: torch.nn.Module, rtol: float = 0.0) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.allclose(sa[k].float(), sb[k].float(), atol=1e-4 * bool(rtol),
                                                         rtol=rtol) for k in sa)


def test_trainer_steps_checkpoint_and_resume(image_folder: Path, tmp_path: Path):
    images = load_images(image_folder, 16)
    torch.manual_seed(0)
    trainer = Trainer(TrainConfig(**TINY), images)
    before = {k: v.clone() for k, v in trainer.state.G.state_dict().items()}
    for _ in range(3):
        stats = trainer.train_step()
    assert set(stats) >= {"loss_G", "loss_D"} and all(torch.isfinite(v) for v in stats.values())
    assert trainer.cur_nimg == 12
    assert any(not torch.equal(before[k], v) for k, v in trainer.state.G.state_dict().items()), "G did not learn"
    assert not _state_equal(trainer.state.G, trainer.state.G_ema), "G_ema must lag behind G"

    path = trainer.save(tmp_path / "ckpt.safetensors")
    assert is_training_checkpoint(path)
    resumed = Trainer.resume(path, images)
    assert resumed.cur_nimg == 12 and resumed.optimizer_restored
    for name in ("G", "D", "G_ema"):
        assert _state_equal(getattr(trainer.state, name), getattr(resumed.state, name)), name
    resumed.train_step()
    assert resumed.cur_nimg == 16

    half = trainer.save(tmp_path / "half.safetensors", half=True, with_optimizer=False)
    assert all(v.dtype in (torch.float16, torch.int64) for v in load_file(str(half)).values())
    light = Trainer.resume(half, images, {"batch": 2})
    assert light.cur_nimg == 12 and light.config.batch == 2 and not light.optimizer_restored
    assert _state_equal(trainer.state.G_ema, light.state.G_ema, rtol=1e-3)


def test_gpu_speed_features_run_on_cpu_too(image_folder: Path):
    """bf16 autocast, channels_last and fused Adam are forced on here: the same code path a GPU
    takes, so a dtype or memory-format mistake shows up without a GPU."""
    trainer = Trainer(TrainConfig(**TINY, amp="bf16", channels_last="on", fused_adam="on"),
                      load_images(image_folder, 16))
    assert trainer.amp and trainer.channels_last and trainer.opt_G.defaults["fused"]
    for _ in range(2):
        stats = trainer.train_step()
    assert all(torch.isfinite(v) for v in stats.values()) and trainer.cur_nimg == 8
    assert trainer.state.G.mapping.w_avg.dtype == torch.float32 and trainer.state.G.mapping.w_avg.abs().sum() > 0


def test_train_command_writes_checkpoints_and_resumes(image_folder: Path, tmp_path: Path):
    out = tmp_path / "run"
    arch = ["--resolution", "16", "--channel-base", "128", "--channel-max", "16", "--batch", "4", "--device", "cpu"]
    assert cli_main(["train", str(image_folder), "--out", str(out), "--kimg", "0.008", *arch]) == 0
    first = load_training_checkpoint(out / "latest.safetensors")
    assert first.cur_nimg == 8
    assert (out / "grid-000000.png").is_file() and (out / "log.jsonl").read_text().strip()
    G = load_generator(out / "G_ema.safetensors")
    assert G.img_resolution == 16
    assert cli_main(["train", str(image_folder), "--out", str(out), "--kimg", "0.016", "--resume", "auto",
                     "--export-to", str(tmp_path / "weights"), *arch]) == 0
    assert load_training_checkpoint(out / "latest.safetensors").cur_nimg == 16
    exported = load_training_checkpoint(tmp_path / "weights" / "training" / "celeba64-train.safetensors")
    assert exported.cur_nimg == 16 and set(exported.optimizers) == {"G", "D"}
    compact = tmp_path / "weights" / "training" / "celeba64-train.safetensors"
    moments = {k: v.dtype for k, v in load_file(str(compact)).items() if k.startswith("opt_")}
    assert moments and all(d == (torch.float32 if k.endswith(".step") else torch.bfloat16) for k, d in moments.items())
    assert Trainer.resume(compact, load_images(image_folder, 16)).optimizer_restored
    assert json.loads((tmp_path / "weights" / "celeba64.json").read_text())["img_resolution"] == 16
    stored = load_file(str(tmp_path / "weights" / "training" / "celeba64-train.safetensors"))
    assert not any(k.startswith("G_ema.") for k in stored), "G_ema is stored once, in the generator file"
    shipped = load_generator(tmp_path / "weights" / "celeba64.safetensors")
    assert _state_equal(exported.G_ema, shipped)
    assert cli_main(["train", str(image_folder), "--out", str(out), "--kimg", "0.016", "--resume", "auto",
                     "--export-to", str(tmp_path / "unshipped"), "--checkpoint-only", *arch]) == 0
    assert not (tmp_path / "unshipped" / "celeba64.safetensors").exists()
    alone = load_training_checkpoint(tmp_path / "unshipped" / "training" / "celeba64-train.safetensors")
    assert _state_equal(alone.G_ema, shipped, rtol=1e-3)
    save_generator(exported.G, tmp_path / "weights" / "celeba64.safetensors")
    with pytest.raises(CheckpointError, match="not the G_ema this checkpoint was saved with"):
        load_training_checkpoint(tmp_path / "weights" / "training" / "celeba64-train.safetensors")


def test_model_report_writes_grid_and_timing(image_folder: Path, tmp_path: Path, capsys):
    trainer = Trainer(TrainConfig(**TINY), load_images(image_folder, 16))
    ckpt = trainer.save(tmp_path / "t.safetensors")
    assert cli_main(["model-report", str(ckpt), "-o", str(tmp_path / "rep"), "--no-fd", "--threads", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert torch.is_grad_enabled(), "the command must not switch autograd off for the whole process"
    assert Image.open(tmp_path / "rep" / "grid.png").size == (160, 160)
    assert report["cpu"]["ms_per_image_batch16"] > 0 and report["params_M"] > 0


# ---------------------------------------------------------------- the shipped model

def test_shipped_weights_load_and_give_finite_varied_images():
    assert DEFAULT_MODEL.is_file(), "stylegan2/weights/celeba64.safetensors must ship with the package"
    assert DEFAULT_MODEL.stat().st_size <= 40 * 2**20
    G = load_generator(None)
    assert G.img_resolution == 64 and G.synthesis.num_ws == 10
    z = torch.cat([G.z_from_seed(s) for s in range(4)])
    with torch.no_grad():
        img = G(z)
    assert img.shape == (4, 3, 64, 64) and torch.isfinite(img).all()
    assert img.std() > 0.05, "a flat image is not a model"
    per_seed = img.flatten(1)
    assert (per_seed[1:] - per_seed[0]).abs().mean(dim=1).min() > 0.01, "different seeds must give different images"
    assert is_training_checkpoint(DEFAULT_MODEL.parent / "training" / "celeba64-train.safetensors")


def test_model_report_summarises_face_fd_output():
    from assistant.commands.model_report import fd_summary

    space = {"fd": 1.0, "n_a": 2000, "n_b": 2000, "fail_a": 16, "fail_b": 1500, "trace_cov_a": 0.3456,
             "trace_cov_b": 0.1}
    r = {"dlib": dict(space, fd=0.2), "landmarks": dict(space, fd=5e5), "landmarks_size": dict(space, fd=4e5)}
    s = fd_summary(r, "face_fd.py a b")
    assert s["dlib"] == 0.2 and s["landmarks_size"] == 4e5 and s["mediapipe_faces"] == "500/2000"
    assert s["dlib_spread"] == {"samples": 0.1, "real": 0.3456} and s["command"] == "face_fd.py a b"


def test_a_background_run_stopped_with_kill_checkpoints_first(image_folder: Path, tmp_path: Path):
    """Started as `cmd &` from a script (SIGINT ignored) and stopped with `kill` (SIGTERM)."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    cmd = [sys.executable, "-c", "import signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
           "from assistant.commands.train import main; sys.exit(main())",
           str(image_folder), "--out", str(out), "--kimg", "1000", "--resolution", "16", "--channel-base", "128",
           "--channel-max", "16", "--batch", "4", "--device", "cpu", "--threads", "1", "--checkpoint-minutes", "60"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    for line in proc.stderr:
        if line.startswith("kimg"):
            break
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    state = load_training_checkpoint(out / "latest.safetensors")
    assert state.cur_nimg > 0, "the steps since the start were saved"
    assert proc.returncode == 130 and "Traceback" not in err and err.strip().splitlines()[-1].startswith("stopped: ")
