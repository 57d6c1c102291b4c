"""Record topics to an MCAP bag (through ``rosbags``) without a ROS installation: the tests' and the
benchmark's subscriber in a separate process, and a way to keep the features a node published.

Each message is stored as received (serialized CDR); its log time is the wall-clock time of arrival in
nanoseconds, so ``log time - header stamp`` is the end-to-end latency when the publisher stamped with the
wall clock. The bag is written to a temporary folder and renamed when recording ends (SIGINT/SIGTERM,
``--count`` reached or ``--duration`` over), so an interrupted recording never leaves a half bag.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Optional, Sequence


def record(out: str, topics: dict[str, str], *, count: int = 0, duration: float = 0.0,
           reliability: str = "reliable", depth: int = 100, node_name: str = "recorder") -> dict[str, int]:
    """Record ``topics`` (name -> ``pkg/msg/Type``) into a new bag ``out``; returns messages per topic.

    Stops after ``count`` messages on every topic (0 = no limit), after ``duration`` seconds (0 = no limit)
    or at SIGINT/SIGTERM.
    """
    import rclpy
    from rosbags.rosbag2 import StoragePlugin, Writer

    from .feature_node import message_class, qos
    from .wire import typestore

    dest = Path(out)
    if dest.exists():
        raise FileExistsError(f"{dest}: exists; give a new folder for the bag")
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    received: list[tuple[str, int, bytes]] = []
    counts = dict.fromkeys(topics, 0)
    stop = {"now": False}

    def on_signal(*_):
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    rclpy.init(signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    node = rclpy.create_node(node_name)
    subs = []
    for topic, msgtype in topics.items():
        def cb(raw: bytes, topic: str = topic) -> None:
            received.append((topic, time.time_ns(), raw))
            counts[topic] += 1
        subs.append(node.create_subscription(message_class(msgtype), topic, cb, qos(reliability, depth), raw=True))
    print("recording", flush=True)
    t_end = time.monotonic() + duration if duration > 0 else float("inf")
    try:
        while not stop["now"] and time.monotonic() < t_end and not (count and min(counts.values()) >= count):
            rclpy.spin_once(node, timeout_sec=0.05)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    ts = typestore()
    with Writer(tmp, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = {t: writer.add_connection(t, mt, typestore=ts) for t, mt in topics.items()}
        for topic, t_ns, raw in received:
            writer.write(conns[topic], t_ns, raw)
    try:
        tmp.rename(dest)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return counts


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="record", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="new bag folder to write (MCAP)")
    p.add_argument("topics", nargs="+", metavar="TOPIC=TYPE", help="e.g. /lidar/features=sensor_msgs/msg/PointCloud2")
    p.add_argument("--count", type=int, default=0, help="stop after this many messages on every topic")
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds")
    p.add_argument("--reliability", choices=("reliable", "best_effort"), default="reliable")
    args = p.parse_args(argv)
    topics = {}
    for spec in args.topics:
        if "=" not in spec:
            p.error(f"{spec!r}: expected TOPIC=pkg/msg/Type")
        t, mt = spec.split("=", 1)
        topics[t] = mt
    counts = record(args.out, topics, count=args.count, duration=args.duration, reliability=args.reliability)
    print("recorded", counts, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
