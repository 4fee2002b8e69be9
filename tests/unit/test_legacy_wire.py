"""elata-eeg's ``/ws/data`` messages, read back by a decoder written from the old kiosk's rules
(``tests.support.elata_wire``), not by eegd's encoder."""

from __future__ import annotations

import json
import struct

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from eegd.events import SystemEvent, SystemEventKind
from eegd.net.protocol.legacy import encode_legacy
from tests.support.elata_wire import EegMessage, LogMessage, SpectrumMessage, decode
from tests.support.packets import eeg_packet, fft_packet, filtered_packet


def test_a_filtered_packet_byte_by_byte() -> None:
    volts = np.array([[1.5e-6, -2.0e-6, 0.25], [3.0e-6, 0.0, -1.0]], dtype=np.float32)
    packet = filtered_packet(volts, first_sample=10, sample_rate=250.0, anchor_us=1_000_000)
    encoded = encode_legacy(packet)
    # Sample 10 at 1 000 000 + 10 × 4000 µs, then one period apart; two channels share each.
    times = [1_040_000, 1_040_000, 1_044_000, 1_044_000, 1_048_000, 1_048_000]
    values = [1.5e-6, 3.0e-6, -2.0e-6, 0.0, 0.25, -1.0]  # sample-major
    expected = (
        bytes([1, 0])
        + (6).to_bytes(4, "little")
        + b"".join(t.to_bytes(8, "little") for t in times)
        + b"".join(struct.pack("<f", v) for v in values)
    )
    assert encoded == expected


@given(
    hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 8), st.integers(0, 40)),
        elements=st.floats(-1.0, 1.0, width=32),
    ),
    st.integers(0, 2**40),
    st.sampled_from([250.0, 500.0, 1000.0, 16000.0]),
)
def test_every_packet_reads_back_per_channel_with_its_sample_times(
    volts: np.ndarray, first_sample: int, rate: float
) -> None:
    packet = filtered_packet(volts, first_sample=first_sample, sample_rate=rate, anchor_us=17)
    channels, samples = volts.shape
    message = decode(encode_legacy(packet) or b"", channels)
    assert isinstance(message, EegMessage)
    assert message.samples == samples
    for channel in range(channels):
        assert message.values[channel] == volts[channel].tolist()
        assert message.timestamps[channel] == packet.timestamps.tolist()


def test_a_spectrum_is_the_old_json_with_bins_where_the_kiosk_draws_them() -> None:
    freqs = np.arange(0, 100.5, 0.5, dtype=np.float32)  # 201 bins, 0 to 100 Hz
    rng = np.random.default_rng(3)
    psd = rng.uniform(1e-3, 50.0, size=(3, freqs.size)).astype(np.float32)
    psd[2, :] = 0.0  # a flat channel
    packet = fft_packet(
        psd,
        np.zeros((3, 5), np.float32),
        freqs,
        source_frame_id=41,
        timestamp=1_700_000_000_123_456,
        fft_size=500,
        sample_rate=250.0,
    )
    encoded = encode_legacy(packet) or b""
    assert encoded[:2] == bytes([1, 1])
    json.loads(encoded[2:].decode("utf-8"))  # strict JSON: no NaN or Infinity
    message = decode(encoded, 3)
    assert isinstance(message, SpectrumMessage)
    sent = message.packet
    assert sent["timestamp"] == 1_700_000_000_123_456
    assert sent["source_frame_id"] == 41
    assert [entry["channel"] for entry in sent["psd_packets"]] == [0, 1, 2]
    np.testing.assert_allclose(message.frequencies(), freqs, rtol=0, atol=1e-9)
    # The bin width is the FFT's own: 250 Hz / 500 points.
    config = sent["fft_config"]
    assert config["sample_rate"] / config["fft_size"] == 0.5
    assert config["window_function"] == "Hann"
    # log10 of µV²/Hz, as the old plugin sent and the kiosk's axis says.
    for channel in (0, 1):
        got = np.power(10.0, sent["psd_packets"][channel]["psd"])
        np.testing.assert_allclose(got, psd[channel], rtol=1e-5)
    assert all(np.isfinite(sent["psd_packets"][2]["psd"]))
    assert max(sent["psd_packets"][2]["psd"]) <= -11


def test_warnings_and_errors_are_log_lines_and_nothing_else_goes_out() -> None:
    failed = SystemEvent.now(SystemEventKind.TASK_FAILED, task="voltage_filter", error="boom")
    message = decode(encode_legacy(failed) or b"", 8)
    assert isinstance(message, LogMessage)
    assert message.text.startswith("error task_failed: ")
    assert json.loads(message.text.split(": ", 1)[1]) == {
        "task": "voltage_filter",
        "error": "boom",
    }
    lost = SystemEvent.now(SystemEventKind.SOURCE_LOST, error="unplugged")
    assert isinstance(decode(encode_legacy(lost) or b"", 8), LogMessage)
    assert encode_legacy(SystemEvent.now(SystemEventKind.RECORDING_STARTED, name="x")) is None
    assert encode_legacy(eeg_packet(np.zeros((2, 4), np.float32))) is None
