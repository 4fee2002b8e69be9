"""eegd: an event-driven EEG acquisition and streaming daemon."""

from eegd.errors import ConfigError, EegdError, PluginError, ProtocolError, SourceError
from eegd.events import (
    EegPacket,
    Event,
    FftPacket,
    FilteredEegPacket,
    SystemEvent,
    SystemEventKind,
    Topic,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "EegPacket",
    "EegdError",
    "Event",
    "FftPacket",
    "FilteredEegPacket",
    "PluginError",
    "ProtocolError",
    "SourceError",
    "SystemEvent",
    "SystemEventKind",
    "Topic",
    "__version__",
]
