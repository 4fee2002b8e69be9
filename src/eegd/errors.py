"""The exceptions eegd raises, all under one root.

    EegdError
    ├── ConfigError (ValueError)     a config file, CLI flag or setting is invalid
    ├── SourceError (OSError)        a sample source failed to open or read
    │   └── SourceEnded              a finite source (a file) has delivered its last sample
    ├── ProtocolError (ValueError)   bytes or a message on the wire are malformed
    ├── PluginError (RuntimeError)   a plugin could not be loaded or built
    └── RequestRefused               a plugin's route refuses a request (HTTP status, code)

Third-party exceptions are translated at the boundary (``raise SourceError(...) from exc``),
so callers only ever catch these. ``shown`` writes a refused value into a message the way
every eegd error does; ``one_line`` makes text a peer sent safe to put in a log line.
"""

from __future__ import annotations

import re
import sys
from types import EllipsisType

__all__ = [
    "SHOWN_CHARACTERS",
    "ConfigError",
    "EegdError",
    "PluginError",
    "ProtocolError",
    "RequestRefused",
    "SourceEnded",
    "SourceError",
    "one_line",
    "shortened",
    "shown",
]

#: The longest value an error message repeats.
SHOWN_CHARACTERS = 40


def shown(value: object) -> str:
    """A value as an error message shows it: ``55`` rather than ``55.0``, huge ones shortened."""
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        try:
            return f"an integer of {len(str(abs(value)))} digits"
        except ValueError:  # past Python's int-to-str conversion limit
            return f"an integer of more than {sys.get_int_max_str_digits()} digits"
    return shortened(repr(value))


def shortened(text: str) -> str:
    """``text`` cut to ``SHOWN_CHARACTERS``, with "..." where it was cut."""
    if len(text) <= SHOWN_CHARACTERS:
        return text
    return text[: SHOWN_CHARACTERS - 3] + "..."


#: Characters that could end a log line or disguise one: C0 and C1 controls, line and
#: paragraph separators, and lone surrogates (undecodable bytes of a request).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def one_line(text: str) -> str:
    """``text`` with its control characters written as escapes (``\\n``, ``\\x85``), so
    that a path or body a peer sent can never start a forged line of the log."""
    return _UNPRINTABLE.sub(lambda found: found[0].encode("unicode_escape").decode(), text)


class EegdError(Exception):
    """Root of every error eegd raises on purpose."""


#: The dotted key an error message starts with: ``source.channels: ...``, ``plugin.x.y[1]: ...``.
_LEADING_KEY = re.compile(r"([A-Za-z_][\w-]*(?:\.[\w-]+|\[\d+\])*): ")


class ConfigError(EegdError, ValueError):
    """A configuration value is invalid; the message names the key and what is allowed.

    ``str(exc)`` is the one-line message, ``key: problem`` (``source.channels: 33 is out of
    range (allowed: 1..32)``); ``key`` is that dotted key, so a caller can say which flag set
    it. Raisers that pass no ``key`` follow the same convention, and the key their message
    starts with is taken; None (given, or when the message starts with none) is about no key.
    """

    def __init__(self, message: str, *, key: str | None | EllipsisType = ...) -> None:
        super().__init__(message)
        if isinstance(key, EllipsisType):
            leading = _LEADING_KEY.match(message)
            key = leading[1] if leading else None
        self.key: str | None = key
        about = f"{key}: "
        self.problem: str = message.removeprefix(about) if key else message
        """What is wrong, without the key: ``33 is out of range (allowed: 1..32)``."""

    @classmethod
    def at(cls, key: str, problem: str) -> ConfigError:
        """The error ``key: problem`` about the dotted ``key``."""
        return cls(f"{key}: {problem}", key=key)

    def within(self, table: str) -> ConfigError:
        """The same error about the key inside ``table``: ``filter.highpass_hz: ...``."""
        return ConfigError.at(table if self.key is None else f"{table}.{self.key}", self.problem)

    def moved(self, key: str) -> ConfigError:
        """The same problem about ``key``: where the user wrote the value that was refused."""
        return ConfigError.at(key, self.problem)


class SourceError(EegdError, OSError):
    """A sample source could not be opened or read."""


class SourceEnded(SourceError):
    """A finite source, such as a file played back, has no more samples: not a failure."""


class ProtocolError(EegdError, ValueError):
    """A frame or message does not follow the eegd wire protocol."""


class PluginError(EegdError, RuntimeError):
    """A plugin could not be found, imported or constructed; the message names it."""


class RequestRefused(EegdError):
    """A plugin's route refuses a request: ``status`` is the HTTP status, ``code`` the error
    code of the JSON reply, the message says why and what is allowed."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
