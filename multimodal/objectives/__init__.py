"""Self-supervised objectives: one ``nn.Module`` per file, registered by name in :data:`OBJECTIVES`.

Each takes encoder outputs plus correspondences computed in the data pipeline and returns
``(loss, logs)``. A new objective is one file plus one line here.
"""
from __future__ import annotations

from torch import nn

from .hardest_contrastive import HardestContrastive
from .pixel_to_point import PixelToPointInfoNCE
from .point_info_nce import PointInfoNCE
from .superpixel_to_superpoint import SuperpixelToSuperpointInfoNCE

OBJECTIVES: dict[str, type[nn.Module]] = {
    "point_info_nce": PointInfoNCE,
    "hardest_contrastive": HardestContrastive,
    "pixel_to_point": PixelToPointInfoNCE,
    "superpixel_to_superpoint": SuperpixelToSuperpointInfoNCE,
}


def build_objective(name: str, **kwargs) -> nn.Module:
    """The objective registered as ``name``, built with its hyper-parameters."""
    if name not in OBJECTIVES:
        raise KeyError(f"unknown objective {name!r}; known: {sorted(OBJECTIVES)}")
    return OBJECTIVES[name](**kwargs)
