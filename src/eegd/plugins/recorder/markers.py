"""Markers from ``POST /api/markers``: the body checked, the moment's sample found."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from eegd.errors import ConfigError
from eegd.events import MarkerEvent, wall_clock_us

__all__ = ["MAX_LABEL", "MAX_MARKER_DURATION_S", "marker_from_body"]

_KEYS: Final = ("label", "duration_s", "timestamp_us")
#: The longest marker label, in UTF-8 bytes: it must fit one record's annotations.
MAX_LABEL: Final = 64
#: The longest a marker may last: a day, so its annotation stays a few bytes long.
MAX_MARKER_DURATION_S: Final = 86_400.0


def marker_from_body(
    body: Mapping[str, Any], anchor: tuple[int, float] | None, session: str | None
) -> MarkerEvent:
    """The marker a request asks for; ``ConfigError`` naming the key if the body is bad.

    ``anchor`` is the session's (wall-clock µs of sample 0, sample rate), from which the
    sample at the marked moment follows; without one the marker has no sample.
    """
    unknown = sorted(str(key) for key in body if key not in _KEYS)
    if unknown:
        raise ConfigError(f"{unknown[0][:40]}: unknown key (allowed: {', '.join(_KEYS)})")
    label = body.get("label")
    if not isinstance(label, str) or not label.strip() or len(label.encode()) > MAX_LABEL:
        raise ConfigError(f"label: expected a non-empty string of at most {MAX_LABEL} bytes")
    duration = body.get("duration_s")
    if duration is not None and (
        isinstance(duration, bool)
        or not isinstance(duration, int | float)
        or not 0 <= duration <= MAX_MARKER_DURATION_S
    ):
        raise ConfigError(
            f"duration_s: expected a number of seconds from 0 to {MAX_MARKER_DURATION_S:g}"
        )
    stamp = body.get("timestamp_us")
    if stamp is None:
        stamp = wall_clock_us()
    elif isinstance(stamp, bool) or not isinstance(stamp, int) or stamp < 0:
        raise ConfigError("timestamp_us: expected an integer of µs since the epoch")
    sample = None
    if anchor is not None:
        start_us, rate = anchor
        sample = round((stamp - start_us) * rate / 1e6)
    return MarkerEvent(
        label=label,
        timestamp=stamp,
        duration_s=None if duration is None else float(duration),
        sample=sample,
        session=session,
    )
