"""What every method is: a pairing of data and objective that the generic training core runs.

A method says which encoders it runs (keyed by modality, each with the kind of output its projection head
takes), which sensors of a frame it reads, how its samples and correspondences are built (in dataloader
workers), and its training step (which encoders it runs on a batch and how it calls the objective). The
Lightning module, the run builder and the config name no method; they call this interface.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Optional

import torch
from torch import nn
from torch.utils.data import Dataset

from ..typed_config import from_dict

if TYPE_CHECKING:
    from ..data.log_source import LogSource
    from ..training.config import ExperimentConfig
    from ..training.module import SSLModule

Losses = tuple[list[torch.Tensor], dict[str, list[torch.Tensor]]]

# Output kinds of an encoder, and the projection head each takes (see SSLModule).
HEAD_KINDS = ("rows", "map", "vector")  # (N, C) per point / (B, C, H, W) dense / (B, C) per clip


class Method:
    """Base class of methods. Subclasses set the class attributes and implement the two methods below.

    Class attributes:
        Params: dataclass of the method's own options (``method.params`` in the config), every field commented.
        encoders: modality -> head kind (``"rows"``, ``"map"`` or ``"vector"``) for each encoder the step runs.
        provides: the correspondence keys its samples carry (an objective's ``inputs`` must be among them).
        default_objective: the objective used when the config names none.
    """

    Params: ClassVar[type]
    encoders: ClassVar[dict[str, str]]
    provides: ClassVar[tuple[str, ...]]
    default_objective: ClassVar[str]

    def __init__(self, cfg: "ExperimentConfig"):
        self.cfg = cfg
        self.params = from_dict(self.Params, dict(cfg.method.params), "method.params")

    def sensors(self) -> Optional[list[str]]:
        """The sensor selection handed to the log reader (sensor names or modality kinds; None: all)."""
        return list(self.encoders)

    def build_dataset(self, source: "LogSource", run_dir: Path) -> tuple[Dataset, Callable[[list], dict]]:
        """The map-style dataset (one item per sample, correspondences included) and its collate function."""
        raise NotImplementedError

    def training_step(self, module: "SSLModule", batch: dict[str, Any]) -> Losses:
        """Per-sample losses of one batch (averaged by the module) and per-sample logged scalars."""
        raise NotImplementedError

    def extra_modules(self, module: "SSLModule") -> dict[str, nn.Module]:
        """Trainable or EMA modules beyond encoders and heads (predictors, target networks); checkpointed."""
        return {}

    def on_after_optimizer_step(self, module: "SSLModule") -> None:
        """Hook after every optimizer step (e.g. an EMA target update)."""


def per_sample(sample_ids: list[int], loss_of: Callable[[int, int], tuple[torch.Tensor, dict]]) -> Losses:
    """``loss_of(s, sample_id)`` for every sample of the batch, collected.

    Losses are computed per sample (and averaged by the module) so that a batch's loss is the same whether
    its samples sit in one process or are split over DDP processes.
    """
    losses: list[torch.Tensor] = []
    logs: dict[str, list[torch.Tensor]] = {}
    for s, sid in enumerate(sample_ids):
        loss, lg = loss_of(s, int(sid))
        losses.append(loss)
        for k, v in lg.items():
            logs.setdefault(k, []).append(v)
    return losses, logs
