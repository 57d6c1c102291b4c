"""Run driver: a config + a run folder -> data, Trainer, checkpoints, resume, exported encoder.

Run folder layout::

    config.yaml          the resolved config of the run
    checkpoints/last.ckpt  written atomically every ``trainer.checkpoint_every_n_steps`` steps and at the end
    logs/                TensorBoard and CSV logs
    cache/               superpixels and other derived data (never in the user's data folder)
    data/                the built-in demo log, when ``data.log: demo``
    encoders/<modality>/ every encoder of the run exported (safetensors + JSON) after training
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Optional

import yaml

from multimodal.sensors.atomic import atomic_write

from ..typed_config import ConfigError, to_dict
from .config import ExperimentConfig

log = logging.getLogger("multimodal.training")


def resolve_log(cfg: ExperimentConfig, run_dir: Path) -> tuple[str, dict[str, Any]]:
    """The log path and reader options; the built-in demo drive is written under the run folder."""
    if cfg.data.log == "demo":
        from ..demo_log import write_demo_log

        return str(write_demo_log(run_dir / "data" / "demo_log", n_frames=cfg.data.demo_frames,
                                  seed=cfg.trainer.seed)), dict(cfg.data.log_options)
    return cfg.data.log, dict(cfg.data.log_options)


def build_dataset(cfg: ExperimentConfig, run_dir: Path, method=None):
    """The map-style dataset and its collate function: the configured method's, over the configured log.

    The reader decodes only the sensors the method reads (its sensor selection), unless the config's
    ``data.log_options`` gives its own ``sensors``."""
    from ..data.log_source import LogSource
    from ..methods import method_class

    method = method or method_class(cfg.method.name)(cfg)
    path, options = resolve_log(cfg, run_dir)
    selection = method.sensors()
    if selection is not None and "sensors" not in options:
        options["sensors"] = selection
    return method.build_dataset(LogSource(path, **options), run_dir)


def last_checkpoint(run_dir: Path) -> Optional[Path]:
    p = run_dir / "checkpoints" / "last.ckpt"
    return p if p.is_file() else None


def train(cfg: ExperimentConfig, run_dir: str | os.PathLike, resume: bool = False,
          progress: bool = True) -> dict[str, Path]:
    """Train, checkpointing into ``run_dir``; with ``resume`` continue from ``checkpoints/last.ckpt``.

    Returns the exported encoder folders, modality -> ``run_dir/encoders/<modality>``.
    """
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
    from torch.utils.data import DataLoader

    from . import metrics_history
    from .artifacts import export_encoders, load_weights
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
    if t.sparse_backend is not None:  # a run-time setting: the exported encoder does not record it
        from multimodal.models.sparse.settings import set_backend

        set_backend(t.sparse_backend)
    L.seed_everything(t.seed, workers=True, verbose=False)
    module = SSLModule(cfg_dict)
    start_step = 0
    if ckpt is not None:
        start_step = int(load_weights(module, ckpt).get("global_step", 0))
    csv_dir = run_dir / "logs" / "csv"
    rank0 = os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) == "0"
    if ckpt is not None and rank0:
        metrics_history.set_aside(csv_dir, start_step)
    trainer = L.Trainer(
        max_steps=t.max_steps, accumulate_grad_batches=t.accumulate_grad_batches, precision=t.precision,
        accelerator=t.accelerator, devices=t.devices, num_nodes=t.num_nodes, strategy=t.strategy,
        deterministic=t.deterministic, log_every_n_steps=t.log_every_n_steps,
        default_root_dir=str(run_dir), enable_progress_bar=progress, enable_model_summary=False,
        plugins=[AtomicCheckpointIO()],
        logger=[TensorBoardLogger(str(run_dir / "logs"), name="", version="tb"),
                CSVLogger(str(run_dir / "logs"), name="", version="csv",
                          # on disk with each log row, so a killed run's curve survives up to its checkpoint
                          flush_logs_every_n_steps=t.log_every_n_steps)],
        callbacks=[ModelCheckpoint(dirpath=str(run_dir / "checkpoints"), every_n_train_steps=t.checkpoint_every_n_steps,
                                   save_last=True, save_top_k=0, enable_version_counter=False)],
    )
    if trainer.world_size > 1:
        from .sync_norm import convert_batchnorm

        convert_batchnorm(module)  # batch statistics over all processes, on CPU too
    dataset, collate = build_dataset(cfg, run_dir, module.method)
    acc = t.accumulate_grad_batches
    sampler = StepSampler(len(dataset), cfg.data.batch_size, seed=t.seed)
    stream = StepBatches(dataset, sampler, collate, start=start_step * acc, stop=t.max_steps * acc,
                         rank=trainer.global_rank, world=trainer.world_size)
    loader = DataLoader(stream, batch_size=None, num_workers=cfg.data.num_workers)
    trainer.fit(module, train_dataloaders=loader, ckpt_path=str(ckpt) if ckpt else None, weights_only=True)
    out = {m: run_dir / "encoders" / m for m in module.encoders}
    if trainer.global_rank == 0:
        metrics_history.restore(csv_dir, start_step)
        out = export_encoders(module, run_dir / "encoders",
                              meta={"run": str(run_dir), "steps": int(trainer.global_step)})
    return out
