"""Writer of nuScenes-format tables (the JSON database that ``nuscenes-devkit`` loads).

Used to wrap recordings that come without tables (the mmdet3d demo sample, a robot's own logs)
and by the synthetic world. :class:`NuScenesTableWriter` builds the 13 core tables (+ lidarseg)
record by record and links ``prev``/``next`` chains; :func:`write_frames_as_nuscenes` saves a
sequence of :class:`~multimodal.sensors.frame.Frame` as a complete dataset (``samples/``, ``sweeps/``,
``lidarseg/`` and the tables) that ``NuScenes(version=..., dataroot=...)`` opens.

Tokens are derived deterministically from a namespace and a counter, so the same input gives
byte-identical tables.
"""
from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from .atomic import atomic_write_bytes, atomic_write_json
from .frame import Frame
from .geometry import matrix_to_quat_wxyz

TABLES = ("category", "attribute", "visibility", "instance", "sensor", "calibrated_sensor", "ego_pose",
          "log", "scene", "sample", "sample_data", "sample_annotation", "map")


def _pose_fields(T: np.ndarray) -> tuple[list[float], list[float]]:
    T = np.asarray(T, dtype=np.float64)
    return [float(v) for v in T[:3, 3]], [float(v) for v in matrix_to_quat_wxyz(T[:3, :3])]


class NuScenesTableWriter:
    """Build nuScenes tables record by record and write them to ``dataroot/version/``.

    Args:
        dataroot: dataset root (tables go to ``dataroot/version``; sensor file names in
            ``sample_data.filename`` are relative to it).
        version: version folder name, e.g. ``v1.0-mini``.
        namespace: seed for deterministic tokens.
    """

    def __init__(self, dataroot: str | os.PathLike, version: str = "v1.0-mini", namespace: str = "multimodal"):
        self.dataroot = Path(dataroot)
        self.version = version
        self.namespace = namespace
        self.tables: dict[str, list[dict]] = {t: [] for t in TABLES}
        self.lidarseg: list[dict] = []
        self._counter = 0
        self._sensor_by_channel: dict[str, str] = {}
        self._last_sample: dict[str, dict] = {}  # scene token -> last sample record
        self._last_sd: dict[tuple[str, str], dict] = {}  # (scene token, channel) -> last sample_data
        self._sample_scene: dict[str, str] = {}
        self._scene_by_token: dict[str, dict] = {}

    def token(self, kind: str = "") -> str:
        """A new deterministic 32-hex-digit token."""
        self._counter += 1
        return hashlib.md5(f"{self.namespace}/{kind}/{self._counter}".encode()).hexdigest()

    def add_log(self, logfile: str = "", vehicle: str = "", date_captured: str = "", location: str = "",
                token: str | None = None) -> str:
        tok = token or self.token("log")
        self.tables["log"].append({"token": tok, "logfile": logfile, "vehicle": vehicle,
                                   "date_captured": date_captured, "location": location})
        return tok

    def add_map(self, filename: str, log_tokens: Sequence[str], category: str = "semantic_prior") -> str:
        """Map record; devkit needs every log to have one and the PNG to exist (see :meth:`write`)."""
        tok = self.token("map")
        self.tables["map"].append({"token": tok, "log_tokens": list(log_tokens), "category": category,
                                   "filename": filename})
        return tok

    def add_scene(self, log_token: str, name: str, description: str = "", token: str | None = None) -> str:
        tok = token or self.token("scene")
        rec = {"token": tok, "log_token": log_token, "nbr_samples": 0, "first_sample_token": "",
               "last_sample_token": "", "name": name, "description": description}
        self.tables["scene"].append(rec)
        self._scene_by_token[tok] = rec
        return tok

    def add_sensor(self, channel: str, modality: str) -> str:
        """Sensor record for a channel (``lidar`` / ``camera`` / ``radar``); one per channel."""
        if channel in self._sensor_by_channel:
            return self._sensor_by_channel[channel]
        tok = self.token("sensor")
        self.tables["sensor"].append({"token": tok, "channel": channel, "modality": modality})
        self._sensor_by_channel[channel] = tok
        return tok

    def add_calibrated_sensor(self, sensor_token: str, T_ego_from_sensor: np.ndarray,
                              K: np.ndarray | None = None, token: str | None = None) -> str:
        tok = token or self.token("calibrated_sensor")
        t, q = _pose_fields(T_ego_from_sensor)
        intr = [] if K is None else [[float(v) for v in row] for row in np.asarray(K, dtype=np.float64)]
        self.tables["calibrated_sensor"].append({"token": tok, "sensor_token": sensor_token, "translation": t,
                                                 "rotation": q, "camera_intrinsic": intr})
        return tok

    def add_ego_pose(self, timestamp_us: int, T_world_from_ego: np.ndarray, token: str | None = None) -> str:
        tok = token or self.token("ego_pose")
        t, q = _pose_fields(T_world_from_ego)
        self.tables["ego_pose"].append({"token": tok, "timestamp": int(timestamp_us), "rotation": q, "translation": t})
        return tok

    def add_sample(self, scene_token: str, timestamp_us: int, token: str | None = None) -> str:
        """Keyframe record, appended to the end of its scene's ``prev``/``next`` chain."""
        tok = token or self.token("sample")
        rec = {"token": tok, "timestamp": int(timestamp_us), "prev": "", "next": "", "scene_token": scene_token}
        prev = self._last_sample.get(scene_token)
        scene = self._scene_by_token[scene_token]
        if prev is not None:
            prev["next"] = tok
            rec["prev"] = prev["token"]
        else:
            scene["first_sample_token"] = tok
        scene["last_sample_token"] = tok
        scene["nbr_samples"] += 1
        self._last_sample[scene_token] = rec
        self._sample_scene[tok] = scene_token
        self.tables["sample"].append(rec)
        return tok

    def add_sample_data(self, sample_token: str, channel: str, ego_pose_token: str, calibrated_sensor_token: str,
                        timestamp_us: int, filename: str, is_key_frame: bool, width: int = 0, height: int = 0,
                        fileformat: str | None = None, token: str | None = None) -> str:
        """``sample_data`` record, appended to its (scene, channel) ``prev``/``next`` chain in call order."""
        tok = token or self.token("sample_data")
        fmt = fileformat or (Path(filename).suffix.lstrip(".") or "bin")
        rec = {"token": tok, "sample_token": sample_token, "ego_pose_token": ego_pose_token,
               "calibrated_sensor_token": calibrated_sensor_token, "timestamp": int(timestamp_us),
               "fileformat": fmt, "is_key_frame": bool(is_key_frame), "height": int(height), "width": int(width),
               "filename": filename, "prev": "", "next": ""}
        key = (self._sample_scene.get(sample_token, ""), channel)
        prev = self._last_sd.get(key)
        if prev is not None:
            prev["next"] = tok
            rec["prev"] = prev["token"]
        self._last_sd[key] = rec
        self.tables["sample_data"].append(rec)
        return tok

    def add_category(self, name: str, description: str = "", index: int | None = None) -> str:
        tok = self.token("category")
        rec = {"token": tok, "name": name, "description": description}
        if index is not None:
            rec["index"] = int(index)
        self.tables["category"].append(rec)
        return tok

    def add_lidarseg(self, sample_data_token: str, filename: str) -> str:
        tok = sample_data_token  # nuScenes keys lidarseg records by their sample_data token
        self.lidarseg.append({"token": tok, "sample_data_token": sample_data_token, "filename": filename})
        return tok

    def write(self) -> Path:
        """Write all tables (atomically, one file each) to ``dataroot/version``; returns that folder.

        Adds a 1x1 map raster and a map record for logs that have none, since devkit refuses
        datasets without them.
        """
        mapped = {t for m in self.tables["map"] for t in m["log_tokens"]}
        unmapped = [log["token"] for log in self.tables["log"] if log["token"] not in mapped]
        if unmapped:
            fname = "maps/multimodal_blank_map.png"
            buf = io.BytesIO()
            Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(buf, format="PNG")
            atomic_write_bytes(self.dataroot / fname, buf.getvalue())
            self.add_map(fname, unmapped)
        if not self.tables["visibility"]:
            for i, (level, desc) in enumerate([("v0-40", "visibility of whole object is between 0 and 40%"),
                                               ("v40-60", "between 40 and 60%"), ("v60-80", "between 60 and 80%"),
                                               ("v80-100", "between 80 and 100%")], start=1):
                self.tables["visibility"].append({"token": str(i), "level": level, "description": desc})
        root = self.dataroot / self.version
        for name, rows in self.tables.items():
            atomic_write_json(root / f"{name}.json", rows)
        if self.lidarseg:
            atomic_write_json(root / "lidarseg.json", self.lidarseg)
        return root


def write_frames_as_nuscenes(
    frames: Iterable[Frame], dataroot: str | os.PathLike, version: str = "v1.0-mini", *,
    scene_name: str = "scene-0001", log_name: str = "multimodal-log", location: str = "synthetic",
    keyframe_every: int = 1, class_names: Sequence[str] | Mapping[int, str] | None = None, jpeg_quality: int = 95,
    writer: NuScenesTableWriter | None = None, finish: bool = True,
) -> NuScenesTableWriter:
    """Save frames as one nuScenes scene: sensor files plus tables.

    Every ``keyframe_every``-th frame becomes a sample (keyframe, files under ``samples/``); the
    others are sweeps (``sweeps/``) attached to the latest sample. LiDAR sweeps are written as
    ``.pcd.bin`` float32 with 5 columns (x, y, z, intensity, ring; ring 0 when absent); cameras as
    JPEG; per-point labels as lidarseg ``.bin`` (uint8), which needs ``class_names``: a sequence
    (position = label id) or a mapping label id -> name. Names must be nuScenes lidarseg category
    names (``vehicle.car``, ``flat.driveable_surface`` ...): devkit refuses lidarseg categories it
    has no colour for.

    Pass ``writer`` and ``finish=False`` to add several scenes to one dataset, then call
    ``writer.write()``.
    """
    root = Path(dataroot)
    w = writer or NuScenesTableWriter(root, version, namespace=f"{log_name}/{scene_name}")
    categories: dict[int, str] = {}
    if class_names is not None:
        categories = dict(class_names.items()) if isinstance(class_names, Mapping) else dict(enumerate(class_names))
        from nuscenes.utils.color_map import get_colormap

        unknown = sorted(set(categories.values()) - set(get_colormap()))
        if unknown:
            raise ValueError(f"class names {unknown} are not nuScenes lidarseg categories, which devkit needs; "
                             f"map them to names among {sorted(get_colormap())}")
        if not w.tables["category"]:
            for i, name in sorted(categories.items()):
                w.add_category(name, index=i)
    log_tok = w.add_log(logfile=log_name, vehicle="multimodal", location=location)
    scene_tok = w.add_scene(log_tok, scene_name)
    calib: dict[tuple, str] = {}
    sample_tok = ""
    for i, frame in enumerate(frames):
        key = i % max(1, keyframe_every) == 0
        folder = "samples" if key else "sweeps"
        if key:
            sample_tok = w.add_sample(scene_tok, frame.timestamp_us)
        for name, sweep in frame.lidars.items():
            cs = _calibrated(w, calib, name, "lidar", sweep.T_ego_from_sensor, None)
            ep = w.add_ego_pose(sweep.timestamp_us, _pose_or_identity(sweep.T_world_from_ego))
            fname = f"{folder}/{name}/{log_name}__{name}__{sweep.timestamp_us}.pcd.bin"
            pts = np.zeros((len(sweep), 5), dtype=np.float32)
            pts[:, :4] = sweep.points[:, :4]
            if "ring" in sweep.fields:
                pts[:, 4] = sweep.points[:, sweep.fields.index("ring")]
            atomic_write_bytes(root / fname, pts.tobytes())
            sd = w.add_sample_data(sample_tok, name, ep, cs, sweep.timestamp_us, fname, key, fileformat="pcd")
            if sweep.labels is not None and key:
                if not categories:
                    raise ValueError(f"frame {i} sensor {name}: per-point labels need class_names for lidarseg")
                stray = set(np.unique(sweep.labels).tolist()) - set(categories)
                if stray:
                    raise ValueError(f"frame {i} sensor {name}: label ids {sorted(stray)} have no class name")
                lname = f"lidarseg/{version}/{sd}_lidarseg.bin"
                atomic_write_bytes(root / lname, np.asarray(sweep.labels, dtype=np.uint8).tobytes())
                w.add_lidarseg(sd, lname)
        for name, cam in frame.cameras.items():
            cs = _calibrated(w, calib, name, "camera", cam.T_ego_from_sensor, cam.K)
            ep = w.add_ego_pose(cam.timestamp_us, _pose_or_identity(cam.T_world_from_ego))
            fname = f"{folder}/{name}/{log_name}__{name}__{cam.timestamp_us}.jpg"
            buf = io.BytesIO()
            Image.fromarray(cam.image).save(buf, format="JPEG", quality=jpeg_quality)
            atomic_write_bytes(root / fname, buf.getvalue())
            H, W = cam.image.shape[:2]
            w.add_sample_data(sample_tok, name, ep, cs, cam.timestamp_us, fname, key, width=W, height=H,
                              fileformat="jpg")
    if finish:
        w.write()
    return w


def _pose_or_identity(T: np.ndarray | None) -> np.ndarray:
    return np.eye(4) if T is None else T


def _calibrated(w: NuScenesTableWriter, cache: dict, channel: str, modality: str, T: np.ndarray,
                K: np.ndarray | None) -> str:
    key = (channel, np.asarray(T, dtype=np.float64).tobytes(), None if K is None else np.asarray(K).tobytes())
    if key not in cache:
        cache[key] = w.add_calibrated_sensor(w.add_sensor(channel, modality), T, K)
    return cache[key]
