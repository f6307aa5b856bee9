"""The rows of a global training batch that one process computes, and per-sample random draws for them.

When a training step is split over several processes (docs/training.md), each one computes
`total / world_size` of the batch's images. For the split to be a pure speed-up -- the same
run as one process with the whole batch, to float rounding -- two details matter:

- Random values that belong to a sample (its latent, noise maps, augmentation, which real
  image and whether it is flipped) are drawn for the *whole* batch from a generator seeded the
  same on every rank, and each rank keeps its rows. A process that computes the whole batch
  therefore draws exactly what the single-process trainer always drew. The price is drawing
  world_size times the random numbers a rank uses, microseconds next to a network pass.
- The discriminator's minibatch-stddev layer compares samples i, i + N/G, i + 2N/G, ... of the
  batch it sees (groups of G, NVIDIA's layout). Contiguous blocks of rows would give each rank
  groups that one process never forms. Instead the batch is viewed as G rows of N/G columns,
  every group being one column, and each rank takes a block of whole columns: its own batch
  is again G rows, so its layer forms exactly the groups one process forms. This needs G to
  divide the per-rank batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class BatchRows:
    """Rank `rank` of `world_size`'s share of a batch of `total` samples whose minibatch-stddev
    groups hold `group` samples. The defaults describe one process computing everything."""

    total: int
    rank: int = 0
    world_size: int = 1
    group: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is outside a world of {self.world_size}")
        if self.total % self.world_size:
            raise ValueError(f"a batch of {self.total} does not split into {self.world_size} equal shares")
        if self.world_size > 1 and self.size % self.effective_group:
            raise ValueError(f"{self.size} rows per rank do not hold whole groups of {self.effective_group}")

    @property
    def size(self) -> int:
        """Rows this process computes."""
        return self.total // self.world_size

    @property
    def effective_group(self) -> int:
        """The group the layer really uses: a batch smaller than `group` is one group."""
        return min(self.group, self.total)

    def take(self, x: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a tensor whose first dimension is the global batch."""
        if self.world_size == 1:
            return x
        cols = self.total // self.effective_group
        per_rank = cols // self.world_size
        start = self.rank * per_rank
        return x.unflatten(0, (self.effective_group, cols))[:, start:start + per_rank].flatten(0, 1)

    def randn(self, *size: int, device: torch.device | str | None = None, dtype: torch.dtype | None = None,
              generator: torch.Generator | None = None) -> torch.Tensor:
        """`torch.randn(total, *size)` restricted to this rank's rows."""
        return self.take(torch.randn([self.total, *size], device=device, dtype=dtype, generator=generator))

    def rand(self, *size: int, device: torch.device | str | None = None, dtype: torch.dtype | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """`torch.rand(total, *size)` restricted to this rank's rows."""
        return self.take(torch.rand([self.total, *size], device=device, dtype=dtype, generator=generator))

    def randint(self, low: int, high: int, *size: int, device: torch.device | str | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """`torch.randint(low, high, (total, *size))` restricted to this rank's rows."""
        return self.take(torch.randint(low, high, [self.total, *size], device=device, generator=generator))
