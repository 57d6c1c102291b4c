"""The native sparse backend against dense PyTorch on the dense rendering of the same data.

Every op is checked forward and backward (gradients of the input features and of the weights)
against ``conv3d`` / ``conv_transpose3d`` / pooling of a dense grid holding the sparse features, read
back at the active voxels, with a relative error (norm of the difference over norm of the
reference) of at most 1e-5. The dense reference runs in float64, the sparse op in float32.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import multimodal.models.sparse as sp
from multimodal.models.sparse.backends.native import NativeContext
from multimodal.models.sparse.kernel_map import KernelMap, kernel_offsets

TOL = 1e-5
GRID = (12, 8, 8)  # dense grid per batch item (x, y, z), voxels; multiples of 4 (stride 4 is tested)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def random_coords(gen: torch.Generator, batch: int, density: float, grid=GRID) -> torch.Tensor:
    """Unique ``(N, 4)`` int32 ``[b, x, y, z]`` with x, y, z in ``[0, grid)``, about ``density`` full."""
    rows = []
    for b in range(batch):
        occ = torch.rand(grid, generator=gen) < density
        xyz = occ.nonzero()
        rows.append(torch.cat([torch.full((len(xyz), 1), b), xyz], 1))
    return torch.cat(rows).to(torch.int32)


def to_dense(feats: torch.Tensor, coords: torch.Tensor, stride: int, grid, batch: int) -> torch.Tensor:
    """``(B, C, X, Y, Z)`` float64 grid at ``stride`` (cell = coordinate / stride); differentiable."""
    shape = [batch, feats.shape[1]] + [g // stride for g in grid]
    c = coords.long()
    cells = (c[:, 0], c[:, 1] // stride, c[:, 2] // stride, c[:, 3] // stride)
    channels_last = feats.new_zeros(shape, dtype=torch.float64).permute(0, 2, 3, 4, 1)
    return channels_last.index_put(cells, feats.double()).permute(0, 4, 1, 2, 3)


def read_dense(dense: torch.Tensor, coords: torch.Tensor, stride: int) -> torch.Tensor:
    """Rows of a dense ``(B, C, X, Y, Z)`` grid at sparse coordinates -> ``(N, C)``."""
    c = coords.long()
    return dense.permute(0, 2, 3, 4, 1)[c[:, 0], c[:, 1] // stride, c[:, 2] // stride, c[:, 3] // stride]


def dense_weight(weight: torch.Tensor, k: int, transposed: bool) -> torch.Tensor:
    """Our ``(k^3, C_in, C_out)`` weight as a dense conv3d ``(C_out, C_in, k, k, k)`` (or
    conv_transpose3d ``(C_in, C_out, k, k, k)``) weight, float64, differentiable."""
    w = weight.double().reshape(k, k, k, weight.shape[1], weight.shape[2])
    return w.permute(3, 4, 0, 1, 2) if transposed else w.permute(4, 3, 0, 1, 2)


def dense_conv(x: torch.Tensor, w: torch.Tensor, k: int, stride: int, transposed: bool) -> torch.Tensor:
    """The dense op our sparse op equals at the active voxels (see models/sparse/kernel_map.py)."""
    odd = k % 2 == 1
    if not transposed:
        if odd:
            return F.conv3d(x, w, stride=stride, padding=k // 2)
        # Even kernels reach offsets 0..k-1: pad the far side only.
        return F.conv3d(F.pad(x, (0, k - 1) * 3), w, stride=stride)
    if odd:
        return F.conv_transpose3d(x, w, stride=stride, padding=k // 2, output_padding=stride - 1)
    out = F.conv_transpose3d(x, w, stride=stride)
    return out


def make_input(coords: torch.Tensor, channels: int, gen: torch.Generator, stride: int = 1) -> sp.SparseTensor:
    """A native tensor on ``coords``; at ``stride`` 2 (or 4) via a strided conv from stride 1."""
    feats = torch.randn(len(coords), channels, generator=gen)
    x = sp.sparse_tensor(coords, feats, backend="native")
    s = 1
    while s < stride:
        x = sp.SparseConv3d(channels, channels, kernel_size=2, stride=2)(x)
        s *= 2
    # A fresh leaf on the (possibly coarser) set, so gradients are those of this op alone.
    return x.replace(torch.randn(len(x), channels, generator=gen).requires_grad_(True))


def check_conv(x: sp.SparseTensor, layer: sp.SparseConv3d, gen: torch.Generator, batch: int) -> None:
    k, stride, transposed = layer.kernel_size, layer.stride, layer.transposed
    y = layer(x)
    r = torch.randn(y.feats.shape, generator=gen)
    (y.feats * r).sum().backward()
    g_feats, g_weight = x.feats.grad.clone(), layer.weight.grad.clone()

    feats = x.feats.detach().clone().requires_grad_(True)
    weight = layer.weight.detach().clone().requires_grad_(True)
    dense_in = to_dense(feats, x.coords, x.stride, GRID, batch)
    out_stride = x.stride // stride if transposed else x.stride * stride
    dense_out = dense_conv(dense_in, dense_weight(weight, k, transposed), k, stride, transposed)
    ref = read_dense(dense_out, y.coords, out_stride)
    (ref * r.double()).sum().backward()

    assert y.stride == out_stride
    assert rel_err(y.feats, ref) <= TOL
    assert rel_err(g_feats, feats.grad) <= TOL
    assert rel_err(g_weight, weight.grad) <= TOL


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("channels", [(1, 4), (8, 16), (16, 32)])
def test_submanifold_conv_matches_dense(k, channels):
    gen = torch.Generator().manual_seed(100 * k + channels[0])
    coords = random_coords(gen, batch=3, density=0.3)
    x = make_input(coords, channels[0], gen)
    layer = sp.SparseConv3d(*channels, kernel_size=k, stride=1)
    check_conv(x, layer, gen, batch=3)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("in_stride", [1, 2])
@pytest.mark.parametrize("channels", [(3, 5), (16, 32)])
def test_strided_conv_matches_dense(k, in_stride, channels):
    gen = torch.Generator().manual_seed(10 * k + in_stride + channels[0])
    coords = random_coords(gen, batch=2, density=0.25)
    x = make_input(coords, channels[0], gen, stride=in_stride)
    layer = sp.SparseConv3d(*channels, kernel_size=k, stride=2)
    check_conv(x, layer, gen, batch=2)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("channels", [(4, 3), (32, 16)])
def test_transposed_conv_matches_dense(k, channels):
    gen = torch.Generator().manual_seed(7 * k + channels[0])
    coords = random_coords(gen, batch=3, density=0.25)
    x = make_input(coords, channels[0], gen, stride=2)
    layer = sp.SparseConvTranspose3d(*channels, kernel_size=k, stride=2)
    check_conv(x, layer, gen, batch=3)


def test_submanifold_conv_at_tensor_stride_2_matches_dense():
    gen = torch.Generator().manual_seed(5)
    coords = random_coords(gen, batch=2, density=0.4)
    x = make_input(coords, 6, gen, stride=2)
    check_conv(x, sp.SparseConv3d(6, 7, kernel_size=3), gen, batch=2)


def test_conv_bias_and_negative_coordinates():
    gen = torch.Generator().manual_seed(3)
    coords = random_coords(gen, batch=2, density=0.3)
    feats = torch.randn(len(coords), 4, generator=gen)
    layer = sp.SparseConv3d(4, 6, kernel_size=3, bias=True)
    ref = layer(sp.sparse_tensor(coords, feats))
    shifted = coords.clone()
    shifted[:, 1:] -= torch.tensor([7, 5, 3], dtype=torch.int32)  # odd shift: a different parity
    out = layer(sp.sparse_tensor(shifted, feats))
    assert torch.allclose(out.feats, ref.feats, atol=1e-6)
    # Stride 2 floors towards -inf (as MinkowskiEngine): shifting by an even amount is harmless.
    down = sp.SparseConv3d(4, 6, kernel_size=2, stride=2)
    even = coords.clone()
    even[:, 1:] -= 8
    a, b = down(sp.sparse_tensor(coords, feats)), down(sp.sparse_tensor(even, feats))
    assert torch.equal(a.coords[:, 1:] - 8, b.coords[:, 1:])
    assert torch.allclose(a.feats, b.feats, atol=1e-6)


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_local_pooling_matches_dense(mode):
    gen = torch.Generator().manual_seed(11)
    coords = random_coords(gen, batch=2, density=0.3)
    x = make_input(coords, 5, gen)
    y = sp.SparsePool3d(2, 2, mode)(x)
    r = torch.randn(y.feats.shape, generator=gen)
    (y.feats * r).sum().backward()
    feats = x.feats.detach().clone().requires_grad_(True)
    dense = to_dense(feats, x.coords, 1, GRID, 2)
    if mode == "max":
        # Empty voxels must not win: fill them with -inf, then max-pool.
        mask = to_dense(torch.ones(len(coords), 1), x.coords, 1, GRID, 2) > 0
        ref_dense = F.max_pool3d(torch.where(mask, dense, torch.full_like(dense, -torch.inf)), 2)
    else:
        count = F.avg_pool3d(to_dense(torch.ones(len(coords), 1), x.coords, 1, GRID, 2), 2)
        ref_dense = F.avg_pool3d(dense, 2) / count.clamp_min(1e-12)
    ref = read_dense(ref_dense, y.coords, 2)
    (ref * r.double()).sum().backward()
    assert rel_err(y.feats, ref) <= TOL
    assert rel_err(x.feats.grad, feats.grad) <= TOL


@pytest.mark.parametrize("mode", ["mean", "max", "sum"])
def test_global_pool(mode):
    gen = torch.Generator().manual_seed(12)
    coords = random_coords(gen, batch=3, density=0.2)
    x = make_input(coords, 4, gen)
    out = sp.global_pool(x, mode)
    for b in range(3):
        rows = x.feats[x.coords[:, 0] == b]
        ref = {"mean": rows.mean(0), "max": rows.max(0).values, "sum": rows.sum(0)}[mode]
        assert torch.allclose(out[b], ref, atol=1e-5)


def test_batchnorm_activation_cat_keep_coordinates():
    gen = torch.Generator().manual_seed(13)
    coords = random_coords(gen, batch=2, density=0.3)
    x = make_input(coords, 4, gen)
    y = sp.SparseReLU(inplace=False)(sp.SparseBatchNorm(4)(x))
    assert y.ctx is x.ctx and y.stride == x.stride
    ref = torch.relu(torch.nn.functional.batch_norm(x.feats, None, None, training=True, eps=1e-5))
    assert torch.allclose(y.feats, ref, atol=1e-5)
    z = sp.cat(x, y)
    assert z.num_channels == 8 and torch.equal(z.feats[:, 4:], y.feats)
    other = sp.SparseConv3d(4, 4, kernel_size=2, stride=2)(x)
    with pytest.raises(ValueError, match="another coordinate set"):
        sp.cat(x, other)


def test_voxelize_mean_first_and_devoxelize():
    gen = torch.Generator().manual_seed(14)
    pts = torch.rand(500, 5, generator=gen) * torch.tensor([4.0, 4.0, 1.0, 1.0, 1.0]) - torch.tensor([2.0, 2.0, 0.5, 0, 0])
    batch = (torch.rand(500, generator=gen) < 0.5).long()
    x, p2v = sp.voxelize(pts, voxel_size=0.5, batch=batch, mode="mean")
    vox = torch.floor(pts[:, :3] / 0.5).int()
    assert torch.equal(x.coords[p2v, 1:], vox) and torch.equal(x.coords[p2v, 0].long(), batch)
    # Coordinates come out unique and in key order.
    assert len(torch.unique(x.coords, dim=0)) == len(x)
    for v in range(0, len(x), 7):
        members = pts[p2v == v, 3:]
        assert torch.allclose(x.feats[v], members.mean(0), atol=1e-6)
    xf, p2v_first = sp.voxelize(pts, voxel_size=0.5, batch=batch, mode="first")
    assert torch.equal(p2v_first, p2v)
    for v in range(0, len(xf), 7):
        first = int((p2v == v).nonzero()[0, 0])
        assert torch.equal(xf.feats[v], pts[first, 3:])
    per_point = sp.devoxelize(x, p2v)
    assert per_point.shape == (500, 2) and torch.equal(per_point, x.feats[p2v])
    with pytest.raises(ValueError, match="stride-1"):
        sp.devoxelize(sp.SparsePool3d(2, 2)(x), p2v)


def test_sparse_tensor_sorts_and_rejects_duplicates():
    coords = torch.tensor([[0, 3, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.int32)
    feats = torch.tensor([[3.0], [1.0], [9.0]])
    x = sp.sparse_tensor(coords, feats)
    assert x.coords.tolist() == [[0, 1, 0, 0], [0, 3, 0, 0], [1, 0, 0, 0]]
    assert x.feats.flatten().tolist() == [1.0, 3.0, 9.0]
    with pytest.raises(ValueError, match="duplicate"):
        sp.sparse_tensor(torch.cat([coords, coords[:1]]), torch.cat([feats, feats[:1]]))


def test_kernel_maps_built_once_and_reused():
    gen = torch.Generator().manual_seed(15)
    coords = random_coords(gen, batch=2, density=0.3)
    x = make_input(coords, 4, gen)
    ctx: NativeContext = x.ctx  # type: ignore[assignment]
    c1, c2 = sp.SparseConv3d(4, 4), sp.SparseConv3d(4, 4)
    down, up = sp.SparseConv3d(4, 4, 2, 2), sp.SparseConvTranspose3d(4, 4, 2, 2)
    y = c2(c1(x))
    assert ctx.map_builds == 1  # both submanifold layers share one map
    z = up(down(y))
    assert ctx.map_builds == 2  # the transposed conv reuses the strided map, transposed
    assert z.stride == 1 and z.ctx is ctx
    z.feats.sum().backward()  # the backward passes reuse the maps too
    assert ctx.map_builds == 2
    assert ctx.submanifold_map(1, 3) is ctx.submanifold_map(1, 3)
    assert ctx.strided_map(1, 2).transposed().transposed() is ctx.strided_map(1, 2)


@pytest.mark.parametrize("dense", [True, False], ids=["dense-table", "sorted-search"])
def test_kernel_map_pairs_match_brute_force(dense, monkeypatch):
    if not dense:  # force the binary-search path (used for sparse, spread-out sets like LiDAR)
        monkeypatch.setattr("multimodal.models.sparse.dense_index.MAX_CELLS", 0)
    gen = torch.Generator().manual_seed(16)
    coords = random_coords(gen, batch=2, density=0.3)
    x = sp.sparse_tensor(coords, torch.zeros(len(coords), 1))
    ctx: NativeContext = x.ctx  # type: ignore[assignment]
    c = x.coords.long()
    table = {tuple(row): i for i, row in enumerate(c.tolist())}
    for k in (3, 5):
        kmap: KernelMap = ctx.submanifold_map(1, k)
        for ki, off in enumerate(kernel_offsets(k).tolist()):
            want = sorted(
                (table[(b, xx + off[0], yy + off[1], zz + off[2])], o)
                for o, (b, xx, yy, zz) in enumerate(c.tolist())
                if (b, xx + off[0], yy + off[1], zz + off[2]) in table
            )
            i, o = kmap.pairs(ki)
            assert sorted(zip(i.tolist(), o.tolist())) == want


def test_backend_env_var_and_errors(monkeypatch):
    monkeypatch.setenv(sp.BACKEND_ENV, "native")
    assert sp.get_backend().name == "native"
    monkeypatch.setenv(sp.BACKEND_ENV, "nonsense")
    with pytest.raises(ValueError, match="nonsense.*MULTIMODAL_SPARSE_BACKEND"):
        sp.get_backend()
    for name, reason in sp.available_backends().items():
        if reason is not None:
            with pytest.raises(sp.BackendUnavailable, match=name):
                sp.get_backend(name)


def test_backend_is_a_run_time_setting(monkeypatch):
    """set_backend / use_backend choose the backend of every tensor made afterwards, over the environment
    variable; a bad name fails at once; leaving use_backend restores the previous choice."""
    monkeypatch.setenv(sp.BACKEND_ENV, "nonsense")
    assert sp.current_backend() is None
    with sp.use_backend("native"):
        assert sp.current_backend() == "native" and sp.get_backend().name == "native"
        x, _ = sp.voxelize(torch.rand(50, 4), 0.25)
        assert x.backend.name == "native"
        with sp.use_backend(None):  # back to the environment's (bad) choice inside
            with pytest.raises(ValueError, match="nonsense"):
                sp.get_backend()
        assert sp.current_backend() == "native"
    assert sp.current_backend() is None
    monkeypatch.delenv(sp.BACKEND_ENV)
    with pytest.raises(ValueError, match="unknown sparse backend 'nonsense'"):
        sp.set_backend("nonsense")
    assert sp.current_backend() is None
    for name, reason in sp.available_backends().items():
        if reason is not None:
            with pytest.raises(sp.BackendUnavailable, match=name):
                sp.set_backend(name)
            assert sp.current_backend() is None
    sp.set_backend("native")
    try:
        assert sp.get_backend().name == "native"
    finally:
        sp.set_backend(None)


def test_deterministic_mode_repeats_bitwise():
    gen = torch.Generator().manual_seed(17)
    coords = random_coords(gen, batch=2, density=0.3)
    feats = torch.randn(len(coords), 8, generator=gen)
    layer = sp.SparseConv3d(8, 8)
    with sp.deterministic():
        outs = []
        for _ in range(2):
            f = feats.clone().requires_grad_(True)
            y = layer(sp.sparse_tensor(coords, f))
            y.feats.square().sum().backward()
            outs.append((y.feats.detach(), f.grad))
    assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(outs[0][1], outs[1][1])
