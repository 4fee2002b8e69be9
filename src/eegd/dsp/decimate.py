"""Decimation for the spectrum: a linear-phase FIR low-pass evaluated only where it is kept.

Keeping every q-th sample of a low-passed signal needs the filter's output at those samples
only. An IIR filter must run at the full rate to keep its state; an FIR filter's output at
sample n is the dot product of its taps with the last ``len(taps)`` inputs, so a polyphase
decimator computes 1 output in q and the filtering cost falls by q. State between blocks is
the last ``len(taps) - 1`` inputs and the position of the next kept sample. Pure numpy.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import signal

__all__ = ["STOPBAND_ATTENUATION_DB", "PolyphaseDecimator", "anti_alias_taps"]

#: How far the anti-alias filter pushes down what would fold into the kept band.
STOPBAND_ATTENUATION_DB = 80.0


def anti_alias_taps(
    sample_rate: float, decimation: int, passband_hz: float
) -> npt.NDArray[np.float64]:
    """A Kaiser-window FIR low-pass for keeping every ``decimation``-th sample.

    Flat up to ``passband_hz``; at least ``STOPBAND_ATTENUATION_DB`` down from the first
    frequency that folds onto the passband (the decimated rate minus ``passband_hz``), so
    nothing below ``passband_hz`` is aliased. Frequencies between the two only fold above
    ``passband_hz``.
    """
    output_rate = sample_rate / decimation
    stopband_hz = output_rate - passband_hz
    if decimation < 2 or not 0 < passband_hz < stopband_hz:
        raise ValueError(
            f"cannot decimate {sample_rate:g} Hz by {decimation} keeping {passband_hz:g} Hz"
        )
    nyquist = sample_rate / 2.0
    numtaps, beta = signal.kaiserord(STOPBAND_ATTENUATION_DB, (stopband_hz - passband_hz) / nyquist)
    numtaps |= 1  # odd: a whole-sample delay
    cutoff = (passband_hz + stopband_hz) / 2.0
    taps: npt.NDArray[np.float64] = signal.firwin(
        numtaps, cutoff, window=("kaiser", beta), fs=sample_rate
    )
    return taps


class PolyphaseDecimator:
    """Low-passes channels × samples blocks and keeps every ``decimation``-th sample.

    Kept are the input samples 0, q, 2q, ... counted from the first block. Before the first
    sample the signal is taken as that sample held constant, so a DC offset starts without a
    transient (as ``StreamingFilter`` starts in steady state).
    """

    def __init__(self, taps: npt.ArrayLike, decimation: int, n_channels: int) -> None:
        coefficients = np.asarray(taps, dtype=np.float64)
        if coefficients.ndim != 1 or coefficients.size < 1:
            raise ValueError("taps must be a non-empty 1-D array")
        if decimation < 1 or n_channels < 1:
            raise ValueError(
                f"decimation and n_channels must be at least 1, got {decimation}, {n_channels}"
            )
        self.decimation = decimation
        self.n_channels = n_channels
        self.delay = (coefficients.size - 1) / 2.0
        """The group delay in input samples (a linear-phase filter: half its length)."""
        # The reversed taps, zero-padded in front to R rows of q: the output kept at sample n
        # is the sum over the R rows of q inputs that end at n, each weighted by its row.
        rows = math.ceil(coefficients.size / decimation)
        padded = np.zeros(rows * decimation)
        padded[padded.size - coefficients.size :] = coefficients[::-1]
        self._weights = np.ascontiguousarray(padded.reshape(rows, decimation).T)
        """q × R: column r weighs the r-th row of a kept output's inputs."""
        self._history: npt.NDArray[np.float64] | None = None
        """The last R·q − 1 inputs before the next block."""
        self._next_kept = 0
        """Index, in the next block, of the next sample to keep."""

    def process(self, block: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The kept outputs of this block (channels × kept), continuing from the last one."""
        x = np.asarray(block)
        if x.ndim != 2 or x.shape[0] != self.n_channels:
            raise ValueError(f"block must have shape ({self.n_channels}, samples), got {x.shape}")
        q = self.decimation
        rows = self._weights.shape[1]
        size = x.shape[1]
        if size == 0:
            return np.zeros((self.n_channels, 0))
        if self._history is None:
            self._history = np.repeat(x[:, :1].astype(np.float64), rows * q - 1, axis=1)
        extended = np.concatenate((self._history, x), axis=1, dtype=np.float64)
        first = self._next_kept
        count = max(0, math.ceil((size - first) / q))
        self._next_kept = first + count * q - size
        self._history = extended[:, extended.shape[1] - (rows * q - 1) :]
        if count == 0:
            return np.zeros((self.n_channels, 0))
        # Kept output k (block sample first + k·q) takes the inputs extended[first + k·q :
        # first + k·q + R·q], i.e. the rows k .. k + R − 1 of q samples from ``first`` on.
        span = extended[:, first : first + (count + rows - 1) * q]
        weighted = span.reshape(self.n_channels, count + rows - 1, q) @ self._weights
        kept = weighted[:, 0:count, 0].copy()
        for row in range(1, rows):
            kept += weighted[:, row : row + count, row]
        return kept
