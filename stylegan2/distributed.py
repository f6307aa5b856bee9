"""One training job in several processes: torchrun's environment, the process group, gradient
averaging, and the few decisions that rank 0 makes for every rank.

Launch with PyTorch's own runtime (docs/training.md):

    torchrun --standalone --nproc_per_node 2 -m assistant.commands.train DATA --out DIR ...

torchrun starts the processes and sets RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE and the
rendezvous address; `init_from_env` joins them into one `torch.distributed` process group
(gloo on CPU; on GPUs NCCL for tensors on the GPU and gloo for the small control messages, so
those never wait for the GPU). Without torchrun every function here is a no-op and the trainer
is the single-process one, bit for bit.

How a step is shared: every rank holds the same G, D, G_ema and Adam state and draws the same
global batch (same seed, `stylegan2.batch_rows`), computes the losses of its own rows, and
`sync_gradients` averages the gradients before each optimiser step, so all ranks take the
same step -- the one a single process with the whole batch takes. Gradients are averaged with
one flat all-reduce per network and step, as NVIDIA's StyleGAN3 training loop does, rather than
by wrapping G and D in DistributedDataParallel: the loop alternates networks, switches
requires_grad on and off and differentiates D's gradient for R1, all of which fight DDP's
per-backward hooks. What that gives up is DDP's overlap of the exchange with the backward
pass: about 40 MB per step at the default size, cheap between GPUs of one machine
(docs/training.md has the cost across machines).

Only rank 0 writes (checkpoints, grids, the log) and reads the clock: time limits and progress
lines are rank 0's decisions, broadcast every step, so no rank ever waits in a collective that
another rank skipped. The process group has a timeout, so a rank whose peer hangs stops with a
message instead of waiting forever; a rank that crashes ends the job at once (torchrun stops
the others).
"""

from __future__ import annotations

import os
import socket
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Callable, Iterator, Mapping, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from .batch_rows import BatchRows

DEFAULT_TIMEOUT_S = 300.0  # longer than any one rank's lone work: a checkpoint, a grid, a compile
T = TypeVar("T")


class DistributedError(Exception):
    """A multi-process launch that cannot work as asked (batch split, device, data that differ
    between machines) or a process of the job that stopped answering."""


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in its job. world_size 1 is a plain single-process run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    backend: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def is_writer(self) -> bool:
        return self.rank == 0

    def describe(self, batch: int) -> str:
        """The log line that says how the job is shared."""
        return (f"world size {self.world_size} ({self.backend}, timeout {self.timeout_s:g} s): "
                f"each rank computes {batch // self.world_size} of the {batch} images of a batch")


def env_context(environ: Mapping[str, str] = os.environ) -> DistContext:
    """The job's shape from torchrun's variables; without them, one process."""
    try:
        world = int(environ.get("WORLD_SIZE", "1"))
        rank = int(environ.get("RANK", "0"))
        local_rank = int(environ.get("LOCAL_RANK", "0"))
        local_world = int(environ.get("LOCAL_WORLD_SIZE", str(world)))
    except ValueError as exc:
        raise DistributedError(f"torchrun's environment is damaged ({exc})") from None
    if not (0 <= rank < world and 0 <= local_rank < local_world):
        raise DistributedError(f"rank {rank} / local rank {local_rank} do not fit a world of {world} "
                               f"with {local_world} processes per machine")
    return DistContext(rank, world, local_rank, local_world)


def context() -> DistContext:
    """This process's place in the job it has joined (one process if it joined none)."""
    if not _active():
        return DistContext()
    env = env_context()
    return DistContext(dist.get_rank(), dist.get_world_size(), env.local_rank, env.local_world_size,
                       dist.get_backend())


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def backend_for(device: torch.device) -> str:
    """gloo on CPU; NCCL for GPU tensors plus gloo for CPU ones (control flags, objects)."""
    return "cpu:gloo,cuda:nccl" if device.type == "cuda" else "gloo"


def local_device(device: torch.device, ctx: DistContext | None = None) -> torch.device:
    """The device this process trains on. In a job a bare `cuda` is this process's own GPU,
    cuda:LOCAL_RANK; outside one the device is left exactly as given."""
    ctx = ctx if ctx is not None else context()
    if ctx.world_size == 1 or device.type != "cuda":
        return device
    if device.index is None:
        return torch.device("cuda", ctx.local_rank)
    if ctx.local_world_size > 1:
        raise DistributedError(f"--device {device} names one GPU but {ctx.local_world_size} processes share this "
                               "machine: use --device cuda, and each process takes its own (cuda:LOCAL_RANK)")
    return device


def init_from_env(device: torch.device, timeout_s: float = DEFAULT_TIMEOUT_S) -> DistContext:
    """Join the job torchrun started (a no-op without torchrun). `device` is the resolved
    training device; every collective then fails after timeout_s instead of hanging."""
    ctx = env_context()
    if ctx.world_size == 1:
        return ctx
    device_id = None
    if device.type == "cuda":
        if torch.cuda.device_count() < ctx.local_world_size:
            raise DistributedError(f"{ctx.local_world_size} processes on this machine but only "
                                   f"{torch.cuda.device_count()} GPU(s): start at most one process per GPU")
        device_id = local_device(device, ctx)
        torch.cuda.set_device(device_id)
    with _collective(ctx.rank, "joining the job"):
        dist.init_process_group(backend_for(device), timeout=timedelta(seconds=timeout_s), device_id=device_id)
    return replace(context(), timeout_s=timeout_s)


def shutdown() -> None:
    """Leave the job (a no-op outside one)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def _collective(rank: int, what: str) -> Iterator[None]:
    """A failed collective means a peer stopped or hangs: say so in one line, not a traceback."""
    try:
        yield
    except RuntimeError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0].split(". ")[0][:200]
        raise DistributedError(f"rank {rank}: {what} failed: another process of the job stopped or stopped "
                               f"answering ({first}); a process that crashed printed its own error") from exc


def rank_rows(total: int, group: int) -> BatchRows:
    """This process's rows of a global batch of `total` whose D groups `group` samples in its
    minibatch-stddev layer. The split must keep those groups whole (`stylegan2.batch_rows`)."""
    ctx = context()
    if ctx.world_size == 1:
        return BatchRows(total)
    per_rank, g = total // ctx.world_size, min(group, total)
    if total % ctx.world_size or per_rank % g:
        raise DistributedError(f"a batch of {total} over {ctx.world_size} processes must give each a multiple of "
                               f"the discriminator's minibatch-stddev group ({g}): use a batch divisible by "
                               f"{ctx.world_size * group}")
    return BatchRows(total, ctx.rank, ctx.world_size, group)


def sync_gradients(module: nn.Module) -> None:
    """Average `module`'s gradients over all ranks; call it before every optimiser step.

    Each rank's loss is the mean over its own rows, so the mean of the per-rank gradients is
    the gradient of the mean over the global batch: every rank then takes the step one process
    with the whole batch would take. Parameters without a gradient are left out; every rank runs
    the same graph, so they are the same ones everywhere. A no-op in a single process."""
    if not _active():
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    with _collective(dist.get_rank(), "averaging gradients"):
        _flat_collective(grads, _all_reduce_mean)


def _all_reduce_mean(flat: torch.Tensor) -> None:
    dist.all_reduce(flat)  # a sum: gloo has no average
    flat /= dist.get_world_size()


@torch.no_grad()
def broadcast_modules(*modules: nn.Module) -> None:
    """Give every rank rank 0's parameters and buffers (as DistributedDataParallel does when it
    wraps a module), so the ranks start from one state whatever each built or loaded."""
    if not _active():
        return
    tensors = [t.data for m in modules for t in [*m.parameters(), *m.buffers()]]
    with _collective(dist.get_rank(), "sharing rank 0's networks"):
        _flat_collective(tensors, lambda flat: dist.broadcast(flat, src=0))


@torch.no_grad()
def _flat_collective(tensors: list[torch.Tensor], op: Callable[[torch.Tensor], Any]) -> None:
    """Apply `op` in place to the tensors as one flat buffer per dtype and device: one message
    instead of hundreds, and whatever the tensors' memory formats (channels_last weights)."""
    groups: dict[tuple[torch.dtype, torch.device], list[torch.Tensor]] = {}
    for t in tensors:
        groups.setdefault((t.dtype, t.device), []).append(t)
    for group in groups.values():
        flat = torch.cat([t.flatten() for t in group])
        op(flat)
        parts = flat.split([t.numel() for t in group])
        torch._foreach_copy_(group, [part.view(t.shape) for t, part in zip(group, parts)])


def from_rank0(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` run by rank 0 alone; its result -- or its exception -- reaches every rank.

    For what only rank 0 can see: its file system holds the output folder (a resume point)
    and the checkpoint, which need not exist on other machines. Results travel pickled between
    the job's own processes, never from a file."""
    if not _active():
        return fn(*args)
    box: list[Any] = [None]
    if dist.get_rank() == 0:
        try:
            box = [(fn(*args), None)]
        except Exception as exc:  # every rank re-raises it below, so the job stops with one message
            box = [(None, exc)]
    with _collective(dist.get_rank(), "receiving rank 0's result"):
        dist.broadcast_object_list(box, src=0, device=torch.device("cpu"))
    result, exc = box[0]
    if exc is not None:
        raise exc
    return result


def barrier() -> None:
    """Wait until every rank gets here (a no-op in one process): timings start and end together."""
    if not _active():
        return
    with _collective(dist.get_rank(), "waiting for the other processes"):
        dist.barrier()


def rank0_flags(*flags: bool) -> tuple[bool, ...]:
    """Rank 0's values of `flags` on every rank: decisions taken from rank 0's clock (stop,
    report progress) must be the same everywhere, or one rank waits in a collective alone."""
    if not _active():
        return tuple(flags)
    t = torch.tensor([int(f) for f in flags], dtype=torch.int32)
    with _collective(dist.get_rank(), "receiving rank 0's decisions"):
        dist.broadcast(t, src=0)
    return tuple(bool(v) for v in t.tolist())


def mean_over_ranks(values: dict[str, torch.Tensor]) -> dict[str, float]:
    """Scalar statistics (this rank's loss means) averaged over all ranks, read to the CPU."""
    if not values:
        return {}
    stacked = torch.stack([v.float() for v in values.values()])
    if _active():
        with _collective(dist.get_rank(), "averaging statistics"):
            dist.all_reduce(stacked)
        stacked /= dist.get_world_size()
    return dict(zip(values, stacked.tolist()))


def check_same(data: bytes | memoryview, what: str) -> None:
    """Raise on every rank unless all ranks hold the same bytes of `what` (compared by CRC)."""
    if not _active():
        return
    mine = torch.tensor([zlib.crc32(data)], dtype=torch.int64)
    every = [torch.zeros_like(mine) for _ in range(dist.get_world_size())]
    with _collective(dist.get_rank(), f"comparing {what}"):
        dist.all_gather(every, mine)
    odd = [r for r, t in enumerate(every) if int(t) != int(every[0])]
    if odd:
        raise DistributedError(f"rank {odd[0]}'s {what} differ from rank 0's")


def random_state(device: torch.device) -> bytes:
    """The state of the random generators the trainer draws from. Every rank must draw the same
    global batches, so these must stay equal; code that draws on rank 0 alone would break that."""
    state = torch.get_rng_state().numpy().tobytes()
    if device.type == "cuda":
        state += torch.cuda.get_rng_state(device).numpy().tobytes()
    return state


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _local_worker(rank: int, fn: Callable[..., None], world_size: int, port: int, args: tuple) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank),
                      LOCAL_WORLD_SIZE=str(world_size), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    fn(*args)


def run_local(fn: Callable[..., None], world_size: int, *args: Any) -> None:
    """Run `fn(*args)` in `world_size` new processes on this machine, with the environment
    `torchrun --standalone` would give them (fn calls `init_from_env` itself); for tests and
    benchmarks. fn must be importable (a module-level function); it reports through files."""
    torch.multiprocessing.spawn(_local_worker, args=(fn, world_size, _free_port(), args), nprocs=world_size)
