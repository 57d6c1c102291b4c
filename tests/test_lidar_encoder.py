"""The LiDAR encoder (MinkUNet family): builds from the registry, one feature per input point,
runs on the real nuScenes sweep at 0.1 m and 0.05 m voxels."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from multimodal.models.lidar.minkunet import MinkUNet
from multimodal.models.registry import ENCODERS, build_encoder

from .conftest import require_data

SWEEP = ("nuscenes_mmdet3d_demo", "samples", "LIDAR_TOP",
         "n015-2018-07-24-11-22-45+0800__LIDAR_TOP__1532402927647951.pcd.bin")
SMALL = {"planes": (8, 16, 16, 16, 16, 16, 8, 8), "init_dim": 8}


def real_sweep() -> torch.Tensor:
    """``(34688, 5) float32``: x, y, z metres (lidar frame), intensity, ring index."""
    path = require_data(*SWEEP)
    return torch.from_numpy(np.fromfile(path, dtype=np.float32).reshape(-1, 5).copy())


def clouds(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    pts = torch.randn(3000, 5, generator=gen) * torch.tensor([8.0, 8.0, 1.0, 1.0, 1.0])
    batch = torch.arange(3000) // 1500
    return pts, batch


@pytest.mark.parametrize("name, blocks", [("minkunet14", 8), ("minkunet18", 16), ("minkunet34", 23)])
def test_variants_build_from_registry_with_contract(name, blocks):
    assert name in ENCODERS
    enc = build_encoder(name, out_channels=24, **SMALL)
    assert isinstance(enc, MinkUNet)
    assert sum(len(stage) for stage in (*enc.enc, *enc.dec)) == blocks
    assert enc.out_channels == 24 and enc.in_channels == 4 and enc.voxel_size == 0.1
    contract = enc.contract()
    for key in ("input", "output", "voxel_size_m"):
        assert key in contract
    assert contract["voxel_size_m"] == 0.1 and build_encoder(name, voxel_size=0.05).contract()["voxel_size_m"] == 0.05
    assert "backend" not in {f.name for f in dataclasses.fields(type(enc).Params)}  # a run-time setting


def test_widths_are_configurable():
    narrow = build_encoder("minkunet14", **SMALL)
    wide = build_encoder("minkunet14")
    n_narrow = sum(p.numel() for p in narrow.parameters())
    n_wide = sum(p.numel() for p in wide.parameters())
    assert n_narrow < n_wide / 20
    assert wide.enc[3][0].conv1.weight.shape == (27, 128, 256)  # (k^3, C_in, C_out) of stage 4
    with pytest.raises(ValueError, match="8 entries"):
        build_encoder("minkunet14", planes=(8, 16))


def test_one_feature_per_point_and_per_voxel():
    torch.manual_seed(0)
    enc = build_encoder("minkunet14", out_channels=12, voxel_size=0.5, **SMALL).eval()
    pts, batch = clouds()
    with torch.no_grad():
        out = enc(pts, batch)
    assert out.shape == (3000, 12) and out.dtype == torch.float32 and torch.isfinite(out).all()
    # Points in one voxel share its feature; different voxels differ.
    vox = torch.cat([batch.unsqueeze(1), torch.floor(pts[:, :3] / 0.5).long()], 1)
    _, inverse = torch.unique(vox, dim=0, return_inverse=True)
    first = torch.zeros(int(inverse.max()) + 1, dtype=torch.long).scatter_(0, inverse.flip(0), torch.arange(3000).flip(0))
    assert torch.equal(out, out[first[inverse]])
    assert len(torch.unique(out[:, 0])) > 0.5 * len(first)


def test_batch_items_do_not_mix():
    torch.manual_seed(1)
    enc = build_encoder("minkunet14", out_channels=8, voxel_size=0.5, **SMALL).eval()
    pts, batch = clouds(1)
    with torch.no_grad():
        both = enc(pts, batch)
        alone = enc(pts[batch == 1], None)
    assert torch.allclose(both[batch == 1], alone, atol=1e-5)


def test_gradients_reach_every_parameter():
    torch.manual_seed(2)
    enc = build_encoder("minkunet18", out_channels=8, voxel_size=0.5, **SMALL).train()
    pts, batch = clouds(2)
    enc(pts, batch).square().mean().backward()
    missing = [n for n, p in enc.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing


def test_rejects_bad_points():
    enc = build_encoder("minkunet14", **SMALL)
    with pytest.raises(ValueError, match=r"expected points \(N, >=4\)"):
        enc(torch.zeros(10, 3))


@pytest.mark.parametrize("voxel_size, n_voxels", [(0.1, 17885), (0.05, 23112)])
def test_minkunet14_runs_on_real_sweep(voxel_size, n_voxels):
    pts = real_sweep()
    torch.manual_seed(3)
    enc = build_encoder("minkunet14", out_channels=32, voxel_size=voxel_size).train()
    out = enc(pts, torch.zeros(len(pts), dtype=torch.long))
    assert out.shape == (34688, 32) and torch.isfinite(out).all()
    from multimodal.models.sparse import voxelize

    assert len(voxelize(pts, voxel_size, feats=pts[:, :4])[0]) == n_voxels
    out.square().mean().backward()
    assert torch.isfinite(enc.stem.conv.weight.grad).all()


@pytest.mark.parametrize("name", ["minkunet18", "minkunet34"])
@pytest.mark.parametrize("voxel_size", [0.1, 0.05])
def test_deeper_variants_run_on_real_sweep(name, voxel_size):
    pts = real_sweep()
    torch.manual_seed(4)
    enc = build_encoder(name, out_channels=16, voxel_size=voxel_size).eval()
    with torch.no_grad():
        out = enc(pts)
    assert out.shape == (34688, 16) and torch.isfinite(out).all()
