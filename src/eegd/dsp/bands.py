"""The EEG frequency bands: the one table the spectrum, its packets and clients share."""

from __future__ import annotations

__all__ = ["BANDS", "BAND_NAMES"]

#: EEG frequency bands as (name, low Hz, high Hz), half-open [low, high): the bands an
#: ``FftPacket`` has when it names none, and those the brain-waves plugin computes.
BANDS: tuple[tuple[str, float, float], ...] = (
    ("delta", 1.0, 4.0),
    ("theta", 4.0, 8.0),
    ("alpha", 8.0, 13.0),
    ("beta", 13.0, 30.0),
    ("gamma", 30.0, 45.0),
)

#: The names of ``BANDS``, in order: delta, theta, alpha, beta, gamma.
BAND_NAMES: tuple[str, ...] = tuple(name for name, _, _ in BANDS)
