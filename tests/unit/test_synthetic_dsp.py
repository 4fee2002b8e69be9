"""The DSP plugins on the synthetic source: what a user sees on the kiosk, checked offline."""

from __future__ import annotations

import numpy as np
import scipy.signal

from eegd.dsp.bands import BANDS
from eegd.dsp.filters import FilterSettings, design_sos, steady_state
from eegd.events import EegPacket, FftPacket, FilteredEegPacket
from eegd.plugins.brain_waves import BrainWaves
from eegd.plugins.voltage_filter import VoltageFilter
from eegd.sources.synthetic import SyntheticSettings, SyntheticSource
from tests.support.packets import eeg_packet

RATE = 250


def synthetic_packets(
    seconds: float, batch: int = 32, line_noise_hz: float | None = None
) -> list[EegPacket]:
    settings = SyntheticSettings(sample_rate=RATE, paced=False, line_noise_hz=line_noise_hz)
    source = SyntheticSource(settings)
    source.open()
    packets = []
    for frame_id in range(int(seconds * RATE) // batch):
        block = source.read(batch)
        packets.append(
            eeg_packet(
                block.volts,
                raw=block.raw,
                frame_id=frame_id,
                first_sample=block.first_sample,
                sample_rate=RATE,
                channel_names=source.channel_names,
            )
        )
    source.close()
    return packets


def test_filtering_packet_by_packet_equals_filtering_the_whole_signal() -> None:
    packets = synthetic_packets(20, line_noise_hz=50.0)
    plugin = VoltageFilter()
    streamed = np.concatenate(
        [
            out.samples
            for packet in packets
            for out in plugin.process(packet)
            if isinstance(out, FilteredEegPacket)
        ],
        axis=1,
    ).astype(np.float64)
    volts = np.concatenate([packet.volts for packet in packets], axis=1).astype(np.float64)
    sos = design_sos(FilterSettings(), RATE)
    offline, _ = scipy.signal.sosfilt(sos, volts, axis=1, zi=steady_state(sos, volts[:, 0]))
    relative = np.max(np.abs(streamed - offline)) / np.max(np.abs(offline))
    assert relative < 1e-6


def test_brain_waves_on_the_synthetic_source_show_occipital_alpha_at_10_hz() -> None:
    packets = synthetic_packets(30)
    voltage_filter, brain_waves = VoltageFilter(), BrainWaves()
    spectra = [
        spectrum
        for packet in packets
        for filtered in voltage_filter.process(packet)
        for spectrum in brain_waves.process(filtered)
        if isinstance(spectrum, FftPacket)
    ]
    assert len(spectra) > 100
    names = list(spectra[0].channel_names)
    freqs = spectra[0].freqs
    alpha = (freqs >= 8) & (freqs < 13)
    band = [name for name, _, _ in BANDS]
    for name in ("O1", "O2"):
        row = names.index(name)
        psd = np.mean([spectrum.psd[row] for spectrum in spectra], axis=0)
        peak = freqs[alpha][np.argmax(psd[alpha])]
        assert abs(peak - 10.0) <= 0.5, (name, peak)
        power = np.mean([spectrum.band_power[row] for spectrum in spectra], axis=0)
        assert power[band.index("alpha")] > power[band.index("theta")]
