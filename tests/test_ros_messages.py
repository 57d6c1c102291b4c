"""Tests of sensors.ros_messages: ROS 2 sensor messages <-> numpy, through real rosbags types."""
from __future__ import annotations

import array
import os
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from rosbags.typesys import Stores, get_typestore

from multimodal.sensors.errors import BadRecordError
from multimodal.sensors.ros_messages import (
    AUDIO_MSG_DEFINITIONS,
    AudioFormat,
    array_to_audio,
    array_to_pointcloud2,
    audio_to_array,
    camera_info_to_calibration,
    compressed_image_to_rgb,
    image_to_rgb,
    pointcloud2_block,
    pointcloud2_columns,
    pointcloud2_to_array,
    register_audio_types,
    rgb_to_compressed_image,
    rgb_to_image,
    ros_typestore,
    stamp_to_us,
    us_to_stamp_ns,
)

SHARED_DATA = Path(os.environ.get("MULTIMODAL_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
CAM_FRONT_DIR = SHARED_DATA / "nuscenes_mmdet3d_demo" / "samples" / "CAM_FRONT"
STAMP_US = 1_532_402_927_612_460
STAMP_NS = us_to_stamp_ns(STAMP_US)


@pytest.fixture(scope="module")
def ts():
    return ros_typestore()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def cdr_roundtrip(ts, msg):
    """Serialize with rosbags and deserialize again: a message as a bag reader would see it."""
    raw = ts.serialize_cdr(msg, msg.__msgtype__)
    return ts.deserialize_cdr(bytes(raw), msg.__msgtype__)


def as_namespace(msg, **overrides):
    """A plain-attribute copy of a (rosbags) message, with some attributes replaced."""
    names = [n for n in msg.__dataclass_fields__ if not n.startswith("__")]
    d = {n: getattr(msg, n) for n in names}
    d.update(overrides)
    return SimpleNamespace(**d)


def pf(name, offset, datatype, count=1):
    return SimpleNamespace(name=name, offset=offset, datatype=datatype, count=count)


def cloud(rng, n=100, extra=("ring", "time")):
    pts = rng.normal(scale=10.0, size=(n, 4 + len(extra))).astype(np.float32)
    return pts, ("x", "y", "z", "intensity", *extra)


# ------------------------------------------------------------------ stamps


@pytest.mark.parametrize(
    "sec, nanosec, us",
    [(1, 0, 1_000_000), (1, 499, 1_000_000), (1, 500, 1_000_000), (1, 1500, 1_000_002),
     (1, 2500, 1_000_002), (1, 501, 1_000_001), (0, 999_999_999, 1_000_000), (-1, 999_000_000, -1000)],
)
def test_stamp_to_us_rounds_half_to_even(sec, nanosec, us):
    assert stamp_to_us(SimpleNamespace(sec=sec, nanosec=nanosec)) == us


def test_stamp_roundtrip_through_header(ts):
    msg = rgb_to_image(np.zeros((2, 2, 3), np.uint8), STAMP_NS, "cam", ts.types)
    assert msg.header.stamp.sec == STAMP_US // 1_000_000
    assert msg.header.stamp.nanosec == (STAMP_US % 1_000_000) * 1000
    assert stamp_to_us(cdr_roundtrip(ts, msg).header.stamp) == STAMP_US
    assert us_to_stamp_ns(5) == 5000


# ------------------------------------------------------------------ PointCloud2


def test_pointcloud2_roundtrip_through_cdr(ts, rng):
    pts, fields = cloud(rng)
    msg = array_to_pointcloud2(pts, fields, STAMP_NS, "lidar_top", ts.types)
    assert msg.point_step == 24 and msg.row_step == 24 * len(pts) and msg.is_dense
    back = cdr_roundtrip(ts, msg)
    out, names, dropped = pointcloud2_to_array(back)
    assert names == fields
    assert dropped == 0
    assert out.dtype == np.float32 and out.shape == pts.shape
    np.testing.assert_array_equal(out, pts)
    assert back.header.frame_id == "lidar_top"
    assert stamp_to_us(back.header.stamp) == STAMP_US


def test_pointcloud2_point_padding(ts, rng):
    pts, fields = cloud(rng, extra=())
    msg = array_to_pointcloud2(pts, fields, STAMP_NS, "l", ts.types, point_step=32)
    assert msg.point_step == 32 and len(msg.data) == 32 * len(pts)
    out, names, _ = pointcloud2_to_array(msg)
    assert names == ("x", "y", "z", "intensity")
    np.testing.assert_array_equal(out, pts)


def test_pointcloud2_arbitrary_offsets_and_field_order(rng):
    """Fields out of order with gaps (like Ouster): x,y,z,intensity come first, extras in message order."""
    n = 50
    dt = np.dtype({"names": ["t", "x", "ring", "y", "z", "intensity", "reflectivity"],
                   "formats": ["<u4", "<f4", "<u2", "<f4", "<f4", "<f4", "<u2"],
                   "offsets": [0, 8, 14, 16, 24, 32, 40], "itemsize": 48})
    rec = np.zeros(n, dt)
    for name in dt.names:
        rec[name] = rng.integers(0, 1000, n)
    msg = SimpleNamespace(
        height=1, width=n, point_step=48, row_step=48 * n, is_bigendian=False,
        fields=[pf("t", 0, 6), pf("x", 8, 7), pf("ring", 14, 4), pf("y", 16, 7), pf("z", 24, 7),
                pf("intensity", 32, 7), pf("reflectivity", 40, 4)],
        data=rec.tobytes(),
    )
    out, names, _ = pointcloud2_to_array(msg)
    assert names == ("x", "y", "z", "intensity", "t", "ring", "reflectivity")
    for j, name in enumerate(names):
        np.testing.assert_array_equal(out[:, j], rec[name].astype(np.float32))


@pytest.mark.parametrize(
    "field_names, source_col",
    [(("x", "y", "z", "i"), 3), (("x", "y", "z", "reflectivity"), 3), (("x", "y", "z"), None),
     (("x", "y", "z", "reflectivity", "intensity"), 4)],
)
def test_pointcloud2_intensity_fallbacks(ts, rng, field_names, source_col):
    pts = rng.normal(size=(20, len(field_names))).astype(np.float32)
    out, names, _ = pointcloud2_to_array(array_to_pointcloud2(pts, field_names, 0, "l", ts.types))
    assert names[:4] == ("x", "y", "z", "intensity")
    expected = np.zeros(20, np.float32) if source_col is None else pts[:, source_col]
    np.testing.assert_array_equal(out[:, 3], expected)
    if field_names == ("x", "y", "z", "reflectivity", "intensity"):
        # intensity wins, reflectivity becomes an extra column
        assert names == ("x", "y", "z", "intensity", "reflectivity")
        np.testing.assert_array_equal(out[:, 4], pts[:, 3])


@pytest.mark.parametrize("coord_dtype", [np.float64, np.int16, np.float32])
def test_pointcloud2_coordinate_dtypes(ts, rng, coord_dtype):
    pts = np.rint(rng.normal(scale=300.0, size=(64, 5))).astype(np.float64)
    pts[:, :3] += 0.0 if np.dtype(coord_dtype).kind == "i" else 0.25
    fields = ("x", "y", "z", "intensity", "ring")
    dtypes = {"x": coord_dtype, "y": coord_dtype, "z": coord_dtype, "ring": np.uint16, "intensity": np.uint8}
    pts[:, 3] = np.abs(pts[:, 3]) % 256
    pts[:, 4] = np.abs(pts[:, 4])
    msg = cdr_roundtrip(ts, array_to_pointcloud2(pts, fields, 0, "l", ts.types, dtype=dtypes))
    datatypes = {f.name: f.datatype for f in msg.fields}
    assert datatypes["x"] == {np.float64: 8, np.int16: 3, np.float32: 7}[coord_dtype]
    assert datatypes["intensity"] == 2 and datatypes["ring"] == 4
    out, _names, _ = pointcloud2_to_array(msg)
    np.testing.assert_array_equal(out, pts.astype(np.float32))


@pytest.mark.parametrize("datatype, np_dtype", list(enumerate(
    [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.float32, np.float64], start=1)))
@pytest.mark.parametrize("big", [False, True])
def test_pointcloud2_every_datatype_and_byte_order(ts, rng, datatype, np_dtype, big):
    info = np.iinfo(np_dtype) if np.dtype(np_dtype).kind in "iu" else None
    lo, hi = (info.min, info.max) if info is not None else (-1e4, 1e4)
    extra = rng.integers(max(lo, -2**20), min(hi, 2**20), 30, endpoint=True).astype(np.float64)
    pts = np.column_stack([rng.normal(size=(30, 4)), extra])
    msg = array_to_pointcloud2(pts, ("x", "y", "z", "intensity", "v"), 0, "l", ts.types,
                               dtype={"v": np_dtype, "x": np.float32}, is_bigendian=big)
    assert msg.is_bigendian == big and msg.fields[4].datatype == datatype
    out, names, _ = pointcloud2_to_array(cdr_roundtrip(ts, msg))
    assert names[4] == "v"
    np.testing.assert_array_equal(out[:, 4], extra.astype(np.float32))
    np.testing.assert_array_equal(out[:, :4], pts[:, :4].astype(np.float32))


def test_pointcloud2_big_endian_flag_is_honoured(ts, rng):
    pts, fields = cloud(rng, extra=())
    be = array_to_pointcloud2(pts, fields, 0, "l", ts.types, is_bigendian=True)
    le = array_to_pointcloud2(pts, fields, 0, "l", ts.types, is_bigendian=False)
    assert bytes(be.data) != bytes(le.data)
    np.testing.assert_array_equal(pointcloud2_to_array(be)[0], pts)
    wrong = pointcloud2_to_array(as_namespace(be, is_bigendian=False))[0]
    assert not np.array_equal(wrong[:, 3], pts[:, 3])  # bytes read in the wrong order


def test_pointcloud2_organized_with_row_padding(ts, rng):
    h, w = 4, 16
    pts, fields = cloud(rng, n=h * w, extra=("ring",))
    row_step = w * 24 + 13
    msg = array_to_pointcloud2(pts, fields, 0, "l", ts.types, height=h, row_step=row_step, point_step=24)
    assert (msg.height, msg.width, msg.row_step) == (h, w, row_step)
    assert len(msg.data) == h * row_step
    out, _names, dropped = pointcloud2_to_array(cdr_roundtrip(ts, msg))
    assert dropped == 0
    np.testing.assert_array_equal(out, pts)  # row-major flattening


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "array", "list", "numpy", "memoryview"])
def test_pointcloud2_accepts_rclpy_style_data(ts, rng, kind):
    pts, fields = cloud(rng, n=10)
    msg = array_to_pointcloud2(pts, fields, 0, "l", ts.types)
    raw = bytes(msg.data)
    data = {"bytes": raw, "bytearray": bytearray(raw), "array": array.array("B", raw), "list": list(raw),
            "numpy": np.frombuffer(raw, np.uint8), "memoryview": memoryview(raw)}[kind]
    out, _, _ = pointcloud2_to_array(as_namespace(msg, data=data))
    np.testing.assert_array_equal(out, pts)


def test_pointcloud2_drops_and_counts_nonfinite(ts, rng):
    pts, fields = cloud(rng, n=40)
    pts[3, 0] = np.nan
    pts[7, 2] = np.inf
    pts[9, 1] = -np.inf
    pts[11, 3] = np.nan  # intensity NaN: kept
    msg = array_to_pointcloud2(pts, fields, 0, "l", ts.types)
    assert not msg.is_dense
    out, _, dropped = pointcloud2_to_array(msg)
    assert dropped == 3
    keep = np.ones(40, bool)
    keep[[3, 7, 9]] = False
    np.testing.assert_array_equal(out, pts[keep])
    assert np.isfinite(out[:, :3]).all()


def test_pointcloud2_array_fields_are_skipped(rng):
    n = 8
    dt = np.dtype({"names": ["x", "y", "z", "rgb"], "formats": ["<f4", "<f4", "<f4", ("<u1", 3)],
                   "offsets": [0, 4, 8, 12], "itemsize": 16})
    rec = np.zeros(n, dt)
    rec["x"] = np.arange(n)
    msg = SimpleNamespace(height=1, width=n, point_step=16, row_step=16 * n, is_bigendian=False,
                          fields=[pf("x", 0, 7), pf("y", 4, 7), pf("z", 8, 7), pf("rgb", 12, 2, count=3)],
                          data=rec.tobytes())
    out, names, _ = pointcloud2_to_array(msg)
    assert names == ("x", "y", "z", "intensity")
    np.testing.assert_array_equal(out[:, 0], np.arange(n))


def test_pointcloud2_decode_is_fast(ts, rng):
    pts, fields = cloud(rng, n=35_000)
    msg = cdr_roundtrip(ts, array_to_pointcloud2(pts, fields, 0, "l", ts.types, point_step=32))
    best = float("inf")
    for _ in range(10):
        t0 = time.perf_counter()
        out, _, _ = pointcloud2_to_array(msg)
        best = min(best, time.perf_counter() - t0)
    assert out.shape == (35_000, 6)
    assert best < 5e-3, f"decoding 35k points took {best * 1e3:.2f} ms"


def test_pointcloud2_columns_keep_dtypes_nonfinite_and_byte_order(ts, rng):
    pts, _ = cloud(rng, n=12, extra=("ring",))
    pts[2, 0] = np.nan
    for big in (False, True):
        msg = cdr_roundtrip(ts, array_to_pointcloud2(pts, ("x", "y", "z", "intensity", "ring"), 0, "l", ts.types,
                                                     dtype={"ring": np.uint16, "x": np.float64}, is_bigendian=big,
                                                     point_step=24))
        cols = pointcloud2_columns(msg)
        assert list(cols) == ["x", "y", "z", "intensity", "ring"]
        assert cols["x"].dtype == np.float64 and cols["ring"].dtype == np.uint16 and cols["y"].dtype == np.float32
        assert cols["x"].dtype.isnative and len(cols["x"]) == 12 and np.isnan(cols["x"][2])  # nothing dropped
        np.testing.assert_array_equal(cols["ring"], np.rint(pts[:, 4]).astype(np.uint16))
        np.testing.assert_array_equal(pointcloud2_columns(msg, ["z"])["z"], pts[:, 2])
    empty = array_to_pointcloud2(np.zeros((0, 3), np.float32), ("x", "y", "z"), 0, "l", ts.types)
    assert pointcloud2_columns(empty)["x"].shape == (0,)
    with pytest.raises(BadRecordError, match=r"/pc field 'fields.rgb'.*no scalar field 'rgb'"):
        pointcloud2_columns(msg, ["x", "rgb"], source="/pc")


def test_pointcloud2_block_reads_adjacent_and_scattered_fields(ts, rng):
    feats = rng.normal(size=(6, 5)).astype(np.float32)
    names = ("x", "y", "z", "f0", "f1", "f2", "f3", "f4")
    table = np.concatenate([rng.normal(size=(6, 3)).astype(np.float32), feats], axis=1)
    for kw in ({}, {"is_bigendian": True, "point_step": 40, "height": 2, "row_step": 128}):
        msg = cdr_roundtrip(ts, array_to_pointcloud2(table, names, 0, "l", ts.types, **kw))
        block = pointcloud2_block(msg, [f"f{k}" for k in range(5)])
        assert block.dtype == np.float32 and block.dtype.isnative and block.flags.c_contiguous
        np.testing.assert_array_equal(block, feats)
        np.testing.assert_array_equal(pointcloud2_block(msg, ["f3", "x"]), table[:, [6, 0]])  # not adjacent
    assert pointcloud2_block(msg, []).shape == (6, 0)
    ints = array_to_pointcloud2(np.array([[0, 0, 0, 2.5], [0, 0, 0, -1.5]]), ("x", "y", "z", "ring"), 0, "l",
                                ts.types, dtype={"ring": np.int16})
    np.testing.assert_array_equal(pointcloud2_block(ints, ["ring"])[:, 0], [2, -2])  # rounded half to even
    with pytest.raises(BadRecordError, match=r"field 'fields.ring'.*int16, not float32"):
        pointcloud2_block(ints, ["x", "ring"])


def test_one_typestore_serves_reader_writer_and_nodes():
    from multimodal.ros_nodes import wire
    from multimodal.sensors.bag_writer import default_typestore

    assert ros_typestore() is default_typestore() is wire.typestore()
    assert "sensor_msgs/msg/PointCloud2" in ros_typestore().types
    assert all(name in ros_typestore().types for name in AUDIO_MSG_DEFINITIONS)


def test_humble_messages_read_the_same_with_the_shared_store(ts, rng):
    """Bags from Humble robots: the sensor messages have one CDR layout in both distributions."""
    humble = get_typestore(Stores.ROS2_HUMBLE)
    pts, fields = cloud(rng, n=20)
    msgs = [array_to_pointcloud2(pts, fields, STAMP_NS, "l", humble.types),
            rgb_to_image(rng.integers(0, 256, (4, 5, 3)).astype(np.uint8), STAMP_NS, "c", humble.types)]
    for msg in msgs:
        raw = bytes(humble.serialize_cdr(msg, msg.__msgtype__))
        ours = ts.deserialize_cdr(raw, msg.__msgtype__)
        assert bytes(ts.serialize_cdr(ours, msg.__msgtype__)) == raw


def _valid_cloud(ts, rng):
    pts, fields = cloud(rng, n=10, extra=())
    return array_to_pointcloud2(pts, fields, 0, "l", ts.types)


@pytest.mark.parametrize(
    "case, expect_field, expect_text",
    [
        ("missing_x", "fields.x", "missing"),
        ("missing_z", "fields.z", "missing"),
        ("unknown_datatype", "fields.intensity.datatype", "unknown PointField datatype 9"),
        ("past_point_step", "fields.intensity.offset", "point_step is 16"),
        ("point_step_zero", "point_step", "must be > 0"),
        ("row_step_mismatch", "row_step", "160"),
        ("row_step_too_small", "row_step", "smaller than width*point_step"),
        ("empty_width", "data", "empty"),
        ("empty_data", "data", "empty"),
    ],
)
def test_pointcloud2_bad_inputs(ts, rng, case, expect_field, expect_text):
    msg = _valid_cloud(ts, rng)  # 10 points, point_step 16, row_step 160
    fx, fy, fz, fi = msg.fields
    bad = {
        "missing_x": {"fields": [fy, fz, fi]},
        "missing_z": {"fields": [fx, fy, fi]},
        "unknown_datatype": {"fields": [fx, fy, fz, pf("intensity", 12, 9)]},
        "past_point_step": {"fields": [fx, fy, fz, pf("intensity", 14, 7)]},
        "point_step_zero": {"point_step": 0},
        "row_step_mismatch": {"row_step": 176, "width": 10},
        "row_step_too_small": {"row_step": 80, "height": 2},
        "empty_width": {"width": 0},
        "empty_data": {"data": b""},
    }[case]
    with pytest.raises(BadRecordError) as ei:
        pointcloud2_to_array(as_namespace(msg, **bad), source="/lidar/points", index=7)
    err = ei.value
    assert err.field == expect_field
    assert f"'{expect_field}'" in str(err) and "/lidar/points" in str(err) and "[message 7]" in str(err)
    assert expect_text in str(err)
    if case == "row_step_mismatch":
        assert "= 176 but data has 160 bytes" in str(err)  # both numbers


# ------------------------------------------------------------------ Image

ENCODINGS = ["rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16"]


def _test_rgb(rng, h=5, w=7, gray=False):
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    if gray:
        img[:] = img[:, :, :1]
    return img


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("pad", [0, 9])
def test_image_roundtrip_all_encodings(ts, rng, encoding, pad):
    rgb = _test_rgb(rng, gray=encoding.startswith("mono"))
    bpp = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1, "mono16": 2}[encoding]
    step = 7 * bpp + pad
    msg = rgb_to_image(rgb, STAMP_NS, "cam", ts.types, encoding=encoding, step=step)
    assert msg.step == step and len(msg.data) == 5 * step and msg.encoding == encoding
    back = cdr_roundtrip(ts, msg)
    out = image_to_rgb(back)
    assert out.dtype == np.uint8 and out.shape == (5, 7, 3)
    np.testing.assert_array_equal(out, rgb)
    out[0, 0, 0] ^= 1  # result owns writable memory
    assert image_to_rgb(back)[0, 0, 0] == rgb[0, 0, 0]


def test_image_channel_order_in_bytes(ts):
    rgb = np.array([[[10, 20, 30]]], np.uint8)
    assert list(rgb_to_image(rgb, 0, "c", ts.types, "bgr8").data) == [30, 20, 10]
    assert list(rgb_to_image(rgb, 0, "c", ts.types, "rgba8").data) == [10, 20, 30, 255]
    raw = SimpleNamespace(height=1, width=2, encoding="bgra8", is_bigendian=0, step=8,
                          data=bytes([1, 2, 3, 4, 5, 6, 7, 8]))
    np.testing.assert_array_equal(image_to_rgb(raw), [[[3, 2, 1], [7, 6, 5]]])


@pytest.mark.parametrize("big", [False, True])
def test_image_mono16_uses_high_byte(ts, big):
    vals = np.array([[0x1234, 0xABCD, 0x00FF, 0xFF00]], np.uint16)
    msg = rgb_to_image(vals, 0, "c", ts.types, encoding="mono16", is_bigendian=big)
    assert bytes(msg.data[:2]) == (b"\x12\x34" if big else b"\x34\x12")
    out = image_to_rgb(cdr_roundtrip(ts, msg))
    np.testing.assert_array_equal(out[0, :, 0], [0x12, 0xAB, 0x00, 0xFF])
    assert (out == out[:, :, :1]).all()
    flipped = image_to_rgb(as_namespace(msg, is_bigendian=int(not big)))
    np.testing.assert_array_equal(flipped[0, :, 0], [0x34, 0xCD, 0xFF, 0x00])


@pytest.mark.parametrize("kind", ["bytes", "array", "list"])
def test_image_accepts_rclpy_style_data(ts, rng, kind):
    rgb = _test_rgb(rng)
    msg = rgb_to_image(rgb, 0, "c", ts.types, "bgr8", step=24)
    raw = bytes(msg.data)
    data = {"bytes": raw, "array": array.array("B", raw), "list": list(raw)}[kind]
    np.testing.assert_array_equal(image_to_rgb(as_namespace(msg, data=data)), rgb)


@pytest.mark.parametrize(
    "override, field, text",
    [
        ({"encoding": "yuv422"}, "encoding", "rgb8, bgr8, rgba8, bgra8, mono8, mono16"),
        ({"data": np.zeros(5 * 21 - 1, np.uint8)}, "data", "expected step*height"),
        ({"step": 20}, "step", "step 20 < width*bytes_per_pixel"),
    ],
)
def test_image_bad_inputs(ts, rng, override, field, text):
    msg = rgb_to_image(_test_rgb(rng), 0, "c", ts.types, "rgb8")
    with pytest.raises(BadRecordError) as ei:
        image_to_rgb(as_namespace(msg, **override), source="/cam/image_raw", index=3)
    assert ei.value.field == field
    assert f"field '{field}'" in str(ei.value) and "/cam/image_raw [message 3]" in str(ei.value)
    assert text in str(ei.value)


# ------------------------------------------------------------------ CompressedImage


def _smooth_rgb(h=48, w=64):
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) * 255 // (h + w)], axis=2).astype(np.uint8)


def test_compressed_png_is_lossless(ts, rng):
    rgb = _test_rgb(rng, 20, 30)
    msg = rgb_to_compressed_image(rgb, STAMP_NS, "cam", ts.types, fmt="png")
    assert msg.format == "png" and bytes(msg.data[:8]) == b"\x89PNG\r\n\x1a\n"
    out = compressed_image_to_rgb(cdr_roundtrip(ts, msg))
    np.testing.assert_array_equal(out, rgb)


@pytest.mark.parametrize("fmt_string", ["jpeg", "rgb8; jpeg compressed bgr8"])
def test_compressed_jpeg_roundtrip(ts, fmt_string):
    rgb = _smooth_rgb()
    msg = rgb_to_compressed_image(rgb, STAMP_NS, "cam", ts.types, fmt="jpeg", quality=95)
    assert bytes(msg.data[:2]) == b"\xff\xd8"
    out = compressed_image_to_rgb(as_namespace(cdr_roundtrip(ts, msg), format=fmt_string))
    assert out.shape == rgb.shape and out.dtype == np.uint8
    err = np.abs(out.astype(int) - rgb.astype(int))
    assert err.mean() < 2.0, err.mean()
    # channels not swapped: red increases along x, green along y
    assert out[24, -1, 0] > 200 and out[24, -1, 1] < 160 and out[-1, 32, 1] > 200


def test_compressed_truncated_synthetic_jpeg(ts):
    msg = rgb_to_compressed_image(_smooth_rgb(), 0, "cam", ts.types, fmt="jpeg")
    cut = as_namespace(msg, data=bytes(msg.data)[: len(msg.data) // 2])
    with pytest.raises(BadRecordError) as ei:
        compressed_image_to_rgb(cut, source="/cam/compressed", index=2)
    assert ei.value.field == "data" and "field 'data'" in str(ei.value)


def test_compressed_truncated_real_jpeg():
    files = sorted(CAM_FRONT_DIR.glob("*.jpg")) if CAM_FRONT_DIR.is_dir() else []
    if not files:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"test data missing: no JPEG in {CAM_FRONT_DIR}")
        pytest.skip(f"nuScenes demo images not present in {CAM_FRONT_DIR}")
    raw = files[0].read_bytes()
    good = compressed_image_to_rgb(SimpleNamespace(format="jpeg", data=raw))
    assert good.shape == (900, 1600, 3) and good.dtype == np.uint8 and good.std() > 5
    for cut in (len(raw) // 2, len(raw) - 2000):
        with pytest.raises(BadRecordError) as ei:
            compressed_image_to_rgb(SimpleNamespace(format="jpeg", data=array.array("B", raw[:cut])), index=0)
        assert ei.value.field == "data"


@pytest.mark.parametrize(
    "fmt, data, field",
    [
        ("jpeg", b"\x00" * 64, "data"),
        ("png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "data"),
        ("jpeg", b"", "data"),
        ("h264", b"\x00\x00\x00\x01" + b"\x17" * 60, "format"),
        ("16UC1; compressedDepth png", b"\x00" * 64, "format"),
    ],
)
def test_compressed_bad_inputs(fmt, data, field):
    with pytest.raises(BadRecordError) as ei:
        compressed_image_to_rgb(SimpleNamespace(format=fmt, data=data), source="/cam/compressed", index=1)
    assert ei.value.field == field and f"field '{field}'" in str(ei.value)


# ------------------------------------------------------------------ CameraInfo


def _camera_info(ts, k, d, w=1600, h=900):
    T = ts.types
    return T["sensor_msgs/msg/CameraInfo"](
        header=T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=1, nanosec=0), frame_id="cam"),
        height=h, width=w, distortion_model="plumb_bob",
        d=np.asarray(d, np.float64), k=np.asarray(k, np.float64).reshape(-1),
        r=np.eye(3).reshape(-1), p=np.zeros(12),
        binning_x=0, binning_y=0,
        roi=T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False),
    )


K_NUSC = np.array([[1266.4, 0.0, 816.3], [0.0, 1266.4, 491.5], [0.0, 0.0, 1.0]])


def test_camera_info_roundtrip(ts):
    d = [-0.3, 0.1, 0.001, -0.002, 0.0]
    K, dist, size = camera_info_to_calibration(cdr_roundtrip(ts, _camera_info(ts, K_NUSC, d)))
    assert K.shape == (3, 3) and K.dtype == np.float64
    np.testing.assert_array_equal(K, K_NUSC)
    np.testing.assert_array_equal(dist, d)
    assert size == (1600, 900)


@pytest.mark.parametrize("d", [[], [0.0] * 5])
def test_camera_info_zero_distortion_is_none(ts, d):
    _K, dist, _ = camera_info_to_calibration(_camera_info(ts, K_NUSC, d))
    assert dist is None


@pytest.mark.parametrize(
    "k, text",
    [(np.zeros(9), "all zeros"), (np.diag([-5.0, 5.0, 1.0]), "fx=-5.0"), (np.diag([5.0, 0.0, 1.0]), "fy=0.0")],
)
def test_camera_info_bad_k(ts, k, text):
    with pytest.raises(BadRecordError) as ei:
        camera_info_to_calibration(_camera_info(ts, k, []), source="/cam/camera_info", index=0)
    assert ei.value.field == "k" and "field 'k'" in str(ei.value) and text in str(ei.value)


# ------------------------------------------------------------------ audio


def test_audio_definitions_and_registration(ts):
    assert set(AUDIO_MSG_DEFINITIONS) == {
        "audio_common_msgs/msg/AudioData", "audio_common_msgs/msg/AudioDataStamped", "audio_common_msgs/msg/AudioInfo"}
    for name in AUDIO_MSG_DEFINITIONS:
        assert name in ts.types
    info_fields = list(ts.types["audio_common_msgs/msg/AudioInfo"].__dataclass_fields__)
    assert info_fields[:5] == ["channels", "sample_rate", "sample_format", "bitrate", "coding_format"]
    register_audio_types(ts)  # idempotent


@pytest.mark.parametrize("sample_format, tol", [("S16LE", 1 / 32768), ("F32LE", 1e-7), ("S32LE", 1e-7),
                                                ("S24LE", 1 / 2**23), ("U8", 1 / 128)])
@pytest.mark.parametrize("channels", [1, 2])
def test_audio_roundtrip(ts, rng, sample_format, tol, channels):
    x = rng.uniform(-0.99, 0.99, size=(channels, 480)).astype(np.float32)
    msg = array_to_audio(x, STAMP_NS, "mic", ts.types, sample_format=sample_format)
    fmt = AudioFormat(channels=channels, sample_rate=48_000, sample_format=sample_format)
    assert len(msg.audio.data) == fmt.bytes_per_frame * 480
    back = cdr_roundtrip(ts, msg)
    y = audio_to_array(back, fmt)
    assert y.dtype == np.float32 and y.shape == (channels, 480)
    np.testing.assert_allclose(y, x, atol=tol)
    assert np.abs(y).max() <= 1.0
    assert stamp_to_us(back.header.stamp) == STAMP_US
    np.testing.assert_array_equal(audio_to_array(back.audio, fmt), y)  # bare AudioData


def test_audio_stereo_interleaving(ts):
    raw = np.array([1000, -2000, 3000, -4000, 16384, -32768], "<i2").tobytes()
    msg = SimpleNamespace(audio=SimpleNamespace(data=array.array("B", raw)))
    y = audio_to_array(msg, AudioFormat(2, 16000, "S16LE"))
    np.testing.assert_array_equal(y * 32768, [[1000, 3000, 16384], [-2000, -4000, -32768]])
    y_be = audio_to_array(SimpleNamespace(data=np.array([1000], ">i2").tobytes()), AudioFormat(1, 8000, "S16BE"))
    assert y_be[0, 0] * 32768 == 1000


def test_audio_f32_clips_and_full_scale(ts):
    msg = array_to_audio(np.array([[-1.0, 1.0, 0.5]]), 0, "mic", ts.types, "S16LE")
    assert list(np.frombuffer(bytes(msg.audio.data), "<i2")) == [-32768, 32767, 16384]
    raw = SimpleNamespace(data=np.array([1.5, -2.0, 0.25], "<f4").tobytes())
    np.testing.assert_array_equal(audio_to_array(raw, AudioFormat(1, 8000, "F32LE")), [[1.0, -1.0, 0.25]])


def test_audio_format_from_info(ts):
    fmt = AudioFormat(2, 44_100, "F32LE")
    info = cdr_roundtrip(ts, fmt.to_info_msg(ts.types))
    assert info.bitrate == 32 * 2 * 44_100 and info.coding_format == "wave"
    assert AudioFormat.from_info_msg(info) == fmt
    with pytest.raises(BadRecordError) as ei:
        AudioFormat.from_info_msg(as_namespace(info, coding_format="mp3"), source="/audio_info")
    assert ei.value.field == "coding_format"


@pytest.mark.parametrize(
    "fmt, nbytes, field, text",
    [(AudioFormat(2, 16000, "S16LE"), 10, "data", "not a multiple of the frame size 4"),
     (AudioFormat(1, 16000, "F32LE"), 6, "data", "frame size 4"),
     (AudioFormat(1, 16000, "S12LE"), 8, "sample_format", "unknown sample_format 'S12LE'")],
)
def test_audio_bad_inputs(fmt, nbytes, field, text):
    msg = SimpleNamespace(audio=SimpleNamespace(data=bytes(nbytes)))
    with pytest.raises(BadRecordError) as ei:
        audio_to_array(msg, fmt, source="/audio", index=4)
    assert ei.value.field == field and f"field '{field}'" in str(ei.value) and "[message 4]" in str(ei.value)
    assert text in str(ei.value)

