"""The synthetic world: procedural street scenes rendered by a spinning LiDAR, six cameras and a
microphone, with per-point and per-pixel ground truth, written as nuScenes, ROS 2 bag and mp4.

- :func:`make_world` draws a scene (road, buildings, vegetation, poles, parked and moving vehicles,
  pedestrians, cyclists, light, sound sources) from a seed;
- :class:`SyntheticDrive` drives the sensors through it and yields :class:`~multimodal.sensors.frame.Frame` records;
- :func:`write_world` writes scenes in the three formats (``multimodal make-world``);
- :func:`make_demo_drive` is the small built-in demo (all cameras in every frame).

See ``docs/synthetic_world.md``.
"""
from .camera import CAMERA_NAMES, CAMERA_RIG, CameraRender, T_ego_from_camera, camera_intrinsics
from .classes import CLASS_COLORS, CLASS_NAMES, DYNAMIC_CLASSES, NUSCENES_CATEGORIES, STATIC_CLASSES
from .demo_drive import demo_scene, make_demo_drive, render_camera
from .drive import MIC_NAME, DriveConfig, SyntheticDrive, make_drive, scene_seed
from .lidar import LIDAR_FIELDS, LIDAR_NAME, T_EGO_FROM_LIDAR, LidarModel, LidarScan
from .raycast import Hits, WorldCaster
from .world import World, make_world

__all__ = [
    "CAMERA_NAMES", "CAMERA_RIG", "CLASS_COLORS", "CLASS_NAMES", "DYNAMIC_CLASSES", "LIDAR_FIELDS", "LIDAR_NAME",
    "MIC_NAME", "NUSCENES_CATEGORIES", "STATIC_CLASSES", "T_EGO_FROM_LIDAR", "CameraRender", "DriveConfig", "Hits",
    "LidarModel", "LidarScan", "SyntheticDrive", "T_ego_from_camera", "World", "WorldCaster", "camera_intrinsics",
    "demo_scene", "make_demo_drive", "make_drive", "make_world", "render_camera", "scene_seed",
]
