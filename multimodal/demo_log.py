"""The built-in demo log: a short synthetic drive written as a nuScenes-format dataset.

It lets every command run on a fresh machine without data. It is written under a run folder of
ours (``runs/demo_log`` by default), never into a user's data folder.
"""
from __future__ import annotations

import os
from pathlib import Path

from multimodal.sensors.nuscenes_tables import write_frames_as_nuscenes
from multimodal.sensors.synthetic import NUSCENES_CATEGORIES, make_demo_drive

DEMO_VERSION = "v1.0-demo"


def write_demo_log(out_dir: str | os.PathLike = "runs/demo_log", n_frames: int = 8, seed: int = 0) -> Path:
    """Write (or reuse, if already complete) the demo drive as a nuScenes data root; returns it."""
    out = Path(out_dir)
    marker = out / DEMO_VERSION / "sample_data.json"
    stamp = out / ".multimodal_demo"
    wanted = f"frames={n_frames} seed={seed} world=2"  # world=2: the open3d synthetic world (issue 4)
    if marker.is_file() and stamp.is_file() and stamp.read_text() == wanted:
        return out
    frames = make_demo_drive(n_frames=n_frames, seed=seed)
    write_frames_as_nuscenes(frames, out, DEMO_VERSION, scene_name=f"demo-seed{seed}", log_name="demo",
                             class_names=NUSCENES_CATEGORIES)
    stamp.write_text(wanted)
    return out
