"""Sparse tensors and sparse 3D convolution with interchangeable backends.

One small API (see docs/sparse.md)::

    from multimodal.models import sparse as sp
    x, point_to_voxel = sp.voxelize(points, voxel_size=0.1, batch=batch)   # (N, >=4) metres
    y = sp.SparseConv3d(1, 32, kernel_size=3)(x)                          # submanifold
    z = sp.SparseConv3d(32, 64, kernel_size=2, stride=2)(y)               # tensor stride 2
    u = sp.SparseConvTranspose3d(64, 32, kernel_size=2, stride=2)(z)      # back on y's voxels
    per_point = sp.devoxelize(sp.cat(u, y), point_to_voxel)               # (N, 64)

Backends: ``native`` (pure PyTorch, default), ``minkowski`` (MinkowskiEngine 0.5.4), ``spconv``
(spconv 2.x, CUDA only); pick one with ``backend=`` or ``$MULTIMODAL_SPARSE_BACKEND``.
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
from .settings import BACKEND_ENV, deterministic, set_deterministic
from .tensor import SparseTensor, cat, sparse_tensor
from .voxelize import devoxelize, voxel_coords, voxelize

__all__ = [
    "BACKENDS",
    "BACKEND_ENV",
    "BackendUnavailable",
    "KernelMap",
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
    "deterministic",
    "devoxelize",
    "get_backend",
    "global_pool",
    "kernel_offsets",
    "set_deterministic",
    "sparse_tensor",
    "voxel_coords",
    "voxelize",
]
