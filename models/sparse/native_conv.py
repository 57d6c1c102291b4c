"""Sparse convolution over a kernel map, in plain PyTorch, with a backward that reuses the map.

Forward, for a map with ``P`` (input, output) pairs grouped by kernel offset:

    G = feats[in_idx]                      (P, C_in)   one gather for all offsets
    Y[pairs of k] = G[pairs of k] @ W[k]   (P, C_out)  one GEMM per offset, written in place
    out.index_add_(0, out_idx, Y)          (N_out, C_out)

plus, for a submanifold convolution, the centre offset as one dense ``feats @ W[centre]`` (it pairs
every row with itself, so it needs neither gather nor scatter). Backward reuses the same map:
``grad_out[out_idx]`` is gathered once and serves both the weight gradient (per-offset
``G_k^T @ dY_k``) and the input gradient (the transposed map). Autograd through the forward ops
would store one gathered copy per offset and build ~80 graph nodes per layer; the custom Function
stores only the input features and the weights.

Determinism: on CPU ``index_add_`` runs serially in index order. On CUDA it uses atomics, so in
deterministic mode the scatter runs per offset: within one offset the output rows are unique
(kernel maps are injective), so no two atomics meet and the sum order is the offset order.
"""
from __future__ import annotations

import torch

from .kernel_map import KernelMap
from .settings import deterministic_enabled


def _scatter_rows(out: torch.Tensor, kmap_out: torch.Tensor, y: torch.Tensor, bounds: list[int]) -> None:
    if out.is_cuda and deterministic_enabled():
        for a, b in zip(bounds[:-1], bounds[1:]):
            out.index_add_(0, kmap_out[a:b], y[a:b])
    else:
        out.index_add_(0, kmap_out, y)


def apply_kernel_map(feats: torch.Tensor, weight: torch.Tensor, kmap: KernelMap) -> torch.Tensor:
    """``out[o] = sum over pairs (i, o, k) of feats[i] @ weight[k]``.

    Args:
        feats: ``(n_in, C_in)`` float.
        weight: ``(K, C_in, C_out)``, K = kernel volume, indexed by kernel offset.
        kmap: the pairs.
    Returns:
        ``(n_out, C_out)``.
    """
    c_out = weight.shape[2]
    if kmap.identity is not None:
        out = feats @ weight[kmap.identity]
    else:
        out = feats.new_zeros(kmap.n_out, c_out)
    p = kmap.in_idx.numel()
    if p == 0:
        return out
    g = feats.index_select(0, kmap.in_idx)
    y = feats.new_empty(p, c_out)
    bounds = kmap.bounds
    for j, k in enumerate(kmap.kernel_index):
        a, b = bounds[j], bounds[j + 1]
        torch.mm(g[a:b], weight[k], out=y[a:b])
    _scatter_rows(out, kmap.out_idx, y, bounds)
    return out


class SparseConvFunction(torch.autograd.Function):
    """Autograd Function of ``apply_kernel_map``; the map is reused by the backward pass."""

    @staticmethod
    def forward(ctx, feats: torch.Tensor, weight: torch.Tensor, kmap: KernelMap) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(feats, weight)
        ctx.kmap = kmap
        return apply_kernel_map(feats, weight, kmap)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        feats, weight = ctx.saved_tensors
        kmap: KernelMap = ctx.kmap
        need_feats, need_weight = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_out = grad_out.contiguous()
        grad_feats = grad_weight = None
        c_in = weight.shape[1]
        p = kmap.in_idx.numel()
        bounds = kmap.bounds
        dy = grad_out.index_select(0, kmap.out_idx) if p else None
        if need_weight:
            grad_weight = torch.zeros_like(weight)
            if kmap.identity is not None:
                torch.mm(feats.t(), grad_out, out=grad_weight[kmap.identity])
            if p:
                g = feats.index_select(0, kmap.in_idx)
                for j, k in enumerate(kmap.kernel_index):
                    a, b = bounds[j], bounds[j + 1]
                    torch.mm(g[a:b].t(), dy[a:b], out=grad_weight[k])
        if need_feats:
            w_t = weight.transpose(1, 2)
            if kmap.identity is not None:
                grad_feats = grad_out @ w_t[kmap.identity]
            else:
                grad_feats = grad_out.new_zeros(kmap.n_in, c_in)
            if p:
                dx = grad_out.new_empty(p, c_in)
                for j, k in enumerate(kmap.kernel_index):
                    a, b = bounds[j], bounds[j + 1]
                    torch.mm(dy[a:b], w_t[k], out=dx[a:b])
                _scatter_rows(grad_feats, kmap.in_idx, dx, bounds)
        return grad_feats, grad_weight, None


def sparse_conv(feats: torch.Tensor, weight: torch.Tensor, kmap: KernelMap) -> torch.Tensor:
    """Differentiable ``apply_kernel_map`` (gradients for ``feats`` and ``weight``)."""
    return SparseConvFunction.apply(feats, weight, kmap)
