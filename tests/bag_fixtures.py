"""Small bags written with rosbags for tests (each test builds exactly the messages it needs)."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from sensors.ros_messages import register_audio_types

TYPESTORE = get_typestore(Stores.ROS2_HUMBLE)
register_audio_types(TYPESTORE)
TYPES = TYPESTORE.types


def write_bag(path: Path, messages: Iterable[tuple[str, str, object, int]], storage: str = "mcap") -> Path:
    """messages: (topic, msgtype, message, log time ns), written in the given order."""
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    conns: dict[str, object] = {}
    with Writer(path, version=9, storage_plugin=plugin) as w:
        for topic, msgtype, msg, t_ns in messages:
            if topic not in conns:
                conns[topic] = w.add_connection(topic, msgtype, typestore=TYPESTORE)
            w.write(conns[topic], t_ns, TYPESTORE.serialize_cdr(msg, msgtype))
    return path
