"""A small synthetic nuScenes-format dataset for tests (4 sweeps, keyframes every 2, lidarseg labels)."""
from __future__ import annotations

from pathlib import Path

from multimodal.sensors.frame import Frame
from multimodal.sensors.nuscenes_tables import write_frames_as_nuscenes
from multimodal.sensors.synthetic import NUSCENES_CATEGORIES, make_demo_drive

VERSION = "v1.0-test"


def demo_drive() -> list[Frame]:
    return make_demo_drive(n_frames=4, seed=5)


def write_dataset(root: Path, drive: list[Frame]) -> Path:
    """``drive`` written as version ``VERSION`` under ``root`` (returned)."""
    write_frames_as_nuscenes(drive, root, VERSION, class_names=NUSCENES_CATEGORIES, keyframe_every=2)
    return root
