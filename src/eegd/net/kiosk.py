"""The ``[kiosk]`` table: what the kiosk page offers that is the site's choice, not the page's.

Today that is the labels of its marker buttons (keys 1 to 9 press them), served to the page
by ``GET /api/kiosk`` so every kiosk of a site marks the same events by the same names.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from eegd.errors import ConfigError
from eegd.validation import Settings

__all__ = ["MAX_MARKER_LABELS", "KioskSettings"]

#: Marker buttons the kiosk shows at most: one per key 1..9.
MAX_MARKER_LABELS = 9

_Label = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


def _default_labels() -> tuple[str, ...]:
    return ("event", "eyes closed", "eyes open", "artifact")


class KioskSettings(Settings, frozen=True):
    """``[kiosk]``: the kiosk page's marker buttons."""

    marker_labels: tuple[_Label, ...] = msgspec.field(default_factory=_default_labels)
    """One button per label, in order; key N presses the N-th (a recording annotates each)."""

    def __post_init__(self) -> None:
        count = len(self.marker_labels)
        if not 1 <= count <= MAX_MARKER_LABELS:
            raise ConfigError(
                f"marker_labels: {count} labels is not allowed (allowed: 1..{MAX_MARKER_LABELS})"
            )

    def state(self) -> dict[str, Any]:
        """``GET /api/kiosk``'s reply."""
        return {"marker_labels": list(self.marker_labels)}
