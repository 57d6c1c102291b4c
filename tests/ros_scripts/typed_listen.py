"""Test subscriber with rclpy's own generated message classes (not raw bytes): proves the nodes' CDR bytes are
ordinary sensor_msgs for any ROS 2 consumer. Prints one JSON line per PointCloud2 received, then exits.

    python typed_listen.py --topic /lidar/features --count N [--timeout S]
"""
import argparse
import hashlib
import json
import time

import rclpy
from rclpy.qos import QoSProfile
from sensor_msgs.msg import PointCloud2


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--topic", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--timeout", type=float, default=120)
    args = p.parse_args()
    rclpy.init()
    node = rclpy.create_node("typed_listener")
    got = []

    def cb(msg: PointCloud2) -> None:
        got.append({"stamp_ns": msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec, "frame": msg.header.frame_id,
                    "width": msg.width, "fields": [f.name for f in msg.fields], "point_step": msg.point_step,
                    "sha1": hashlib.sha1(bytes(msg.data)).hexdigest()})

    node.create_subscription(PointCloud2, args.topic, cb, QoSProfile(depth=50))
    print("listening", flush=True)
    end = time.monotonic() + args.timeout
    while len(got) < args.count and time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
    for g in got:
        print(json.dumps(g), flush=True)
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
