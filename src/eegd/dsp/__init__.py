"""Pure signal processing for EEG (numpy/scipy only): streaming filters and sliding spectra."""

from eegd.dsp.filters import FilterSettings, StreamingFilter, design_sos, steady_state
from eegd.dsp.spectrum import (
    BANDS,
    SlidingSpectrum,
    SpectrumResult,
    SpectrumSettings,
    band_power,
    decimation_factor,
    hann_psd,
)

__all__ = [
    "BANDS",
    "FilterSettings",
    "SlidingSpectrum",
    "SpectrumResult",
    "SpectrumSettings",
    "StreamingFilter",
    "band_power",
    "decimation_factor",
    "design_sos",
    "hann_psd",
    "steady_state",
]
