"""The experiment config: one YAML file = one experiment (see ``configs/`` for commented examples)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Optional

POINT_OBJECTIVES = ("point_info_nce", "hardest_contrastive")
IMAGE_OBJECTIVES = ("pixel_to_point", "superpixel_to_superpoint")


@dataclass
class DataConfig:
    log: str = "demo"                       # log path/URI; "demo" writes the built-in synthetic drive into the run
    log_options: dict[str, Any] = field(default_factory=dict)  # reader options (version, sweeps, topics ...)
    views: Literal["two_sweeps", "same_sweep"] = "two_sweeps"  # PointContrast views
    min_gap_s: float = 0.5                  # two_sweeps: smallest time between the two sweeps (s)
    max_gap_s: float = 2.0                  # two_sweeps: largest time between the two sweeps (s)
    max_points: Optional[int] = 20000       # random subsample of each sweep (None: all points)
    augment: bool = True                    # random rigid transform, scale, jitter per view
    cameras: Optional[list[str]] = None     # image objectives: cameras to use (None: all)
    image_wh: tuple[int, int] = (416, 224)  # image objectives: network input size, multiples of 32
    superpixels: int = 150                  # superpixel objective: SLIC segments per image
    batch_size: int = 2                     # samples per optimizer step, over all processes
    num_workers: int = 2                    # dataloader worker processes per training process
    demo_frames: int = 40                   # log "demo": frames of the synthetic drive


@dataclass
class EncoderConfig:
    name: str = "point_mlp"                 # registry name (models/registry.py)
    params: dict[str, Any] = field(default_factory=dict)  # constructor keyword arguments


@dataclass
class ModelConfig:
    lidar: EncoderConfig = field(default_factory=EncoderConfig)
    camera: Optional[EncoderConfig] = None  # image objectives: the camera encoder (e.g. camera_resnet)
    camera_mode: Literal["frozen", "joint"] = "frozen"  # frozen teacher (SLidR) or trained jointly
    head_dim: int = 64                      # projection head output size (features L2-normalized by the loss)


@dataclass
class ObjectiveConfig:
    name: str = "point_info_nce"            # registry name (multimodal/objectives/__init__.py)
    params: dict[str, Any] = field(default_factory=dict)  # e.g. temperature, num_pairs


@dataclass
class OptimConfig:
    optimizer: Literal["adamw", "sgd"] = "adamw"
    lr: float = 1e-3                        # peak learning rate
    weight_decay: float = 1e-4
    momentum: float = 0.9                   # sgd only
    schedule: Literal["cosine", "step", "constant"] = "cosine"
    warmup_steps: int = 0                   # linear warm-up (optimizer steps)
    step_size: int = 1000                   # step schedule: decay every this many steps
    gamma: float = 0.1                      # step schedule: decay factor


@dataclass
class TrainerConfig:
    max_steps: int = 500                    # optimizer steps
    accumulate_grad_batches: int = 1        # micro-batches per optimizer step
    precision: str = "32-true"              # "16-mixed" / "bf16-mixed" on GPU
    accelerator: str = "auto"               # cpu, gpu, auto
    devices: Any = 1                        # processes per node (int) or "auto"
    num_nodes: int = 1
    strategy: str = "auto"                  # "ddp" for several processes (gloo on CPU, nccl on GPU)
    checkpoint_every_n_steps: int = 100     # atomic checkpoint (last.ckpt) interval, optimizer steps
    log_every_n_steps: int = 10
    seed: int = 0
    deterministic: bool = True              # deterministic algorithms (bitwise resume on CPU)


@dataclass
class ExperimentConfig:
    name: str = "experiment"                # run name (used in folder names and logs)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)

    def validate(self, path: str = "") -> None:
        from ..objectives import OBJECTIVES
        from ..typed_config import ConfigError

        if self.objective.name not in OBJECTIVES:
            raise ConfigError(f"objective.name: unknown objective {self.objective.name!r}; known: {sorted(OBJECTIVES)}")
        if self.objective.name in IMAGE_OBJECTIVES and self.model.camera is None:
            raise ConfigError(f"model.camera: objective {self.objective.name} needs a camera encoder")
        if self.data.batch_size < 1:
            raise ConfigError("data.batch_size: must be >= 1")
