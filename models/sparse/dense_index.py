"""A dense table of row indices over a compact coordinate set's bounding box.

For coordinate sets that fill a good part of their bounding box (synthetic grids, the coarse levels
of a U-Net), a neighbour lookup is then one gather instead of a binary search: the table costs
one int32 per cell, so it is only built when the box has at most ``CELLS_PER_ROW`` cells per
voxel (or at most ``SMALL_TABLE`` cells in all), and never more than ``MAX_CELLS``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

CELLS_PER_ROW = 32
SMALL_TABLE = 1 << 20
MAX_CELLS = 1 << 25


@dataclass(frozen=True)
class DenseIndex:
    """``table[cell]`` is the row of the voxel in that cell, or -1.

    Cells are ``coordinate // stride`` shifted so that the box plus ``pad`` cells on every side
    starts at 0; cell ids are row-major over (batch, x, y, z), like the packed keys.
    """

    table: torch.Tensor
    lo: torch.Tensor  # (3,) int64, lowest cell (x, y, z) of the padded box
    steps: tuple[int, int, int, int]  # cell-id increment per batch, x, y, z
    stride: int

    @staticmethod
    def build(coords: torch.Tensor, stride: int, pad: int) -> DenseIndex | None:
        """Index of the set ``coords`` ``(N, 4)`` int at tensor ``stride``; None when too sparse."""
        n = coords.shape[0]
        if n == 0:
            return None
        c = coords.to(torch.int64)
        cells = torch.div(c[:, 1:], stride, rounding_mode="floor")
        lo = cells.min(0).values - pad
        size = (cells.max(0).values + pad + 1 - lo).tolist()
        batches = int(c[:, 0].max()) + 1
        total = batches * size[0] * size[1] * size[2]
        if total > MAX_CELLS or total > max(CELLS_PER_ROW * n, SMALL_TABLE):
            return None
        steps = (size[0] * size[1] * size[2], size[1] * size[2], size[2], 1)
        index = DenseIndex(torch.empty(0, dtype=torch.int32, device=coords.device), lo, steps, stride)
        ids = index.cell_ids(c)
        table = torch.full((total,), -1, dtype=torch.int32, device=coords.device)
        table[ids] = torch.arange(n, dtype=torch.int32, device=coords.device)
        return DenseIndex(table, lo, steps, stride)

    def cell_ids(self, coords: torch.Tensor) -> torch.Tensor:
        """``(N,)`` int64 cell ids of coordinates ``(N, 4)`` inside the padded box."""
        c = coords.to(torch.int64)
        cells = torch.div(c[:, 1:], self.stride, rounding_mode="floor") - self.lo
        sb, sx, sy, _ = self.steps
        return c[:, 0] * sb + cells[:, 0] * sx + cells[:, 1] * sy + cells[:, 2]

    def offset_ids(self, offsets: list[tuple[int, int, int]]) -> torch.Tensor:
        """Cell-id deltas of offsets (x, y, z) in cells."""
        _, sx, sy, sz = self.steps
        return torch.tensor([dx * sx + dy * sy + dz * sz for dx, dy, dz in offsets], dtype=torch.int64, device=self.table.device)
