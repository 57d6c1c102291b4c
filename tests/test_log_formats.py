"""Each reader recognises its own format (``sniff``); ``detect_format`` asks the registered readers in order."""
from __future__ import annotations

import pytest

from multimodal import sensors
from multimodal.sensors.errors import LogFormatError, MissingFileError
from multimodal.sensors.media import AVClipLog
from multimodal.sensors.nuscenes_log import NuScenesLog
from multimodal.sensors.registry import READERS, reader_class
from multimodal.sensors.rosbag_log import RosbagLog


@pytest.fixture
def tree(tmp_path):
    """Paths of every kind, with the smallest content sniffing looks at (nothing is opened)."""
    (tmp_path / "bag").mkdir()
    (tmp_path / "bag" / "metadata.yaml").write_text("rosbag2_bagfile_information: {}\n")
    (tmp_path / "nusc" / "v1.0-mini").mkdir(parents=True)
    (tmp_path / "nusc" / "v1.0-mini" / "sample_data.json").write_text("[]")
    (tmp_path / "empty").mkdir()
    for name in ("run.mcap", "run.db3", "old.bag", "clip.MP4", "clip.webm", "notes.xyz", "README"):
        (tmp_path / name).write_bytes(b"\0")
    return tmp_path


def test_each_reader_sniffs_its_own_format(tree):
    assert RosbagLog.sniff(tree / "bag") and RosbagLog.sniff(tree / "run.mcap") and RosbagLog.sniff(tree / "old.bag")
    assert not RosbagLog.sniff(tree / "nusc") and not RosbagLog.sniff(tree / "clip.webm")
    assert NuScenesLog.sniff(tree / "nusc") and not NuScenesLog.sniff(tree / "bag")
    assert not NuScenesLog.sniff(tree / "run.mcap") and not NuScenesLog.sniff(tree / "empty")
    assert AVClipLog.sniff(tree / "clip.MP4") and AVClipLog.sniff(tree / "clip.webm")
    assert not AVClipLog.sniff(tree / "run.mcap") and not AVClipLog.sniff(tree / "bag")
    with pytest.raises(LogFormatError, match=r"nuScenes \*version\* folder.*version='v1.0-mini'"):
        NuScenesLog.sniff(tree / "nusc" / "v1.0-mini")
    assert all(reader_class(fmt).accepts for fmt in READERS)


def test_detect_format_asks_the_readers_in_order(tree):
    expect = {"bag": "rosbag", "run.mcap": "rosbag", "run.db3": "rosbag", "old.bag": "rosbag", "nusc": "nuscenes",
              "clip.MP4": "av", "clip.webm": "av"}
    assert {name: sensors.detect_format(tree / name) for name in expect} == expect
    (tree / "nusc" / "metadata.yaml").write_text("")  # a bag folder wins, as it always did
    assert sensors.detect_format(tree / "nusc") == "rosbag"


def test_detect_format_errors(tree):
    with pytest.raises(MissingFileError, match="does not exist"):
        sensors.detect_format(tree / "nothing")
    with pytest.raises(LogFormatError, match=r"notes.xyz: unknown log format '.xyz'; supported: bags .*"
                                             r"nuScenes data roots .*media files \(.*\.mp4"):
        sensors.detect_format(tree / "notes.xyz")
    with pytest.raises(LogFormatError, match=r"README: unknown log format '\(no suffix\)'"):
        sensors.detect_format(tree / "README")
    with pytest.raises(LogFormatError, match=r"empty: unknown log format \(a folder no reader recognises\).*metadata"):
        sensors.detect_format(tree / "empty")
    with pytest.raises(LogFormatError, match=r"nuScenes \*version\* folder"):
        sensors.open_log(tree / "nusc" / "v1.0-mini")
    with pytest.raises(LogFormatError, match="unknown log format 'nope'"):
        sensors.open_log(tree / "run.mcap", format="nope")
