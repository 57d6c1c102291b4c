"""Run driver: a config + a run folder -> data, Trainer, checkpoints, resume, exported encoder.

Run folder layout::

    config.yaml          the resolved config of the run
    checkpoints/last.ckpt  written atomically every ``trainer.checkpoint_every_n_steps`` steps and at the end
    logs/                TensorBoard and CSV logs
    cache/               superpixels and other derived data (never in the user's data folder)
    data/                the built-in demo log, when ``data.log: demo``
    encoder/             the exported LiDAR encoder (safetensors + JSON) after training
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Optional

import torch
import yaml

from multimodal.sensors.atomic import atomic_write

from ..typed_config import ConfigError, to_dict
from .config import IMAGE_OBJECTIVES, ExperimentConfig

log = logging.getLogger("multimodal.training")


def resolve_log(cfg: ExperimentConfig, run_dir: Path) -> tuple[str, dict[str, Any]]:
    """The log path and reader options; the built-in demo drive is written under the run folder."""
    if cfg.data.log == "demo":
        from ..demo_log import write_demo_log

        return str(write_demo_log(run_dir / "data" / "demo_log", n_frames=cfg.data.demo_frames,
                                  seed=cfg.trainer.seed)), dict(cfg.data.log_options)
    return cfg.data.log, dict(cfg.data.log_options)


def build_dataset(cfg: ExperimentConfig, run_dir: Path):
    """The map-style dataset and its collate function for the configured objective."""
    from ..data.log_source import LogSource

    path, options = resolve_log(cfg, run_dir)
    source = LogSource(path, **options)
    d = cfg.data
    if cfg.objective.name in IMAGE_OBJECTIVES:
        from ..data.image_lidar_pairs import ImageLidarDataset, collate_image_lidar
        from ..data.superpixels import SuperpixelCache

        stride = int((cfg.model.camera.params if cfg.model.camera else {}).get("stride", 4))
        sp = SuperpixelCache(run_dir / "cache" / "superpixels", d.superpixels) \
            if cfg.objective.name == "superpixel_to_superpoint" else None
        ds = ImageLidarDataset(source, cameras=d.cameras, image_wh=tuple(d.image_wh), stride=stride, superpixels=sp,
                               max_points=d.max_points, seed=cfg.trainer.seed)
        return ds, collate_image_lidar
    from ..data.point_pairs import PointPairDataset, collate_point_pairs

    radius = 1.5 * float(cfg.model.lidar.params.get("voxel_size", 0.1))
    ds = PointPairDataset(source, mode=d.views, min_gap_s=d.min_gap_s, max_gap_s=d.max_gap_s, match_radius_m=radius,
                          max_points=d.max_points, augment=d.augment, seed=cfg.trainer.seed)
    return ds, collate_point_pairs


def last_checkpoint(run_dir: Path) -> Optional[Path]:
    p = run_dir / "checkpoints" / "last.ckpt"
    return p if p.is_file() else None


def check_checkpoint_fits(module: torch.nn.Module, ckpt: Path) -> dict:
    """Load a checkpoint (no arbitrary unpickling) and check its weights fit the module's architecture.

    The weights are loaded into ``module`` (Lightning restores the same ones again when fitting).
    """
    from ..export import load_state_checked

    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    load_state_checked(module, state.get("state_dict", {}), str(ckpt))
    return state


def train(cfg: ExperimentConfig, run_dir: str | os.PathLike, resume: bool = False,
          progress: bool = True) -> Path:
    """Train, checkpointing into ``run_dir``; with ``resume`` continue from ``checkpoints/last.ckpt``.

    Returns the exported encoder folder.
    """
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
    from torch.utils.data import DataLoader

    from ..export import export_encoder
    from .checkpoint_io import AtomicCheckpointIO
    from .module import SSLModule
    from .step_data import StepBatches, StepSampler

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_dict = to_dict(cfg)
    cfg_file = run_dir / "config.yaml"
    if resume and cfg_file.is_file():
        saved = yaml.safe_load(cfg_file.read_text())
        if saved.get("model") != cfg_dict["model"]:
            raise ConfigError(f"{cfg_file}: the run was made with a different model section; resume it with its "
                              f"own config or start a new run folder")
    ckpt = last_checkpoint(run_dir) if resume else None
    if resume and ckpt is None:
        log.warning("%s: no checkpoint to resume from; starting from scratch", run_dir)
    if os.environ.get("LOCAL_RANK", "0") == "0":
        atomic_write(cfg_file, lambda f: yaml.safe_dump(cfg_dict, f, sort_keys=False), mode="w")

    t = cfg.trainer
    L.seed_everything(t.seed, workers=True, verbose=False)
    module = SSLModule(cfg_dict)
    start_step = 0
    if ckpt is not None:
        start_step = int(check_checkpoint_fits(module, ckpt).get("global_step", 0))
    trainer = L.Trainer(
        max_steps=t.max_steps, accumulate_grad_batches=t.accumulate_grad_batches, precision=t.precision,
        accelerator=t.accelerator, devices=t.devices, num_nodes=t.num_nodes, strategy=t.strategy,
        deterministic=t.deterministic, log_every_n_steps=t.log_every_n_steps,
        default_root_dir=str(run_dir), enable_progress_bar=progress, enable_model_summary=False,
        plugins=[AtomicCheckpointIO()],
        logger=[TensorBoardLogger(str(run_dir / "logs"), name="", version="tb"),
                CSVLogger(str(run_dir / "logs"), name="", version="csv")],
        callbacks=[ModelCheckpoint(dirpath=str(run_dir / "checkpoints"), every_n_train_steps=t.checkpoint_every_n_steps,
                                   save_last=True, save_top_k=0, enable_version_counter=False)],
    )
    if trainer.world_size > 1:
        from .sync_norm import convert_batchnorm

        convert_batchnorm(module)  # batch statistics over all processes, on CPU too
    dataset, collate = build_dataset(cfg, run_dir)
    acc = t.accumulate_grad_batches
    sampler = StepSampler(len(dataset), cfg.data.batch_size, seed=t.seed)
    stream = StepBatches(dataset, sampler, collate, start=start_step * acc, stop=t.max_steps * acc,
                         rank=trainer.global_rank, world=trainer.world_size)
    loader = DataLoader(stream, batch_size=None, num_workers=cfg.data.num_workers)
    trainer.fit(module, train_dataloaders=loader, ckpt_path=str(ckpt) if ckpt else None, weights_only=True)
    out = run_dir / "encoder"
    if trainer.global_rank == 0:
        export_encoder(module.lidar, cfg.model.lidar.name, dict(cfg.model.lidar.params), out,
                       meta={"run": str(run_dir), "steps": int(trainer.global_step), "objective": cfg.objective.name})
    return out
