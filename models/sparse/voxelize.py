"""Point cloud <-> voxels: pooling points into a sparse tensor, and reading features back per point."""
from __future__ import annotations

import functools

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


class PointGroups:
    """Points grouped by voxel: the one voxelizer of the code base (encoders and the LiDAR node use it).

    Attributes:
        coords: ``(V, 4)`` int32 ``[batch, x, y, z]`` of the occupied voxels, in key order (batch, x, y, z).
        point_to_voxel: ``(N,)`` int64, the row of each point's voxel.
        packing, keys: the int64 key packing of ``coords`` and the ``(V,)`` sorted keys (for the backends).
    """

    def __init__(self, points: torch.Tensor, voxel_size: float, batch: torch.Tensor | None = None):
        coords = voxel_coords(points, batch, voxel_size)
        self.packing = KeyPacking.for_coords(coords)
        self.keys, self.point_to_voxel = torch.unique(self.packing.pack(coords), sorted=True, return_inverse=True)
        self.coords = self.packing.unpack(self.keys)

    def __len__(self) -> int:
        return self.keys.numel()

    @functools.cached_property
    def count(self) -> torch.Tensor:
        """``(V,)`` int64, points per voxel."""
        return torch.bincount(self.point_to_voxel, minlength=len(self))

    @functools.cached_property
    def first(self) -> torch.Tensor:
        """``(V,)`` int64, the lowest index of a point in each voxel."""
        n_points = self.point_to_voxel.numel()
        idx = torch.arange(n_points, device=self.point_to_voxel.device)
        first = torch.full((len(self),), n_points, dtype=torch.int64, device=idx.device)
        return first.scatter_reduce(0, self.point_to_voxel, idx, "amin", include_self=True)

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """``(V, C)``: the average of each voxel's rows of ``values (N, C)`` (float, in its dtype)."""
        return _segment_sum(values, self.point_to_voxel, len(self)) / self.count.to(values.dtype).unsqueeze(1)


def group_points(points: torch.Tensor, voxel_size: float, batch: torch.Tensor | None = None) -> PointGroups:
    """Group points ``(N, >=3)`` float (x, y, z metres) by voxels of edge ``voxel_size`` metres
    (``batch (N,)`` int or None: one cloud); see :class:`PointGroups`."""
    return PointGroups(points, voxel_size, batch)


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
        backend: sparse backend name (default: the run-time setting, ``settings.default_backend_name``).

    Returns:
        ``(tensor, point_to_voxel)``: a stride-1 ``SparseTensor`` with one row per occupied voxel in
        key order (batch, x, y, z), and ``(N,)`` int64, the row of each point's voxel.
    """
    if feats is None:
        feats = points[:, 3:]
    if feats.ndim != 2 or feats.shape[0] != points.shape[0] or feats.shape[1] == 0:
        raise ValueError(f"feats must be ({points.shape[0]}, C>=1), got shape {tuple(feats.shape)}")
    if mode not in ("mean", "first"):
        raise ValueError(f"voxelize mode must be 'mean' or 'first', got {mode!r}")
    groups = group_points(points, voxel_size, batch)
    vfeats = groups.mean(feats) if mode == "mean" else feats[groups.first]
    impl = get_backend(backend)
    if isinstance(impl, NativeBackend):
        ctx = impl.make_context_packed(groups.coords, groups.packing, groups.keys)  # keys sorted: no second sort
    else:
        ctx = impl.make_context(groups.coords)
    return SparseTensor(vfeats, ctx, 1), groups.point_to_voxel


def devoxelize(x: SparseTensor, point_to_voxel: torch.Tensor) -> torch.Tensor:
    """Per-point features ``(N_points, C)``: each point gets its voxel's row of ``x`` (stride 1,
    the tensor ``voxelize`` returned or one on the same coordinate set)."""
    if x.stride != 1:
        raise ValueError(f"devoxelize needs a stride-1 tensor (upsample first), got stride {x.stride}")
    return x.feats.index_select(0, point_to_voxel)
