"""Frames as ROS 2 messages: the topics and message objects one :class:`~multimodal.sensors.frame.Frame` becomes.

Used by the bag writer (:mod:`multimodal.sensors.bag_writer`) and by the replay tool of ``ros_nodes``, so a log
replayed on topics and the same log written as a bag carry the same messages.

Topics (``NAME`` is the sensor name): ``/NAME`` PointCloud2 (the LiDAR's own fields: x, y, z, intensity,
...; metres, sensor frame ``NAME``); ``/NAME/image_raw`` (Image, rgb8) or ``/NAME/image_raw/compressed``
(CompressedImage, jpeg) plus ``/NAME/camera_info``; ``/NAME/audio`` (``audio_common_msgs/AudioDataStamped``,
S16LE) plus ``/NAME/audio_info``; ``/tf`` with ``world -> ego`` at each reading's stamp and one
``/tf_static`` with ``ego -> NAME`` extrinsics. Each message is stamped with its reading's own timestamp.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from .frame import Frame
from .ros_messages import (
    AudioFormat,
    array_to_audio,
    array_to_pointcloud2,
    rgb_to_compressed_image,
    rgb_to_image,
    transform_stamped,
)

# the builders of single messages live with their message family; importable here as before
from .ros_messages import pinhole_camera_info as camera_info

__all__ = ["FrameMessages", "TopicMessage", "camera_info", "transform_stamped"]


@dataclass(frozen=True)
class TopicMessage:
    """One message to publish or log: header stamp (integer ns), topic, ROS type name, message object."""

    stamp_ns: int
    topic: str
    msgtype: str
    msg: Any


class FrameMessages:
    """Turns frames into :class:`TopicMessage` lists; remembers extrinsics for one ``/tf_static``.

    Args:
        types: message classes by type name (a rosbags typestore's ``types``, with the audio types registered).
        compressed_images: JPEG CompressedImage (small) instead of raw rgb8 Image (lossless).
        ego_frame / world_frame: tf frame ids of the vehicle and of the world.
    """

    def __init__(self, types: Mapping[str, Any], *, compressed_images: bool = True, ego_frame: str = "base_link",
                 world_frame: str = "map"):
        self.types = types
        self.compressed_images = compressed_images
        self.ego_frame, self.world_frame = ego_frame, world_frame
        self.static: dict[str, np.ndarray] = {}

    def _tf(self, T_world_from_ego: Optional[np.ndarray], ns: int) -> list[TopicMessage]:
        if T_world_from_ego is None:
            return []
        msg = self.types["tf2_msgs/msg/TFMessage"](
            transforms=[transform_stamped(self.types, self.world_frame, self.ego_frame, T_world_from_ego, ns)])
        return [TopicMessage(ns, "/tf", "tf2_msgs/msg/TFMessage", msg)]

    def messages(self, frame: Frame) -> list[TopicMessage]:
        """The messages of one frame (LiDARs, cameras with camera_info, audio with audio_info, /tf)."""
        types, out = self.types, []
        for name, sweep in frame.lidars.items():
            ns = int(sweep.timestamp_us) * 1000
            self.static[name] = sweep.T_ego_from_sensor
            out.append(TopicMessage(ns, f"/{name}", "sensor_msgs/msg/PointCloud2",
                                    array_to_pointcloud2(sweep.points, sweep.fields, ns, name, types)))
            out += self._tf(sweep.T_world_from_ego, ns)
        for name, cam in frame.cameras.items():
            ns = int(cam.timestamp_us) * 1000
            self.static[name] = cam.T_ego_from_sensor
            if self.compressed_images:
                out.append(TopicMessage(ns, f"/{name}/image_raw/compressed", "sensor_msgs/msg/CompressedImage",
                                        rgb_to_compressed_image(cam.image, ns, name, types)))
            else:
                out.append(TopicMessage(ns, f"/{name}/image_raw", "sensor_msgs/msg/Image",
                                        rgb_to_image(cam.image, ns, name, types)))
            out.append(TopicMessage(ns, f"/{name}/camera_info", "sensor_msgs/msg/CameraInfo",
                                    camera_info(types, cam.K, cam.size_wh, ns, name)))
            out += self._tf(cam.T_world_from_ego, ns)
        for name, chunk in frame.audio.items():
            ns = int(chunk.timestamp_us) * 1000
            if chunk.T_ego_from_sensor is not None:
                self.static[name] = chunk.T_ego_from_sensor
            fmt = AudioFormat(channels=chunk.samples.shape[0], sample_rate=chunk.sample_rate, sample_format="S16LE")
            out.append(TopicMessage(ns, f"/{name}/audio_info", "audio_common_msgs/msg/AudioInfo", fmt.to_info_msg(types)))
            out.append(TopicMessage(ns, f"/{name}/audio", "audio_common_msgs/msg/AudioDataStamped",
                                    array_to_audio(chunk.samples, ns, name, types)))
        return out

    def tf_static(self, stamp_ns: int) -> Optional[TopicMessage]:
        """One ``/tf_static`` with ``ego -> sensor`` for every sensor seen so far (None before any)."""
        if not self.static:
            return None
        msg = self.types["tf2_msgs/msg/TFMessage"](
            transforms=[transform_stamped(self.types, self.ego_frame, n, T, stamp_ns) for n, T in sorted(self.static.items())])
        return TopicMessage(stamp_ns, "/tf_static", "tf2_msgs/msg/TFMessage", msg)
