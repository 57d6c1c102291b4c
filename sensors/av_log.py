"""Where :class:`AVClipLog` was first imported from; it lives in :mod:`multimodal.sensors.media` now."""
from .media import AUDIO, VIDEO, AVClipLog

__all__ = ["AUDIO", "VIDEO", "AVClipLog"]
