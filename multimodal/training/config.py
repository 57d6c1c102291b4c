"""The experiment config: one YAML file = one experiment (see ``configs/`` for commented examples).

The config names a method (``method.name``: which data it reads and how its step runs), the encoders it
trains keyed by modality (``model.lidar`` / ``camera`` / ``audio`` / ``flow``), and an objective the method
can use. Nothing here knows a particular method: each method, objective and encoder checks its own
``params`` against its ``Params`` dataclass.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Optional

MODALITIES = ("lidar", "camera", "audio", "flow")  # the encoders a run can hold, built in this order


@dataclass
class DataConfig:
    log: str = "demo"                       # log path/URI; "demo" writes the built-in synthetic drive into the run
    log_options: dict[str, Any] = field(default_factory=dict)  # reader options (version, sweeps, topics ...)
    batch_size: int = 2                     # samples per optimizer step, over all processes
    num_workers: int = 2                    # dataloader worker processes per training process
    demo_frames: int = 40                   # log "demo": frames of the synthetic drive


@dataclass
class EncoderConfig:
    name: str = "point_mlp"                 # registry name (models/registry.py) or import path "module:Class"
    params: dict[str, Any] = field(default_factory=dict)  # the encoder's Params (constructor keyword arguments)


@dataclass
class ModelConfig:
    lidar: Optional[EncoderConfig] = None   # LiDAR encoder (e.g. minkunet14)
    camera: Optional[EncoderConfig] = None  # camera encoder (e.g. camera_resnet)
    audio: Optional[EncoderConfig] = None   # audio encoder (e.g. audio_cnn)
    flow: Optional[EncoderConfig] = None    # optical-flow encoder
    head_dim: int = 64                      # projection head output size (features L2-normalized by the loss)

    def encoders(self) -> dict[str, EncoderConfig]:
        """The configured encoders keyed by modality, in :data:`MODALITIES` order."""
        return {m: getattr(self, m) for m in MODALITIES if getattr(self, m) is not None}


@dataclass
class MethodConfig:
    name: str = "point_contrast"            # registry name (multimodal/methods/__init__.py) or "module:Class"
    params: dict[str, Any] = field(default_factory=dict)  # the method's Params: views, cameras, image size ...


@dataclass
class ObjectiveConfig:
    name: Optional[str] = None              # registry name (multimodal/objectives/__init__.py); null: the method's default
    params: dict[str, Any] = field(default_factory=dict)  # the objective's Params, e.g. temperature, num_pairs


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
    sparse_backend: Optional[str] = None    # native, minkowski or spconv; null: $MULTIMODAL_SPARSE_BACKEND or native
    checkpoint_every_n_steps: int = 100     # atomic checkpoint (last.ckpt) interval, optimizer steps
    log_every_n_steps: int = 10
    seed: int = 0
    deterministic: bool = True              # deterministic algorithms (bitwise resume on CPU)


@dataclass
class ExperimentConfig:
    name: str = "experiment"                # run name (used in folder names and logs)
    data: DataConfig = field(default_factory=DataConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)

    def validate(self, path: str = "") -> None:
        """The method exists, gets the encoders it runs (and no others), and its objective fits its data."""
        from ..methods import method_class
        from ..objectives import objective_class
        from ..typed_config import ConfigError, typed_params

        try:
            method = method_class(self.method.name)
            objective = objective_class(self.objective_name())
        except KeyError as e:
            raise ConfigError(f"method.name / objective.name: {e.args[0]}") from None
        typed_params(method, self.method.params, "method.params")
        typed_params(objective, self.objective.params, "objective.params")
        have = self.model.encoders()
        need = tuple(method.encoders)
        for m in need:
            if m not in have:
                raise ConfigError(f"model.{m}: method {self.method.name} runs a {m} encoder; configure one")
        for m in have:
            if m not in need:
                raise ConfigError(f"model.{m}: method {self.method.name} uses only {', '.join(need)} encoder(s)")
        for m, enc in have.items():
            from multimodal.models.registry import encoder_class

            try:
                typed_params(encoder_class(enc.name), enc.params, f"model.{m}.params")
            except KeyError as e:
                raise ConfigError(f"model.{m}.name: {e.args[0]}") from None
        missing = [k for k in getattr(objective, "inputs", ()) if k not in method.provides]
        if missing:
            raise ConfigError(f"objective.name: {self.objective_name()} needs {missing}, which method "
                              f"{self.method.name} does not provide (it provides {list(method.provides)})")
        if self.data.batch_size < 1:
            raise ConfigError("data.batch_size: must be >= 1")

    def objective_name(self) -> str:
        """The configured objective, or the method's default."""
        if self.objective.name is not None:
            return self.objective.name
        from ..methods import method_class

        return method_class(self.method.name).default_objective
