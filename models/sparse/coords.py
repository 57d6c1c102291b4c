"""Integer voxel coordinates packed into one int64 key, and sorted-key lookup.

A coordinate row is ``[batch, x, y, z]`` (int, voxel units at tensor stride 1; at tensor stride
``s`` the x, y, z of a voxel are multiples of ``s``, as in MinkowskiEngine). Packing is linear,

    key = ((batch * SX + (x - lo_x)) * SY + (y - lo_y)) * SZ + (z - lo_z),

so ``key(c + d) == key(c) + offset_key(d)`` as long as every field stays inside its range, and key
order is the lexicographic order of ``(batch, x, y, z)``. Linearity is what makes one sorted array
of keys answer every kernel offset with additions and a single ``searchsorted`` (see
``kernel_map.py``). The range of each axis gets a margin of ``MARGIN`` voxels on both sides so that
a neighbour query ``c + d`` never wraps into the next row of the key space (which would be a false
match): strided coordinates and kernel offsets must stay within that margin.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

# Margin (voxels, stride-1 units) around the root coordinates' bounding box. Covers kernel reach
# (radius * tensor stride) and the floor quantization of strided coordinates for tensor strides up
# to 1024 with kernel radius 1, or 256 with radius 3.
MARGIN = 2048
_KEY_LIMIT = 2**62


@dataclass(frozen=True)
class KeyPacking:
    """How a coordinate family (one root set and the sets strided from it) packs into int64 keys.

    Attributes:
        lo: lowest representable (x, y, z), stride-1 voxel units.
        size: number of representable values per axis (x, y, z).
        num_batches: batch indices must lie in ``[0, num_batches)``.
    """

    lo: tuple[int, int, int]
    size: tuple[int, int, int]
    num_batches: int

    @staticmethod
    def for_coords(coords: torch.Tensor) -> KeyPacking:
        """Packing for the root coordinates ``(N, 4)`` int ``[batch, x, y, z]`` (N >= 1)."""
        if coords.ndim != 2 or coords.shape[1] != 4:
            raise ValueError(f"coordinates must be (N, 4) [batch, x, y, z], got shape {tuple(coords.shape)}")
        if coords.shape[0] == 0:
            return KeyPacking(lo=(0, 0, 0), size=(2 * MARGIN + 1,) * 3, num_batches=1)
        mins = coords.min(0).values.tolist()
        maxs = coords.max(0).values.tolist()
        if mins[0] < 0:
            raise ValueError(f"batch indices must be >= 0, got {mins[0]}")
        lo = tuple(int(m) - MARGIN for m in mins[1:])
        size = tuple(int(hi) - int(m) + 2 * MARGIN + 1 for m, hi in zip(mins[1:], maxs[1:]))
        num_batches = int(maxs[0]) + 1
        total = num_batches * size[0] * size[1] * size[2]
        if total >= _KEY_LIMIT:
            raise ValueError(
                f"coordinate range too large to pack into int64 keys: batches={num_batches}, "
                f"extent (x, y, z)={tuple(s - 2 * MARGIN for s in size)} voxels; use a larger voxel size"
            )
        return KeyPacking(lo=lo, size=size, num_batches=num_batches)  # type: ignore[arg-type]

    @property
    def axis_steps(self) -> tuple[int, int, int]:
        """Key increment for +1 along x, y, z."""
        return (self.size[1] * self.size[2], self.size[2], 1)

    def pack(self, coords: torch.Tensor) -> torch.Tensor:
        """``(N, 4)`` int coordinates -> ``(N,)`` int64 keys."""
        c = coords.to(torch.int64)
        sx, sy, sz = self.size
        key = c[:, 0] * sx + (c[:, 1] - self.lo[0])
        key = key * sy + (c[:, 2] - self.lo[1])
        return key * sz + (c[:, 3] - self.lo[2])

    def unpack(self, keys: torch.Tensor) -> torch.Tensor:
        """``(N,)`` int64 keys -> ``(N, 4)`` int32 coordinates (inverse of ``pack``)."""
        sx, sy, sz = self.size
        z = keys % sz
        rest = keys // sz
        y = rest % sy
        rest = rest // sy
        x = rest % sx
        b = rest // sx
        out = torch.stack([b, x + self.lo[0], y + self.lo[1], z + self.lo[2]], dim=1)
        return out.to(torch.int32)

    def offset_keys(self, offsets: torch.Tensor) -> torch.Tensor:
        """``(K, 3)`` int offsets (x, y, z; stride-1 voxel units) -> ``(K,)`` int64 key deltas."""
        steps = torch.tensor(self.axis_steps, dtype=torch.int64, device=offsets.device)
        return (offsets.to(torch.int64) * steps).sum(1)


def lower_bound(sorted_keys: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """Index of the first key >= each query; ``len(sorted_keys)`` where none (int64)."""
    return torch.searchsorted(sorted_keys, queries)


def lookup(sorted_keys: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """Position of each query in ``sorted_keys`` (unique, ascending), or -1 when absent."""
    n = sorted_keys.numel()
    if n == 0:
        return torch.full_like(queries, -1)
    pos = torch.searchsorted(sorted_keys, queries)
    found = sorted_keys[pos.clamp_max(n - 1)] == queries
    return torch.where(found, pos, torch.full_like(pos, -1))
