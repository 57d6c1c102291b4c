"""Audio feature node: audio chunks in, clip embeddings out.

Input (parameter ``input_type``):
    ``audio_common`` (default): ``audio_common_msgs/msg/AudioDataStamped``, interleaved PCM, the layout the
        bag reader documents (:mod:`multimodal.sensors.ros_messages`); the format comes from the latched
        ``audio_common_msgs/msg/AudioInfo`` topic ``info_topic`` (default: the input topic's sibling
        ``audio_info``) or, until one arrives, from the parameters ``sample_rate``, ``channels`` and
        ``sample_format``. Needs the ``audio_common_msgs`` package (not on PyPI: a ROS installation).
    ``float32_array``: ``std_msgs/msg/Float32MultiArray``, samples in [-1, 1] laid out ``(channels, samples)``
        (one dimension = mono) at ``sample_rate`` Hz. It has no header: the output is stamped with the arrival
        time and ``frame_id``.

Clips: ``window`` = 0 embeds each chunk as it comes; ``window`` > 0 (seconds) embeds the last ``window`` seconds
each time a chunk arrives (once that much audio has arrived). Audio is resampled to the encoder's rate.

Output (``output_topic``, default ``/audio/features``): ``sensor_msgs/Image`` 1 x 1 ``32FC{C}`` (a one-pixel
feature map, see :mod:`multimodal.ros_nodes.wire`) with the chunk's header.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Optional

import numpy as np

from multimodal.sensors.ros_messages import AudioFormat, audio_to_array, make_header

from .feature_node import BadMessage, FeatureNode, message_class, qos, run_node
from .wire import AUDIO, FLOAT32_ARRAY, IMAGE, decode, encode, float_image, types

AUDIO_INFO = "audio_common_msgs/msg/AudioInfo"


class AudioFeatureNode(FeatureNode):
    """Clip embeddings of an exported audio encoder; see the module docstring."""

    modality = "audio"
    default_input_topic = "/audio/audio"
    default_output_topic = "/audio/features"

    def declare_modality_parameters(self) -> None:
        self._declare("input_type", "audio_common")
        self._declare("info_topic", "")
        self._declare("sample_rate", 16000)
        self._declare("channels", 1)
        self._declare("sample_format", "S16LE")
        self._declare("window", 0.0)
        self._declare("frame_id", "audio")
        if self.param("input_type") not in ("audio_common", "float32_array"):
            raise ValueError(f"input_type must be 'audio_common' or 'float32_array', got {self.param('input_type')!r}")
        self.format = AudioFormat(channels=int(self.param("channels")), sample_rate=int(self.param("sample_rate")),
                                  sample_format=str(self.param("sample_format")))
        self.buffer = np.zeros((0, 0), np.float32)

    def input_msgtype(self) -> str:
        return AUDIO if self.param("input_type") == "audio_common" else FLOAT32_ARRAY

    def setup_publishers(self, out_qos) -> None:
        self.pub = self.create_publisher(message_class(IMAGE), self.output_topic, out_qos)
        self.encoder_rate = int(getattr(self.encoder, "sample_rate", 16000))
        if self.param("input_type") == "audio_common":
            info = self.param("info_topic") or self.param("input_topic").rsplit("/", 1)[0] + "/audio_info"
            latched = qos("reliable", 1)
            from rclpy.qos import DurabilityPolicy

            latched.durability = DurabilityPolicy.TRANSIENT_LOCAL
            self.info_sub = self.create_subscription(message_class(AUDIO_INFO), info, self._on_info, latched, raw=True)

    def _on_info(self, raw: bytes) -> None:
        try:
            self.format = AudioFormat.from_info_msg(decode(raw, AUDIO_INFO), source=self.param("info_topic") or "audio_info")
        except Exception as e:
            self.note_problem("bad", f"audio info: {e}")

    def decode(self, raw: bytes, index: int) -> Optional[tuple[Any, np.ndarray]]:
        if self.param("input_type") == "audio_common":
            msg = decode(raw, AUDIO)
            samples, rate, header = audio_to_array(msg, self.format, source=self.input_topic, index=index), \
                self.format.sample_rate, msg.header
        else:
            msg = decode(raw, FLOAT32_ARRAY)
            data = np.asarray(msg.data, dtype=np.float32)
            dims = [int(d.size) for d in msg.layout.dim] or [data.size]
            if int(np.prod(dims)) != data.size or len(dims) > 2:
                raise BadMessage(f"layout {dims} does not fit {data.size} samples (expected (channels, samples))")
            samples = data.reshape(dims if len(dims) == 2 else (1, -1))
            if not np.isfinite(samples).all():
                raise BadMessage("non-finite samples")
            rate = int(self.param("sample_rate"))
            header = make_header(time.time_ns(), str(self.param("frame_id")), types())
        if samples.shape[1] == 0:
            raise BadMessage("empty audio chunk")
        if rate != self.encoder_rate:
            import torch
            import torchaudio

            samples = torchaudio.functional.resample(torch.from_numpy(np.ascontiguousarray(samples)), rate,
                                                     self.encoder_rate).numpy()
        window = float(self.param("window"))
        if window > 0:
            n = int(round(window * self.encoder_rate))
            if self.buffer.shape[0] != samples.shape[0]:
                self.buffer = np.zeros((samples.shape[0], 0), np.float32)
            self.buffer = np.concatenate([self.buffer, samples], axis=1)[:, -n:]
            if self.buffer.shape[1] < n:
                return None  # the window is still filling up
            samples = self.buffer
        return header, np.ascontiguousarray(samples, dtype=np.float32)

    def encode(self, inputs: list[tuple[Any, np.ndarray]]) -> list[np.ndarray]:
        import torch

        out = []
        for _, samples in inputs:  # clips may differ in length: one call each
            out.append(self.encoder(torch.from_numpy(samples)[None].to(self.device)).float().cpu().numpy()[0])
        return out

    def publish_outputs(self, item: tuple[Any, np.ndarray], embedding: np.ndarray) -> None:
        header, _ = item
        self.pub.publish(encode(float_image(embedding.reshape(1, 1, -1), header), IMAGE))


def main(args: Optional[list[str]] = None) -> int:
    """``ros2 run multimodal_ros audio_features --ros-args -p encoder_path:=DIR``."""
    return run_node(AudioFeatureNode, args)


if __name__ == "__main__":
    sys.exit(main())
