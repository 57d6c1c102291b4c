"""A data stream indexed by training step, so a resumed or multi-process run sees exactly the samples an
uninterrupted single-process run would.

Micro-batch ``m`` (``m = optimizer step * accumulation + i``) holds the global samples
``m * B .. m * B + B - 1`` of an endless sequence of per-epoch permutations of the dataset; process
``r`` of ``R`` takes its contiguous ``B / R`` share. Dataloader workers take micro-batches round-robin,
which is also the order PyTorch's DataLoader returns them in.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info


class StepSampler:
    """Global sample order: permutation ``e`` of ``range(n)`` for epoch ``e``, seeded by ``seed``."""

    def __init__(self, n_items: int, global_batch: int, seed: int = 0):
        if n_items < 1:
            raise ValueError("the dataset is empty")
        self.n, self.B, self.seed = n_items, global_batch, seed
        self._perm_cache: dict[int, np.ndarray] = {}

    def _perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._perm_cache:
            self._perm_cache = {epoch: np.random.default_rng([self.seed, epoch]).permutation(self.n)}
        return self._perm_cache[epoch]

    def sample(self, position: int) -> tuple[int, int]:
        """(dataset index, epoch) of global sample number ``position``."""
        epoch, k = divmod(position, self.n)
        return int(self._perm(epoch)[k]), epoch

    def micro_batch(self, m: int, rank: int = 0, world: int = 1) -> list[tuple[int, int, int]]:
        """``(global sample number, dataset index, epoch)`` of this process's share of micro-batch ``m``."""
        if self.B % world:
            raise ValueError(f"batch size {self.B} is not divisible by the {world} processes")
        local = self.B // world
        start = m * self.B + rank * local
        return [(p, *self.sample(p)) for p in range(start, start + local)]


class StepBatches(IterableDataset):
    """Collated micro-batches ``start .. stop - 1`` of this process's share (used with ``batch_size=None``).

    Items carry ``"sample_ids"`` (global sample numbers), which seed any per-sample randomness in the loss.
    """

    def __init__(self, dataset: Dataset, sampler: StepSampler, collate: Callable[[list], dict], start: int,
                 stop: int, rank: int = 0, world: int = 1):
        self.dataset, self.sampler, self.collate = dataset, sampler, collate
        self.start, self.stop, self.rank, self.world = start, stop, rank, world

    def __len__(self) -> int:
        # The whole run's length, also when resuming: Lightning restores how many batches of the epoch
        # were done and ends the epoch at len(); it must then stop exactly at ``stop``.
        return self.stop

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        for m in range(self.start + wid, self.stop, nw):
            picks = self.sampler.micro_batch(m, self.rank, self.world)
            items = []
            for _, index, epoch in picks:
                if hasattr(self.dataset, "epoch"):
                    self.dataset.epoch = epoch  # per-epoch augmentation seeds
                items.append(self.dataset[index])
            batch = self.collate(items)
            batch["sample_ids"] = torch.tensor([p for p, _, _ in picks])
            batch["micro_batch"] = torch.tensor(m)
            yield batch
