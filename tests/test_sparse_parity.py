"""Same layers, same network, same weights: every other backend against ``native``, within 1e-4.

A backend that is not installed is skipped with the reason; in CI (``CI=true``) a missing
MinkowskiEngine fails instead, since CI builds it (scripts/install_minkowski.sh). spconv is a
CUDA-only backend (docs/sparse.md): without CUDA only its forward is checked, with one thread, where
it is correct (its multi-threaded CPU forward races).
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import multimodal.models.sparse as sp
from multimodal.models.lidar.minkunet import MinkUNet14
from multimodal.models.sparse.backends.spconv import CPU_FORWARD_ENV

from .conftest import require_data

TOL = 1e-4
SWEEP = ("nuscenes_mmdet3d_demo", "samples", "LIDAR_TOP",
         "n015-2018-07-24-11-22-45+0800__LIDAR_TOP__1532402927647951.pcd.bin")


def require_backend(name: str) -> None:
    reason = sp.available_backends()[name]
    if reason is None:
        return
    msg = f"sparse backend {name!r} not usable here: {reason}"
    if name == "minkowski" and os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg + " (CI must build it: bash scripts/install_minkowski.sh)")
    pytest.skip(msg)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def aligned(x: sp.SparseTensor, like: sp.SparseTensor) -> torch.Tensor:
    """Rows of ``x`` in the row order of ``like`` (same coordinate set, maybe ordered differently)."""
    assert len(x) == len(like)
    index = {tuple(r): i for i, r in enumerate(x.coords.tolist())}
    rows = torch.tensor([index[tuple(r)] for r in like.coords.tolist()], dtype=torch.int64, device=x.feats.device)
    return x.feats[rows]


def random_coords(seed: int, batch: int = 2, grid=(14, 12, 10), density: float = 0.3) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    occ = torch.rand((batch, *grid), generator=gen) < density
    c = occ.nonzero().to(torch.int32)
    c[:, 1:] -= torch.tensor([7, 3, 5], dtype=torch.int32)  # negative coordinates too
    return c


# (name, build the layer stack, input tensor stride): each stack ends with the op under test.
OPS = {
    "submanifold k3": (lambda: [sp.SparseConv3d(5, 7, 3)], 1),
    "submanifold k5": (lambda: [sp.SparseConv3d(5, 7, 5)], 1),
    "submanifold k2": (lambda: [sp.SparseConv3d(5, 7, 2)], 1),
    "strided k2": (lambda: [sp.SparseConv3d(5, 7, 2, 2)], 1),
    "strided k3": (lambda: [sp.SparseConv3d(5, 7, 3, 2)], 1),
    "strided k2 at stride 2": (lambda: [sp.SparseConv3d(5, 5, 2, 2), sp.SparseConv3d(5, 7, 2, 2)], 1),
    "transposed k2": (lambda: [sp.SparseConv3d(5, 5, 2, 2), sp.SparseConvTranspose3d(5, 7, 2, 2)], 1),
    "transposed k3": (lambda: [sp.SparseConv3d(5, 5, 2, 2), sp.SparseConvTranspose3d(5, 7, 3, 2)], 1),
    "max pool": (lambda: [sp.SparsePool3d(2, 2, "max")], 1),
    "avg pool": (lambda: [sp.SparsePool3d(2, 2, "avg")], 1),
}


def run_stack(backend: str, coords: torch.Tensor, feats: torch.Tensor, layers, grad: bool = True):
    f = feats.clone().requires_grad_(grad)
    x = sp.sparse_tensor(coords, f, backend=backend)
    y = x
    for layer in layers:
        y = layer(y)
    weights = [p for layer in layers for p in layer.parameters()]
    if grad:
        for p in weights:
            p.grad = None
        gen = torch.Generator().manual_seed(9)
        # A fixed random weighting per output voxel, identical whatever the backend's row order.
        c = y.coords.to(torch.int64)
        w = torch.sin(c[:, 0] * 1.3 + c[:, 1] * 0.7 + c[:, 2] * 0.3 + c[:, 3] * 0.11).unsqueeze(1)
        mix = torch.randn(1, y.num_channels, generator=gen).to(y.feats.device)
        (y.feats * w * mix).sum().backward()
    return x, y, f.grad, [p.grad.clone() for p in weights] if grad else []


def check_peer_op(peer: str, op: str) -> None:
    build, _ = OPS[op]
    torch.manual_seed(0)
    layers = build()
    coords = random_coords(seed=len(op))
    feats = torch.randn(len(coords), 5, generator=torch.Generator().manual_seed(1))
    x_ref, y_ref, gf_ref, gw_ref = run_stack("native", coords, feats, layers)
    x, y, gf, gw = run_stack(peer, coords, feats, layers)
    assert torch.equal(x.coords, x_ref.coords)  # stride-1 rows keep our key order on every backend
    assert y.stride == y_ref.stride
    assert rel_err(aligned(y, y_ref), y_ref.feats) <= TOL
    assert rel_err(gf, gf_ref) <= TOL
    for a, b in zip(gw, gw_ref):
        assert rel_err(a, b) <= TOL


@pytest.mark.parametrize("op", list(OPS))
def test_minkowski_ops_match_native(op):
    require_backend("minkowski")
    check_peer_op("minkowski", op)


def small_unet(**kw) -> MinkUNet14:
    torch.manual_seed(4)
    return MinkUNet14(in_channels=4, out_channels=8, voxel_size=0.25, planes=(8, 16, 16, 24, 16, 16, 8, 8), init_dim=8, **kw)


def synthetic_points(n: int = 4000) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(5)
    pts = torch.randn(n, 4, generator=gen) * torch.tensor([6.0, 6.0, 1.0, 1.0])
    batch = (torch.rand(n, generator=gen) < 0.5).long()
    return pts, batch


def unet_outputs_and_grads(net: MinkUNet14, backend: str, pts: torch.Tensor, batch: torch.Tensor):
    net.zero_grad(set_to_none=True)
    with sp.use_backend(backend):
        out = net(pts, batch)
    weight = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    (out * weight).sum().backward()
    return out.detach(), {n: p.grad.clone() for n, p in net.named_parameters()}


@pytest.mark.parametrize("dtype, tol", [(torch.float32, TOL), (torch.float64, 1e-10)])
def test_minkowski_minkunet_matches_native(dtype, tol):
    """Training mode (batch statistics), per-point outputs and every parameter's gradient; in
    float64 the two backends agree to rounding, i.e. they compute the same function."""
    require_backend("minkowski")
    net = small_unet().to(dtype).train()
    pts, batch = synthetic_points()
    pts = pts.to(dtype)
    out_ref, grads_ref = unet_outputs_and_grads(net, "native", pts, batch)
    out, grads = unet_outputs_and_grads(net, "minkowski", pts, batch)
    assert rel_err(out, out_ref) <= tol
    worst = max((rel_err(grads[n], grads_ref[n]), n) for n in grads_ref)
    assert worst[0] <= tol, worst


def test_minkowski_minkunet14_on_real_sweep_matches_native():
    require_backend("minkowski")
    path = require_data(*SWEEP)
    pts = torch.from_numpy(np.fromfile(path, dtype=np.float32).reshape(-1, 5).copy())
    torch.manual_seed(6)
    net = MinkUNet14(in_channels=4, out_channels=32, voxel_size=0.1).eval()
    with torch.no_grad(), sp.use_backend("native"):
        ref = net(pts)
    with torch.no_grad(), sp.use_backend("minkowski"):
        out = net(pts)
    assert out.shape == (34688, 32)
    assert rel_err(out, ref) <= TOL


def test_encoder_trained_on_native_serves_on_minkowski(tmp_path):
    """The backend is a run-time setting, not part of the encoder: a MinkUNet-14 trained a few steps
    under native, exported (no backend in its encoder.json), loaded and served under minkowski gives
    the native outputs with the same weights."""
    from multimodal.export import export_encoder, load_encoder

    require_backend("minkowski")
    net = small_unet()
    pts, batch = synthetic_points()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    with sp.use_backend("native"):
        for _ in range(2):  # batch-norm statistics and weights away from their initial values
            opt.zero_grad()
            net(pts, batch).square().mean().backward()
            opt.step()
    params = {"in_channels": 4, "out_channels": 8, "voxel_size": 0.25, "planes": (8, 16, 16, 24, 16, 16, 8, 8),
              "init_dim": 8}
    folder = export_encoder(net.eval(), "minkunet14", params, tmp_path / "enc")
    assert "backend" not in (folder / "encoder.json").read_text()
    served = load_encoder(folder)
    with torch.no_grad():
        with sp.use_backend("native"):
            ref = net(pts, batch)
        with sp.use_backend("minkowski"):
            out = served(pts, batch)
            assert sp.get_backend().name == "minkowski"
    assert sp.current_backend() is None  # restored on exit
    assert out.shape == ref.shape == (len(pts), 8)
    assert rel_err(out, ref) <= TOL


# --------------------------------------------------------------------------- spconv (CUDA only)
def test_spconv_refuses_cpu_with_the_reason(monkeypatch):
    require_backend("spconv")
    monkeypatch.delenv(CPU_FORWARD_ENV, raising=False)
    coords = random_coords(1)
    with pytest.raises(RuntimeError, match="CUDA only"):
        sp.sparse_tensor(coords, torch.zeros(len(coords), 1), backend="spconv")


SPCONV_OPS = ["submanifold k3", "submanifold k5", "strided k2", "strided k2 at stride 2", "transposed k2"]


@pytest.mark.parametrize("op", SPCONV_OPS)
def test_spconv_forward_matches_native_on_cpu_one_thread(op, monkeypatch):
    """Checks the adapter's index and weight mapping without CUDA (forward only, one thread)."""
    require_backend("spconv")
    monkeypatch.setenv(CPU_FORWARD_ENV, "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        build, _ = OPS[op]
        torch.manual_seed(0)
        layers = build()
        coords = random_coords(seed=len(op))
        feats = torch.randn(len(coords), 5, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            _, y_ref, _, _ = run_stack("native", coords, feats, layers, grad=False)
            _, y, _, _ = run_stack("spconv", coords, feats, layers, grad=False)
    finally:
        torch.set_num_threads(threads)
    assert rel_err(aligned(y, y_ref), y_ref.feats) <= TOL


@pytest.mark.skipif(not torch.cuda.is_available(), reason="spconv backend is CUDA only; no CUDA device here")
@pytest.mark.parametrize("op", SPCONV_OPS)
def test_spconv_ops_match_native_on_cuda(op):
    require_backend("spconv")
    build, _ = OPS[op]
    torch.manual_seed(0)
    layers = [m.cuda() for m in build()]
    coords = random_coords(seed=len(op)).cuda()
    feats = torch.randn(len(coords), 5, generator=torch.Generator().manual_seed(1)).cuda()
    _, y_ref, gf_ref, gw_ref = run_stack("native", coords, feats, layers)
    _, y, gf, gw = run_stack("spconv", coords, feats, layers)
    assert rel_err(aligned(y, y_ref), y_ref.feats) <= TOL
    assert rel_err(gf, gf_ref) <= TOL
    for a, b in zip(gw, gw_ref):
        assert rel_err(a, b) <= TOL
