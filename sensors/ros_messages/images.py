"""``sensor_msgs/Image`` and ``sensor_msgs/CompressedImage`` <-> ``(H, W, 3) uint8`` RGB arrays."""
from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import BadRecordError
from .common import as_uint8, make_header

# --------------------------------------------------------------------------- Image

#: supported ``sensor_msgs/Image`` encodings -> bytes per pixel
IMAGE_ENCODINGS: dict[str, int] = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1, "mono16": 2}


def image_to_rgb(msg: Any, source: str = "Image", index: int | None = None) -> np.ndarray:
    """Decode a ``sensor_msgs/Image`` into ``(H, W, 3) uint8`` RGB (a fresh, writable array).

    Encodings: ``rgb8``, ``bgr8``, ``rgba8``, ``bgra8`` (alpha dropped), ``mono8`` (gray
    replicated), ``mono16`` (the high byte, honouring ``is_bigendian``). Rows are ``step`` bytes
    apart (row padding ignored); bytes after ``step * height`` are ignored.

    Raises:
        BadRecordError: unknown ``encoding``, ``step`` < ``width`` * bytes per pixel, ``data``
            shorter than ``step * height``, or an empty image.
    """
    encoding = str(msg.encoding).strip().lower()
    bpp = IMAGE_ENCODINGS.get(encoding)
    if bpp is None:
        raise BadRecordError(
            source,
            f"unsupported encoding '{msg.encoding}' (supported: {', '.join(IMAGE_ENCODINGS)})",
            index,
            "encoding",
        )
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise BadRecordError(source, f"empty image ({width}x{height})", index, "width" if width <= 0 else "height")
    if step < width * bpp:
        raise BadRecordError(
            source, f"step {step} < width*bytes_per_pixel = {width}*{bpp} = {width * bpp} ({encoding})", index, "step"
        )
    data = as_uint8(msg.data)
    if data.size < step * height:
        raise BadRecordError(
            source, f"data has {data.size} bytes, expected step*height = {step}*{height} = {step * height}", index, "data"
        )
    px = data[: step * height].reshape(height, step)[:, : width * bpp].reshape(height, width, bpp)
    if encoding in ("rgb8", "rgba8"):
        return px[:, :, :3].copy()
    if encoding in ("bgr8", "bgra8"):
        return px[:, :, 2::-1].copy()
    if encoding == "mono8":
        gray = px[:, :, 0]
    else:  # mono16: keep the most significant byte
        gray = px[:, :, 0 if bool(msg.is_bigendian) else 1]
    return np.repeat(gray[:, :, None], 3, axis=2)


def _to_gray(rgb: np.ndarray) -> np.ndarray:
    """``(H, W)`` or ``(H, W, 1|3)`` -> ``(H, W)`` gray (ITU-R BT.601 luma for colour)."""
    if rgb.ndim == 2:
        return rgb
    if rgb.shape[2] == 1:
        return rgb[:, :, 0]
    luma = rgb[:, :, :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    return np.clip(np.rint(luma), 0, 255).astype(np.uint8)


def rgb_to_image(
    rgb: np.ndarray,
    stamp_ns: int,
    frame_id: str,
    msg_types: Mapping[str, Any],
    encoding: str = "rgb8",
    *,
    step: int | None = None,
    is_bigendian: bool = False,
) -> Any:
    """Build a ``sensor_msgs/msg/Image`` from ``(H, W, 3) uint8`` RGB (for tests / synthetic bags).

    ``encoding`` is one of :data:`IMAGE_ENCODINGS`; alpha is written as 255. For ``mono8`` /
    ``mono16`` the input may also be ``(H, W)`` gray (``uint16`` values are written as-is for
    ``mono16``; ``uint8`` gray ``g`` becomes ``g * 257``); colour input is converted with BT.601
    luma. ``step`` >= ``W * bytes_per_pixel`` adds zero row padding.
    """
    enc = encoding.strip().lower()
    bpp = IMAGE_ENCODINGS.get(enc)
    if bpp is None:
        raise ValueError(f"unsupported encoding '{encoding}' (supported: {', '.join(IMAGE_ENCODINGS)})")
    arr = np.asarray(rgb)
    if not (arr.ndim == 3 and arr.shape[2] == 3) and not (enc.startswith("mono") and arr.ndim in (2, 3)):
        raise ValueError(f"expected (H, W, 3) RGB, got shape {arr.shape}")
    height, width = arr.shape[:2]
    if enc.startswith("mono"):
        gray = _to_gray(arr)
        if enc == "mono8":
            px = gray.astype(np.uint8)[:, :, None]
        else:
            g16 = gray.astype(np.uint16) if gray.dtype == np.uint16 else gray.astype(np.uint16) * 257
            px = g16.astype(">u2" if is_bigendian else "<u2").view(np.uint8).reshape(height, width, 2)
    else:
        c = arr.astype(np.uint8)
        if enc.startswith("bgr"):
            c = c[:, :, ::-1]
        if bpp == 4:
            c = np.concatenate([c, np.full((height, width, 1), 255, np.uint8)], axis=2)
        px = c
    row = width * bpp
    s = row if step is None else int(step)
    if s < row:
        raise ValueError(f"step {s} < width*bytes_per_pixel {row}")
    buf = np.zeros((height, s), dtype=np.uint8)
    buf[:, :row] = px.reshape(height, row)
    return msg_types["sensor_msgs/msg/Image"](
        header=make_header(stamp_ns, frame_id, msg_types),
        height=int(height),
        width=int(width),
        encoding=enc,
        is_bigendian=int(bool(is_bigendian)),
        step=int(s),
        data=buf.reshape(-1),
    )


# --------------------------------------------------------------------------- CompressedImage


def compressed_image_to_rgb(msg: Any, source: str = "CompressedImage", index: int | None = None) -> np.ndarray:
    """Decode a ``sensor_msgs/CompressedImage`` (JPEG or PNG) into ``(H, W, 3) uint8`` RGB.

    ``format`` may be ``"jpeg"``, ``"png"`` or image_transport's ``"rgb8; jpeg compressed bgr8"``;
    the decoded pixels are always RGB (OpenCV, else PIL). Other formats PIL can identify are decoded too.

    Raises:
        BadRecordError: field ``data`` for empty, corrupt or truncated JPEG/PNG data; field
            ``format`` when the format is neither JPEG nor PNG and PIL cannot identify the data
            (e.g. ``compressedDepth``).
    """
    from ..images import decode_image_bytes  # OpenCV: imported by the first image, not by LiDAR-only users

    fmt = str(getattr(msg, "format", "") or "")
    fmt_l = fmt.lower()
    if "compresseddepth" in fmt_l:
        raise BadRecordError(source, f"unsupported format '{fmt}' (compressedDepth is not an RGB image)", index, "format")
    known = any(k in fmt_l for k in ("jpeg", "jpg", "png"))
    data = as_uint8(msg.data)
    if data.size == 0:
        raise BadRecordError(source, f"empty data (format '{fmt}')", index, "data")
    try:
        rgb = decode_image_bytes(data, source, index, "data")
    except BadRecordError as exc:
        if known or "cannot identify" not in exc.reason:
            raise
        raise BadRecordError(source, f"unsupported format '{fmt}' (supported: jpeg, png)", index, "format") from exc
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.size == 0:
        raise BadRecordError(source, f"decoded image has shape {rgb.shape}", index, "data")
    return rgb


def rgb_to_compressed_image(
    rgb: np.ndarray,
    stamp_ns: int,
    frame_id: str,
    msg_types: Mapping[str, Any],
    fmt: str = "jpeg",
    quality: int = 90,
) -> Any:
    """Build a ``sensor_msgs/msg/CompressedImage`` from ``(H, W, 3) uint8`` RGB.

    ``fmt`` is ``"jpeg"`` (``"jpg"``) or ``"png"``; ``quality`` (1..95) applies to JPEG.
    """
    from PIL import Image

    f = fmt.strip().lower()
    if f in ("jpeg", "jpg"):
        f, pil_fmt, kw = "jpeg", "JPEG", {"quality": int(quality)}
    elif f == "png":
        pil_fmt, kw = "PNG", {}
    else:
        raise ValueError(f"unsupported format '{fmt}' (supported: jpeg, png)")
    arr = np.asarray(rgb, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) RGB, got shape {arr.shape}")
    bio = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr), "RGB").save(bio, format=pil_fmt, **kw)
    return msg_types["sensor_msgs/msg/CompressedImage"](
        header=make_header(stamp_ns, frame_id, msg_types),
        format=f,
        data=np.frombuffer(bio.getvalue(), dtype=np.uint8).copy(),
    )
