"""Synthetic worlds for tests and demos: a ray-cast street with a LiDAR and a six-camera rig.

``make_demo_drive(n_frames, seed)`` returns ``list[Frame]``; ground truth per sensor comes from
``render_camera`` / ``scan_lidar`` on ``demo_scene(n_frames, seed)``.
"""
from .demo_drive import (
    CAMERA_NAMES,
    CAMERA_RIG,
    LIDAR_FIELDS,
    LIDAR_NAME,
    T_EGO_FROM_LIDAR,
    DemoTrajectory,
    T_ego_from_camera,
    camera_intrinsics,
    demo_scene,
    demo_trajectory,
    make_demo_drive,
    render_camera,
    scan_lidar,
)
from .raycast import Hits, cast_rays
from .scene import CLASS_NAMES, GROUND, NO_HIT, NUSCENES_CATEGORIES, Scene, make_scene, surface_albedo

__all__ = [
    "CAMERA_NAMES", "CAMERA_RIG", "CLASS_NAMES", "GROUND", "LIDAR_FIELDS", "LIDAR_NAME", "NO_HIT", "NUSCENES_CATEGORIES",
    "T_EGO_FROM_LIDAR", "DemoTrajectory", "Hits", "Scene", "T_ego_from_camera", "camera_intrinsics",
    "cast_rays", "demo_scene", "demo_trajectory", "make_demo_drive", "make_scene", "render_camera",
    "scan_lidar", "surface_albedo",
]
