"""The brain-waves plugin: filtered EEG in, a power spectrum with band powers out every hop.

While nobody subscribes to ``fft`` it only keeps its window current (no FFT), so the first
spectrum comes within one hop once someone listens. A gap in the samples restarts the window:
a spectrum never spans discontinuous data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from eegd.dsp.bands import BANDS
from eegd.dsp.spectrum import SlidingSpectrum, SpectrumResult, SpectrumSettings
from eegd.events import Event, FftPacket, FilteredEegPacket, Topic
from eegd.frozen import frozen_array
from eegd.plugin import StatusFigure, TransformPlugin
from eegd.validation import convert

__all__ = ["BrainWaves"]

_MICROVOLTS_SQUARED_PER_VOLT_SQUARED = 1e12


class BrainWaves(TransformPlugin):
    """Turns ``filtered_eeg`` into ``fft`` packets: PSD in µV²/Hz and band powers in µV²."""

    name: ClassVar[str] = "brain_waves"
    consumes: ClassVar[tuple[Topic, ...]] = (Topic.FILTERED_EEG,)
    produces: ClassVar[tuple[Topic, ...]] = (Topic.FFT,)

    def __init__(self, settings: SpectrumSettings | None = None) -> None:
        self.settings = settings if settings is not None else SpectrumSettings()
        self.spectra_computed = 0
        """Spectra computed since start; stays put while nobody listens."""
        self.packets_seen = 0
        """Filtered packets consumed, listened to or not."""
        self._spectrum: SlidingSpectrum | None = None
        self._freqs: npt.NDArray[np.float32] = frozen_array(np.zeros(0), np.float32)
        """The current spectrum's bins, shared by every packet it produces."""
        self._next_sample: int | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> BrainWaves:
        """A plugin configured by its options table (keys of ``SpectrumSettings``)."""
        return cls(convert(options, SpectrumSettings))

    def stats(self) -> Mapping[str, int]:
        """Spectra computed and packets seen, besides the base's counters."""
        return {
            **super().stats(),
            "spectra_computed": self.spectra_computed,
            "packets_seen": self.packets_seen,
        }

    def status(self) -> list[StatusFigure]:
        """``/api/status`` → ``spectra_computed``."""
        return [StatusFigure("spectra_computed", self.spectra_computed)]

    def process(self, event: Event) -> Sequence[Event]:
        """The spectra that fall due with this packet's samples (usually none or one)."""
        if not isinstance(event, FilteredEegPacket):
            return []
        self.packets_seen += 1
        spectrum = self._spectrum_for(event)
        results = spectrum.push(event.samples)
        self.spectra_computed += len(results)
        packet_start = spectrum.samples_seen - event.n_samples
        return [self._fft_packet(event, result, packet_start) for result in results]

    def process_unobserved(self, event: Event) -> None:
        """Keep the window current without computing a spectrum."""
        if isinstance(event, FilteredEegPacket):
            self.packets_seen += 1
            self._spectrum_for(event).fill(event.samples)

    def _spectrum_for(self, packet: FilteredEegPacket) -> SlidingSpectrum:
        """The sliding spectrum for this packet, rebuilt on a new rate, shape or a gap."""
        spectrum = self._spectrum
        if (
            spectrum is None
            or spectrum.input_rate != packet.sample_rate
            or spectrum.n_channels != packet.samples.shape[0]
            or packet.first_sample != self._next_sample
        ):
            spectrum = SlidingSpectrum(packet.sample_rate, packet.samples.shape[0], self.settings)
            self._spectrum = spectrum
            self._freqs = frozen_array(spectrum.freqs, np.float32)
        self._next_sample = packet.first_sample + packet.n_samples
        return spectrum

    def _fft_packet(
        self, packet: FilteredEegPacket, result: SpectrumResult, packet_start: int
    ) -> FftPacket:
        last_index = result.end_sample - 1 - packet_start
        scale = _MICROVOLTS_SQUARED_PER_VOLT_SQUARED
        return FftPacket(
            source_frame_id=packet.frame_id,
            timestamp=int(packet.timestamps[last_index]),
            freqs=self._freqs,
            psd=frozen_array((result.psd * scale).astype(np.float32), np.float32),
            band_power=frozen_array((result.band_power * scale).astype(np.float32), np.float32),
            fft_size=result.fft_size,
            window="hann",
            sample_rate=result.sample_rate,
            channel_names=packet.channel_names,
            monotonic_ns=packet.monotonic_ns,
            bands=BANDS,
        )
