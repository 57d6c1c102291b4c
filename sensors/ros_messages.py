"""Pure conversions between ROS 2 sensor messages and numpy arrays.

Every function works on *any* object that has the standard ROS 2 attribute names: messages
deserialized by a ``rosbags`` typestore, and rclpy messages (no rclpy import here). Byte
sequences (``data``) may be ``bytes``, ``bytearray``, ``memoryview``, ``array.array('B')``, a
``list`` of ints or a numpy ``uint8`` array.

Builders (``array_to_pointcloud2``, ``rgb_to_image`` ...) take ``msg_types``, a mapping from
type name to message class such as ``rosbags.typesys.get_typestore(Stores.ROS2_HUMBLE).types``;
they are meant for tests and synthetic bags.

Malformed messages raise :class:`~multimodal.sensors.errors.BadRecordError` naming the ``source``
(topic), the message ``index`` and the offending ``field``.

Audio layout
------------
ROS 2 has no standard audio message; we read the layout of ``audio_common`` (ROS 2 humble):

- the audio topic has type ``audio_common_msgs/msg/AudioDataStamped``::

      std_msgs/Header header              # stamp = time of the first sample
      audio_common_msgs/AudioData audio   # uint8[] data

- an optional (latched, transient-local) topic of type ``audio_common_msgs/msg/AudioInfo``::

      uint8 channels
      uint32 sample_rate      # Hz
      string sample_format    # e.g. "S16LE", "S32LE", "F32LE"
      uint32 bitrate
      string coding_format    # "wave" = interleaved raw PCM

``data`` holds interleaved PCM frames (``c0 c1 ... c0 c1 ...``), each sample in
``sample_format`` (GStreamer naming: ``S``/``U`` integer, ``F`` float, bits, ``LE``/``BE``).
When a bag has no ``AudioInfo``, the reader must be told an :class:`AudioFormat`.
The ``.msg`` texts are in :data:`AUDIO_MSG_DEFINITIONS`; :func:`register_audio_types` adds them
to a rosbags typestore.

Timestamps: ``builtin_interfaces/Time`` (``sec``, ``nanosec``) -> integer microseconds with
:func:`stamp_to_us`; builders take integer nanoseconds (:func:`us_to_stamp_ns`).
"""
from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import BadRecordError

__all__ = [
    "AUDIO_MSG_DEFINITIONS",
    "IMAGE_ENCODINGS",
    "POINTFIELD_DTYPES",
    "SAMPLE_FORMATS",
    "AudioFormat",
    "array_to_audio",
    "array_to_pointcloud2",
    "audio_to_array",
    "camera_info_to_calibration",
    "compressed_image_to_rgb",
    "image_to_rgb",
    "pointcloud2_to_array",
    "register_audio_types",
    "rgb_to_compressed_image",
    "rgb_to_image",
    "stamp_to_us",
    "us_to_stamp_ns",
]

DtypeLike = str | type | np.dtype

# --------------------------------------------------------------------------- helpers


def _as_uint8(data: Any) -> np.ndarray:
    """A 1-D ``uint8`` view (or copy, for lists) of a message byte sequence."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            if data.dtype.itemsize == 1:
                data = data.view(np.uint8)
            else:
                data = np.ascontiguousarray(data).view(np.uint8)
        return np.ascontiguousarray(data).reshape(-1)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return np.frombuffer(data, dtype=np.uint8)
    if isinstance(data, (list, tuple)):
        return np.asarray(data, dtype=np.uint8).reshape(-1)
    try:  # array.array and any other buffer-protocol object
        return np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    except TypeError:
        return np.asarray(data, dtype=np.uint8).reshape(-1)


def _make_stamp(stamp_ns: int, msg_types: Mapping[str, Any]) -> Any:
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return msg_types["builtin_interfaces/msg/Time"](sec=int(sec), nanosec=int(nanosec))


def make_header(stamp_ns: int, frame_id: str, msg_types: Mapping[str, Any]) -> Any:
    """A ``std_msgs/msg/Header`` (stamp in ns, frame id) built from ``msg_types``."""
    return msg_types["std_msgs/msg/Header"](stamp=_make_stamp(stamp_ns, msg_types), frame_id=str(frame_id))


def stamp_to_us(stamp: Any) -> int:
    """``builtin_interfaces/Time`` (``sec``, ``nanosec``) -> integer microseconds.

    Sub-microsecond parts are rounded half to even. ROS 1 style ``secs``/``nsecs`` also work.
    """
    sec = getattr(stamp, "sec", None)
    if sec is None:
        sec = stamp.secs
    nanosec = getattr(stamp, "nanosec", None)
    if nanosec is None:
        nanosec = stamp.nsecs
    q, r = divmod(int(sec) * 1_000_000_000 + int(nanosec), 1000)
    if r > 500 or (r == 500 and q % 2 == 1):
        q += 1
    return int(q)


def us_to_stamp_ns(us: int) -> int:
    """Integer microseconds -> integer nanoseconds (what the builders take as ``stamp_ns``)."""
    return int(us) * 1000


# --------------------------------------------------------------------------- PointCloud2

#: sensor_msgs/PointField datatype -> numpy dtype (byte order added at decode time).
POINTFIELD_DTYPES: dict[int, np.dtype] = {
    1: np.dtype(np.int8),  # INT8
    2: np.dtype(np.uint8),  # UINT8
    3: np.dtype(np.int16),  # INT16
    4: np.dtype(np.uint16),  # UINT16
    5: np.dtype(np.int32),  # INT32
    6: np.dtype(np.uint32),  # UINT32
    7: np.dtype(np.float32),  # FLOAT32
    8: np.dtype(np.float64),  # FLOAT64
}
_DTYPE_TO_POINTFIELD = {dt: code for code, dt in POINTFIELD_DTYPES.items()}
_INTENSITY_NAMES = ("intensity", "i", "reflectivity")


def pointcloud2_to_array(
    msg: Any, source: str = "PointCloud2", index: int | None = None
) -> tuple[np.ndarray, tuple[str, ...], int]:
    """Decode a ``sensor_msgs/PointCloud2`` into an ``(N, C) float32`` array.

    Args:
        msg: the message (``header``, ``height``, ``width``, ``fields``, ``is_bigendian``,
            ``point_step``, ``row_step``, ``data``).
        source: topic name for error messages.
        index: message index for error messages.

    Returns:
        ``(points, fields, n_nonfinite_dropped)``:

        - ``points``: ``(N, C) float32``; columns ``x, y, z`` (units of the message, metres for
          every LiDAR driver), ``intensity`` (from the field ``intensity``, else ``i``, else
          ``reflectivity``, else zeros), then every other scalar (``count == 1``) field in
          message order (``ring``, ``time`` ...). Organized clouds (``height > 1``) are
          flattened row-major. Integer fields are cast to float32 (exact up to 2**24).
        - ``fields``: the column names.
        - ``n_nonfinite_dropped``: how many points had NaN/inf in x, y or z and were dropped.

    Raises:
        BadRecordError: empty cloud, missing x/y/z, unknown datatype, a field past
            ``point_step``, ``point_step == 0``, inconsistent ``row_step`` / ``data`` length.
    """
    try:
        height = int(msg.height)
        width = int(msg.width)
        point_step = int(msg.point_step)
        row_step = int(msg.row_step)
        big = bool(msg.is_bigendian)
        msg_fields = list(msg.fields)
        raw = msg.data
    except AttributeError as exc:
        raise BadRecordError(source, f"not a PointCloud2 message ({exc})", index) from exc
    data = _as_uint8(raw)

    if width * height == 0 or data.size == 0:
        raise BadRecordError(
            source, f"empty cloud (width={width}, height={height}, {data.size} data bytes)", index, "data"
        )
    if point_step <= 0:
        raise BadRecordError(source, f"point_step is {point_step}, must be > 0", index, "point_step")

    order = ">" if big else "<"
    layout: dict[str, tuple[np.dtype, int]] = {}  # name -> (dtype, offset), scalar fields only
    for f in msg_fields:
        name = str(f.name)
        datatype = int(f.datatype)
        offset = int(f.offset)
        count = int(f.count)
        base = POINTFIELD_DTYPES.get(datatype)
        if base is None:
            raise BadRecordError(
                source,
                f"unknown PointField datatype {datatype} for field '{name}' (expected 1..8: "
                "INT8, UINT8, INT16, UINT16, INT32, UINT32, FLOAT32, FLOAT64)",
                index,
                f"fields.{name}.datatype",
            )
        end = offset + base.itemsize * max(count, 1)
        if offset < 0 or end > point_step:
            raise BadRecordError(
                source,
                f"field '{name}' spans bytes [{offset}, {end}) but point_step is {point_step}",
                index,
                f"fields.{name}.offset",
            )
        # count 0 is written by some drivers for scalars; count > 1 (arrays) is not decoded
        if count <= 1 and name and name not in layout:
            layout[name] = (base.newbyteorder(order), offset)

    missing = [c for c in ("x", "y", "z") if c not in layout]
    if missing:
        raise BadRecordError(
            source,
            f"missing required field(s) {', '.join(missing)} (message has: "
            f"{', '.join(str(f.name) for f in msg_fields) or 'none'})",
            index,
            "fields." + missing[0],
        )
    if width * point_step > row_step:
        raise BadRecordError(
            source,
            f"row_step {row_step} is smaller than width*point_step = {width}*{point_step} = {width * point_step}",
            index,
            "row_step",
        )
    if row_step * height != data.size:
        raise BadRecordError(
            source,
            f"row_step*height = {row_step}*{height} = {row_step * height} but data has {data.size} bytes",
            index,
            "row_step",
        )

    intensity_src = next((n for n in _INTENSITY_NAMES if n in layout), None)
    extras = [n for n in layout if n not in ("x", "y", "z") and n != intensity_src]
    columns = ["x", "y", "z", intensity_src, *extras]
    out_fields = ("x", "y", "z", "intensity", *extras)

    used = [c for c in columns if c is not None]
    try:
        sdt = np.dtype(
            {
                "names": used,
                "formats": [layout[n][0] for n in used],
                "offsets": [layout[n][1] for n in used],
                "itemsize": point_step,
            }
        )
        cloud = np.ndarray((height, width), dtype=sdt, buffer=data, offset=0, strides=(row_step, point_step))
    except (ValueError, TypeError) as exc:
        raise BadRecordError(source, f"cannot lay out the point fields: {exc}", index, "fields") from exc

    points = np.empty((height, width, len(columns)), dtype=np.float32)
    for j, name in enumerate(columns):
        if name is None:
            points[:, :, j] = 0.0
        else:
            points[:, :, j] = cloud[name]
    points = points.reshape(height * width, len(columns))
    finite = np.isfinite(points[:, :3]).all(axis=1)
    n_bad = int(points.shape[0] - np.count_nonzero(finite))
    if n_bad:
        points = points[finite]
    return points, out_fields, n_bad


def array_to_pointcloud2(
    points: np.ndarray,
    fields: Sequence[str],
    stamp_ns: int,
    frame_id: str,
    msg_types: Mapping[str, Any],
    *,
    dtype: DtypeLike | Mapping[str, DtypeLike] = np.float32,
    is_bigendian: bool = False,
    point_step: int | None = None,
    height: int = 1,
    row_step: int | None = None,
    is_dense: bool | None = None,
) -> Any:
    """Build a ``sensor_msgs/msg/PointCloud2`` (for tests and synthetic bags).

    Args:
        points: ``(N, C)`` values, column ``j`` is ``fields[j]``; ``N`` must be divisible by
            ``height``. Values are cast (integers rounded) to each field's dtype.
        fields: ``C`` field names (e.g. ``("x", "y", "z", "intensity", "ring")``).
        stamp_ns: header stamp, integer nanoseconds.
        frame_id: header frame id.
        msg_types: message classes by type name (``typestore.types``).
        dtype: one numpy dtype for every field, or a mapping field -> dtype (missing fields get
            float32). Must be one of the eight PointField types.
        is_bigendian: write the data big-endian.
        point_step: bytes per point, at least the packed size; extra bytes are zero padding.
        height: rows of an organized cloud (``width = N // height``).
        row_step: bytes per row, at least ``width * point_step``; extra bytes are zero padding.
        is_dense: defaults to "no NaN/inf in the points".

    Returns:
        A message of class ``msg_types['sensor_msgs/msg/PointCloud2']``.
    """
    pts = np.asarray(points)
    if pts.ndim == 1:
        pts = pts.reshape(-1, 1)
    if pts.ndim != 2 or pts.shape[1] != len(fields):
        raise ValueError(f"points has shape {pts.shape}, expected (N, {len(fields)})")
    if height < 1 or pts.shape[0] % height:
        raise ValueError(f"{pts.shape[0]} points cannot form {height} rows")
    width = pts.shape[0] // height
    order = ">" if is_bigendian else "<"

    names, formats, offsets, codes = [], [], [], []
    offset = 0
    for name in fields:
        dt = np.dtype(dtype.get(name, np.float32) if isinstance(dtype, Mapping) else dtype)
        code = _DTYPE_TO_POINTFIELD.get(dt.newbyteorder("="))
        if code is None:
            raise ValueError(f"dtype {dt} of field '{name}' is not a PointField type")
        names.append(name)
        formats.append(dt.newbyteorder(order))
        offsets.append(offset)
        codes.append(code)
        offset += dt.itemsize
    step = offset if point_step is None else int(point_step)
    if step < offset:
        raise ValueError(f"point_step {step} < packed size {offset}")
    rstep = width * step if row_step is None else int(row_step)
    if rstep < width * step:
        raise ValueError(f"row_step {rstep} < width*point_step {width * step}")

    sdt = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": step})
    rec = np.zeros(pts.shape[0], dtype=sdt)
    for j, (name, fmt) in enumerate(zip(names, formats)):
        col = pts[:, j]
        if fmt.kind in "iu":
            col = np.rint(col.astype(np.float64))
        rec[name] = col
    body = rec.view(np.uint8).reshape(height, width * step)
    buf = np.zeros((height, rstep), dtype=np.uint8)
    buf[:, : width * step] = body

    if is_dense is None:
        xyz = [j for j, n in enumerate(fields) if n in ("x", "y", "z")]
        is_dense = bool(np.isfinite(pts[:, xyz].astype(np.float64)).all()) if xyz else True
    PointField = msg_types["sensor_msgs/msg/PointField"]
    return msg_types["sensor_msgs/msg/PointCloud2"](
        header=make_header(stamp_ns, frame_id, msg_types),
        height=int(height),
        width=int(width),
        fields=[PointField(name=n, offset=int(o), datatype=int(c), count=1) for n, o, c in zip(names, offsets, codes)],
        is_bigendian=bool(is_bigendian),
        point_step=int(step),
        row_step=int(rstep),
        data=buf.reshape(-1),
        is_dense=bool(is_dense),
    )


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
    data = _as_uint8(msg.data)
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
    the decoded pixels are always RGB (PIL). Other formats PIL can identify are decoded too.

    Raises:
        BadRecordError: field ``data`` for empty, corrupt or truncated JPEG/PNG data; field
            ``format`` when the format is neither JPEG nor PNG and PIL cannot identify the data
            (e.g. ``compressedDepth``).
    """
    from .images import decode_image_bytes

    fmt = str(getattr(msg, "format", "") or "")
    fmt_l = fmt.lower()
    if "compresseddepth" in fmt_l:
        raise BadRecordError(source, f"unsupported format '{fmt}' (compressedDepth is not an RGB image)", index, "format")
    known = any(k in fmt_l for k in ("jpeg", "jpg", "png"))
    data = _as_uint8(msg.data)
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


# --------------------------------------------------------------------------- CameraInfo


def camera_info_to_calibration(
    msg: Any, source: str = "CameraInfo", index: int | None = None
) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int]]:
    """Read intrinsics from ``sensor_msgs/CameraInfo``.

    Returns:
        ``(K, distortion, (width, height))``: ``K`` ``(3, 3) float64`` in pixels; ``distortion``
        ``(n,) float64`` in the order of ``distortion_model`` (``plumb_bob``: k1 k2 p1 p2 k3), or
        None when empty or all zero; image size in pixels. ROS 1 names ``K``/``D`` also work.

    Raises:
        BadRecordError (field ``k``): K not 9 finite values, all zero, or fx/fy <= 0.
    """
    k_raw = getattr(msg, "k", None)
    if k_raw is None:
        k_raw = getattr(msg, "K", None)
    if k_raw is None:
        raise BadRecordError(source, "message has no intrinsic matrix k", index, "k")
    K = np.asarray(k_raw, dtype=np.float64).reshape(-1)
    if K.size != 9:
        raise BadRecordError(source, f"k has {K.size} values, expected 9", index, "k")
    K = K.reshape(3, 3).copy()
    if not np.isfinite(K).all():
        raise BadRecordError(source, f"k has non-finite values: {K.tolist()}", index, "k")
    if not K.any():
        raise BadRecordError(source, "k is all zeros (uncalibrated camera)", index, "k")
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise BadRecordError(source, f"focal lengths must be > 0, got fx={K[0, 0]}, fy={K[1, 1]}", index, "k")
    d_raw = getattr(msg, "d", None)
    if d_raw is None:
        d_raw = getattr(msg, "D", None)
    dist: np.ndarray | None = None
    if d_raw is not None:
        d = np.asarray(d_raw, dtype=np.float64).reshape(-1).copy()
        if d.size and d.any():
            dist = d
    return K, dist, (int(msg.width), int(msg.height))


# --------------------------------------------------------------------------- audio

AUDIO_MSG_DEFINITIONS: dict[str, str] = {
    "audio_common_msgs/msg/AudioData": "uint8[] data\n",
    "audio_common_msgs/msg/AudioDataStamped": "std_msgs/Header header\naudio_common_msgs/AudioData audio\n",
    "audio_common_msgs/msg/AudioInfo": (
        "# This message contains the audio meta data\n"
        "\n"
        "# Number of channels\n"
        "uint8 channels\n"
        "# Sampling rate [Hz]\n"
        "uint32 sample_rate\n"
        "# Audio format (e.g. S16LE)\n"
        "string sample_format\n"
        "# Amount of audio data per second [bits/s]\n"
        "uint32 bitrate\n"
        "# Audio coding format (e.g. WAVE, MP3)\n"
        "string coding_format\n"
    ),
}


def register_audio_types(typestore: Any) -> None:
    """Register the ``audio_common_msgs`` types of :data:`AUDIO_MSG_DEFINITIONS` in a rosbags typestore.

    Idempotent: registering again with the same definitions is a no-op.
    """
    from rosbags.typesys import get_types_from_msg

    types: dict = {}
    for name, text in AUDIO_MSG_DEFINITIONS.items():
        types.update(get_types_from_msg(text, name))
    typestore.register(types)


#: sample_format -> (numpy dtype, scale to [-1, 1], offset subtracted first); S24 is packed 3-byte
SAMPLE_FORMATS: dict[str, tuple[str, float, float]] = {
    "U8": ("u1", 128.0, 128.0),
    "S8": ("i1", 128.0, 0.0),
    "S16LE": ("<i2", 32768.0, 0.0),
    "S16BE": (">i2", 32768.0, 0.0),
    "U16LE": ("<u2", 32768.0, 32768.0),
    "U16BE": (">u2", 32768.0, 32768.0),
    "S24LE": ("<i3", 8388608.0, 0.0),
    "S24BE": (">i3", 8388608.0, 0.0),
    "S32LE": ("<i4", 2147483648.0, 0.0),
    "S32BE": (">i4", 2147483648.0, 0.0),
    "F32LE": ("<f4", 1.0, 0.0),
    "F32BE": (">f4", 1.0, 0.0),
    "F64LE": ("<f8", 1.0, 0.0),
    "F64BE": (">f8", 1.0, 0.0),
}
_RAW_CODINGS = ("", "wave", "wav", "raw", "pcm")


def _sample_spec(sample_format: str) -> tuple[str, float, float] | None:
    return SAMPLE_FORMATS.get(str(sample_format).strip().upper())


def _sample_size(spec: tuple[str, float, float]) -> int:
    return 3 if spec[0][1:] == "i3" else np.dtype(spec[0]).itemsize


@dataclass
class AudioFormat:
    """How the bytes of an audio message are laid out.

    Attributes:
        channels: interleaved channels per frame.
        sample_rate: Hz.
        sample_format: GStreamer-style name, one of :data:`SAMPLE_FORMATS` (``S16LE``, ``F32LE`` ...).
    """

    channels: int
    sample_rate: int
    sample_format: str = "S16LE"

    @property
    def bytes_per_frame(self) -> int:
        """Bytes of one frame (one sample of every channel); raises KeyError for unknown formats."""
        spec = _sample_spec(self.sample_format)
        if spec is None:
            raise KeyError(self.sample_format)
        return _sample_size(spec) * int(self.channels)

    @classmethod
    def from_info_msg(cls, msg: Any, source: str = "AudioInfo", index: int | None = None) -> AudioFormat:
        """From an ``audio_common_msgs/AudioInfo``; empty ``sample_format`` means ``S16LE``.

        Raises:
            BadRecordError: ``channels`` < 1, ``sample_rate`` 0, or ``coding_format`` not raw PCM
                (``wave``) e.g. ``mp3``.
        """
        coding = str(getattr(msg, "coding_format", "") or "").strip().lower()
        if coding not in _RAW_CODINGS:
            raise BadRecordError(
                source, f"coding_format '{msg.coding_format}' is not raw PCM (expected 'wave')", index, "coding_format"
            )
        channels, rate = int(msg.channels), int(msg.sample_rate)
        if channels < 1:
            raise BadRecordError(source, f"channels is {channels}, must be >= 1", index, "channels")
        if rate <= 0:
            raise BadRecordError(source, f"sample_rate is {rate}, must be > 0", index, "sample_rate")
        return cls(channels, rate, str(msg.sample_format or "S16LE").strip().upper())

    def to_info_msg(self, msg_types: Mapping[str, Any], coding_format: str = "wave") -> Any:
        """Build the matching ``audio_common_msgs/msg/AudioInfo`` (types from :func:`register_audio_types`)."""
        spec = _sample_spec(self.sample_format)
        bits = 8 * _sample_size(spec) if spec else 0
        return msg_types["audio_common_msgs/msg/AudioInfo"](
            channels=int(self.channels),
            sample_rate=int(self.sample_rate),
            sample_format=str(self.sample_format),
            bitrate=int(bits * self.channels * self.sample_rate),
            coding_format=coding_format,
        )


def audio_to_array(msg: Any, fmt: AudioFormat, source: str = "audio", index: int | None = None) -> np.ndarray:
    """Decode interleaved PCM of an ``AudioDataStamped`` (or bare ``AudioData``) message.

    Returns:
        ``(channels, S) float32`` in [-1, 1] (integers divided by 2**(bits-1); float samples
        clipped). Empty data gives ``(channels, 0)``.

    Raises:
        BadRecordError: unknown ``sample_format``, byte length not a multiple of the frame size,
            non-finite float samples (field ``data``).
    """
    spec = _sample_spec(fmt.sample_format)
    if spec is None:
        raise BadRecordError(
            source,
            f"unknown sample_format '{fmt.sample_format}' (supported: {', '.join(SAMPLE_FORMATS)})",
            index,
            "sample_format",
        )
    channels = int(fmt.channels)
    if channels < 1:
        raise BadRecordError(source, f"channels is {channels}, must be >= 1", index, "channels")
    holder = getattr(msg, "audio", msg)
    data = _as_uint8(holder.data)
    size = _sample_size(spec)
    frame = size * channels
    if data.size % frame:
        raise BadRecordError(
            source,
            f"{data.size} bytes is not a multiple of the frame size {frame} "
            f"({channels} channel(s) x {size} bytes, {fmt.sample_format})",
            index,
            "data",
        )
    code, scale, offset = spec
    if size == 3:
        b = data.reshape(-1, 3).astype(np.int32)
        if code[0] == ">":
            b = b[:, ::-1]
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        values = ints.astype(np.float64)
    else:
        values = np.frombuffer(data, dtype=np.dtype(code))
        if values.dtype.kind == "f":
            if not np.isfinite(values).all():
                raise BadRecordError(source, "non-finite float samples", index, "data")
            return np.ascontiguousarray(np.clip(values.reshape(-1, channels).T, -1.0, 1.0), dtype=np.float32)
        values = values.astype(np.float64)
    out = (values - offset) / scale
    return np.ascontiguousarray(out.reshape(-1, channels).T, dtype=np.float32)


def array_to_audio(
    samples: np.ndarray,
    stamp_ns: int,
    frame_id: str,
    msg_types: Mapping[str, Any],
    sample_format: str = "S16LE",
) -> Any:
    """Build an ``audio_common_msgs/msg/AudioDataStamped`` from ``(channels, S)`` floats in [-1, 1].

    A 1-D array is mono. Values are clipped to [-1, 1] and, for integer formats, scaled by
    2**(bits-1) and rounded (saturating at the positive end). ``msg_types`` must hold the audio
    types (:func:`register_audio_types`).
    """
    spec = _sample_spec(sample_format)
    if spec is None:
        raise ValueError(f"unknown sample_format '{sample_format}' (supported: {', '.join(SAMPLE_FORMATS)})")
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"expected (channels, S) samples, got shape {x.shape}")
    inter = np.clip(x, -1.0, 1.0).T.reshape(-1)  # interleave: frame by frame
    code, scale, offset = spec
    if code[1] == "f":
        raw = inter.astype(code).tobytes()
    else:
        ints = np.rint(inter * scale + offset)
        hi = offset + scale - 1
        ints = np.clip(ints, offset - scale, hi).astype(np.int64)
        if code[1:] == "i3":
            u = (ints & 0xFFFFFF).astype(np.uint32)
            b = np.stack([u & 0xFF, (u >> 8) & 0xFF, (u >> 16) & 0xFF], axis=1).astype(np.uint8)
            if code[0] == ">":
                b = b[:, ::-1]
            raw = b.tobytes()
        else:
            raw = ints.astype(code).tobytes()
    data = np.frombuffer(raw, dtype=np.uint8).copy()
    return msg_types["audio_common_msgs/msg/AudioDataStamped"](
        header=make_header(stamp_ns, frame_id, msg_types),
        audio=msg_types["audio_common_msgs/msg/AudioData"](data=data),
    )
