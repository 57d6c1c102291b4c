"""Kernel maps: for each kernel offset, which input row feeds which output row.

A kernel map is what a sparse convolution spends its indexing time on; it depends only on the two
coordinate sets, the kernel size and the tensor stride, so the coordinate context computes it once
and every layer (and the backward pass) that shares them reuses it.

Conventions (the same as MinkowskiEngine, and what the dense reference of the tests assumes):

- Kernel offsets ``d`` (x, y, z) run over ``-r..r`` for an odd kernel size ``k = 2r + 1`` and over
  ``0..k-1`` for an even one; they are ordered with z fastest, i.e. offset index
  ``(dx' * k + dy') * k + dz'`` with ``d' = d + r`` (odd) or ``d' = d`` (even). That is the order of
  a dense ``conv3d`` weight ``(C_out, C_in, kx, ky, kz)`` flattened over its last three axes.
- Convolution at input tensor stride ``s``: ``out[o] = sum_d in[o + d * s] @ W[d]`` (cross-correlation,
  as ``torch.nn.functional.conv3d``). A strided convolution's output coordinates are the input
  coordinates floored to multiples of ``2 s``.
- A transposed convolution's map is the strided map with input and output swapped.

Every map is injective per offset in both directions (an output gets at most one input per
offset and vice versa): per-offset scatters then never collide, which keeps them deterministic.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import lru_cache

import torch

from .coords import MARGIN, KeyPacking, lookup
from .dense_index import DenseIndex


@lru_cache(maxsize=None)
def _offsets_list(kernel_size: int) -> tuple[tuple[int, int, int], ...]:
    if kernel_size < 1:
        raise ValueError(f"kernel_size must be >= 1, got {kernel_size}")
    if kernel_size % 2:
        r = kernel_size // 2
        axis = range(-r, r + 1)
    else:
        axis = range(kernel_size)
    return tuple(itertools.product(axis, axis, axis))  # z fastest


def kernel_offsets(kernel_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``(k**3, 3)`` int64 offsets (x, y, z) in kernel index order (z fastest), in strides."""
    return torch.tensor(_offsets_list(kernel_size), dtype=torch.int64, device=device)


def kernel_volume(kernel_size: int) -> int:
    return kernel_size**3


@dataclass
class KernelMap:
    """Input/output row pairs of one convolution, grouped by kernel offset.

    Attributes:
        kernel_size: edge length of the cubic kernel.
        n_in, n_out: rows of the input and output coordinate sets.
        kernel_index: the offsets that have at least one pair (ascending kernel index), except
            the identity offset (see ``identity``).
        bounds: pairs of ``kernel_index[j]`` are ``in_idx[bounds[j]:bounds[j+1]]`` etc.
        in_idx, out_idx: ``(P,)`` int64 rows, concatenated over ``kernel_index``.
        identity: kernel index whose map is ``in == out == arange(n)`` (centre offset of a
            submanifold convolution), computed as one dense matrix product; None otherwise.
    """

    kernel_size: int
    n_in: int
    n_out: int
    kernel_index: list[int]
    bounds: list[int]
    in_idx: torch.Tensor
    out_idx: torch.Tensor
    identity: int | None = None
    _transposed: KernelMap | None = field(default=None, repr=False)

    @property
    def num_pairs(self) -> int:
        """Number of (input, output) pairs, the identity offset included."""
        return int(self.in_idx.numel()) + (self.n_in if self.identity is not None else 0)

    def transposed(self) -> KernelMap:
        """The same pairs with input and output swapped (cached): the map of the transposed
        convolution, and of every backward pass with respect to the input."""
        if self._transposed is None:
            t = KernelMap(
                kernel_size=self.kernel_size,
                n_in=self.n_out,
                n_out=self.n_in,
                kernel_index=self.kernel_index,
                bounds=self.bounds,
                in_idx=self.out_idx,
                out_idx=self.in_idx,
                identity=self.identity,
            )
            t._transposed = self
            self._transposed = t
        return self._transposed

    def pairs(self, kernel_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(in_rows, out_rows)`` of one kernel offset (empty when it has no pair)."""
        if kernel_idx == self.identity:
            ar = torch.arange(self.n_in, device=self.in_idx.device)
            return ar, ar
        if kernel_idx in self.kernel_index:
            j = self.kernel_index.index(kernel_idx)
            a, b = self.bounds[j], self.bounds[j + 1]
            return self.in_idx[a:b], self.out_idx[a:b]
        empty = self.in_idx.new_empty(0)
        return empty, empty


def _check_reach(kernel_size: int, tensor_stride: int) -> None:
    reach = (kernel_size // 2 if kernel_size % 2 else kernel_size - 1) * tensor_stride
    if 2 * tensor_stride > MARGIN or reach > MARGIN:
        raise ValueError(
            f"kernel size {kernel_size} at tensor stride {tensor_stride} reaches {reach} voxels, "
            f"beyond the coordinate margin {MARGIN} (models/sparse/coords.py)"
        )


def _assemble(
    kernel_size: int,
    n_in: int,
    n_out: int,
    groups: dict[int, tuple[torch.Tensor, torch.Tensor]],
    identity: int | None,
    device: torch.device,
) -> KernelMap:
    kernel_index = sorted(k for k, (i, _) in groups.items() if i.numel() > 0)
    bounds = [0]
    for k in kernel_index:
        bounds.append(bounds[-1] + int(groups[k][0].numel()))
    if kernel_index:
        in_idx = torch.cat([groups[k][0] for k in kernel_index])
        out_idx = torch.cat([groups[k][1] for k in kernel_index])
    else:
        in_idx = torch.empty(0, dtype=torch.int64, device=device)
        out_idx = torch.empty(0, dtype=torch.int64, device=device)
    return KernelMap(kernel_size, n_in, n_out, kernel_index, bounds, in_idx, out_idx, identity)


def submanifold_map(
    keys: torch.Tensor,
    packing: KeyPacking,
    kernel_size: int,
    tensor_stride: int,
    coords: torch.Tensor | None = None,
) -> KernelMap:
    """Kernel map of a stride-1 (submanifold) convolution over one coordinate set.

    Args:
        keys: ``(N,)`` int64 packed keys of the set, strictly ascending (row i has key i).
        packing: the set's key packing.
        kernel_size: odd or even edge length.
        tensor_stride: the set's tensor stride ``s`` (offsets step by ``s`` voxels).
        coords: the set's ``(N, 4)`` coordinates; when given and the set is compact enough, the
            map comes from a dense cell table (``dense_index.py``) instead of binary searches.
    """
    _check_reach(kernel_size, tensor_stride)
    if kernel_size % 2 == 0:
        offs = packing.offset_keys(kernel_offsets(kernel_size, keys.device) * tensor_stride)
        return _search_map(keys, keys, offs, kernel_size)
    if coords is not None:
        index = DenseIndex.build(coords, tensor_stride, pad=kernel_size // 2)
        if index is not None:
            return _submanifold_dense(coords, index, kernel_size)
    return _submanifold_odd(keys, packing, kernel_size, tensor_stride)


def _submanifold_dense(coords: torch.Tensor, index: DenseIndex, kernel_size: int) -> KernelMap:
    # One gather per half of the offsets (the other half is the same pairs, swapped).
    n = coords.shape[0]
    offsets = _offsets_list(kernel_size)
    centre = len(offsets) // 2
    half = list(range(centre + 1, len(offsets)))  # offsets after the centre: d > 0 in key order
    ids = index.cell_ids(coords)
    nb = index.table[ids.unsqueeze(0) + index.offset_ids([offsets[k] for k in half]).unsqueeze(1)]
    match = nb >= 0
    counts = match.sum(1).tolist()
    rows = torch.arange(n, device=coords.device).unsqueeze(0).expand_as(nb)
    in_split = nb[match].to(torch.int64).split(counts)
    out_split = rows[match].split(counts)
    groups: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    for k, in_rows, out_rows in zip(half, in_split, out_split):
        groups[k] = (in_rows, out_rows)
        groups[len(offsets) - 1 - k] = (out_rows, in_rows)  # offset -d has index K-1-k
    return _assemble(kernel_size, n, n, groups, identity=centre, device=coords.device)


def _submanifold_odd(keys: torch.Tensor, packing: KeyPacking, kernel_size: int, s: int) -> KernelMap:
    # Why not one search per offset: neighbours that differ only in z are adjacent in key order
    # (z is the fastest field), so one lower-bound search per (dx, dy) column finds all 2r+1 of
    # them by walking forward; and the map of offset -d is the map of d with rows swapped, so only
    # half of the columns are searched. For k=3 that is 4 searches instead of 27.
    r = kernel_size // 2
    n = keys.numel()
    dev = keys.device
    step_x, step_y, _ = packing.axis_steps
    offsets = _offsets_list(kernel_size)
    index_of = {o: i for i, o in enumerate(offsets)}
    centre = index_of[(0, 0, 0)]
    groups: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    # A sentinel after the last key: positions == n read it and never match (keys are >= 0).
    padded = torch.cat([keys, keys.new_full((1,), -1)])
    rows = torch.arange(n, device=dev)

    # The voxel's own column: the candidate for dz is the next row not yet matched.
    pos = rows + 1
    for dz in range(1, r + 1):
        match = padded[pos] == keys + dz * s
        in_rows, out_rows = pos[match], rows[match]
        groups[index_of[(0, 0, dz)]] = (in_rows, out_rows)
        groups[index_of[(0, 0, -dz)]] = (out_rows, in_rows)
        pos = pos + match

    columns = [(dx, dy) for dx in range(0, r + 1) for dy in range(-r, r + 1) if dx > 0 or dy > 0]
    if columns:
        col_delta = torch.tensor([(dx * step_x + dy * step_y) * s for dx, dy in columns], dtype=torch.int64, device=dev)
        base = keys.unsqueeze(0) + col_delta.unsqueeze(1)  # (C, N): key of (x+dx, y+dy, z)
        pos = torch.searchsorted(keys, base - r * s)  # first row at or after (x+dx, y+dy, z-r)
        ncol = len(columns)
        col_rows = rows.unsqueeze(0).expand(ncol, n)
        for dz in range(-r, r + 1):
            match = padded[pos] == base + dz * s
            counts = match.sum(1).tolist()
            in_all = pos[match].split(counts)
            out_all = col_rows[match].split(counts)
            for (dx, dy), in_rows, out_rows in zip(columns, in_all, out_all):
                groups[index_of[(dx, dy, dz)]] = (in_rows, out_rows)
                groups[index_of[(-dx, -dy, -dz)]] = (out_rows, in_rows)
            pos = pos + match
    groups.pop(centre, None)
    return _assemble(kernel_size, n, n, groups, identity=centre, device=keys.device)


def _search_map(out_keys: torch.Tensor, in_keys: torch.Tensor, offset_keys: torch.Tensor, kernel_size: int) -> KernelMap:
    # General case: every (offset, output) query in one vectorized searchsorted.
    queries = out_keys.unsqueeze(0) + offset_keys.unsqueeze(1)  # (K, N_out)
    pos = lookup(in_keys, queries)
    match = pos >= 0
    counts = match.sum(1).tolist()
    out_rows = torch.arange(out_keys.numel(), device=out_keys.device).unsqueeze(0).expand_as(pos)
    in_split = pos[match].split(counts)
    out_split = out_rows[match].split(counts)
    groups = {k: (i, o) for k, (i, o) in enumerate(zip(in_split, out_split))}
    return _assemble(kernel_size, in_keys.numel(), out_keys.numel(), groups, identity=None, device=out_keys.device)


def _check_power_of_two(stride: int) -> int:
    if stride < 1 or stride & (stride - 1):
        raise ValueError(f"tensor strides must be powers of two, got {stride}")
    return stride.bit_length() - 1


def downsample(
    coords: torch.Tensor, packing: KeyPacking, out_stride: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Coordinates floored to multiples of ``out_stride`` (a power of two).

    Args:
        coords: ``(N, 4)`` int ``[batch, x, y, z]``.
    Returns:
        ``(keys, coords_out, inverse)``: ascending unique int64 keys ``(M,)``, their coordinates
        ``(M, 4)`` int32, and ``(N,)`` int64, the output row of each input row.
    """
    _check_power_of_two(out_stride)
    q = coords.to(torch.int32).clone()
    q[:, 1:] &= -out_stride  # two's complement: floor to a multiple of a power of two, also below 0
    keys, inverse = torch.unique(packing.pack(q), sorted=True, return_inverse=True)
    # Every input row of an output carries the same coordinates: any copy is the right one.
    out = q.new_empty(keys.numel(), 4).index_copy_(0, inverse, q)
    return keys, out, inverse


def strided_map(
    in_coords: torch.Tensor,
    in_keys: torch.Tensor,
    out_keys: torch.Tensor,
    inverse: torch.Tensor,
    packing: KeyPacking,
    kernel_size: int,
    in_stride: int,
) -> KernelMap:
    """Kernel map of a stride-2 convolution from tensor stride ``s`` to ``2 s``.

    Args:
        in_coords: ``(N, 4)`` int input coordinates (rows in key order).
        in_keys, out_keys: ascending packed keys of input and output sets.
        inverse: ``(N,)`` output row of each input row (from ``downsample_keys``).
        kernel_size: edge length; 2 (the U-Net's down-sampling) needs no search at all.
        in_stride: the input tensor stride ``s``.
    """
    _check_reach(kernel_size, in_stride)
    if kernel_size == 2:
        # Each input lies in exactly one output cell: its offset is where it sits in that cell.
        rel = (in_coords[:, 1:].to(torch.int64) >> _check_power_of_two(in_stride)) & 1
        kidx = (rel[:, 0] * 2 + rel[:, 1]) * 2 + rel[:, 2]
        order = torch.sort(kidx, stable=True).indices
        counts = torch.bincount(kidx, minlength=8).tolist()
        in_split = order.split(counts)
        out_split = inverse[order].split(counts)
        groups = {k: (i, o) for k, (i, o) in enumerate(zip(in_split, out_split))}
        return _assemble(kernel_size, in_keys.numel(), out_keys.numel(), groups, identity=None, device=in_keys.device)
    if kernel_size == 3:
        return _strided_k3(in_coords, out_keys, inverse, packing, in_stride)
    offs = packing.offset_keys(kernel_offsets(kernel_size, in_keys.device) * in_stride)
    return _search_map(out_keys, in_keys, offs, kernel_size)


def _strided_k3(
    in_coords: torch.Tensor, out_keys: torch.Tensor, inverse: torch.Tensor, packing: KeyPacking, s: int
) -> KernelMap:
    # Search from the inputs, not the outputs. Input c feeds output o with offset d = (c - o) / s,
    # o a multiple of 2s. Along an axis where c / s is even only d = 0 works; where it is odd,
    # d = +1 (o = c - s: the floored output, which exists by construction) or d = -1 (o = c + s,
    # to look up). So offset d takes exactly the inputs whose odd axes are those where d != 0, and
    # only offsets with a -1 need a lookup: 2.4 lookups per input on average instead of 27 per output.
    odd = (in_coords[:, 1:].to(torch.int64) >> _check_power_of_two(s)) & 1  # (N, 3), floor(c / s) % 2
    pattern = odd[:, 0] * 4 + odd[:, 1] * 2 + odd[:, 2]
    order = torch.sort(pattern, stable=True).indices
    by_pattern = order.split(torch.bincount(pattern, minlength=8).tolist())
    steps = packing.axis_steps
    groups: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    queries: list[tuple[int, torch.Tensor, torch.Tensor]] = []  # (kernel index, input rows, output keys)
    floor_keys = out_keys.index_select(0, inverse)
    for kidx, d in enumerate(_offsets_list(3)):
        rows = by_pattern[4 * abs(d[0]) + 2 * abs(d[1]) + abs(d[2])]
        shift = sum(2 * s * st for da, st in zip(d, steps) if da == -1)
        if shift == 0:
            groups[kidx] = (rows, inverse.index_select(0, rows))
        else:
            queries.append((kidx, rows, floor_keys.index_select(0, rows) + shift))
    if queries:
        found = lookup(out_keys, torch.cat([q[2] for q in queries]))
        for (kidx, rows, _), f in zip(queries, found.split([q[1].numel() for q in queries])):
            hit = f >= 0
            groups[kidx] = (rows[hit], f[hit])
    return _assemble(3, in_coords.shape[0], out_keys.numel(), groups, identity=None, device=in_coords.device)
