"""Every registered encoder declares its parameters (``Params``: typed, defaulted, commented, equal to its
constructor's keyword arguments) and its instance's contract, and imports nothing of the training core."""
from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import typing
from pathlib import Path

import pytest

from multimodal.models.registry import ENCODERS, build_encoder, encoder_class

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
SMALL = {"camera_resnet": {"depth": 18, "out_channels": 8}, "audio_cnn": {"widths": (8,), "out_channels": 8}}


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_params_equal_the_constructor_signature(name):
    cls = encoder_class(name)
    assert dataclasses.is_dataclass(cls.Params), f"{cls.__name__}.Params is not a dataclass"
    ctor = [p for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"]
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD and p.default is not p.empty for p in ctor), ctor
    fields = dataclasses.fields(cls.Params)
    assert [(f.name, f.default) for f in fields] == [(p.name, p.default) for p in ctor]
    hints = typing.get_type_hints(cls.Params)  # every field typed, and the types resolve
    assert set(hints) == {f.name for f in fields}
    # every field commented (unit / meaning) where it is declared
    lines, _ = inspect.getsourcelines(cls.Params)
    for f in fields:
        line = next(ln for ln in lines if ln.strip().startswith(f"{f.name}:"))
        assert "#" in line and line.split("#", 1)[1].strip(), f"{cls.__name__}.Params.{f.name} has no comment"
    # the defaults build the encoder
    assert isinstance(cls(**{f.name: f.default for f in fields}), cls)


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_contract_is_per_instance_and_json(name):
    enc = build_encoder(name, **SMALL.get(name, {}))
    contract = enc.contract()
    assert {"input", "output"} <= set(contract) and json.loads(json.dumps(contract)) == contract
    assert enc.modality in ("lidar", "camera", "audio")
    if enc.modality == "lidar" and hasattr(enc, "voxel_size"):
        assert contract["voxel_size_m"] == enc.voxel_size
    assert contract.get("out_channels") == enc.out_channels


def test_models_import_nothing_of_the_training_core():
    """models/ imports only from multimodal.models and multimodal.sensors (the one-way flow)."""
    bad = []
    for path in MODELS_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for n in names:
                if n.split(".")[0] in ("models", "sensors", "ros_nodes"):
                    bad.append(f"{path.relative_to(MODELS_DIR)}: bare import {n}")
                elif n == "multimodal" or (n.startswith("multimodal.") and not n.startswith(
                        ("multimodal.models", "multimodal.sensors"))):
                    bad.append(f"{path.relative_to(MODELS_DIR)}: imports {n}")
    assert not bad, bad
