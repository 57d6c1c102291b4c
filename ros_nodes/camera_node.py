"""Camera feature node: ``sensor_msgs/Image`` or ``CompressedImage`` in, a dense feature map out.

Input: every Image encoding the bag reader accepts (rgb8, bgr8, rgba8, bgra8, mono8, mono16) or a JPEG/PNG
CompressedImage (parameter ``input_type``: ``image`` or ``compressed``).

Preprocessing: optional resize by ``scale``; the image goes to float RGB in [0, 1] (the encoder normalizes
it itself) and is padded at the right and bottom to a multiple of 32 (the padding is the mean colour, 0
after the encoder's normalization); the map is cropped back to ``ceil(H / stride) x ceil(W / stride)``.

Outputs (header stamp and frame_id of the input):
    ``output_topic`` (default ``/camera/features``): ``sensor_msgs/Image`` ``32FC{C}``, channels last
        (layout in :mod:`multimodal.ros_nodes.wire`); ``feature_channels > 0`` keeps the first k axes of the fixed PCA.
    ``color_topic`` (default ``<output_topic>/color``): ``rgb8`` Image of the first three PCA axes.
"""
from __future__ import annotations

import math
import sys
from typing import Any, Optional

import numpy as np

from multimodal.sensors.ros_messages import compressed_image_to_rgb, image_to_rgb

from .feature_colors import FixedPCA
from .feature_node import FeatureNode, message_class, run_node
from .wire import COMPRESSED_IMAGE, IMAGE, decode, encode, float_image, rgb8_image


def camera_feature_map(encoder: Any, images: list[np.ndarray], device: Any = "cpu") -> list[np.ndarray]:
    """Dense features of RGB images of one size.

    Args:
        encoder: a camera encoder (input ``(B, 3, H, W)`` float RGB in [0, 1], H and W multiples of 32).
        images: ``(H, W, 3) uint8`` RGB images, all the same size.

    Returns:
        ``(ceil(H / stride), ceil(W / stride), C) float32`` per image.
    """
    import torch

    from multimodal.models.camera_resnet import images_to_float, pad_images

    h, w = images[0].shape[:2]
    x = pad_images(images_to_float(torch.from_numpy(np.stack(images)).to(device)), 32)
    y = encoder(x).float()
    stride = int(getattr(encoder, "stride", round(x.shape[-1] / y.shape[-1])))
    y = y[:, :, : math.ceil(h / stride), : math.ceil(w / stride)]
    return list(y.permute(0, 2, 3, 1).cpu().numpy())


class CameraFeatureNode(FeatureNode):
    """Dense features of an exported camera encoder; see the module docstring."""

    modality = "camera"
    default_input_topic = "/camera/image_raw"
    default_output_topic = "/camera/features"

    def declare_modality_parameters(self) -> None:
        self._declare("input_type", "image")
        self._declare("scale", 1.0)
        self._declare("feature_channels", 0)
        self._declare("color_topic", "")
        self._declare("pca_sample", 8192)
        if self.param("input_type") not in ("image", "compressed"):
            raise ValueError(f"input_type must be 'image' or 'compressed', got {self.param('input_type')!r}")
        self.pca = FixedPCA(sample_size=int(self.param("pca_sample")))

    def input_msgtype(self) -> str:
        return IMAGE if self.param("input_type") == "image" else COMPRESSED_IMAGE

    def setup_publishers(self, out_qos) -> None:
        cls = message_class(IMAGE)
        self.pub = self.create_publisher(cls, self.output_topic, out_qos)
        color = self.param("color_topic") or f"{self.output_topic}/color"
        self.color_pub = self.create_publisher(cls, color, out_qos)

    def decode(self, raw: bytes, index: int) -> tuple[Any, np.ndarray]:
        msgtype = self.input_msgtype()
        msg = decode(raw, msgtype)
        if msgtype == IMAGE:
            rgb = image_to_rgb(msg, source=self.input_topic, index=index)
        else:
            rgb = compressed_image_to_rgb(msg, source=self.input_topic, index=index)
        scale = float(self.param("scale"))
        if scale != 1.0:
            import cv2

            rgb = cv2.resize(rgb, (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale))),
                             interpolation=cv2.INTER_AREA)
        return msg.header, rgb

    def encode(self, inputs: list[tuple[Any, np.ndarray]]) -> list[np.ndarray]:
        out: list[Optional[np.ndarray]] = [None] * len(inputs)
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, (_, rgb) in enumerate(inputs):
            by_size.setdefault(rgb.shape[:2], []).append(i)
        for idx in by_size.values():  # one encoder call per image size
            for i, fmap in zip(idx, camera_feature_map(self.encoder, [inputs[i][1] for i in idx], self.device)):
                out[i] = fmap
        return out

    def publish_outputs(self, item: tuple[Any, np.ndarray], fmap: np.ndarray) -> None:
        header, _ = item
        h, w, c = fmap.shape
        flat = fmap.reshape(-1, c)
        if not self.pca.fitted:
            self.pca.fit(flat)
        k = int(self.param("feature_channels"))
        feats = self.pca.project(flat, k).reshape(h, w, k) if 0 < k < c else fmap
        self.pub.publish(encode(float_image(feats, header), IMAGE))
        self.color_pub.publish(encode(rgb8_image(self.pca.colors(flat).reshape(h, w, 3), header), IMAGE))


def main(args: Optional[list[str]] = None) -> int:
    """``ros2 run multimodal_ros camera_features --ros-args -p encoder_path:=DIR``."""
    return run_node(CameraFeatureNode, args)


if __name__ == "__main__":
    sys.exit(main())
