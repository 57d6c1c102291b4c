"""Shipped configs: each validates into the typed schema and every key carries a comment."""
from __future__ import annotations

import re

import pytest

from multimodal.training.config import ExperimentConfig
from multimodal.typed_config import load_config

from .conftest import REPO

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


def test_there_are_configs_for_each_kind_of_run():
    names = {p.stem for p in CONFIGS}
    assert {"nuscenes_pointcontrast", "nuscenes_slidr", "synthetic_pointcontrast", "synthetic_slidr",
            "bag_pointcontrast"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_validates_and_every_key_is_commented(path):
    load_config(ExperimentConfig, path)
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if re.match(r"^\s*[A-Za-z_]+:", line) and not re.match(r"^\s*[A-Za-z_]+:\s*$", line):
            assert "#" in line, f"{path.name}:{n}: key without a comment: {line.strip()}"
