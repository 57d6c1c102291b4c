"""The ``multimodal_ros`` ament package's entry points: each starts a program of the ``multimodal`` library.

The product code is the library package ``multimodal.ros_nodes`` (``pip install`` of the repository, beside
ROS); this package only gives ``ros2 run multimodal_ros <executable>`` and the launch file something to
start. One line per executable in :data:`EXECUTABLES`; ``setup.py`` makes a console script of each.
"""
from __future__ import annotations

import importlib
import sys
from typing import Callable

# executable -> "module:function" in the multimodal library
EXECUTABLES = {
    "lidar_features": "multimodal.ros_nodes.lidar_node:main",
    "camera_features": "multimodal.ros_nodes.camera_node:main",
    "audio_features": "multimodal.ros_nodes.audio_node:main",
    "replay": "multimodal.ros_nodes.replay:main",
    "record": "multimodal.ros_nodes.record:main",
}


def _target(executable: str) -> Callable[[], int]:
    module, func = EXECUTABLES[executable].split(":")
    try:
        return getattr(importlib.import_module(module), func)
    except ImportError as e:
        if (e.name or "").split(".")[0] != "multimodal":
            raise  # multimodal is there; one of its dependencies is not
        raise SystemExit(f"multimodal_ros {executable}: the multimodal library is not importable by {sys.executable} "
                         f"({e}); pip install the multimodal repository into the Python that ROS uses "
                         "(docs/ros.md)") from None


def _run(executable: str) -> int:
    return _target(executable)()


def lidar_features() -> int:
    """``ros2 run multimodal_ros lidar_features --ros-args -p encoder_path:=DIR``."""
    return _run("lidar_features")


def camera_features() -> int:
    """``ros2 run multimodal_ros camera_features --ros-args -p encoder_path:=DIR``."""
    return _run("camera_features")


def audio_features() -> int:
    """``ros2 run multimodal_ros audio_features --ros-args -p encoder_path:=DIR``."""
    return _run("audio_features")


def replay() -> int:
    """``ros2 run multimodal_ros replay LOG [--rate 1] ...``."""
    return _run("replay")


def record() -> int:
    """``ros2 run multimodal_ros record --out BAG TOPIC=TYPE ...``."""
    return _run("record")
