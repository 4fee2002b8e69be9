"""Markers from ``POST /api/markers``: the body checked, the moment's sample found.

A marker names a moment (``timestamp_us``, µs since the epoch, else now); the session's clock
model maps it to exactly one sample, and the marker carries that sample's stamp, the one its
EEG sample has, so every consumer (a file, LSL) puts it on that sample. A moment before the
session (or the recording) started, or more than a second ahead of now, is refused with the
window it may lie in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from eegd.acquisition.clock_model import ClockModel, ClockWindow
from eegd.errors import ConfigError
from eegd.events import MarkerEvent
from eegd.timestamps import wall_clock_us

__all__ = ["MAX_LABEL", "MAX_MARKER_DURATION_S", "marker_from_body"]

_KEYS: Final = ("label", "duration_s", "timestamp_us")
#: The longest marker label, in UTF-8 bytes: it must fit one record's annotations.
MAX_LABEL: Final = 64
#: The longest a marker may last: a day, so its annotation stays a few bytes long.
MAX_MARKER_DURATION_S: Final = 86_400.0


def marker_from_body(
    body: Mapping[str, Any],
    clock: ClockModel | None,
    session: str | None,
    recording: tuple[str, int] | None = None,
) -> MarkerEvent:
    """The marker a request asks for; ``ConfigError`` naming the key if the body is bad.

    ``clock`` is the session's clock model, which maps the moment to its sample; without
    one (no session yet) a marker has no sample and may not name a moment. ``recording``
    is the recording in progress (name, stamp of its first sample), before which a moment
    is refused.
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
    if stamp is not None and (isinstance(stamp, bool) or not isinstance(stamp, int) or stamp < 0):
        raise ConfigError("timestamp_us: expected an integer of µs since the epoch")
    sample = None
    if clock is None:
        if stamp is not None:
            raise ConfigError("timestamp_us: no source session is running, so no sample to mark")
        stamp = wall_clock_us()
    else:
        if stamp is not None:
            _check_window(stamp, clock.window(), recording)
        sample = clock.sample_at_us(clock.now_us() if stamp is None else stamp)
        stamp = clock.stamp_us(sample)
    return MarkerEvent(
        label=label,
        timestamp=stamp,
        duration_s=None if duration is None else float(duration),
        sample=sample,
        session=session,
    )


def _check_window(stamp: int, window: ClockWindow, recording: tuple[str, int] | None) -> None:
    """Refuse a moment outside the session's window (or after it, the recording's)."""
    what = "the session"
    if recording is not None and recording[1] > window.start_us:
        what = f"recording {recording[0]}"
        window = ClockWindow(recording[1], window.end_us)
    if stamp not in window:
        raise ConfigError(
            f"timestamp_us: {stamp} lies outside {what}: allowed from {window.start_us} "
            f"to {window.end_us} (µs since the epoch, up to a second ahead of now)"
        )
