"""The Lightning module of self-supervised pretraining: encoders keyed by modality, their projection heads,
one objective, and the method that runs them on a batch.

Losses are computed per sample and averaged, with any random pair sampling seeded by the global sample
number: the loss of a batch is then the same whether its samples sit in one process or are split
across DDP processes, and the same after a resume.
"""
from __future__ import annotations

import math
import time
from typing import Any

import lightning as L
import torch
from torch import nn

from multimodal.models.registry import encoder_class

from ..methods import method_class
from ..objectives import build_objective
from ..typed_config import from_dict, typed_params
from .config import ExperimentConfig


def out_channels(encoder: nn.Module) -> int:
    c = getattr(encoder, "out_channels", None)
    if not isinstance(c, int):
        raise ValueError(f"{type(encoder).__name__} must expose an int attribute out_channels")
    return c


def projection_head(kind: str, in_channels: int, out_dim: int) -> nn.Module:
    """A linear projection for one output kind: per-row / per-clip features, or a 1x1 conv on dense maps."""
    if kind in ("rows", "vector"):
        return nn.Linear(in_channels, out_dim)
    if kind == "map":
        return nn.Conv2d(in_channels, out_dim, 1)
    raise ValueError(f"unknown head kind {kind!r}; expected rows, map or vector")


def build_configured_encoder(cfg: ExperimentConfig, modality: str) -> nn.Module:
    """The encoder of ``model.<modality>``, its params checked against the encoder's ``Params``."""
    enc = getattr(cfg.model, modality)
    cls = encoder_class(enc.name)
    return cls(**typed_params(cls, enc.params, f"model.{modality}.params"))


class SSLModule(L.LightningModule):
    """Args: ``config``: an :class:`ExperimentConfig` as a plain dict (checkpoints keep only plain data).

    Holds ``encoders`` and ``heads`` (``nn.ModuleDict`` keyed by modality), ``extra`` (the method's own
    modules) and ``objective``; the method's ``training_step`` decides how they are called.
    """

    def __init__(self, config: dict[str, Any]):
        super().__init__()
        self.save_hyperparameters({"config": config})
        cfg = from_dict(ExperimentConfig, config)
        self.cfg = cfg
        self.method = method_class(cfg.method.name)(cfg)
        self.encoders = nn.ModuleDict()
        self.heads = nn.ModuleDict()
        # Encoder, then its head, modality by modality: the order parameters are initialized in.
        for modality in cfg.model.encoders():
            encoder = build_configured_encoder(cfg, modality)
            self.encoders[modality] = encoder
            self.heads[modality] = projection_head(self.method.encoders[modality], out_channels(encoder),
                                                   cfg.model.head_dim)
        self.extra = nn.ModuleDict(self.method.extra_modules(self))
        self.objective = build_objective(cfg.objective_name(), **cfg.objective.params)
        self._t_last = None

    def generator(self, sample_id: int) -> torch.Generator:
        """The random generator of global sample ``sample_id`` (the same in any process, after any resume)."""
        return torch.Generator().manual_seed(self.cfg.trainer.seed * 1_000_003 + int(sample_id))

    def features(self, modality: str, *inputs: torch.Tensor) -> torch.Tensor:
        """Projected features: ``heads[modality](encoders[modality](*inputs))``."""
        return self.heads[modality](self.encoders[modality](*inputs))

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        losses, logs = self.method.training_step(self, batch)
        loss = torch.stack(losses).mean()
        self.log("loss", loss, prog_bar=True)
        for k, v in logs.items():
            self.log(k, torch.stack([torch.as_tensor(x, dtype=torch.float32) for x in v]).mean(),
                     prog_bar=(k == "top1"))
        now = time.perf_counter()
        if self._t_last is not None:
            self.log("samples_per_s", len(losses) / max(now - self._t_last, 1e-9), prog_bar=True)
        self._t_last = now
        return loss

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        super().optimizer_step(*args, **kwargs)
        self.method.on_after_optimizer_step(self)

    def configure_optimizers(self):
        o = self.cfg.optim
        params = [p for p in self.parameters() if p.requires_grad]
        if o.optimizer == "adamw":
            opt = torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
        else:
            opt = torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
        total = max(1, self.cfg.trainer.max_steps)

        def factor(step: int) -> float:
            if o.warmup_steps and step < o.warmup_steps:
                return (step + 1) / o.warmup_steps
            if o.schedule == "cosine":
                t = (step - o.warmup_steps) / max(1, total - o.warmup_steps)
                return 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
            if o.schedule == "step":
                return o.gamma ** (step // o.step_size)
            return 1.0

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
