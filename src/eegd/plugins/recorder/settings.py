"""The recorder's settings, the ``[recording]`` table, and the rules for recording names."""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal

import msgspec

from eegd.errors import RequestRefused
from eegd.validation import Settings

__all__ = ["MAX_NAME", "RecordingSettings", "check_name"]

#: The longest recording name.
MAX_NAME: Final = 100
_NAME: Final = re.compile(r"[A-Za-z0-9_.-]+")
_NAME_RULE: Final = (
    f"letters, digits, '-', '_' and '.', at most {MAX_NAME} characters, not starting with '.'"
)


class RecordingSettings(Settings, frozen=True):
    """``[recording]``: where recordings go, in which format, and how long a part may be."""

    directory: str = "./recordings"
    """Created when the recorder starts."""
    format: Literal["bdf", "edf", "csv"] = "bdf"
    """BDF+ (24 bits, the ADC's own resolution), EDF+ (16 bits) or CSV (µV)."""
    max_duration_s: Annotated[float, msgspec.Meta(gt=0, le=7 * 86_400)] = 3600.0
    """A recording longer than this goes on in a numbered next part."""
    queue_s: Annotated[float, msgspec.Meta(gt=0, le=600)] = 10.0
    """Seconds of data the recorder's subscription holds while the disk is slow."""


def check_name(name: object) -> str:
    """``name`` if it is a valid recording name; ``RequestRefused`` (400) naming the rule."""
    if (
        not isinstance(name, str)
        or not 0 < len(name) <= MAX_NAME
        or name.startswith(".")
        or _NAME.fullmatch(name) is None
    ):
        shown = repr(name)[:40] if isinstance(name, str) else type(name).__name__
        raise RequestRefused(
            400, "bad_name", f"name: {shown} is not a valid recording name (allowed: {_NAME_RULE})"
        )
    return name
