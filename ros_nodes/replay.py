"""Publish any log ``sensors`` reads (nuScenes root, ROS 1/2 bag, media clip, synthetic world) on ROS 2 topics.

Topics and message layouts are those of :mod:`multimodal.sensors.frame_messages` (the bag writer's): LiDAR ``/NAME``,
cameras ``/NAME/image_raw`` (or ``/NAME/image_raw/compressed``) with ``/NAME/camera_info``, audio
``/NAME/audio`` (needs the ``audio_common_msgs`` package; skipped with a warning without it), ``/tf``,
``/tf_static`` (latched) and ``/clock``. Messages keep their recorded stamps and are sent at the recorded
pace divided by ``rate`` (``rate=0``: as fast as possible); ``restamp`` stamps them with the wall clock at
sending instead (for latency measurements).
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any, Optional

from multimodal.sensors import open_log
from multimodal.sensors.frame_messages import FrameMessages, TopicMessage
from multimodal.sensors.ros_messages import make_header

from .wire import encode, typestore

log = logging.getLogger(__name__)


def replay_messages(log_path: str, *, frames: Optional[Sequence[int]] = None, loops: int = 1,
                    compressed_images: bool = False, log_options: Optional[dict[str, Any]] = None,
                    topics: Optional[Sequence[str]] = None) -> Iterator[TopicMessage]:
    """The messages of a log in recorded order, frame by frame (only one frame is read at a time), ``loops``
    times; later loops repeat the first one's messages (kept in memory) with stamps shifted by its span.

    ``frames`` picks frame indices (default all); ``topics`` keeps only those topics.
    """
    lg = open_log(log_path, **(log_options or {}))
    conv = FrameMessages(typestore().types, compressed_images=compressed_images)
    idx = list(range(len(lg))) if frames is None else list(frames)
    if not idx:
        raise ValueError(f"{log_path}: no frames to replay")
    first_loop: list[TopicMessage] = []
    stamps: list[int] = []
    for n, i in enumerate(idx):
        msgs = sorted(conv.messages(lg[i]), key=lambda m: m.stamp_ns)
        if n == 0:
            static = conv.tf_static(msgs[0].stamp_ns if msgs else 0)
            if static is not None and (topics is None or static.topic in topics):
                yield static
        for m in msgs:
            if topics is not None and m.topic not in topics:
                continue
            stamps.append(m.stamp_ns)
            if loops > 1:
                first_loop.append(m)
            yield m
    if loops > 1 and stamps:
        # The next loop starts one mean frame interval after the last message (100 ms for a single frame).
        span = max(stamps) - min(stamps)
        span += 100_000_000 if len(idx) == 1 else span // max(len(idx) - 1, 1)
        for loop in range(1, loops):
            for m in first_loop:
                yield _shifted(m, loop * span)


def _shifted(m: TopicMessage, dt_ns: int) -> TopicMessage:
    """``m`` stamped ``dt_ns`` later: a shallow copy with its own header (the first loop's message is shared)."""
    msg = m.msg
    hdr = getattr(msg, "header", None)
    if hdr is not None:
        msg = dataclasses.replace(msg, header=make_header(m.stamp_ns + dt_ns, str(hdr.frame_id), typestore().types))
    return TopicMessage(m.stamp_ns + dt_ns, m.topic, m.msgtype, msg)


def _set_stamp(header: Any, ns: int) -> None:
    header.stamp.sec, header.stamp.nanosec = ns // 1_000_000_000, ns % 1_000_000_000


def run_replay(log_path: str, *, rate: float = 1.0, loops: int = 1, restamp: bool = False, clock: bool = True,
               compressed_images: bool = False, topics: Optional[Sequence[str]] = None,
               wait_for_subscribers: float = 0.0, reliability: str = "reliable", depth: int = 10,
               frames: Optional[Sequence[int]] = None, node_name: str = "replay", progress: bool = True,
               settle_s: float = 3.5) -> int:
    """Publish the log (see the module docstring); returns the number of messages sent.

    Args:
        rate: playback speed (1 = recorded pace, 2 = twice as fast, 0 = no waiting).
        restamp: stamp headers with the wall clock when sent (latency measurements).
        clock: publish ``/clock`` (rosgraph_msgs/Clock) with each message's stamp.
        topics: publish only these topics (default all).
        wait_for_subscribers: wait up to this many seconds until every topic has a subscriber, then ``settle_s``
            more seconds so the subscribers have matched the publishers too.
    """
    import rclpy
    from rclpy.qos import DurabilityPolicy, QoSProfile
    from tqdm import tqdm

    from .feature_node import message_class, qos

    rclpy.init()
    node = rclpy.create_node(node_name)
    pubs: dict[str, Any] = {}
    skipped: set[str] = set()
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    clock_pub = None
    if clock:
        clock_pub = node.create_publisher(message_class("rosgraph_msgs/msg/Clock"), "/clock", 10)
    T = typestore().types

    def publisher(m: TopicMessage) -> Any:
        if m.topic not in pubs and m.topic not in skipped:
            try:
                cls = message_class(m.msgtype)
            except ImportError as e:
                log.warning("%s: not published: %s", m.topic, e)
                skipped.add(m.topic)
                return None
            q = latched if m.topic == "/tf_static" or m.topic.endswith("_info") else qos(reliability, depth)
            pubs[m.topic] = node.create_publisher(cls, m.topic, q)
        return pubs.get(m.topic)

    stream = replay_messages(log_path, frames=frames, loops=loops, compressed_images=compressed_images, topics=topics)
    # Publishers for the topics of the first frame(s) exist before waiting for subscribers; later topics get
    # theirs when they first appear.
    head = list(itertools.islice(stream, 64))
    for m in head:
        publisher(m)
    if wait_for_subscribers > 0:
        deadline = time.monotonic() + wait_for_subscribers
        data_pubs = [p for t, p in pubs.items() if t not in ("/tf", "/tf_static") and not t.endswith("_info")]
        while time.monotonic() < deadline and any(p.get_subscription_count() == 0 for p in data_pubs):
            rclpy.spin_once(node, timeout_sec=0.05)
        # The publisher sees the match before the subscriber has matched back; best-effort data sent in
        # between is dropped by the subscriber, so give discovery time to finish on both sides (Fast DDS
        # re-announces participants every 3 s once its initial announcements are over).
        settle = time.monotonic() + settle_s
        while time.monotonic() < settle:
            rclpy.spin_once(node, timeout_sec=0.05)
    sent = 0
    t_start, stamp0 = time.monotonic(), (head[0].stamp_ns if head else 0)
    try:
        for m in tqdm(itertools.chain(head, stream), desc=f"replay {log_path}", unit="msg", disable=not progress):
            pub = publisher(m)
            if pub is None:
                continue
            if rate > 0:
                wait = t_start + (m.stamp_ns - stamp0) / 1e9 / rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            if restamp and hasattr(m.msg, "header"):
                _set_stamp(m.msg.header, time.time_ns())
            if clock_pub is not None:
                ns = time.time_ns() if restamp else m.stamp_ns
                clock_pub.publish(encode(T["rosgraph_msgs/msg/Clock"](
                    clock=T["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9)), "rosgraph_msgs/msg/Clock"))
            pub.publish(encode(m.msg, m.msgtype))
            sent += 1
        # Give reliable subscribers a moment to take the last messages before the publisher goes.
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.05)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return sent


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("log", help="nuScenes data root, bag (.mcap/.db3/.bag/folder), media clip or synthetic world")
    p.add_argument("--rate", type=float, default=1.0, help="playback speed: 1 = recorded pace, 0 = as fast as possible")
    p.add_argument("--loop", type=int, default=1, metavar="N", help="play the log N times (stamps keep increasing)")
    p.add_argument("--restamp", action="store_true", help="stamp headers with the wall clock when sent")
    p.add_argument("--no-clock", action="store_true", help="do not publish /clock")
    p.add_argument("--compressed", action="store_true", help="cameras as CompressedImage (JPEG) instead of Image")
    p.add_argument("--topic", action="append", dest="topics", metavar="TOPIC", help="publish only this topic (repeat)")
    p.add_argument("--wait-for-subscribers", type=float, default=0.0, metavar="S",
                   help="wait up to S seconds for a subscriber on every data topic before starting")
    p.add_argument("--reliability", choices=("reliable", "best_effort"), default="reliable", help="QoS of data topics")
    return p


def run_from_args(args: argparse.Namespace) -> int:
    sent = run_replay(args.log, rate=args.rate, loops=args.loop, restamp=args.restamp, clock=not args.no_clock,
                      compressed_images=args.compressed, topics=args.topics,
                      wait_for_subscribers=args.wait_for_subscribers, reliability=args.reliability)
    print(f"published {sent} messages from {args.log}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = add_arguments(argparse.ArgumentParser(prog="replay", description=__doc__,
                                              formatter_class=argparse.RawDescriptionHelpFormatter))
    return run_from_args(p.parse_args(argv))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    sys.exit(main())


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``multimodal replay`` sub-command (registered through the ``multimodal.commands`` entry point)."""
    doc = __doc__ or ""
    return add_arguments(sub.add_parser("replay", help="publish a log on ROS 2 topics at its recorded rate (needs the ros extra)", description=doc,
                                        formatter_class=argparse.RawDescriptionHelpFormatter))


run = run_from_args  # the command's entry (the CLI calls ``module.run(args)``)
