"""Self-supervised objectives: one ``nn.Module`` per file, registered by name in :data:`OBJECTIVES`.

All share one call signature, so a method can swap its objective by config::

    loss, logs = objective(feats_a, feats_b, corr, generator=None)

``feats_a`` / ``feats_b``: the two encoder outputs being contrasted (per-point rows, dense maps, embeddings);
``corr``: the correspondences the data pipeline computed (a dict of tensors; the class attribute ``inputs``
names the keys it reads); ``generator``: seeds any sampling. ``loss`` is a scalar, ``logs`` a dict of
scalars. Each class documents its hyper-parameters in a ``Params`` dataclass. A new objective is one file
plus one line here.
"""
from __future__ import annotations

from torch import nn

from ..plugins import resolve
from ..typed_config import typed_params
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


def objective_class(name: str) -> type[nn.Module]:
    """The class registered as ``name`` (or at the import path ``module:Class``)."""
    return resolve(OBJECTIVES, name, "objective")


def build_objective(name: str, **params) -> nn.Module:
    """The objective ``name`` built with its hyper-parameters (checked against its ``Params``)."""
    cls = objective_class(name)
    return cls(**typed_params(cls, params, "objective.params"))
