"""Pixel-to-point retrieval (multimodal/evaluation/pixel_point_retrieval.py) on planted features: features that
agree retrieve everything, unrelated ones stay at chance, wrong correspondences retrieve nothing."""
from __future__ import annotations

import pytest
import torch

from multimodal.evaluation.pixel_point_retrieval import (
    distinct_pairs,
    pixel_point_retrieval,
    superpoint_superpixel_retrieval,
)

B, C, H, W = 2, 16, 12, 20  # two images, 480 feature-map cells


def _planted(g: torch.Generator):
    """Feature maps, and 3 points per cell (so cells repeat in the pairs); every 5th point projects nowhere."""
    maps = torch.randn(B, C, H, W, generator=g)
    img, row, col = torch.meshgrid(torch.arange(B), torch.arange(H), torch.arange(W), indexing="ij")
    cells = torch.stack([img.flatten(), row.flatten(), col.flatten()], dim=1).repeat(3, 1)  # (1440, 3)
    n_points = len(cells) * 5 // 4
    point_of = torch.randperm(n_points, generator=g)[:len(cells)]
    pairs = torch.cat([point_of[:, None], cells], dim=1)
    points = torch.randn(n_points, C, generator=g)  # points that project nowhere keep noise
    scale = torch.rand(len(pairs), 1, generator=g) + 0.5  # cosine ignores the scale
    points[pairs[:, 0]] = scale * maps.permute(0, 2, 3, 1)[pairs[:, 1], pairs[:, 2], pairs[:, 3]]
    return points, maps, pairs


def test_distinct_pairs_keep_one_pair_per_cell_and_per_point():
    g = torch.Generator().manual_seed(0)
    _, _, pairs = _planted(g)
    d = distinct_pairs(pairs, torch.Generator().manual_seed(1))
    cells = {tuple(r) for r in d[:, 1:].tolist()}
    assert len(cells) == len(d) == B * H * W  # every cell once (each has 3 distinct points)
    assert len(set(d[:, 0].tolist())) == len(d)
    assert {tuple(r) for r in d.tolist()} <= {tuple(r) for r in pairs.tolist()}
    again = distinct_pairs(pairs, torch.Generator().manual_seed(1))
    other = distinct_pairs(pairs, torch.Generator().manual_seed(2))
    assert torch.equal(d, again) and not torch.equal(d, other)  # seeded; another seed keeps other points
    # a point seen by two cameras (two cells) is kept once
    twice = torch.tensor([[0, 0, 1, 1], [0, 1, 1, 1], [1, 0, 2, 2]])
    assert sorted(distinct_pairs(twice)[:, 0].tolist()) == [0, 1]


def test_planted_features_retrieve_all_and_noise_stays_at_chance():
    g = torch.Generator().manual_seed(0)
    points, maps, pairs = _planted(g)
    for k in (64, 256, 10_000):  # fewer candidates than cells, and all cells (480)
        assert pixel_point_retrieval(points, maps, pairs, k, generator=g) == 1.0
    # unrelated point features: chance, 1/256 (expected 1 hit of 256 per draw)
    noise = torch.randn(points.shape, generator=g)
    hits = [pixel_point_retrieval(noise, maps, pairs, 256, generator=torch.Generator().manual_seed(s)) * 256
            for s in range(20)]
    assert sum(hits) / 20 < 3.0 and max(hits) <= 6
    # every point paired with the neighbouring cell's feature: all candidates are distinct cells, none its own
    shifted = pairs.clone()
    shifted[:, 3] = (shifted[:, 3] + 1) % W
    assert pixel_point_retrieval(points, maps, shifted, 10_000, generator=g) == 0.0


def test_pixel_point_retrieval_refuses_bad_inputs():
    g = torch.Generator().manual_seed(0)
    points, maps, pairs = _planted(g)
    with pytest.raises(ValueError, match="pairs must be"):
        pixel_point_retrieval(points, maps, pairs[:, :3])
    bad = pairs.clone()
    bad[0, 2] = H
    with pytest.raises(ValueError, match="outside"):
        pixel_point_retrieval(points, maps, bad)
    with pytest.raises(ValueError, match="one C"):
        pixel_point_retrieval(points[:, :8], maps, pairs)


def test_superpoint_superpixel_retrieval_on_planted_segments():
    g = torch.Generator().manual_seed(0)
    # 4 x 5 blocks of 3 x 4 cells per image: 40 superpixels, ids unique across the two images
    img, row, col = torch.meshgrid(torch.arange(B), torch.arange(H), torch.arange(W), indexing="ij")
    pixel_segment = img * 20 + (row // 3) * 5 + col // 4
    pixel_segment[0, 0, 0] = -1  # ignored cells are allowed
    seg_feats = torch.randn(40, C, generator=g)
    maps = (seg_feats[pixel_segment.clamp(min=0)] + 0.3 * torch.randn(B, H, W, C, generator=g)).permute(0, 3, 1, 2)
    point_segment = torch.randint(0, 40, (3000,), generator=g)
    point_segment[:500] = -1  # points that project nowhere
    point_segment[point_segment == 7] = -1  # superpixel 7 holds no point: it takes no part
    points = seg_feats[point_segment.clamp(min=0)] + 0.3 * torch.randn(3000, C, generator=g)
    acc, S = superpoint_superpixel_retrieval(points, maps, point_segment, pixel_segment)
    assert (acc, S) == (1.0, 39)
    accs = [superpoint_superpixel_retrieval(torch.randn(3000, C, generator=g), maps, point_segment, pixel_segment)[0]
            for _ in range(20)]
    assert sum(accs) / 20 < 3 / 39  # chance 1/39
    with pytest.raises(ValueError, match="pixel_segment must be"):
        superpoint_superpixel_retrieval(points, maps, point_segment, pixel_segment[:, :-1])
