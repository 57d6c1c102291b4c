"""Methods are plug-ins: a method defined in a test file (tests/toy_method.py) trains, checkpoints, resumes and
exports through the generic path, and the registries reject what does not fit with clear errors."""
from __future__ import annotations

import dataclasses
import inspect

import pytest
import torch
from safetensors.torch import load_file

from multimodal.methods import METHODS, method_class
from multimodal.training.config import (
    DataConfig,
    EncoderConfig,
    ExperimentConfig,
    MethodConfig,
    ModelConfig,
    ObjectiveConfig,
    OptimConfig,
    TrainerConfig,
)
from multimodal.typed_config import ConfigError, from_dict, to_dict

TOY = "tests.toy_method:ToyJitter"  # a module outside the package, named by its import path


@pytest.fixture(scope="module")
def demo_log(tmp_path_factory):
    from multimodal.demo_log import write_demo_log

    return write_demo_log(tmp_path_factory.mktemp("log") / "demo", n_frames=6, seed=0)


def toy_config(log, steps: int, method: str = TOY) -> ExperimentConfig:
    return ExperimentConfig(
        name="toy", data=DataConfig(log=str(log), batch_size=2, num_workers=0),
        method=MethodConfig(name=method, params={"points": 128}),
        model=ModelConfig(lidar=EncoderConfig("point_mlp", {"in_channels": 4, "hidden": 16, "out_channels": 8}),
                          head_dim=8),
        objective=ObjectiveConfig(params={"temperature": 0.1, "num_pairs": 64}),
        optim=OptimConfig(lr=0.01, schedule="constant"),  # constant: a 3-step run is the first half of a 6-step one
        trainer=TrainerConfig(max_steps=steps, checkpoint_every_n_steps=1, log_every_n_steps=1, accelerator="cpu",
                              deterministic=True))


def _state(run_dir):
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


@pytest.mark.parametrize("register", ["import_path", "registry_line"])
def test_toy_method_trains_resumes_and_exports_without_core_edits(tmp_path, demo_log, monkeypatch, register):
    from multimodal.export import load_encoder
    from multimodal.training.run import train

    name = TOY
    if register == "registry_line":
        from tests.toy_method import ToyJitter

        monkeypatch.setitem(METHODS, "toy", ToyJitter)  # the one registry line a method in the package adds
        name = "toy"
    full = train(toy_config(demo_log, 6, name), tmp_path / "full", progress=False)
    train(toy_config(demo_log, 3, name), tmp_path / "cut", progress=False)
    cut = train(toy_config(demo_log, 6, name), tmp_path / "cut", resume=True, progress=False)
    a, b = _state(tmp_path / "full"), _state(tmp_path / "cut")
    assert "extra.target_head.weight" in a  # the method's own module is checkpointed with the encoders
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resume"
    # the EMA hook ran: the target head moved towards the trained head, but is not equal to it
    assert not torch.equal(a["extra.target_head.weight"], a["heads.lidar.weight"])
    assert set(full) == {"lidar"} and full["lidar"] == tmp_path / "full" / "encoders" / "lidar"
    enc = load_encoder(cut["lidar"])
    w = load_file(str(full["lidar"] / "encoder.safetensors"))
    assert all(torch.equal(w[k], v) for k, v in enc.state_dict().items())
    assert all(torch.equal(w[k], a[f"encoders.lidar.{k}"]) for k in w)


def test_unknown_and_mismatched_plugins_are_clear_errors(demo_log):
    base = to_dict(toy_config(demo_log, 1))
    bad = dict(base, method={"name": "point_contrats", "params": {}})
    with pytest.raises(ConfigError, match="unknown method 'point_contrats'.*point_contrast"):
        from_dict(ExperimentConfig, bad)
    bad = dict(base, method={"name": TOY, "params": {"pionts": 3}})
    with pytest.raises(ConfigError, match="method.params.pionts: unknown key; did you mean 'points'"):
        from_dict(ExperimentConfig, bad)
    bad = dict(base, objective={"name": "superpixel_to_superpoint", "params": {}})
    with pytest.raises(ConfigError, match="needs \\['point_segment', 'pixel_segment'\\].*provides \\['matches'\\]"):
        from_dict(ExperimentConfig, bad)
    bad = dict(base, method={"name": "ppkt", "params": {}}, objective={"name": None, "params": {}})
    with pytest.raises(ConfigError, match="model.camera: method ppkt runs a camera encoder"):
        from_dict(ExperimentConfig, bad)
    bad = dict(base, method={"name": "no.such.module:Thing", "params": {}})
    with pytest.raises(ConfigError, match="cannot import 'no.such.module:Thing'"):
        from_dict(ExperimentConfig, bad)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_registered_methods_declare_their_contract(name):
    cls = method_class(name)
    assert dataclasses.is_dataclass(cls.Params) and cls.encoders and cls.provides
    assert set(cls.encoders.values()) <= {"rows", "map", "vector"}
    src = "\n".join(inspect.getsource(c) for c in cls.Params.__mro__ if dataclasses.is_dataclass(c))
    for f in dataclasses.fields(cls.Params):  # every option documented where it is declared
        line = next(ln for ln in src.splitlines() if ln.strip().startswith(f"{f.name}:"))
        assert "#" in line, f"{name}.Params.{f.name} has no comment"
