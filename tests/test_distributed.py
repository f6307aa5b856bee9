"""Training in several processes: batch shares, gradient averaging, checkpoints and resume,
a lost peer, and the torchrun command. Process groups are gloo on CPU, as on a machine without GPUs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from assistant.commands.train import main as train_main
from stylegan2.batch_rows import BatchRows
from stylegan2.discriminator import minibatch_stddev
from stylegan2.distributed import (DistContext, DistributedError, env_context, init_from_env, local_device,
                                   run_local, shutdown, sync_gradients)
from stylegan2.train_checkpoint import load_training_checkpoint
from stylegan2.training import TrainConfig, Trainer

# Per-rank batch 4 = the minibatch-stddev group, so two ranks form exactly one process's groups.
TINY = dict(resolution=16, z_dim=16, w_dim=16, mapping_layers=2, channel_base=128, channel_max=16, batch=8,
            r1_interval=2, device="cpu")
IMAGES = np.random.default_rng(0).integers(0, 256, (12, 16, 16, 3), dtype=np.uint8)
STEPS = 3  # R1 runs at steps 0 and 2, so the lazy regularisation step is averaged too


# ---------------------------------------------------------------- batch shares (pure)

def test_ranks_share_a_batch_without_overlap_and_keep_minibatch_groups():
    x = torch.arange(16.0).view(16, 1, 1, 1).expand(16, 2, 1, 1).contiguous()
    shares = [BatchRows(16, rank, 2, group=4) for rank in range(2)]
    taken = [r.take(x) for r in shares]
    assert all(t.shape[0] == 8 for t in taken)
    rows = sorted(int(v) for t in taken for v in t[:, 0, 0, 0])
    assert rows == list(range(16)), "the two ranks' rows are the whole batch, each row once"
    whole = minibatch_stddev(x, group_size=4)[:, -1, 0, 0]
    for share, t in zip(shares, taken):
        torch.testing.assert_close(minibatch_stddev(t, group_size=4)[:, -1, 0, 0], share.take(whole))
    assert BatchRows(16).take(x) is x


def test_a_rank_draws_its_rows_of_the_whole_batch():
    torch.manual_seed(3)
    whole = torch.randn(8, 5)
    for rank in range(2):
        share = BatchRows(8, rank, 2, group=2)
        torch.manual_seed(3)
        torch.testing.assert_close(share.randn(5), share.take(whole), rtol=0, atol=0)
    torch.manual_seed(3)
    mine = BatchRows(8).randint(0, 9, 2)
    torch.manual_seed(3)
    torch.testing.assert_close(mine, torch.randint(0, 9, (8, 2)), rtol=0, atol=0)


def test_batch_shares_that_would_split_a_group_are_refused():
    with pytest.raises(ValueError, match="do not hold whole groups"):
        BatchRows(8, 0, 4, group=4)
    with pytest.raises(ValueError, match="equal shares"):
        BatchRows(10, 0, 4)


def test_torchrun_environment_and_devices():
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    assert env_context(env) == DistContext(rank=3, world_size=4, local_rank=1, local_world_size=2)
    assert env_context({}) == DistContext()
    with pytest.raises(DistributedError, match="do not fit"):
        env_context({"RANK": "2", "WORLD_SIZE": "2"})
    job = env_context(env)
    assert local_device(torch.device("cuda"), job) == torch.device("cuda", 1)
    assert local_device(torch.device("cpu"), job) == torch.device("cpu")
    assert local_device(torch.device("cuda"), DistContext()) == torch.device("cuda"), "one process: as given"
    with pytest.raises(DistributedError, match="use --device cuda"):
        local_device(torch.device("cuda:1"), job)


# ---------------------------------------------------------------- two processes vs one

def _two_process_run(out: str) -> None:
    """Each rank: STEPS steps, rank 0 checkpoints, every rank resumes that file, one more step."""
    torch.set_num_threads(1)
    job = init_from_env(torch.device("cpu"), timeout_s=60)
    try:
        trainer = Trainer(TrainConfig(**TINY), IMAGES)
        assert trainer.rows.size == 4
        for _ in range(STEPS):
            trainer.train_step()
        if job.is_writer:
            trainer.save(Path(out) / "two.safetensors")
        resumed = Trainer.resume(Path(out) / "two.safetensors", IMAGES)
        resumed.train_step()
        if job.is_writer:
            resumed.save(Path(out) / "two-resumed.safetensors")
    finally:
        shutdown()


def _assert_same_training_state(a, b, what: str) -> None:
    assert a.cur_nimg == b.cur_nimg, what
    for name in ("G", "D", "G_ema"):
        sa, sb = getattr(a, name).state_dict(), getattr(b, name).state_dict()
        for k in sa:
            torch.testing.assert_close(sa[k], sb[k], rtol=1e-4, atol=1e-5, msg=f"{what}: {name}.{k}")
    for opt, moments in a.optimizers.items():
        for pname, st in moments.items():
            for key, v in st.items():
                torch.testing.assert_close(v, b.optimizers[opt][pname][key], rtol=1e-4, atol=1e-6,
                                           msg=f"{what}: Adam {opt}.{pname}.{key}")


def test_two_processes_with_half_batches_take_the_steps_of_one_process(tmp_path: Path):
    """The same seed gives both runs the same global batches (latents, noise, augmentation, real
    images, flips); the two ranks each compute half and average gradients for G, D and R1."""
    run_local(_two_process_run, 2, str(tmp_path))
    two = load_training_checkpoint(tmp_path / "two.safetensors")

    one = Trainer(TrainConfig(**TINY), IMAGES)
    for _ in range(STEPS):
        one.train_step()
    one.save(tmp_path / "one.safetensors")
    _assert_same_training_state(load_training_checkpoint(tmp_path / "one.safetensors"), two, "after 3 steps")

    single = Trainer.resume(tmp_path / "two.safetensors", IMAGES)
    assert single.optimizer_restored
    single.train_step()
    single.save(tmp_path / "single-resumed.safetensors")
    _assert_same_training_state(load_training_checkpoint(tmp_path / "single-resumed.safetensors"),
                                load_training_checkpoint(tmp_path / "two-resumed.safetensors"), "after resume")


def _lost_peer(out: str) -> None:
    """Rank 1 leaves as soon as the job is formed; rank 0 then averages gradients."""
    torch.set_num_threads(1)
    job = init_from_env(torch.device("cpu"), timeout_s=30)
    if job.rank == 1:
        os._exit(0)
    layer = torch.nn.Linear(2, 1)
    layer(torch.ones(1, 2)).sum().backward()
    t0 = time.time()
    try:
        sync_gradients(layer)
    except DistributedError as exc:
        (Path(out) / "error.txt").write_text(f"{time.time() - t0:.1f}\n{exc}")
    finally:
        shutdown()


def test_a_rank_whose_peer_is_gone_stops_with_a_message(tmp_path: Path):
    run_local(_lost_peer, 2, str(tmp_path))
    seconds, message = (tmp_path / "error.txt").read_text().split("\n", 1)
    assert float(seconds) < 30, "it must not wait for the whole timeout"
    assert message.startswith("rank 0: averaging gradients failed: another process of the job stopped")
    assert "\n" not in message


# ---------------------------------------------------------------- the torchrun command

def test_torchrun_runs_one_job_whose_checkpoint_one_process_resumes(tmp_path: Path):
    data = tmp_path / "faces"
    data.mkdir()
    for i, arr in enumerate(IMAGES[:8]):
        Image.fromarray(arr).save(data / f"{i:03d}.png")
    out = tmp_path / "run"
    arch = ["--resolution", "16", "--channel-base", "128", "--channel-max", "16", "--batch", "8", "--device", "cpu"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "assistant.commands.train", str(data), "--out", str(out), "--kimg", "0.016", *arch]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "world size 2 (gloo" in proc.stderr and "each rank computes 4 of the 8 images of a batch" in proc.stderr
    assert proc.stderr.count("loading ") == 1, "only rank 0 prints"
    assert load_training_checkpoint(out / "latest.safetensors").cur_nimg == 16
    assert '"world_size": 2' in (out / "log.jsonl").read_text()
    assert train_main([str(data), "--out", str(out), "--kimg", "0.024", "--resume", "auto", *arch]) == 0
    assert load_training_checkpoint(out / "latest.safetensors").cur_nimg == 24
