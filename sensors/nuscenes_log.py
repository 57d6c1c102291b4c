"""nuScenes-format datasets through ``nuscenes-devkit``: keyframes, optionally the sweeps between them.

Works with any version folder (``v1.0-mini``, ``v1.0-trainval``, Lyft's ``v1.01-train`` ...).
Only the tables are held in memory (as devkit does); point clouds and images are read from disk
when a frame is asked for.
"""
from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .base import SensorInfo, SensorLog
from .errors import BadRecordError, IssueCounter, LogFormatError, MissingFileError
from .frame import CameraImage, Frame, LidarSweep
from .geometry import transform_from_quat
from .nuscenes_files import colormap_for, decode_image_file, read_pcd_bin, safe_data_path
from .selection import SensorSelection, resolve_selection
from .sync import StreamSync, SyncReport, match_nearest, summarize_match

NUSCENES_LIDAR_FIELDS = ("x", "y", "z", "intensity", "ring")


def find_versions(dataroot: str | os.PathLike) -> list[str]:
    """Version folders (those holding ``sample_data.json``) directly under ``dataroot``."""
    root = Path(dataroot)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "sample_data.json").is_file())


class NuScenesLog(SensorLog):
    """A nuScenes-format dataset as frames.

    Args:
        dataroot: folder holding the version folder(s) and ``samples/``, ``sweeps/``.
        version: version folder; None picks the only one present.
        sweeps: False: one frame per keyframe (sample), cameras as the dataset pairs them.
            True: one frame per LiDAR sweep (20 Hz on nuScenes), cameras matched by timestamp
            within ``tolerance_us`` (one-to-one); unmatched images are counted in ``sync``.
        lidar: LiDAR channel that defines the frames (default ``LIDAR_TOP``, else the first lidar).
        cameras: camera channels to load (default: all in the dataset); [] for none.
        sensors: which sensors frames carry: channel names (``LIDAR_TOP``, ``CAM_FRONT``) and/or kinds
            (``lidar``, ``camera``); None for all (of ``lidar`` and ``cameras``). An unselected LiDAR
            still defines the frames (and their ego pose) but its file is never read; unselected
            cameras are neither matched nor decoded.
        scenes: restrict to these scene names or tokens.
        tolerance_us: camera-to-LiDAR matching tolerance in sweeps mode (µs).
        load_images: False skips decoding images (calibration is still returned, image is None-free
            ``(0, 0, 3)``), for LiDAR-only pipelines.
        point_dims: float32 values per point in the ``.pcd.bin`` files (5 for nuScenes and Lyft).
        strict: raise on the first bad record instead of skipping and counting it.
    """

    format = "nuscenes"
    accepts = "nuScenes data roots (a folder holding a version folder with sample_data.json)"

    @classmethod
    def sniff(cls, path: str | os.PathLike) -> bool:
        """A folder holding a version folder (with ``sample_data.json``).

        Raises:
            LogFormatError: ``path`` is a version folder itself (open its parent, the data root).
        """
        p = Path(path)
        if not p.is_dir():
            return False
        if find_versions(p):
            return True
        if (p / "sample_data.json").is_file():
            raise LogFormatError(f"{p}: this is a nuScenes *version* folder; open its parent (the data root) "
                                 f"with version={p.name!r}")
        return False

    def __init__(self, dataroot: str | os.PathLike, version: str | None = None, *, sweeps: bool = False,
                 lidar: str | None = None, cameras: Sequence[str] | None = None,
                 sensors: SensorSelection = None, scenes: Sequence[str] | None = None,
                 tolerance_us: int = 50_000, load_images: bool = True, point_dims: int = 5,
                 strict: bool = False, verbose: bool = False):
        self.path = str(dataroot)
        root = Path(dataroot)
        self.version = self._pick_version(root, version)
        self.sweeps_mode = sweeps
        self.tolerance_us = int(tolerance_us)
        self.load_images = load_images
        self.point_dims = point_dims
        self.issues = IssueCounter(strict=strict)
        self.notes: list[str] = []
        self.nusc = self._load_tables(root, verbose)
        self._pick_channels(lidar, cameras, sensors)
        nusc, lidar = self.nusc, self.lidar

        wanted = None if scenes is None else set(scenes)
        self.scene_tokens = [s["token"] for s in nusc.scene
                             if wanted is None or s["name"] in wanted or s["token"] in wanted]
        if wanted is not None and not self.scene_tokens:
            raise LogFormatError(f"{self.path}/{self.version}: none of the scenes {sorted(wanted)} exist")

        self._sd_channel = {sd["token"]: sd["channel"] for sd in nusc.sample_data}
        # lidarseg records by sample_data token (nuScenes uses that as their own token; not all datasets do).
        self._lidarseg = {r["sample_data_token"]: r for r in getattr(nusc, "lidarseg", [])}
        # Frame index: (timestamp_us, sample token, lidar sd token, {camera: sd token}).
        self._frames: list[tuple[int, str, str, dict[str, str]]] = []
        self.sync = SyncReport(reference=lidar or "sample", tolerance_us=self.tolerance_us)
        if sweeps and lidar is not None:
            self._index_sweeps()
        else:
            self._index_keyframes()
        self._infos = self._make_infos()

    # --- opening, step by step ------------------------------------------------------------
    def _pick_version(self, root: Path, version: str | None) -> str:
        if not root.exists():
            raise MissingFileError(self.path, "nuScenes data root does not exist")
        versions = find_versions(root)
        if version is None:
            if len(versions) != 1:
                raise LogFormatError(f"{self.path}: found version folders {versions or 'none'} (folders with "
                                     "sample_data.json); pass version=...")
            return versions[0]
        if version not in versions:
            raise LogFormatError(f"{self.path}: no version folder {version!r} with sample_data.json "
                                 f"(found: {versions or 'none'})")
        return version

    def _load_tables(self, root: Path, verbose: bool):
        from nuscenes.nuscenes import NuScenes

        try:
            with contextlib.redirect_stdout(io.StringIO()):
                return NuScenes(version=self.version, dataroot=str(root), verbose=verbose,
                                colormap=colormap_for(root / self.version))
        except (AssertionError, KeyError, FileNotFoundError) as e:
            raise LogFormatError(f"{self.path}/{self.version}: nuscenes-devkit cannot load the tables "
                                 f"({type(e).__name__}: {e})") from e

    def _pick_channels(self, lidar: str | None, cameras: Sequence[str] | None, sensors: SensorSelection) -> None:
        """The reference LiDAR (``LIDAR_TOP``, else the first), the cameras, and the selection of what frames carry."""
        channels = {s["channel"]: s["modality"] for s in self.nusc.sensor}
        where = f"{self.path}/{self.version}"
        lidars = [c for c, m in channels.items() if m == "lidar"]
        if lidar is None:
            lidar = "LIDAR_TOP" if "LIDAR_TOP" in lidars else (lidars[0] if lidars else None)
        elif lidar not in lidars:
            raise LogFormatError(f"{where}: no lidar channel {lidar!r} (lidars: {lidars})")
        self.lidar = lidar
        all_cams = sorted(c for c, m in channels.items() if m == "camera")
        if cameras is None:
            cameras = all_cams
        missing = [c for c in cameras if c not in all_cams]
        if missing:
            raise LogFormatError(f"{where}: no camera channel(s) {missing} (cameras: {all_cams})")
        available = {lidar: "lidar"} if lidar is not None else {}
        available.update((c, "camera") for c in cameras)
        self.frame_sensors = resolve_selection(sensors, available, where)
        self.cameras = [c for c in cameras if c in self.frame_sensors]
        if lidar is None:
            self.notes.append("dataset has no lidar channel: frames carry cameras only")

    # --- indexing -------------------------------------------------------------------------
    # Records are grouped and sorted by timestamp instead of following prev/next chains, so a
    # dataset with a broken link (a subset, a fixture) still opens; dangling tokens are counted.
    def _group_records(self) -> None:
        scene_set = set(self.scene_tokens)
        self._samples_by_scene: dict[str, list[dict]] = {s: [] for s in self.scene_tokens}
        sample_scene = {}
        for s in self.nusc.sample:
            if s["scene_token"] in scene_set:
                self._samples_by_scene[s["scene_token"]].append(s)
                sample_scene[s["token"]] = s["scene_token"]
        for lst in self._samples_by_scene.values():
            lst.sort(key=lambda r: r["timestamp"])
        self._sd_by_scene_channel: dict[tuple[str, str], list[dict]] = {}
        known_samples = {s["token"] for s in self.nusc.sample}
        dangling = 0
        for sd in self.nusc.sample_data:
            scene = sample_scene.get(sd["sample_token"])
            if scene is None:
                dangling += sd["sample_token"] not in known_samples
                continue
            self._sd_by_scene_channel.setdefault((scene, sd["channel"]), []).append(sd)
        for lst in self._sd_by_scene_channel.values():
            lst.sort(key=lambda r: r["timestamp"])
        if dangling:
            self.issues.add("dangling_sample_token", dangling,
                            f"{self.version}/sample_data.json: {dangling} records point to samples that do not exist")

    def _index_keyframes(self) -> None:
        self._group_records()
        ref_all, cam_all = [], {c: ([], []) for c in self.cameras}
        for st in self.scene_tokens:
            for sample in self._samples_by_scene[st]:
                lid = sample["data"].get(self.lidar, "") if self.lidar else ""
                t = int(self.nusc.get("sample_data", lid)["timestamp"]) if lid else int(sample["timestamp"])
                cams = {c: sample["data"][c] for c in self.cameras if c in sample["data"]}
                self._frames.append((t, sample["token"], lid, cams))
                ref_all.append(t)
                for c in self.cameras:
                    if c in cams:
                        cam_all[c][0].append(t)
                        cam_all[c][1].append(int(self.nusc.get("sample_data", cams[c])["timestamp"]))
        # Keyframes are paired by the dataset itself; report their time gaps.
        for c, (refs, cts) in cam_all.items():
            gaps = np.abs(np.asarray(cts, dtype=np.int64) - np.asarray(refs, dtype=np.int64))
            self.sync.streams[c] = StreamSync(
                matched=len(cts), missing=len(ref_all) - len(cts), unused=0,
                max_gap_us=int(gaps.max()) if gaps.size else 0, mean_gap_us=float(gaps.mean()) if gaps.size else 0.0)

    def _index_sweeps(self) -> None:
        self._group_records()
        per_cam: dict[str, list[StreamSync]] = {c: [] for c in self.cameras}
        for st in self.scene_tokens:
            lid_chain = self._sd_by_scene_channel.get((st, self.lidar), [])
            if not lid_chain:
                continue
            ref = np.array([int(sd["timestamp"]) for sd in lid_chain], dtype=np.int64)
            cams: list[dict[str, str]] = [{} for _ in lid_chain]
            for c in self.cameras:
                chain = self._sd_by_scene_channel.get((st, c), [])
                ts = np.array([int(sd["timestamp"]) for sd in chain], dtype=np.int64)
                m = match_nearest(ref, ts, self.tolerance_us)
                per_cam[c].append(summarize_match(ref, ts, m))
                for i, j in enumerate(m):
                    if j >= 0:
                        cams[i][c] = chain[j]["token"]
            for sd, t, cm in zip(lid_chain, ref, cams):
                self._frames.append((int(t), sd["sample_token"], sd["token"], cm))
        for c, parts in per_cam.items():
            matched = sum(p.matched for p in parts)
            self.sync.streams[c] = StreamSync(
                matched=matched, missing=sum(p.missing for p in parts), unused=sum(p.unused for p in parts),
                max_gap_us=max((p.max_gap_us for p in parts), default=0),
                mean_gap_us=(sum(p.mean_gap_us * p.matched for p in parts) / matched) if matched else 0.0)
        for c, s in self.sync.streams.items():
            if s.unused:
                self.issues.add(f"unmatched:{c}", s.unused)

    def _make_infos(self) -> dict[str, SensorInfo]:
        modality = {s["channel"]: s["modality"] for s in self.nusc.sensor}
        stats: dict[str, list[int]] = {}
        for (_, ch), sds in self._sd_by_scene_channel.items():
            stats.setdefault(ch, []).extend(int(sd["timestamp"]) for sd in sds
                                            if self.sweeps_mode or sd["is_key_frame"])
        infos = {}
        for ch, ts in sorted(stats.items()):
            if not ts:
                continue
            mod = modality[ch]
            infos[ch] = SensorInfo(name=ch, kind=mod if mod in ("lidar", "camera") else "other",
                                   source=f"{self.version}/sample_data.json:{ch}", count=len(ts),
                                   first_us=min(ts), last_us=max(ts), msgtype=f"sample_data ({mod})")
        return infos

    # --- SensorLog API ----------------------------------------------------------------------
    @property
    def sensors(self) -> dict[str, SensorInfo]:
        return self._infos

    def __len__(self) -> int:
        return len(self._frames)

    def _frame_time_us(self, index: int) -> int:
        return self._frames[index][0]

    def frame_timestamps_us(self) -> list[int]:
        return [f[0] for f in self._frames]

    def _pose(self, sd: dict) -> np.ndarray:
        ep = self.nusc.get("ego_pose", sd["ego_pose_token"])
        return transform_from_quat(ep["rotation"], ep["translation"])

    def _calib(self, sd: dict) -> dict:
        return self.nusc.get("calibrated_sensor", sd["calibrated_sensor_token"])

    def _file(self, sd: dict) -> Path:
        path = safe_data_path(self.nusc.dataroot, sd["filename"], "sample_data", sd["token"])
        if not path.is_file():
            raise MissingFileError(str(path), f"referenced by sample_data {sd['token']} ({self._sd_channel[sd['token']]}) "
                                   f"in {self.version}/sample_data.json does not exist", field="filename")
        return path

    def load_lidar(self, sd_token: str) -> LidarSweep:
        """One LiDAR sample_data record as a :class:`LidarSweep` (NaN/inf points dropped and counted)."""
        sd = self.nusc.get("sample_data", sd_token)
        path = self._file(sd)
        pts = read_pcd_bin(path, self.point_dims)
        labels = None
        if self._lidarseg and sd["is_key_frame"]:
            rec = self._lidarseg.get(sd_token)
            if rec is not None:
                lpath = safe_data_path(self.nusc.dataroot, rec["filename"], "lidarseg", rec["token"])
                if not lpath.is_file():
                    raise MissingFileError(str(lpath), f"lidarseg labels of sample_data {sd_token} do not exist")
                labels = np.fromfile(lpath, dtype=np.uint8)
                if labels.shape[0] != pts.shape[0]:
                    raise BadRecordError(str(lpath), f"{labels.shape[0]} labels for {pts.shape[0]} points in "
                                         f"{path.name}", field="filename")
        if pts.shape[0] == 0:
            raise BadRecordError(str(path), "empty sweep (0 points)")
        finite = np.isfinite(pts[:, :3]).all(axis=1)
        if not finite.all():
            self.issues.add("nonfinite_points", int((~finite).sum()),
                            f"{path}: dropped {int((~finite).sum())} points with NaN/inf coordinates")
            pts = pts[finite]
            labels = labels[finite] if labels is not None else None
            if pts.shape[0] == 0:
                raise BadRecordError(str(path), "empty sweep (every point has NaN/inf coordinates)")
        cs = self._calib(sd)
        fields = NUSCENES_LIDAR_FIELDS if self.point_dims == 5 else \
            ("x", "y", "z", "intensity") + tuple(f"f{i}" for i in range(4, self.point_dims))
        return LidarSweep(points=pts, T_ego_from_sensor=transform_from_quat(cs["rotation"], cs["translation"]),
                          timestamp_us=int(sd["timestamp"]), T_world_from_ego=self._pose(sd),
                          fields=fields[: pts.shape[1]], labels=labels, frame_id=sd["channel"])

    def load_camera(self, sd_token: str) -> CameraImage:
        """One camera sample_data record as a :class:`CameraImage`."""
        sd = self.nusc.get("sample_data", sd_token)
        path = self._file(sd)
        cs = self._calib(sd)
        K = np.asarray(cs["camera_intrinsic"], dtype=np.float64)
        if K.shape != (3, 3):
            raise BadRecordError(f"{self.version}/calibrated_sensor.json", f"camera_intrinsic of {cs['token']} "
                                 f"({sd['channel']}) has shape {K.shape}, expected 3x3", field="camera_intrinsic")
        if self.load_images:
            img = decode_image_file(path)
        else:
            img = np.zeros((int(sd["height"]), int(sd["width"]), 3), dtype=np.uint8)
        return CameraImage(image=img, K=K, T_ego_from_sensor=transform_from_quat(cs["rotation"], cs["translation"]),
                           timestamp_us=int(sd["timestamp"]), T_world_from_ego=self._pose(sd), frame_id=sd["channel"])

    def _load_frame(self, index: int) -> Frame:
        t, sample_tok, lid_tok, cams = self._frames[index]
        frame = Frame(timestamp_us=t, token=lid_tok or sample_tok)
        if lid_tok:
            frame.T_world_from_ego = self._pose(self.nusc.get("sample_data", lid_tok))
        if lid_tok and self.lidar in self.frame_sensors:
            try:
                frame.lidars[self.lidar] = self.load_lidar(lid_tok)
            except BadRecordError as e:
                self.issues.skip(e)
        for c, tok in cams.items():
            try:
                frame.cameras[c] = self.load_camera(tok)
            except BadRecordError as e:
                self.issues.skip(e)
        return frame
