"""Typed YAML configs: unknown keys and wrong types are errors naming the key path."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

import pytest

from multimodal.typed_config import ConfigError, load_config, to_dict


@dataclass
class Optim:
    learning_rate: float = 0.1
    schedule: Literal["cosine", "step"] = "cosine"


@dataclass
class Exp:
    name: str
    steps: int = 10
    voxel_size_m: float = 0.1
    resume: Optional[str] = None
    cameras: list[str] = field(default_factory=list)
    optim: Optim = field(default_factory=Optim)


def write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_valid_config_and_overrides(tmp_path):
    p = write(tmp_path, "name: a  # comment\nsteps: 5\noptim:\n  learning_rate: 0.01\ncameras: [CAM_FRONT]\n")
    cfg = load_config(Exp, p, ["optim.schedule=step", "voxel_size_m=1"])
    assert cfg.steps == 5 and cfg.optim.learning_rate == 0.01 and cfg.optim.schedule == "step"
    assert cfg.voxel_size_m == 1.0 and isinstance(cfg.voxel_size_m, float) and cfg.cameras == ["CAM_FRONT"]
    assert to_dict(cfg)["optim"] == {"learning_rate": 0.01, "schedule": "step"}


@pytest.mark.parametrize("text, overrides, message", [
    ("name: a\noptim:\n  lerning_rate: 0.1\n", [], r"optim\.lerning_rate: unknown key; did you mean 'learning_rate'"),
    ("name: a\nstep: 3\n", [], r"step: unknown key; did you mean 'steps'"),
    ("name: a\nsteps: many\n", [], r"steps: expected an integer, got 'many'"),
    ("name: a\n", ["optim.schedule=linear"], r"optim\.schedule: 'linear' is not one of \['cosine', 'step'\]"),
    ("steps: 3\n", [], r"missing required key\(s\) name"),
    ("name: a\n", ["optim=3"], r"optim: expected a mapping"),
])
def test_errors_name_the_key(tmp_path, text, overrides, message):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as e:
        load_config(Exp, p, overrides)
    assert str(p) in str(e.value)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(Exp, tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(Exp, write(tmp_path, "name: [unclosed\n"))


def test_fixed_length_tuples_keep_their_values(tmp_path):
    """``tuple[int, int]`` fields (e.g. SLidR's method.params.image_wh) load the numbers, typed, and reject a wrong
    length."""
    from pathlib import Path

    from multimodal.methods import method_class
    from multimodal.training.config import ExperimentConfig

    cfg = load_config(ExperimentConfig, Path(__file__).resolve().parents[1] / "configs" / "synthetic_slidr.yaml")
    method = method_class(cfg.method.name)(cfg)
    assert method.params.image_wh == (320, 192) and all(type(v) is int for v in method.params.image_wh)

    @dataclass
    class Pair:
        wh: tuple[int, float] = (1, 2.0)

    p = tmp_path / "p.yaml"
    p.write_text("wh: [3, 4.5]\n")
    assert load_config(Pair, p).wh == (3, 4.5)
    p.write_text("wh: [3, 4, 5]\n")
    with pytest.raises(ConfigError, match="expected 2 values"):
        load_config(Pair, p)
    p.write_text("wh: [x, 4.5]\n")
    with pytest.raises(ConfigError, match="wh"):
        load_config(Pair, p)
