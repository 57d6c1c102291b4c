"""Decoding of compressed images (JPEG, PNG) into RGB arrays: one routine for every reader.

OpenCV's decoder (libjpeg-turbo) is used first: about 1.7x faster than PIL on the 1600x900 nuScenes
JPEGs and it writes RGB straight into a new array. It returns None for truncated or corrupt data,
which becomes a :class:`~multimodal.sensors.errors.BadRecordError`. Formats OpenCV cannot read fall back to PIL.
"""
from __future__ import annotations

import io
from typing import Optional

import cv2
import numpy as np

from .errors import BadRecordError

_JPEG = b"\xff\xd8"
_PNG = b"\x89PNG"
# OpenCV >= 4.10 decodes to RGB directly; older versions decode BGR and we swap.
_RGB_FLAG = getattr(cv2, "IMREAD_COLOR_RGB", None)


def decode_image_bytes(data: bytes | bytearray | memoryview | np.ndarray, source: str,
                       index: Optional[int] = None, field: str = "data") -> np.ndarray:
    """JPEG / PNG (or any PIL-readable) bytes -> ``(H, W, 3) uint8`` RGB, a new writeable array.

    Raises:
        BadRecordError: naming ``source`` / ``index`` / ``field`` for empty, truncated or corrupt data.
    """
    buf = data if isinstance(data, np.ndarray) else np.frombuffer(data, dtype=np.uint8)
    buf = buf.reshape(-1).view(np.uint8)
    if buf.size == 0:
        raise BadRecordError(source, "empty image data", index, field)
    head = buf[:4].tobytes()
    if head.startswith(_JPEG) or head.startswith(_PNG):
        if _RGB_FLAG is not None:
            rgb = cv2.imdecode(buf, _RGB_FLAG)
        else:
            bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
            rgb = None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if rgb is None:
            kind = "JPEG" if head.startswith(_JPEG) else "PNG"
            raise BadRecordError(source, f"cannot decode image: corrupt or truncated {kind} data "
                                 f"({buf.size} bytes)", index, field)
        return rgb
    from PIL import Image

    try:
        with Image.open(io.BytesIO(buf.tobytes())) as im:
            im.load()
            return np.array(im.convert("RGB"), dtype=np.uint8)
    except Exception as e:  # PIL raises UnidentifiedImageError, OSError, SyntaxError ... for bad data
        raise BadRecordError(source, f"cannot decode image ({type(e).__name__}: {e})", index, field) from e
