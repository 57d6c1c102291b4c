"""``sensor_msgs/PointCloud2`` <-> numpy: the one parser and the one builder of the package.

The parser reads any field layout (offsets, padding, extra fields, every PointField datatype, big
endian, organized clouds with row padding); :func:`pointcloud2_to_array` gives the LiDAR view
(``x, y, z, intensity, extras`` as float32) and :func:`pointcloud2_columns` the fields in their own
dtypes (for layouts that are not LiDAR sweeps, e.g. the feature clouds of ``ros_nodes``). The
builder :func:`array_to_pointcloud2` writes packed fields in the order given.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import BadRecordError
from .common import as_uint8, make_header

DtypeLike = str | type | np.dtype

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


# --------------------------------------------------------------------------- parser


@dataclass(frozen=True)
class _Cloud:
    """A checked PointCloud2: sizes, the raw bytes and the scalar fields' (dtype, byte offset)."""

    height: int
    width: int
    point_step: int
    row_step: int
    data: np.ndarray  # (row_step * height,) uint8
    fields: dict[str, tuple[np.dtype, int]]  # name -> (dtype with the message's byte order, offset)


def _scalar_fields(msg_fields: list, point_step: int, big: bool, source: str,
                   index: int | None) -> dict[str, tuple[np.dtype, int]]:
    """Name -> (dtype, offset) of the scalar fields; every field must be a known type inside ``point_step``."""
    order = ">" if big else "<"
    layout: dict[str, tuple[np.dtype, int]] = {}
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
    return layout


def _check_rows(width: int, height: int, point_step: int, row_step: int, n_bytes: int, source: str,
                index: int | None) -> None:
    if width * point_step > row_step:
        raise BadRecordError(
            source,
            f"row_step {row_step} is smaller than width*point_step = {width}*{point_step} = {width * point_step}",
            index,
            "row_step",
        )
    if row_step * height != n_bytes:
        raise BadRecordError(
            source,
            f"row_step*height = {row_step}*{height} = {row_step * height} but data has {n_bytes} bytes",
            index,
            "row_step",
        )


def _read_cloud(msg: Any, source: str, index: int | None, allow_empty: bool = False) -> _Cloud:
    """Check a PointCloud2's sizes and fields (x, y, z required) without copying its data."""
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
    data = as_uint8(raw)

    if not allow_empty and (width * height == 0 or data.size == 0):
        raise BadRecordError(
            source, f"empty cloud (width={width}, height={height}, {data.size} data bytes)", index, "data"
        )
    if point_step <= 0:
        raise BadRecordError(source, f"point_step is {point_step}, must be > 0", index, "point_step")
    layout = _scalar_fields(msg_fields, point_step, big, source, index)
    missing = [c for c in ("x", "y", "z") if c not in layout]
    if missing:
        raise BadRecordError(
            source,
            f"missing required field(s) {', '.join(missing)} (message has: "
            f"{', '.join(str(f.name) for f in msg_fields) or 'none'})",
            index,
            "fields." + missing[0],
        )
    _check_rows(width, height, point_step, row_step, data.size, source, index)
    return _Cloud(height, width, point_step, row_step, data, layout)


def _records(cloud: _Cloud, names: Sequence[str], source: str, index: int | None) -> np.ndarray:
    """A ``(height, width)`` structured view of the named fields over the message bytes (no copy)."""
    try:
        sdt = np.dtype(
            {
                "names": list(names),
                "formats": [cloud.fields[n][0] for n in names],
                "offsets": [cloud.fields[n][1] for n in names],
                "itemsize": cloud.point_step,
            }
        )
        return np.ndarray((cloud.height, cloud.width), dtype=sdt, buffer=cloud.data, offset=0,
                          strides=(cloud.row_step, cloud.point_step))
    except (ValueError, TypeError) as exc:
        raise BadRecordError(source, f"cannot lay out the point fields: {exc}", index, "fields") from exc


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
    cloud = _read_cloud(msg, source, index)
    intensity_src = next((n for n in _INTENSITY_NAMES if n in cloud.fields), None)
    extras = [n for n in cloud.fields if n not in ("x", "y", "z") and n != intensity_src]
    columns = ["x", "y", "z", intensity_src, *extras]
    out_fields = ("x", "y", "z", "intensity", *extras)
    rec = _records(cloud, [c for c in columns if c is not None], source, index)

    height, width = cloud.height, cloud.width
    points = np.empty((height, width, len(columns)), dtype=np.float32)
    for j, name in enumerate(columns):
        if name is None:
            points[:, :, j] = 0.0
        else:
            points[:, :, j] = rec[name]
    points = points.reshape(height * width, len(columns))
    finite = np.isfinite(points[:, :3]).all(axis=1)
    n_bad = int(points.shape[0] - np.count_nonzero(finite))
    if n_bad:
        points = points[finite]
    return points, out_fields, n_bad


def pointcloud2_columns(
    msg: Any, names: Sequence[str] | None = None, source: str = "PointCloud2", index: int | None = None
) -> dict[str, np.ndarray]:
    """Scalar fields of a ``sensor_msgs/PointCloud2`` in their own dtypes, nothing dropped.

    Args:
        msg: the message (checked as by :func:`pointcloud2_to_array`; an empty cloud is allowed).
        names: the fields to return (default: every scalar field, in message order).

    Returns:
        field name -> ``(N,)`` array (a copy, native byte order), ``N = width * height`` row-major;
        NaN/inf points are kept.

    Raises:
        BadRecordError: as :func:`pointcloud2_to_array`; field ``fields.NAME`` for a name the
            message does not have.
    """
    cloud = _read_cloud(msg, source, index, allow_empty=True)
    wanted = list(cloud.fields) if names is None else list(names)
    for name in wanted:
        if name not in cloud.fields:
            raise BadRecordError(source, f"no scalar field '{name}' (message has: {', '.join(cloud.fields)})",
                                 index, f"fields.{name}")
    n = cloud.height * cloud.width
    if n == 0:
        return {name: np.zeros(0, cloud.fields[name][0].newbyteorder("=")) for name in wanted}
    rec = _records(cloud, wanted, source, index)
    return {name: rec[name].reshape(n).astype(cloud.fields[name][0].newbyteorder("=")) for name in wanted}


def pointcloud2_block(
    msg: Any, names: Sequence[str], source: str = "PointCloud2", index: int | None = None
) -> np.ndarray:
    """Several scalar fields of one dtype as one ``(N, len(names))`` array (a copy, native byte order).

    The fast way to read wide layouts (e.g. feature clouds ``f0 .. f{C-1}``): adjacent fields are read
    as one block of the row bytes. Checked as by :func:`pointcloud2_to_array`; an empty cloud is
    allowed; NaN/inf points are kept.

    Raises:
        BadRecordError: as :func:`pointcloud2_to_array`; field ``fields.NAME`` for a name the message
            does not have or whose dtype differs from the first name's.
    """
    cloud = _read_cloud(msg, source, index, allow_empty=True)
    names = list(names)
    for name in names:
        if name not in cloud.fields:
            raise BadRecordError(source, f"no scalar field '{name}' (message has: {', '.join(cloud.fields)})",
                                 index, f"fields.{name}")
    dtype = cloud.fields[names[0]][0] if names else np.dtype(np.float32)
    for name in names:
        if cloud.fields[name][0] != dtype:
            raise BadRecordError(source, f"field '{name}' is {cloud.fields[name][0]}, not {dtype} like "
                                 f"'{names[0]}'", index, f"fields.{name}")
    n, k = cloud.height * cloud.width, len(names)
    native = dtype.newbyteorder("=")
    if n == 0 or k == 0:
        return np.zeros((n, k), native)
    lo = cloud.fields[names[0]][1]
    if all(cloud.fields[name][1] == lo + j * dtype.itemsize for j, name in enumerate(names)):
        rows = cloud.data.reshape(cloud.height, cloud.row_step)[:, : cloud.width * cloud.point_step]
        body = rows.reshape(cloud.height, cloud.width, cloud.point_step)[:, :, lo: lo + k * dtype.itemsize]
        return body.copy().view(dtype).reshape(n, k).astype(native, copy=False)
    rec = _records(cloud, names, source, index)
    return np.stack([rec[name].reshape(n) for name in names], axis=1).astype(native)


# --------------------------------------------------------------------------- builder


def _packed_layout(fields: Sequence[str], dtype: DtypeLike | Mapping[str, DtypeLike],
                   order: str) -> tuple[list[np.dtype], list[int], list[int], int]:
    """Per field (dtype with byte order ``order``, offset, PointField code), packed; and the packed size."""
    formats, offsets, codes = [], [], []
    offset = 0
    for name in fields:
        dt = np.dtype(dtype.get(name, np.float32) if isinstance(dtype, Mapping) else dtype)
        code = _DTYPE_TO_POINTFIELD.get(dt.newbyteorder("="))
        if code is None:
            raise ValueError(f"dtype {dt} of field '{name}' is not a PointField type")
        formats.append(dt.newbyteorder(order))
        offsets.append(offset)
        codes.append(code)
        offset += dt.itemsize
    return formats, offsets, codes, offset


def _runs(formats: Sequence[np.dtype]) -> list[tuple[int, int]]:
    """``[start, stop)`` column ranges of consecutive fields with the same dtype (packed: adjacent bytes too)."""
    runs, start = [], 0
    for j in range(1, len(formats) + 1):
        if j == len(formats) or formats[j] != formats[start]:
            runs.append((start, j))
            start = j
    return runs


def _pack_rows(pts: np.ndarray, formats: list[np.dtype], offsets: list[int], step: int, height: int,
               rstep: int) -> np.ndarray:
    """``(N, C)`` values -> the ``data`` bytes: ``height`` rows of ``rstep`` bytes, zero padding.

    Fields are packed (each starts where the previous ends), so a run of same-dtype fields is one
    ``(rows, width, k)`` block of the row bytes, written with one cast.
    """
    width = pts.shape[0] // height
    buf = np.zeros((height, rstep), dtype=np.uint8)
    body = buf[:, : width * step].reshape(height, width, step)
    for a, b in _runs(formats):
        fmt, lo = formats[a], offsets[a]
        block = pts[:, a:b]
        if fmt.kind in "iu" and block.dtype.kind in "fc":
            block = np.rint(block)  # half to even; exact in the input's own float type
        body[:, :, lo: lo + (b - a) * fmt.itemsize].view(fmt)[...] = block.reshape(height, width, b - a)
    return buf.reshape(-1)


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
    """Build a ``sensor_msgs/msg/PointCloud2`` (synthetic bags, tests, the feature clouds of the nodes).

    Args:
        points: ``(N, C)`` values, column ``j`` is ``fields[j]``; ``N`` must be divisible by
            ``height``. Values are cast (integers rounded) to each field's dtype; a float32 column
            written to a float32 field keeps its bits.
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
    formats, offsets, codes, packed = _packed_layout(fields, dtype, ">" if is_bigendian else "<")
    step = packed if point_step is None else int(point_step)
    if step < packed:
        raise ValueError(f"point_step {step} < packed size {packed}")
    rstep = width * step if row_step is None else int(row_step)
    if rstep < width * step:
        raise ValueError(f"row_step {rstep} < width*point_step {width * step}")
    names = list(fields)
    data = _pack_rows(pts, formats, offsets, step, height, rstep)

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
        data=data,
        is_dense=bool(is_dense),
    )
