"""Small bags written with rosbags for tests (each test builds exactly the messages it needs)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from multimodal.sensors.bag_writer import default_typestore, write_messages

TYPESTORE = default_typestore()
TYPES = TYPESTORE.types


def write_bag(path: Path, messages: Iterable[tuple[str, str, object, int]], storage: str = "mcap") -> Path:
    """messages: (topic, msgtype, message, log time ns), written in the given order."""
    return write_messages(path, messages, storage=storage, typestore=TYPESTORE)
