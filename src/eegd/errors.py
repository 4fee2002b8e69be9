"""The exceptions eegd raises, all under one root.

    EegdError
    ├── ConfigError (ValueError)     a config file, CLI flag or setting is invalid
    ├── SourceError (OSError)        a sample source failed to open or read
    │   └── SourceEnded              a finite source (a file) has delivered its last sample
    ├── ProtocolError (ValueError)   bytes or a message on the wire are malformed
    └── PluginError (RuntimeError)   a plugin could not be loaded or built

Third-party exceptions are translated at the boundary (``raise SourceError(...) from exc``),
so callers only ever catch these.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "EegdError",
    "PluginError",
    "ProtocolError",
    "SourceEnded",
    "SourceError",
]


class EegdError(Exception):
    """Root of every error eegd raises on purpose."""


class ConfigError(EegdError, ValueError):
    """A configuration value is invalid; the message names the key and what is allowed."""


class SourceError(EegdError, OSError):
    """A sample source could not be opened or read."""


class SourceEnded(SourceError):
    """A finite source, such as a file played back, has no more samples: not a failure."""


class ProtocolError(EegdError, ValueError):
    """A frame or message does not follow the eegd wire protocol."""


class PluginError(EegdError, RuntimeError):
    """A plugin could not be found, imported or constructed; the message names it."""
