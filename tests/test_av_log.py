"""Tests of :class:`multimodal.sensors.av_log.AVClipLog` on real media clips.

Data: ``$MULTIMODAL_SHARED_DATA`` or ``<repo>/../shared/data`` with ``moviepy_media/`` (MoviePy's test
clips) and ``opencv_samples_debian/vtest.avi``. Missing data skips these tests, except under
``CI=true`` where it fails.

Truths are computed independently of the reader, straight with PyAV (decode-all frame counts, the
stream's declared frame count / duration, natively decoded audio sample counts and timestamps).
"""
from __future__ import annotations

import functools
import itertools
import math
import pickle
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from multimodal.sensors.av_log import AVClipLog
from multimodal.sensors.errors import BadRecordError, LogFormatError, MissingFileError

from .conftest import require_data

FIRE = "moviepy_media/fire2.mp4"  # 2.38 s 1280x720 H.264 + AAC 48 kHz mono
PLANE = "moviepy_media/video_with_failing_audio.mp4"  # 11.2 s 640x360 25 fps H.264 + MP3 44.1 kHz stereo
BBB30 = "moviepy_media/big_buck_bunny_0_30.webm"  # 30 s 1280x720 24 fps VP8 + Vorbis 44.1 kHz stereo
BBB1 = "moviepy_media/big_buck_bunny_432_433.webm"  # 1 s, same codecs
VTEST = "opencv_samples_debian/vtest.avi"  # 79.5 s 768x576 10 fps MS-MPEG4, no audio


def clip(rel: str) -> str:
    """Path of a test clip; skips (fails under CI=true) when the shared data folder is missing."""
    return str(require_data(*rel.split("/")))


# -- independent truths (PyAV only, no sensors code) --------------------------------------------------
@functools.cache
def video_truth(rel: str) -> dict:
    """Decode every video frame (like ``ffprobe -count_frames``) and read the declared numbers."""
    with av.open(clip(rel)) as c:
        vs = c.streams.video[0]
        tb = Fraction(vs.time_base)
        declared = int(vs.frames or 0)
        duration_s = float(vs.duration * tb) if vs.duration else c.duration / 1e6
        rate = float(vs.average_rate)
        w, h = vs.codec_context.width, vs.codec_context.height
        t = time.perf_counter()
        pts = [f.pts for f in c.decode(vs)]
        decode_s = time.perf_counter() - t
    return {"count": len(pts), "pts": pts, "tb": tb, "declared": declared, "duration_s": duration_s,
            "rate": rate, "width": w, "height": h, "decode_s": decode_s}


@functools.cache
def audio_truth(rel: str) -> dict:
    """Decode the audio natively: sample count, rate, channels, first/last pts, packets."""
    with av.open(clip(rel)) as c:
        a = c.streams.audio[0]
        tb = Fraction(a.time_base)
        frames = [(f.pts, f.samples, f.sample_rate) for f in c.decode(a)]
    with av.open(clip(rel)) as c:
        packets = sum(1 for p in c.demux(c.streams.audio[0]) if p.size)
    rate = frames[0][2]
    first_s = float(frames[0][0] * tb)
    end_s = float(frames[-1][0] * tb) + frames[-1][1] / rate
    return {"samples": sum(f[1] for f in frames), "rate": rate, "first_s": first_s, "end_s": end_s,
            "packets": packets}


def decode_rgb(rel: str, index: int) -> np.ndarray:
    """Frame ``index`` in presentation order, decoded from the start of the file."""
    with av.open(clip(rel)) as c:
        for i, f in enumerate(c.decode(c.streams.video[0])):
            if i == index:
                return f.to_ndarray(format="rgb24")
    raise AssertionError(f"{rel} has no frame {index}")


# -- index: counts, times, cost of opening ------------------------------------------------------------
@pytest.mark.parametrize("rel", [FIRE, PLANE, BBB30, BBB1, VTEST])
def test_frame_count_is_exact(rel: str) -> None:
    truth = video_truth(rel)
    log = AVClipLog(clip(rel), audio_rate=None)
    assert len(log) == truth["count"]
    if truth["declared"]:  # mp4 / avi declare their frame count
        assert len(log) == truth["declared"]
    else:  # webm does not: duration x rate
        assert abs(len(log) - truth["duration_s"] * truth["rate"]) <= 1.0
    info = log.video_info
    assert info["frames"] == truth["count"]
    assert (info["width"], info["height"]) == (truth["width"], truth["height"])
    assert info["frame_rate"] == pytest.approx(truth["rate"], rel=0.01)
    assert log.sensors["video"].kind == "camera" and log.sensors["video"].count == len(log)


def test_known_numbers() -> None:
    """The clips as described in SOURCE.md (ffprobe)."""
    assert len(AVClipLog(clip(PLANE))) == 280  # 11.2 s at 25 fps
    assert len(AVClipLog(clip(BBB30))) == 720  # 30 s at 24 fps
    assert len(AVClipLog(clip(BBB1))) == 24
    assert len(AVClipLog(clip(VTEST))) == 795
    assert len(AVClipLog(clip(FIRE))) == 25


def test_open_demuxes_without_decoding() -> None:
    truth = video_truth(BBB30)
    t = time.perf_counter()
    log = AVClipLog(clip(BBB30))
    open_s = time.perf_counter() - t
    assert log._video is None and log._audio is None  # no decoder opened yet
    assert open_s < max(0.3 * truth["decode_s"], 0.05), (open_s, truth["decode_s"])


@pytest.mark.parametrize("rel", [PLANE, VTEST, BBB1])
def test_timestamps_follow_pts(rel: str) -> None:
    truth = video_truth(rel)
    start = 1_700_000_000_000_000
    log = AVClipLog(clip(rel), start_us=start)
    ts = np.asarray(log.frame_timestamps_us())
    expected = start + np.round((np.asarray(sorted(truth["pts"])) - min(truth["pts"])) * float(truth["tb"]) * 1e6)
    np.testing.assert_array_equal(ts, expected.astype(np.int64))
    assert ts[0] == start and np.all(np.diff(ts) > 0)
    if rel == PLANE:
        assert set(np.diff(ts).tolist()) == {40_000}  # 25 fps exactly


def test_fps_subsampling_picks_nearest_frames() -> None:
    native = np.asarray(AVClipLog(clip(PLANE)).frame_timestamps_us())
    log = AVClipLog(clip(PLANE), fps=5)
    ts = np.asarray(log.frame_timestamps_us())
    assert len(log) == math.floor((native[-1] - native[0]) * 1e-6 * 5) + 1 == 56
    assert set(np.diff(ts).tolist()) == {200_000}
    # 24 fps -> 10 Hz: not a divisor, each frame is the native frame nearest to k / 10 s
    native = np.asarray(AVClipLog(clip(BBB30)).frame_timestamps_us())
    log = AVClipLog(clip(BBB30), fps=10)
    ts = np.asarray(log.frame_timestamps_us())
    targets = native[0] + np.arange(len(log)) * 100_000
    nearest = native[np.abs(native[None, :] - targets[:, None]).argmin(axis=1)]
    np.testing.assert_array_equal(ts, nearest)
    assert len(log) == 300
    # faster than the video: every frame once, and a note says so
    log = AVClipLog(clip(BBB1), fps=100)
    assert len(log) == video_truth(BBB1)["count"]
    assert any("exceeds" in n for n in log.notes)


# -- pixels ---------------------------------------------------------------------------------------------
def test_frame_content_and_calibration() -> None:
    truth = video_truth(PLANE)
    log = AVClipLog(clip(PLANE), hfov_deg=90.0)
    f = log[37]
    cam = f.cameras["video"]
    assert cam.image.shape == (truth["height"], truth["width"], 3) and cam.image.dtype == np.uint8
    np.testing.assert_array_equal(cam.image, decode_rgb(PLANE, 37))
    assert f.index == 37 and cam.timestamp_us == f.timestamp_us == log.frame_timestamps_us()[37]
    w, h = truth["width"], truth["height"]
    np.testing.assert_allclose(cam.K, [[w / 2, 0, w / 2], [0, w / 2, h / 2], [0, 0, 1]])  # tan(45 deg) = 1
    np.testing.assert_array_equal(cam.T_ego_from_sensor, np.eye(4))
    assert AVClipLog(clip(PLANE)).intrinsics(640, 360)[0, 0] == pytest.approx(320 / math.tan(math.radians(30)))


@pytest.mark.parametrize("rel,fps", [(PLANE, 5.0), (BBB1, None), (VTEST, 1.0)])
def test_random_access_equals_sequential(rel: str, fps: float | None) -> None:
    log = AVClipLog(clip(rel), fps=fps, audio_rate=None if rel != PLANE else 16000)
    seq = [f.cameras["video"].image for f in log]
    assert len(seq) == len(log)
    rng = np.random.default_rng(0)
    order = [len(log) - 1, 0, len(log) // 2, len(log) // 2 - 1, *rng.permutation(len(log))[:8].tolist()]
    for i in order:
        np.testing.assert_array_equal(log[i].cameras["video"].image, seq[i], err_msg=f"{rel} frame {i}")
    np.testing.assert_array_equal(log[-1].cameras["video"].image, seq[-1])
    # independent decode of the last selected frame
    last_native = int(log._ix.sel[-1])
    np.testing.assert_array_equal(seq[-1], decode_rgb(rel, last_native))


def test_sequential_iteration_keeps_the_decoder_position(monkeypatch: pytest.MonkeyPatch) -> None:
    from multimodal.sensors.media.audio import AudioCursor
    from multimodal.sensors.media.video import VideoCursor

    seeks: list[int] = []
    restarts: list[object] = []
    orig_seek, orig_restart = VideoCursor.seek, AudioCursor.restart
    monkeypatch.setattr(VideoCursor, "seek", lambda self, pts: (seeks.append(pts), orig_seek(self, pts)))
    monkeypatch.setattr(AudioCursor, "restart",
                        lambda self, at: (restarts.append(at), orig_restart(self, at)))
    with av.open(clip(PLANE)) as c:
        keyframes = sum(1 for p in c.demux(video=0) if p.size and p.is_keyframe)
    assert keyframes == 3
    log = AVClipLog(clip(PLANE), fps=5)
    n = sum(1 for _ in log)
    assert n == len(log) == 56
    # Video: at most one seek per key frame (a jump to the next key frame instead of decoding up to it),
    # never one per frame. Audio: positioned once, then read forward.
    assert 1 <= len(seeks) <= keyframes and len(restarts) == 1
    before = len(seeks)
    log[3]  # going back seeks again
    assert len(seeks) == before + 1
    log[4]  # the next frame continues
    assert len(seeks) == before + 1
    log[len(log) - 1]  # a jump past key frames seeks instead of decoding everything in between
    assert len(seeks) == before + 2


# -- audio ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rel", [FIRE, PLANE, BBB1])
def test_audio_track_duration_and_rate(rel: str) -> None:
    truth = audio_truth(rel)
    log = AVClipLog(clip(rel))  # 16 kHz mono by default
    track = log.audio_track()
    assert track.sample_rate == 16000 and track.samples.dtype == np.float32 and track.samples.shape[0] == 1
    assert np.abs(track.samples).max() <= 1.0 and np.abs(track.samples).max() > 0.001
    native_span = truth["end_s"] - truth["first_s"]
    assert track.duration_s == pytest.approx(native_span, abs=0.05)
    assert track.samples.shape[1] == pytest.approx(native_span * 16000, abs=0.05 * 16000)
    # same clock as the video, and about as long
    video_s = log.video_info["duration_s"]
    assert track.timestamp_us * 1e-6 == pytest.approx(truth["first_s"] - log._ix.origin_s, abs=0.005)
    assert track.duration_s == pytest.approx(video_s, abs=0.05)
    assert log.audio_info["sample_rate"] == truth["rate"]
    assert log.sensors["audio"].count == log.audio_info["packets"] == truth["packets"]


def test_audio_keeps_samples_without_timestamp_gaps() -> None:
    """No resampling and no gap: every native sample comes back, stereo kept."""
    truth = audio_truth(PLANE)
    track = AVClipLog(clip(PLANE), audio_rate=None, audio_channels=None).audio_track()
    assert track.sample_rate == 44100 and track.samples.shape == (2, truth["samples"])
    assert not np.allclose(track.samples[0], track.samples[1])  # real stereo, not a copied channel
    assert track.duration_s == pytest.approx(audio_truth(PLANE)["samples"] / 44100, abs=1e-9)


def test_audio_gap_in_timestamps_is_kept_as_silence() -> None:
    """fire2.mp4: the first AAC packet lasts 8471 ticks (1024 samples decoded): 155 ms of no audio."""
    with av.open(clip(FIRE)) as c:
        second = [f.pts for _, f in zip(range(2), c.decode(audio=0))][1] / 48000  # independent
    log = AVClipLog(clip(FIRE))
    track = log.audio_track()
    lo, hi = int(1024 / 48000 * 16000) + 8, int(second * 16000) - 8
    assert hi - lo > 0.1 * 16000
    assert np.all(track.samples[:, lo:hi] == 0)
    assert np.abs(track.samples[:, hi + 40: hi + 2000]).max() > 0
    assert log.issues.counts["audio_gap"] == 1


@pytest.mark.parametrize("rel,channels", [(PLANE, None), (BBB1, 2), (BBB1, 1)])
def test_frame_audio_channels_and_rate(rel: str, channels: int | None) -> None:
    log = AVClipLog(clip(rel), audio_rate=22050, audio_channels=channels)
    chunk = log[5].audio["audio"]
    assert chunk.sample_rate == 22050
    assert chunk.samples.shape[0] == (2 if channels in (None, 2) else 1)
    assert log.audio_info["output_channels"] == chunk.samples.shape[0]
    frame_s = (log.frame_timestamps_us()[6] - log.frame_timestamps_us()[5]) * 1e-6
    assert chunk.samples.shape[1] == pytest.approx(frame_s * 22050, abs=1)


@pytest.mark.parametrize("rel,fps", [(PLANE, 5.0), (BBB1, None), (FIRE, None)])
def test_frame_audio_tiles_the_track(rel: str, fps: float | None) -> None:
    log = AVClipLog(clip(rel), fps=fps)
    track = log.audio_track()
    chunks = [f.audio["audio"] for f in log if "audio" in f.audio]
    assert len(chunks) == len(log)  # the audio covers every frame of these clips
    for c, f_next in itertools.pairwise(chunks):  # contiguous: one chunk ends where the next starts
        assert c.timestamp_us + c.duration_s * 1e6 == pytest.approx(f_next.timestamp_us, abs=1e6 / 16000)
    cat = np.concatenate([c.samples for c in chunks], axis=1)
    assert cat.shape[1] / 16000 == pytest.approx(track.duration_s, abs=0.05)
    off = round((chunks[0].timestamp_us - track.timestamp_us) * 16000 / 1e6)
    n = min(cat.shape[1], track.samples.shape[1] - off)
    assert n > 0.9 * cat.shape[1]
    np.testing.assert_allclose(cat[:, :n], track.samples[:, off:off + n], atol=1e-6)


def test_random_access_audio_is_aligned_with_the_track() -> None:
    """Seeking into webm/Vorbis (1 ms timestamps that jitter) places audio like a full decode."""
    log = AVClipLog(clip(BBB30), fps=2)
    full = log.audio_track()
    track, t0 = full.samples[0], full.timestamp_us
    seq = {i: log[i].audio["audio"] for i in (40, 41)}
    for i in (41, 7, 52, 23, 40):
        c = log[i].audio["audio"]
        assert c.timestamp_us == log.frame_timestamps_us()[i]
        y = c.samples[0]
        start = round((c.timestamp_us - t0) * 16000 / 1e6)
        assert np.abs(y).max() > 0.01
        errs = {lag: np.abs(track[start + lag: start + lag + y.size] - y).mean() for lag in range(-80, 81)}
        best = min(errs, key=errs.get)
        assert abs(best) <= 2, (i, best)  # within 2 samples (0.125 ms) of the sequential placement
        if i in seq:
            assert c.samples.shape == seq[i].samples.shape


def test_no_audio_stream() -> None:
    log = AVClipLog(clip(VTEST), fps=2)
    f = log[3]
    assert "video" in f.cameras and f.audio == {}
    assert list(log.sensors) == ["video"] and log.audio_info is None
    assert any("no audio" in n for n in log.notes)
    assert log.sync.reference == "video" and log.sync.streams == {}
    with pytest.raises(LogFormatError, match="vtest.avi"):
        log.audio_track()


def test_no_video_stream(tmp_path: Path) -> None:
    out_path = tmp_path / "audio_only.mka"
    with av.open(clip(BBB1)) as src, av.open(str(out_path), "w") as out:
        ost = out.add_stream_from_template(src.streams.audio[0])
        for p in src.demux(src.streams.audio[0]):
            if p.dts is not None:
                p.stream = ost
                out.mux(p)
    log = AVClipLog(out_path)
    assert len(log) == 0 and list(log.sensors) == ["audio"]
    assert any("no video" in n for n in log.notes)
    with pytest.raises(IndexError, match="no video"):
        log[0]
    assert log.audio_track().duration_s == pytest.approx(audio_truth(BBB1)["end_s"] - audio_truth(BBB1)["first_s"],
                                                         abs=0.05)


def test_sensors_sync_and_summary() -> None:
    log = AVClipLog(clip(PLANE), fps=5)
    s = log.sensors
    assert s["video"].count == 56 and s["video"].rate_hz == pytest.approx(5.0)
    assert s["audio"].kind == "audio" and s["audio"].count == audio_truth(PLANE)["packets"]
    sync = log.sync.streams["audio"]
    assert log.sync.reference == "video" and log.sync.tolerance_us == 200_000
    assert sync.matched == 56 and sync.missing == 0 and sync.max_gap_us == 0
    summary = log.summary()
    assert summary["format"] == "av" and summary["frames"] == 56
    assert summary["duration_s"] == pytest.approx(11.2, abs=0.05)


# -- errors and resources --------------------------------------------------------------------------
def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.mp4"
    with pytest.raises(MissingFileError, match="nope.mp4") as info:
        AVClipLog(path)
    assert isinstance(info.value, FileNotFoundError)


def test_unreadable_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(LogFormatError, match="junk.mp4.*PyAV cannot open.*Invalid data"):
        AVClipLog(junk)
    head = tmp_path / "head.mp4"  # header (moov) only, no media data
    head.write_bytes(Path(clip(FIRE)).read_bytes()[:2000])
    with pytest.raises(LogFormatError, match="head.mp4.*no readable"):
        AVClipLog(head)


def test_truncated_file_gives_bad_record(tmp_path: Path) -> None:
    with av.open(clip(FIRE)) as c:
        packets = [(p.pos, p.size) for p in c.demux(video=0) if p.size]
    pos, size = packets[6]
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(Path(clip(FIRE)).read_bytes()[: pos + size // 2])  # frame 6 is cut in half

    log = AVClipLog(cut)
    assert len(log) == 7
    assert any("declares 25" in n for n in log.notes)
    frames = list(log)
    assert all("video" in f.cameras for f in frames[:6])
    np.testing.assert_array_equal(frames[5].cameras["video"].image, decode_rgb(FIRE, 5))
    assert "video" not in frames[6].cameras and frames[6].timestamp_us > frames[5].timestamp_us
    assert log.issues.counts["bad_message"] == 1

    strict = AVClipLog(cut, strict=True)
    strict[5]
    with pytest.raises(BadRecordError, match="cut.mp4") as info:
        strict[6]
    assert info.value.index == 6 and info.value.field == "video"


def test_close_reopen_pickle_and_context_manager() -> None:
    with AVClipLog(clip(BBB1)) as log:
        a = log[10].cameras["video"].image
        assert log._video is not None
    assert log._video is None and log._audio is None
    np.testing.assert_array_equal(log[10].cameras["video"].image, a)  # reopens lazily
    clone = pickle.loads(pickle.dumps(log))
    np.testing.assert_array_equal(clone[10].cameras["video"].image, a)
    log.close()
    clone.close()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="fps"):
        AVClipLog(clip(BBB1), fps=0)
    with pytest.raises(ValueError, match="audio_channels"):
        AVClipLog(clip(BBB1), audio_channels=0)
    with pytest.raises(ValueError, match="hfov"):
        AVClipLog(clip(BBB1), hfov_deg=180)


def test_open_log_detects_media_and_passes_uri_options() -> None:
    from multimodal import sensors
    log = sensors.open_log(clip(PLANE))
    assert isinstance(log, AVClipLog) and len(log) == 280
    log = sensors.open_log(f"av://{clip(PLANE)}?fps=5&audio_channels=2")
    assert isinstance(log, AVClipLog) and len(log) == 56
    assert log[1].audio["audio"].samples.shape[0] == 2
