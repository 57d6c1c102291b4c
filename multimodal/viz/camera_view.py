"""The points of a figure that one camera sees: pixel coordinates of (a subsample of) a LiDAR sweep projected into
a camera image, for drawing point colourings on the image (:func:`~multimodal.viz.eval_figures.segmentation_figure`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from multimodal.sensors.frame import CameraImage, Frame, LidarSweep


@dataclass(frozen=True)
class CameraView:
    """The points of a figure that one camera sees.

    Attributes:
        image: ``(H, W, 3) uint8`` RGB.
        uv: ``(M, 2) float64`` pixel coordinates (column, row) of the visible points.
        index: ``(M,) int64`` positions of those points in the figure's point arrays (``xyz``, ``gt`` ...).
        depth: ``(M,) float64`` metres along the optical axis (far points are drawn first), or None.
        name: the camera's name, for titles.
    """

    image: np.ndarray
    uv: np.ndarray
    index: np.ndarray
    depth: np.ndarray | None = None
    name: str = ""

    def __post_init__(self) -> None:
        img = np.asarray(self.image)
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"CameraView {self.name!r}: image must be (H, W, 3) uint8, got shape {img.shape}")
        m = len(self.index)
        if np.shape(self.uv) != (m, 2):
            raise ValueError(f"CameraView {self.name!r}: uv must be (M, 2) with M = len(index) = {m}, "
                             f"got {np.shape(self.uv)}")
        if self.depth is not None and np.shape(self.depth) != (m,):
            raise ValueError(f"CameraView {self.name!r}: depth must be (M,) = ({m},), got {np.shape(self.depth)}")


def camera_view(sweep: LidarSweep, camera: CameraImage, point_index: np.ndarray | None = None,
                min_depth: float = 1.0, name: str = "") -> CameraView:
    """Project a sweep's points into a camera (ego motion between the two timestamps compensated, see
    :func:`multimodal.sensors.geometry.T_camera_from_lidar`).

    Args:
        point_index: ``(N,) int`` rows of ``sweep.points`` that the figure's arrays hold, when the figure shows a
            subsample (as :func:`multimodal.evaluation.features.extract_point_features` keeps); None: the figure
            holds every point of the sweep, in order.
        min_depth: points nearer than this (metres, along the optical axis) are left out.
    """
    from multimodal.sensors.geometry import project_lidar_to_camera

    if camera.K is None:
        raise ValueError(f"camera {name or camera.frame_id!r} has no intrinsics K: cannot project points into it")
    uv, depth, mask = project_lidar_to_camera(sweep, camera, min_depth=min_depth)
    if point_index is None:
        index = np.nonzero(mask)[0]
        rows = index
    else:
        point_index = np.asarray(point_index, dtype=np.int64)
        if point_index.ndim != 1 or (point_index.size and (point_index.min() < 0 or point_index.max() >= len(sweep))):
            raise ValueError(f"point_index must be (N,) rows of a sweep of {len(sweep)} points")
        index = np.nonzero(mask[point_index])[0]
        rows = point_index[index]
    return CameraView(image=np.asarray(camera.image), uv=uv[rows], index=index.astype(np.int64), depth=depth[rows],
                      name=name or camera.frame_id)


def frame_camera_view(frame: Frame, camera: str | None = None, lidar: str | None = None,
                      point_index: np.ndarray | None = None, min_depth: float = 1.0) -> CameraView:
    """:func:`camera_view` of one of ``frame``'s cameras (default ``CAM_FRONT``, else the first) and LiDARs
    (default the first)."""
    if not frame.lidars:
        raise ValueError(f"frame {frame.index} has no LiDAR sweep to project")
    if not frame.cameras:
        raise ValueError(f"frame {frame.index} has no camera to project into")
    lidar = lidar or next(iter(frame.lidars))
    camera = camera or ("CAM_FRONT" if "CAM_FRONT" in frame.cameras else next(iter(frame.cameras)))
    for kind, key, have in (("LiDAR", lidar, frame.lidars), ("camera", camera, frame.cameras)):
        if key not in have:
            raise ValueError(f"frame {frame.index} has no {kind} {key!r}; it has {sorted(have)}")
    return camera_view(frame.lidars[lidar], frame.cameras[camera], point_index=point_index, min_depth=min_depth,
                       name=camera)
