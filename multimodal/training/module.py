"""The Lightning module of self-supervised pretraining: encoders + projection heads + one objective.

Losses are computed per sample and averaged, with any random pair sampling seeded by the global sample
number: the loss of a batch is then the same whether its samples sit in one process or are split
across DDP processes, and the same after a resume.
"""
from __future__ import annotations

import time
from typing import Any

import lightning as L
import torch
from torch import nn

from multimodal.models.camera_resnet import normalize_images
from multimodal.models.registry import build_encoder

from ..objectives import build_objective
from ..typed_config import from_dict
from .config import IMAGE_OBJECTIVES, POINT_OBJECTIVES, ExperimentConfig


def _out_channels(encoder: nn.Module) -> int:
    c = getattr(encoder, "out_channels", None)
    if not isinstance(c, int):
        raise ValueError(f"{type(encoder).__name__} must expose an int attribute out_channels")
    return c


class SSLModule(L.LightningModule):
    """Args: ``config``: an :class:`ExperimentConfig` as a plain dict (checkpoints keep only plain data)."""

    def __init__(self, config: dict[str, Any]):
        super().__init__()
        self.save_hyperparameters({"config": config})
        cfg = from_dict(ExperimentConfig, config)
        self.cfg = cfg
        self.lidar = build_encoder(cfg.model.lidar.name, **cfg.model.lidar.params)
        self.lidar_head = nn.Linear(_out_channels(self.lidar), cfg.model.head_dim)
        self.camera = self.camera_head = None
        if cfg.model.camera is not None:
            params = dict(cfg.model.camera.params)
            if cfg.model.camera_mode == "frozen":
                params["freeze_trunk"] = True
            self.camera = build_encoder(cfg.model.camera.name, **params)
            self.camera_head = nn.Conv2d(_out_channels(self.camera), cfg.model.head_dim, 1)
        self.objective = build_objective(cfg.objective.name, **cfg.objective.params)
        self._t_last = None

    def _generator(self, sample_id: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.cfg.trainer.seed * 1_000_003 + int(sample_id))

    def lidar_features(self, points: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        return self.lidar_head(self.lidar(points, batch))

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        name = self.cfg.objective.name
        ids = batch["sample_ids"].tolist()
        losses, logs = [], {}
        if name in POINT_OBJECTIVES:
            fa = self.lidar_features(batch["points_a"], batch["batch_a"])
            fb = self.lidar_features(batch["points_b"], batch["batch_b"])
            owner = batch["batch_a"][batch["matches"][:, 0]]
            for s, sid in enumerate(ids):
                loss, lg = self.objective(fa, fb, batch["matches"][owner == s], generator=self._generator(sid))
                losses.append(loss)
                for k, v in lg.items():
                    logs.setdefault(k, []).append(v)
        elif name in IMAGE_OBJECTIVES:
            fp = self.lidar_features(batch["points"], batch["batch"])
            fx = self.camera_head(self.camera(normalize_images(batch["images"])))
            n_cam = fx.shape[0] // len(ids)
            for s, sid in enumerate(ids):
                cams = slice(s * n_cam, (s + 1) * n_cam)
                if name == "pixel_to_point":
                    pairs = batch["pairs"][batch["batch"][batch["pairs"][:, 0]] == s].clone()
                    pairs[:, 1] -= s * n_cam
                    loss, lg = self.objective(fp, fx[cams], pairs, generator=self._generator(sid))
                else:
                    mask = batch["batch"] == s
                    loss, lg = self.objective(fp[mask], fx[cams], batch["point_segment"][mask],
                                              batch["pixel_segment"][cams])
                losses.append(loss)
                for k, v in lg.items():
                    logs.setdefault(k, []).append(v)
        else:
            raise ValueError(f"objective {name!r} has no training step")
        loss = torch.stack(losses).mean()
        self.log("loss", loss, prog_bar=True)
        for k, v in logs.items():
            self.log(k, torch.stack([torch.as_tensor(x, dtype=torch.float32) for x in v]).mean(),
                     prog_bar=(k == "top1"))
        now = time.perf_counter()
        if self._t_last is not None:
            self.log("samples_per_s", len(ids) / max(now - self._t_last, 1e-9), prog_bar=True)
        self._t_last = now
        return loss

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
                import math

                t = (step - o.warmup_steps) / max(1, total - o.warmup_steps)
                return 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
            if o.schedule == "step":
                return o.gamma ** (step // o.step_size)
            return 1.0

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
