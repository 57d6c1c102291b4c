"""Pixel-to-point retrieval: does a LiDAR point's feature find the camera feature it projects to?

The measure of image-to-LiDAR pretraining (PPKT, SLidR) on frames it did not train on, compared the way
their objectives compare features (cosine similarity; features taken after the method's projection heads):

- :func:`pixel_point_retrieval`: each drawn LiDAR point's feature against the camera feature-map cells
  its projection and the other drawn points' projections fall in (PPKT's ``pixel_to_point`` pairs);
- :func:`superpoint_superpixel_retrieval`: each superpoint (mean feature of the points that project into
  one superpixel) against the superpixels' mean camera features (SLidR's ``superpixel_to_superpoint``).

Both return the top-1 accuracy; chance is ``1 / candidates``.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from ..objectives.superpixel_to_superpoint import segment_mean


def _top1(query: torch.Tensor, key: torch.Tensor) -> float:
    """Fraction of rows ``i`` of ``query (K, C)`` whose cosine nearest row of ``key (K, C)`` is row ``i``."""
    q = F.normalize(query.float(), dim=1)
    k = F.normalize(key.float(), dim=1)
    nearest = (q @ k.t()).argmax(dim=1)
    return float((nearest == torch.arange(len(q), device=q.device)).float().mean())


def _first_of_each(ids: torch.Tensor) -> torch.Tensor:
    """Boolean mask of the first occurrence of every distinct value of the 1-D ``ids``."""
    _, inverse = torch.unique(ids, return_inverse=True)
    position = torch.arange(len(ids), device=ids.device)
    first = torch.full((int(inverse.max()) + 1,), len(ids), dtype=torch.long, device=ids.device)
    first = first.scatter_reduce(0, inverse, position, reduce="amin")
    return first[inverse] == position


def distinct_pairs(pairs: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """The pairs in a random order (seeded by ``generator``), keeping one pair per feature-map cell and one
    per point: the first of each in that order (so a cell hit by several points keeps a random one of them).

    Args:
        pairs: ``(P, 4)`` long rows ``(point index, image index, row, col)``.

    Returns:
        ``(D, 4)`` long, ``D <= P``: no two rows share a cell ``(image, row, col)`` or a point index.
    """
    pairs = pairs[torch.randperm(len(pairs), generator=generator).to(pairs.device)]
    cell = (pairs[:, 1] * (int(pairs[:, 2].max()) + 1) + pairs[:, 2]) * (int(pairs[:, 3].max()) + 1) + pairs[:, 3]
    pairs = pairs[_first_of_each(cell)]
    return pairs[_first_of_each(pairs[:, 0])]


@torch.no_grad()
def pixel_point_retrieval(point_feats: torch.Tensor, pixel_feats: torch.Tensor, pairs: torch.Tensor,
                          num_candidates: int = 1024, generator: Optional[torch.Generator] = None) -> float:
    """Top-1 point-to-pixel retrieval accuracy of one sample (one LiDAR sweep and its camera images).

    ``min(D, num_candidates)`` pairs are drawn at random among the ``D`` pairs of distinct cells and points
    (:func:`distinct_pairs`). For each drawn point, the candidates are the camera features of the drawn
    pairs' cells; the retrieval is right when the most cosine-similar candidate is the point's own cell.
    Chance is ``1 / min(D, num_candidates)``.

    Args:
        point_feats: ``(N, C)`` per-point LiDAR features (after the method's head).
        pixel_feats: ``(B_img, C, H', W')`` camera feature maps of the sample's images (after the head).
        pairs: ``(P, 4)`` long rows ``(point index, image index, row, col)``, row/col on the feature-map grid
            (what :class:`~multimodal.data.image_lidar_pairs.ImageLidarDataset` gives).
        num_candidates: the most pairs to draw (the candidate set size).
        generator: seeds the draw (default: the global torch generator).

    Returns:
        the fraction of drawn points whose nearest candidate is their own cell, in ``[0, 1]``.
    """
    if pairs.ndim != 2 or pairs.shape[1] != 4 or pairs.shape[0] < 1:
        raise ValueError(f"pairs must be (P>=1, 4) [point, image, row, col], got {tuple(pairs.shape)}")
    if point_feats.ndim != 2 or pixel_feats.ndim != 4 or point_feats.shape[1] != pixel_feats.shape[1]:
        raise ValueError(f"expected point features (N, C) and feature maps (B, C, H, W) of one C, got "
                         f"{tuple(point_feats.shape)} and {tuple(pixel_feats.shape)}")
    if num_candidates < 1:
        raise ValueError(f"num_candidates must be >= 1, got {num_candidates}")
    B, _, H, W = pixel_feats.shape
    if (pairs < 0).any() or (pairs[:, 0] >= len(point_feats)).any() or (pairs[:, 1] >= B).any() \
            or (pairs[:, 2] >= H).any() or (pairs[:, 3] >= W).any():
        raise ValueError(f"pairs index outside {len(point_feats)} points or feature maps {tuple(pixel_feats.shape)}")
    sel = distinct_pairs(pairs, generator)[:num_candidates]
    pix = pixel_feats.permute(0, 2, 3, 1)[sel[:, 1], sel[:, 2], sel[:, 3]]  # (K, C)
    return _top1(point_feats[sel[:, 0]], pix)


@torch.no_grad()
def superpoint_superpixel_retrieval(point_feats: torch.Tensor, pixel_feats: torch.Tensor,
                                    point_segment: torch.Tensor, pixel_segment: torch.Tensor) -> tuple[float, int]:
    """Top-1 superpoint-to-superpixel retrieval accuracy of one sample, pooled as SLidR's objective pools.

    A superpixel takes part when it holds at least one feature-map cell and one LiDAR point. Each such
    superpixel's superpoint (mean point feature) is compared, by cosine similarity, with every taking-part
    superpixel's mean camera feature; it is right when its own superpixel is the nearest. Chance is
    ``1 / S`` for the ``S`` superpixels taking part.

    Args:
        point_feats: ``(N, C)`` per-point LiDAR features (after the method's head).
        pixel_feats: ``(B_img, C, H', W')`` camera feature maps (after the head).
        point_segment: ``(N,)`` long superpixel id of each point's projection (-1: projects nowhere).
        pixel_segment: ``(B_img, H', W')`` long superpixel id of each feature-map cell (ids unique across
            the images; -1 ignored).

    Returns:
        ``(accuracy in [0, 1], S)``.
    """
    B, C, H, W = pixel_feats.shape
    if point_feats.ndim != 2 or point_feats.shape[1] != C or point_segment.shape != (len(point_feats),):
        raise ValueError(f"expected point features (N, {C}) and point_segment (N,), got {tuple(point_feats.shape)} "
                         f"and {tuple(point_segment.shape)}")
    if pixel_segment.shape != (B, H, W):
        raise ValueError(f"pixel_segment must be {(B, H, W)}, got {tuple(pixel_segment.shape)}")
    S = int(max(point_segment.max().item(), pixel_segment.max().item())) + 1
    if S < 1:
        raise ValueError("no superpixel ids (all -1)")
    sp, n_pts = segment_mean(point_feats.float(), point_segment, S)
    sx, n_pix = segment_mean(pixel_feats.permute(0, 2, 3, 1).reshape(-1, C).float(), pixel_segment.reshape(-1), S)
    used = (n_pts > 0) & (n_pix > 0)
    if not used.any():
        raise ValueError("no superpixel holds a LiDAR point")
    return _top1(sp[used], sx[used]), int(used.sum())
