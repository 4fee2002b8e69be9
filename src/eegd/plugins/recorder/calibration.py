"""Each channel's physical range for a recording's header, from its stream's first packet.

A source with ADC counts publishes ``volts = counts × lsb``: ``calibrate`` finds each
channel's ``lsb`` from the packet and declares the ADC's whole range (−8388608..8388607
counts) as the physical range, so BDF's 24 bits hold the counts to within half a step. A
source that declares its physical range (a file, a board reporting volts) gets that range.
The range is widened outward to what the header's 8-character fields can say.
"""

from __future__ import annotations

import numpy as np

from eegd.errors import RequestRefused
from eegd.events import EegPacket
from eegd.plugins.recorder.edf import BDF_DIGITAL, outward_range

__all__ = ["calibrate"]

#: The ADS1299's volts per count at its default gain, for a packet that holds only zeros.
_DEFAULT_LSB = 2 * 4.5 / 24 / 2**24


def calibrate(
    packet: EegPacket, physical_range: tuple[tuple[float, float], ...] | None
) -> tuple[tuple[str, str], ...]:
    """Each channel's physical (min, max) header fields in µV for ``packet``'s stream."""
    n_channels = packet.volts.shape[0]
    if physical_range is not None and len(physical_range) == n_channels:
        spans = [(low * 1e6, high * 1e6) for low, high in physical_range]
    else:
        raw = packet.raw.astype(np.float64)
        volts = packet.volts.astype(np.float64)
        power = np.sum(raw * raw, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            lsb = np.sum(raw * volts, axis=1) / power
        known = lsb[np.isfinite(lsb) & (lsb > 0)]
        fallback = float(np.median(known)) if known.size else _DEFAULT_LSB
        lsb = np.where(np.isfinite(lsb) & (lsb > 0), lsb, fallback)
        low_d, high_d = BDF_DIGITAL
        spans = [(low_d * value * 1e6, high_d * value * 1e6) for value in lsb.tolist()]
    try:
        return tuple(outward_range(low, high) for low, high in spans)
    except ValueError as exc:
        message = f"the physical range cannot be written: {exc}"
        raise RequestRefused(409, "bad_stream", message) from exc
