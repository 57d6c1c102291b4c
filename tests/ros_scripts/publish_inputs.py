"""Test publisher (runs inside a LocalNetwork): publishes a scripted list of good and malformed inputs.

    python publish_inputs.py lidar|camera|audio --topic T [--gap S] [--count N] [--bad] [--probe-topic OUT]

Scenarios:
    lidar: good, wrong point_step, good, truncated data, good, all-NaN cloud, good, empty cloud, good,
           huge width with short data, good, partly NaN (good, 10 points dropped).
    camera: good, unsupported encoding, good, truncated data, good.
    audio: ``--count`` Float32MultiArray chunks (2, 4410) of a 440 Hz tone at 44.1 kHz; with ``--bad`` first a
           NaN chunk and a chunk whose layout does not fit its data.
Prints one JSON line with the number of good and bad messages sent.
"""
import argparse
import json
import time

import numpy as np
import rclpy

from multimodal.ros_nodes.feature_node import message_class, qos
from multimodal.ros_nodes.wire import encode, typestore
from multimodal.sensors.ros_messages import array_to_pointcloud2, rgb_to_image


def lidar_messages(T):
    rng = np.random.default_rng(0)
    pts = np.concatenate([rng.uniform(-20, 20, (3000, 3)), rng.uniform(0, 1, (3000, 1))], axis=1).astype(np.float32)

    def cloud(p, ns):
        return array_to_pointcloud2(p, ("x", "y", "z", "intensity"), ns, "lidar", T)

    out = []
    for k, kind in enumerate(["good", "point_step", "good", "truncated", "good", "all_nan", "good", "empty", "good",
                              "huge_width", "good", "part_nan"]):
        ns = (1_000 + k) * 1_000_000_000
        if kind in ("good", "point_step", "truncated", "huge_width"):
            m = cloud(pts, ns)
            if kind == "point_step":
                m.point_step = 8  # fields at offsets 8 and 12 no longer fit
            elif kind == "truncated":
                m.data = m.data[: len(m.data) // 2]
            elif kind == "huge_width":
                m.width, m.row_step = 10**8, 16 * 10**8
        elif kind == "all_nan":
            m = cloud(np.full((100, 4), np.nan, np.float32), ns)
        elif kind == "empty":
            m = cloud(np.zeros((0, 4), np.float32), ns)
        else:  # part_nan: good, with 10 points dropped
            p = pts.copy()
            p[:10, 0] = np.nan
            m = cloud(p, ns)
        out.append((kind in ("good", "part_nan"), "sensor_msgs/msg/PointCloud2", m))
    return out


def camera_messages(T):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    out = []
    for k, kind in enumerate(["good", "encoding", "good", "truncated", "good"]):
        m = rgb_to_image(img, (2_000 + k) * 1_000_000_000, "camera", T)
        if kind == "encoding":
            m.encoding = "yuv422_yuy2"
        elif kind == "truncated":
            m.data = m.data[:1000]
        out.append((kind == "good", "sensor_msgs/msg/Image", m))
    return out


def audio_messages(T, count, bad):
    t = np.arange(4410) / 44100.0
    out = []
    layout = T["std_msgs/msg/MultiArrayLayout"]
    dim = T["std_msgs/msg/MultiArrayDimension"]

    def chunk(x, dims):
        return T["std_msgs/msg/Float32MultiArray"](
            layout=layout(dim=[dim(label=lab, size=s, stride=s) for lab, s in dims], data_offset=0),
            data=np.ascontiguousarray(x, np.float32).reshape(-1))

    if bad:
        x = np.zeros((2, 4410), np.float32)
        x[0, 5] = np.nan
        out.append((False, "std_msgs/msg/Float32MultiArray", chunk(x, [("channels", 2), ("samples", 4410)])))
        out.append((False, "std_msgs/msg/Float32MultiArray", chunk(np.zeros(100), [("channels", 2), ("samples", 4410)])))
    for k in range(count):
        x = np.stack([0.5 * np.sin(2 * np.pi * 440 * (t + 0.1 * k)), 0.2 * np.sin(2 * np.pi * 880 * (t + 0.1 * k))])
        out.append((True, "std_msgs/msg/Float32MultiArray", chunk(x, [("channels", 2), ("samples", 4410)])))
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=("lidar", "camera", "audio"))
    p.add_argument("--topic", required=True)
    p.add_argument("--gap", type=float, default=0.5, help="seconds between messages")
    p.add_argument("--count", type=int, default=3)
    p.add_argument("--bad", action="store_true")
    p.add_argument("--probe-topic", help="first send a good message until an output shows up here (discovery done)")
    args = p.parse_args()
    T = typestore().types
    msgs = {"lidar": lambda: lidar_messages(T), "camera": lambda: camera_messages(T),
            "audio": lambda: audio_messages(T, args.count, args.bad)}[args.kind]()
    rclpy.init()
    node = rclpy.create_node("test_publisher")
    pub = node.create_publisher(message_class(msgs[0][1]), args.topic, qos("reliable", 50))
    deadline = time.monotonic() + 60
    while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
    time.sleep(2.0)  # let the node's outputs and the recorder discover each other too
    probes = 0
    if args.probe_topic:
        # Discovery can finish on one side seconds before the other (Fast DDS re-announces every 3 s): send one
        # good message at a time until its output arrives, so the scripted sequence meets a connected node.
        outputs = []
        out_type = "sensor_msgs/msg/PointCloud2" if args.kind == "lidar" else "sensor_msgs/msg/Image"
        node.create_subscription(message_class(out_type), args.probe_topic, outputs.append, qos("reliable", 10),
                                 raw=True)
        good_msgtype, good = next((mt, m) for g, mt, m in msgs if g)
        deadline = time.monotonic() + 90
        while not outputs and time.monotonic() < deadline:
            pub.publish(encode(good, good_msgtype))
            probes += 1
            end = time.monotonic() + 2.0
            while not outputs and time.monotonic() < end:
                rclpy.spin_once(node, timeout_sec=0.05)
        time.sleep(1.0)  # outputs of a second probe in flight
        rclpy.spin_once(node, timeout_sec=0.05)
    for _, msgtype, m in msgs:
        pub.publish(encode(m, msgtype))
        time.sleep(args.gap)
    time.sleep(1.0)
    stamps = sorted({m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for g, _, m in msgs if g and hasattr(m, "header")})
    print(json.dumps({"good": sum(g for g, _, _ in msgs) + probes, "bad": sum(not g for g, _, _ in msgs),
                      "probes": probes, "good_stamps": stamps}), flush=True)
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
