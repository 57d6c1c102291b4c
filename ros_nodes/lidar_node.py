"""LiDAR feature node: ``sensor_msgs/PointCloud2`` in, a PointCloud2 of features out.

Input: any field layout the bag reader accepts (:func:`multimodal.sensors.ros_messages.pointcloud2_to_array`: x, y, z
and intensity under any of its names, any PointField types, padding, big endian, organized clouds).
Non-finite points are dropped (counted); a cloud with no finite point is a bad message.

Output (``output_topic``, default ``/lidar/features``): fields ``x, y, z, rgb, f0..`` (layout in
:mod:`multimodal.ros_nodes.wire`), header stamp and frame_id of the input. Extra parameters:

    output_mode: ``voxel`` (default: one row per occupied voxel, x, y, z = centroid of its points) or
        ``point`` (one row per input point, in input order without the dropped points).
    voxel_size: voxel edge in metres for ``voxel`` mode (0 = the encoder's own voxel size, else 0.1).
    feature_channels: 0 = every channel of the encoder; k > 0 = the first k axes of the fixed PCA.
    feature_type: ``float32`` or ``int8`` (127 * unit-normalized feature: the direction only).
    pca_sample: points used to fit the fixed PCA on the first message (colours and reduced channels).

The default (voxel, all channels, float32) halves the rows (the real nuScenes sweep: 34,688 points, 17,885
voxels at 0.1 m, 2.6 MB);
``output_mode: point`` gives the full per-point float32 output.
"""
from __future__ import annotations

import sys
from typing import Any, Optional

import numpy as np

from multimodal.sensors.ros_messages import pointcloud2_to_array

from .feature_colors import FixedPCA
from .feature_node import BadMessage, FeatureNode, message_class, run_node
from .wire import POINTCLOUD2, decode, encode, feature_cloud


def voxel_rows(xyz: np.ndarray, voxel_size: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group points by voxel with the encoders' own voxelizer (:func:`multimodal.models.sparse.group_points`).

    Args:
        xyz: ``(N, 3)`` float, metres.
        voxel_size: voxel edge, metres.

    Returns:
        ``(first, inverse, centroid)``: ``(V,)`` index of the first point of each voxel (in order of first
        appearance), ``(N,)`` voxel of each point, ``(V, 3) float32`` mean position of each voxel's points.
    """
    import torch

    from multimodal.models.sparse import group_points

    pts = torch.from_numpy(np.ascontiguousarray(xyz, dtype=np.float64))
    groups = group_points(pts, voxel_size)
    order = torch.argsort(groups.first)  # voxels in order of their first point (the voxelizer's: key order)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(len(order))
    centroid = groups.mean(pts)[order]
    return groups.first[order].numpy(), rank[groups.point_to_voxel].numpy(), centroid.float().numpy()


class LidarFeatureNode(FeatureNode):
    """Per-point (or per-voxel) features of an exported LiDAR encoder; see the module docstring."""

    modality = "lidar"
    default_input_topic = "/lidar/points"
    default_output_topic = "/lidar/features"

    def declare_modality_parameters(self) -> None:
        self._declare("output_mode", "voxel")
        self._declare("voxel_size", 0.0)
        self._declare("feature_channels", 0)
        self._declare("feature_type", "float32")
        self._declare("pca_sample", 8192)
        if self.param("output_mode") not in ("point", "voxel"):
            raise ValueError(f"output_mode must be 'point' or 'voxel', got {self.param('output_mode')!r}")
        if self.param("feature_type") not in ("float32", "int8"):
            raise ValueError(f"feature_type must be 'float32' or 'int8', got {self.param('feature_type')!r}")
        self.pca = FixedPCA(sample_size=int(self.param("pca_sample")))

    def input_msgtype(self) -> str:
        return POINTCLOUD2

    def setup_publishers(self, out_qos) -> None:
        self.pub = self.create_publisher(message_class(POINTCLOUD2), self.output_topic, out_qos)
        self.in_channels = int(getattr(self.encoder, "in_channels", 4))
        # The encoder's declared voxel size (its contract), so output rows are the encoder's own voxels.
        contract = self.encoder.contract() if callable(getattr(self.encoder, "contract", None)) else {}
        own = float(contract.get("voxel_size_m", 0.0) or 0.0)
        self.voxel_size = float(self.param("voxel_size")) or own or 0.1

    def decode(self, raw: bytes, index: int) -> tuple[Any, np.ndarray]:
        msg = decode(raw, POINTCLOUD2)
        points, _, n_bad = pointcloud2_to_array(msg, source=self.input_topic, index=index)
        if n_bad:
            with self._lock:
                self.stats.points_dropped += n_bad
            self.get_logger().warning(f"{self.input_topic} message {index}: dropped {n_bad} non-finite points",
                                      throttle_duration_sec=float(self.param("log_throttle")))
        if len(points) == 0:
            raise BadMessage(f"no finite point in the cloud (width {msg.width}, height {msg.height}, "
                             f"{n_bad} non-finite dropped)")
        return msg.header, points[:, : max(4, self.in_channels)]

    def encode(self, inputs: list[tuple[Any, np.ndarray]]) -> list[np.ndarray]:
        import torch

        pts = torch.from_numpy(np.concatenate([p for _, p in inputs])).to(self.device)
        batch = torch.cat([torch.full((len(p),), i, dtype=torch.long) for i, (_, p) in enumerate(inputs)])
        feats = self.encoder(pts, batch.to(self.device)).float().cpu().numpy()
        return np.split(feats, np.cumsum([len(p) for _, p in inputs])[:-1])

    def publish_outputs(self, item: tuple[Any, np.ndarray], features: np.ndarray) -> None:
        header, points = item
        xyz = points[:, :3]
        if self.param("output_mode") == "voxel":
            first, _, xyz = voxel_rows(xyz, self.voxel_size)
            features = features[first]
        if not self.pca.fitted:
            self.pca.fit(features)
        colors = self.pca.colors(features)
        k = int(self.param("feature_channels"))
        if 0 < k < features.shape[1]:
            features = self.pca.project(features, k)
        msg = feature_cloud(xyz, colors, features, header, self.param("feature_type"))
        self.pub.publish(encode(msg, POINTCLOUD2))


def main(args: Optional[list[str]] = None) -> int:
    """``ros2 run multimodal_ros lidar_features --ros-args -p encoder_path:=DIR``."""
    return run_node(LidarFeatureNode, args)


if __name__ == "__main__":
    sys.exit(main())
