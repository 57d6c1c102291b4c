"""Sparse tensors and sparse 3D convolution with interchangeable backends.

One small API (see docs/sparse.md)::

    from multimodal.models import sparse as sp
    x, point_to_voxel = sp.voxelize(points, voxel_size=0.1, batch=batch)   # (N, >=4) metres
    y = sp.SparseConv3d(1, 32, kernel_size=3)(x)                          # submanifold
    z = sp.SparseConv3d(32, 64, kernel_size=2, stride=2)(y)               # tensor stride 2
    u = sp.SparseConvTranspose3d(64, 32, kernel_size=2, stride=2)(z)      # back on y's voxels
    per_point = sp.devoxelize(sp.cat(u, y), point_to_voxel)               # (N, 64)

Backends: ``native`` (pure PyTorch, default), ``minkowski`` (MinkowskiEngine 0.5.4), ``spconv``
(spconv 2.x, CUDA only). The backend is a run-time setting, read when a tensor is made: for the
process with ``sp.set_backend("minkowski")`` or ``with sp.use_backend("minkowski"): ...`` (else
``$MULTIMODAL_SPARSE_BACKEND``, else ``native``), or per call with ``backend=``.
"""
from .backends import BACKENDS, BackendUnavailable, available_backends, get_backend
from .kernel_map import KernelMap, kernel_offsets
from .nn import (
    SparseActivation,
    SparseBatchNorm,
    SparseConv3d,
    SparseConvTranspose3d,
    SparseGlobalPool,
    SparsePool3d,
    SparseReLU,
    global_pool,
)
from .settings import BACKEND_ENV, current_backend, deterministic, set_backend, set_deterministic, use_backend
from .tensor import SparseTensor, cat, sparse_tensor
from .voxelize import PointGroups, devoxelize, group_points, voxel_coords, voxelize

__all__ = [
    "BACKENDS",
    "BACKEND_ENV",
    "BackendUnavailable",
    "KernelMap",
    "PointGroups",
    "SparseActivation",
    "SparseBatchNorm",
    "SparseConv3d",
    "SparseConvTranspose3d",
    "SparseGlobalPool",
    "SparsePool3d",
    "SparseReLU",
    "SparseTensor",
    "available_backends",
    "cat",
    "current_backend",
    "deterministic",
    "devoxelize",
    "get_backend",
    "global_pool",
    "group_points",
    "kernel_offsets",
    "set_backend",
    "set_deterministic",
    "sparse_tensor",
    "use_backend",
    "voxel_coords",
    "voxelize",
]
