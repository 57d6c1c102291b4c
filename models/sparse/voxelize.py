"""Point cloud <-> voxels: pooling points into a sparse tensor, and reading features back per point."""
from __future__ import annotations

import torch

from .backends import get_backend
from .backends.native import NativeBackend
from .coords import KeyPacking
from .settings import deterministic_enabled
from .tensor import SparseTensor


def voxel_coords(points: torch.Tensor, batch: torch.Tensor | None, voxel_size: float) -> torch.Tensor:
    """``(N, 4)`` int32 ``[batch, floor(x / v), floor(y / v), floor(z / v)]`` of points ``(N, >=3)``
    float metres (any frame; the voxel grid is aligned with it), ``batch`` ``(N,)`` int or None (all 0)."""
    if points.ndim != 2 or points.shape[1] < 3:
        raise ValueError(f"points must be (N, >=3) [x, y, z, ...] metres, got shape {tuple(points.shape)}")
    if voxel_size <= 0:
        raise ValueError(f"voxel_size must be > 0 metres, got {voxel_size}")
    xyz = torch.floor(points[:, :3].double() / voxel_size).to(torch.int32)
    if batch is None:
        b = torch.zeros(points.shape[0], 1, dtype=torch.int32, device=points.device)
    else:
        if batch.shape != (points.shape[0],):
            raise ValueError(f"batch must be ({points.shape[0]},) int, got shape {tuple(batch.shape)}")
        b = batch.to(torch.int32).unsqueeze(1)
    return torch.cat([b, xyz], dim=1)


def _segment_sum(values: torch.Tensor, segment: torch.Tensor, n: int) -> torch.Tensor:
    if values.is_cuda and deterministic_enabled():
        # index_add_ on CUDA sums in atomics' order; a sorted segment reduction does not.
        order = torch.sort(segment, stable=True).indices
        lengths = torch.bincount(segment, minlength=n)
        return torch.segment_reduce(values[order], "sum", lengths=lengths, axis=0)
    return values.new_zeros(n, values.shape[1]).index_add_(0, segment, values)


def voxelize(
    points: torch.Tensor,
    voxel_size: float,
    batch: torch.Tensor | None = None,
    feats: torch.Tensor | None = None,
    mode: str = "mean",
    backend: str | None = None,
) -> tuple[SparseTensor, torch.Tensor]:
    """Pool points into voxels.

    Args:
        points: ``(N, >=3)`` float, x, y, z in metres in the cloud's frame.
        voxel_size: voxel edge in metres.
        batch: ``(N,)`` int batch index of each point (>= 0), or None for one cloud.
        feats: ``(N, C)`` per-point features to pool; default ``points[:, 3:]`` (C >= 1 required).
        mode: ``"mean"`` (average of the voxel's points) or ``"first"`` (the point with the lowest
            index in the voxel: no arithmetic, so bitwise reproducible anywhere).
        backend: sparse backend name (default ``$MULTIMODAL_SPARSE_BACKEND`` or ``native``).

    Returns:
        ``(tensor, point_to_voxel)``: a stride-1 ``SparseTensor`` with one row per occupied voxel in
        key order (batch, x, y, z), and ``(N,)`` int64, the row of each point's voxel.
    """
    if feats is None:
        feats = points[:, 3:]
    if feats.ndim != 2 or feats.shape[0] != points.shape[0] or feats.shape[1] == 0:
        raise ValueError(f"feats must be ({points.shape[0]}, C>=1), got shape {tuple(feats.shape)}")
    coords = voxel_coords(points, batch, voxel_size)
    packing = KeyPacking.for_coords(coords)
    keys, point_to_voxel = torch.unique(packing.pack(coords), sorted=True, return_inverse=True)
    n = keys.numel()
    if mode == "mean":
        count = torch.bincount(point_to_voxel, minlength=n).to(feats.dtype).unsqueeze(1)
        vfeats = _segment_sum(feats, point_to_voxel, n) / count
    elif mode == "first":
        idx = torch.arange(points.shape[0], device=points.device)
        first = torch.full((n,), points.shape[0], dtype=torch.int64, device=points.device)
        first = first.scatter_reduce(0, point_to_voxel, idx, "amin", include_self=True)
        vfeats = feats[first]
    else:
        raise ValueError(f"voxelize mode must be 'mean' or 'first', got {mode!r}")
    vcoords = packing.unpack(keys)
    impl = get_backend(backend)
    if isinstance(impl, NativeBackend):
        ctx = impl.make_context_packed(vcoords, packing, keys)  # keys already sorted: no second sort
    else:
        ctx = impl.make_context(vcoords)
    return SparseTensor(vfeats, ctx, 1), point_to_voxel


def devoxelize(x: SparseTensor, point_to_voxel: torch.Tensor) -> torch.Tensor:
    """Per-point features ``(N_points, C)``: each point gets its voxel's row of ``x`` (stride 1,
    the tensor ``voxelize`` returned or one on the same coordinate set)."""
    if x.stride != 1:
        raise ValueError(f"devoxelize needs a stride-1 tensor (upsample first), got stride {x.stride}")
    return x.feats.index_select(0, point_to_voxel)
