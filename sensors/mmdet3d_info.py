"""Wrap an MMDetection3D nuScenes info file (``*.pkl`` converted to JSON) as a nuScenes table set.

mmdet3d ships samples as sensor files plus an info record (calibration, ego pose, boxes) but no
nuScenes tables. :func:`write_nuscenes_tables_from_info` writes the tables (and links the sensor
folders) into a folder of ours, so ``nuscenes-devkit`` and :class:`~multimodal.sensors.nuscenes_log.NuScenesLog`
can read the sample. The user's data folder is only read.

The info holds the ego pose at LiDAR time only; each camera's ego pose at its own timestamp is
recovered from ``lidar2cam`` (which mmdet3d computes through both ego poses):
``T_world_from_ego(cam) = T_world_from_ego(lidar) @ T_ego_from_lidar @ inv(T_cam_from_lidar) @ inv(T_ego_from_cam)``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .geometry import invert
from .nuscenes_tables import NuScenesTableWriter


def write_nuscenes_tables_from_info(info_json: str | os.PathLike, files_dir: str | os.PathLike,
                                    out_root: str | os.PathLike, version: str = "v1.0-mini",
                                    scene_name: str = "scene-0061") -> Path:
    """Write a one-scene nuScenes dataset for the samples of an mmdet3d info JSON.

    Args:
        info_json: mmdet3d info (``metainfo`` + ``data_list``), matrices row-major 4x4, times in seconds.
        files_dir: folder with ``samples/<CHANNEL>/<file>`` (the sensor files the info names).
        out_root: new data root; gets ``<version>/*.json`` and a ``samples`` symlink to ``files_dir/samples``.

    Returns:
        ``out_root`` (open it with ``NuScenesLog(out_root, version)``).
    """
    info = json.loads(Path(info_json).read_text())
    out = Path(out_root)
    out.mkdir(parents=True, exist_ok=True)
    link = out / "samples"
    if not link.exists():
        os.symlink(Path(files_dir).resolve() / "samples", link, target_is_directory=True)
    w = NuScenesTableWriter(out, version, namespace=str(info_json))
    log_tok = w.add_log(logfile=Path(info_json).stem.replace("mmdet3d_info_", ""), vehicle="n015",
                        location="singapore-onenorth")
    scene_tok = w.add_scene(log_tok, scene_name)
    for rec in info["data_list"]:
        lp = rec["lidar_points"]
        lidar_us = int(round(rec["timestamp"] * 1e6))
        T_world_from_ego = np.asarray(rec["ego2global"], dtype=np.float64)
        T_ego_from_lidar = np.asarray(lp["lidar2ego"], dtype=np.float64)
        sample = w.add_sample(scene_tok, lidar_us, token=rec.get("token"))
        ep = w.add_ego_pose(lidar_us, T_world_from_ego)
        cs = w.add_calibrated_sensor(w.add_sensor("LIDAR_TOP", "lidar"), T_ego_from_lidar)
        w.add_sample_data(sample, "LIDAR_TOP", ep, cs, lidar_us, f"samples/LIDAR_TOP/{lp['lidar_path']}", True,
                          fileformat="pcd")
        for cam, c in sorted(rec["images"].items()):
            cam_us = int(round(c["timestamp"] * 1e6))
            T_ego_from_cam = np.asarray(c["cam2ego"], dtype=np.float64)
            T_cam_from_lidar = np.asarray(c["lidar2cam"], dtype=np.float64)
            T_world_from_egocam = T_world_from_ego @ T_ego_from_lidar @ invert(T_cam_from_lidar) @ invert(T_ego_from_cam)
            ep_c = w.add_ego_pose(cam_us, T_world_from_egocam)
            cs_c = w.add_calibrated_sensor(w.add_sensor(cam, "camera"), T_ego_from_cam, np.asarray(c["cam2img"]))
            w.add_sample_data(sample, cam, ep_c, cs_c, cam_us, f"samples/{cam}/{c['img_path']}", True,
                              width=1600, height=900, fileformat="jpg", token=c.get("sample_data_token"))
    w.write()
    return out
