"""Shared fixtures: the real sample data in ../shared/data (or $MULTIMODAL_SHARED_DATA).

Where the folder is absent (a user's clone) tests that need it skip with a visible reason;
in CI (``CI=true``) they fail instead, so a broken data path can never pass silently.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    env = os.environ.get("MULTIMODAL_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def require_data(*parts: str) -> Path:
    """Path under the shared data folder; skip (or fail in CI) when it is missing."""
    path = shared_data_dir().joinpath(*parts)
    if not path.exists():
        msg = f"real sample data not found: {path} (set MULTIMODAL_SHARED_DATA)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


NUSCENES_INFO = "mmdet3d_info_n015-2018-07-24-11-22-45+0800.json"


@pytest.fixture(scope="session")
def nuscenes_sample_root(tmp_path_factory) -> Path:
    """A nuScenes data root (tables written here, sensor files linked) for the real demo keyframe."""
    from multimodal.sensors.mmdet3d_info import write_nuscenes_tables_from_info

    src = require_data("nuscenes_mmdet3d_demo")
    out = tmp_path_factory.mktemp("nuscenes_sample")
    return write_nuscenes_tables_from_info(src / NUSCENES_INFO, src, out, version="v1.0-mini")


@pytest.fixture(scope="session")
def nuscenes_sample_bag() -> Path:
    return require_data("nuscenes_demo_ros2_bag_derived", "n015_scene0061_sample0")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
