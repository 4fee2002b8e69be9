"""Electrode labels of the international 10-20/10-10 system, and the scalp region of each.

The default montage names the channels of a source that does not name its own; the region
decides where the synthetic source puts its alpha rhythm and its eye blinks.
"""

from __future__ import annotations

import re

__all__ = [
    "DEFAULT_CHANNELS",
    "MAX_CHANNELS",
    "region_of",
    "standard_channel_names",
]

#: The default 8-channel montage: two electrodes per region, front to back.
DEFAULT_CHANNELS: tuple[str, ...] = ("Fp1", "Fp2", "C3", "C4", "P3", "P4", "O1", "O2")

_STANDARD_ORDER: tuple[str, ...] = (
    *DEFAULT_CHANNELS,
    *("F3", "F4", "F7", "F8", "Fz", "Cz", "Pz", "Oz", "T7", "T8", "P7", "P8"),
    *("FC1", "FC2", "FC5", "FC6", "CP1", "CP2", "CP5", "CP6", "AF3", "AF4", "PO3", "PO4"),
)

#: The most channels ``standard_channel_names`` can name (and an ADS1299 daisy chain reads).
MAX_CHANNELS = len(_STANDARD_ORDER)

_REGION_OF_PREFIX: dict[str, str] = {
    "FP": "frontal-polar",
    "AF": "frontal-polar",
    "F": "frontal",
    "FC": "frontal",
    "C": "central",
    "CP": "central",
    "T": "temporal",
    "FT": "temporal",
    "TP": "temporal",
    "P": "parietal",
    "PO": "parietal",
    "O": "occipital",
}

_LABEL = re.compile(r"(?P<prefix>[A-Za-z]+?)(?:\d+|[zZ])")


def standard_channel_names(n: int) -> tuple[str, ...]:
    """The first ``n`` labels of a fixed 32-electrode order that starts with the default 8."""
    if not 1 <= n <= MAX_CHANNELS:
        raise ValueError(f"n: {n} is out of range (allowed: 1..{MAX_CHANNELS})")
    return _STANDARD_ORDER[:n]


def region_of(label: str) -> str:
    """The scalp region of a 10-20/10-10 label by its prefix (``"O1"`` → ``"occipital"``).

    Case does not matter (``"FP1"`` is ``"Fp1"``); a label outside the system is ``"other"``.
    """
    match = _LABEL.fullmatch(label.strip())
    if match is None:
        return "other"
    return _REGION_OF_PREFIX.get(match["prefix"].upper(), "other")
