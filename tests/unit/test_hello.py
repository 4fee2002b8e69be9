"""The hello comes from events alone: source_connected for the session, fft for the spectrum."""

from __future__ import annotations

import numpy as np

from eegd.events import FftPacket, SourceSession, SystemEvent, SystemEventKind
from eegd.frozen import frozen_array
from eegd.net.protocol import Band
from eegd.net.stream.hello import HelloTracker


def session_of(
    session: str, channels: tuple[str, ...] = ("C3", "C4"), first_sample: int | None = None
) -> SourceSession:
    return SourceSession(
        id=session,
        sample_rate=250,
        channels=channels,
        time_anchor_us=1_700_000_000_000_000,
        utc_offset_us=0,
        batch_size=10,
        resumed=first_sample is not None,
        first_sample=first_sample,
    )


def connected(session: str, channels: tuple[str, ...] = ("C3", "C4")) -> SystemEvent:
    return session_of(session, channels).event()


def fft(
    bins: int = 3, bands: tuple[tuple[str, float, float], ...] = (("alpha", 8, 13),)
) -> FftPacket:
    return FftPacket(
        source_frame_id=1,
        timestamp=0,
        freqs=frozen_array(np.arange(bins), np.float32),
        psd=frozen_array(np.zeros((2, bins)), np.float32),
        band_power=frozen_array(np.zeros((2, len(bands))), np.float32),
        fft_size=2 * (bins - 1),
        window="hann",
        sample_rate=4.0,
        channel_names=("C3", "C4"),
        monotonic_ns=0,
        bands=bands,
    )


def test_no_hello_before_a_source_connected() -> None:
    tracker = HelloTracker()
    assert tracker.note(fft()) is None
    assert tracker.current is None
    assert tracker.note(SystemEvent.now(SystemEventKind.SHUTDOWN)) is None


def test_the_session_comes_from_source_connected_with_the_spectrum_known_so_far() -> None:
    tracker = HelloTracker()
    tracker.note(fft())
    hello = tracker.note(connected("a"))
    assert hello is not None
    assert (hello.session, hello.sample_rate, hello.channels) == ("a", 250.0, ("C3", "C4"))
    assert hello.time_anchor_us == 1_700_000_000_000_000
    assert hello.spectrum is not None
    assert hello.spectrum.bands == (Band("alpha", 8.0, 13.0),)
    assert tracker.current is hello


def test_a_new_hello_only_when_the_session_or_spectrum_changes() -> None:
    tracker = HelloTracker()
    first = tracker.note(connected("a"))
    assert first is not None
    assert first.spectrum is None
    assert tracker.note(connected("a")) is None
    with_spectrum = tracker.note(fft())
    assert with_spectrum is not None
    assert with_spectrum.spectrum is not None
    assert tracker.note(fft()) is None
    assert tracker.note(fft(bands=(("beta", 13.0, 30.0),))) is not None
    assert tracker.note(fft(bins=5, bands=(("beta", 13.0, 30.0),))) is not None
    new_session = tracker.note(connected("b", ("Fz",)))
    assert new_session is not None
    assert (new_session.session, new_session.channels) == ("b", ("Fz",))


def test_a_source_connected_without_a_session_is_ignored() -> None:
    tracker = HelloTracker()
    assert tracker.note(SystemEvent.now(SystemEventKind.SOURCE_CONNECTED, source="x")) is None
    assert tracker.current is None


def test_the_same_session_resumed_after_an_outage_sends_no_new_hello() -> None:
    tracker = HelloTracker()
    assert tracker.note(connected("a")) is not None
    assert tracker.note(session_of("a", first_sample=2500).event()) is None
    assert tracker.current is not None
    assert tracker.current.session == "a"
