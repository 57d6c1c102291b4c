"""Media files (mp4, webm, mkv, avi, mov ...) through PyAV, one module per job.

- :mod:`.probe`: indexing by demuxing only (packet times, frame times, stream facts);
- :mod:`.video`: decoding the video frame at a ``pts``, forward from the decoder position when it can;
- :mod:`.audio`: decoding + resampling the audio track into a buffer of output samples;
- :mod:`.log`: :class:`AVClipLog`, the :class:`~multimodal.sensors.base.SensorLog` over them.

(Named ``media``, not ``av``, so that ``import av`` inside it can only mean PyAV.)
"""
from .common import AUDIO, VIDEO
from .log import MEDIA_SUFFIXES, AVClipLog
from .probe import MediaIndex, probe_media

__all__ = ["AUDIO", "MEDIA_SUFFIXES", "VIDEO", "AVClipLog", "MediaIndex", "probe_media"]
