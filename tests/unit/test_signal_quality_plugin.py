"""The signal-quality plugin called directly: which range a channel is judged against, the
electrodes a ``lead_off`` event names, and a gap that starts the window again."""

from __future__ import annotations

import numpy as np
import pytest

from eegd.errors import ConfigError
from eegd.events import EegPacket, OutputEvent, SourceSession, SystemEvent, SystemEventKind
from eegd.plugins.signal_quality import QUALITY, SignalQuality
from eegd.timestamps import sample_timestamps

RATE = 250.0
NAMES = ("C3", "C4")
BATCH = 25


def _connected(declared: list[list[float]] | None = None, session: str = "s1") -> SystemEvent:
    return SourceSession(
        id=session,
        sample_rate=RATE,
        channels=NAMES,
        time_anchor_us=1_000_000,
        utc_offset_us=0,
        batch_size=BATCH,
        physical_range=None if declared is None else tuple((a, b) for a, b in declared),
    ).event()


def _packet(frame_id: int, volts: np.ndarray, raw: np.ndarray | None = None) -> EegPacket:
    first = frame_id * BATCH
    return EegPacket.create(
        frame_id=frame_id,
        first_sample=first,
        timestamps=sample_timestamps(1_000_000, first, BATCH, RATE),
        raw=np.zeros(volts.shape, np.int32) if raw is None else raw,
        volts=volts,
        sample_rate=RATE,
        channel_names=NAMES,
        monotonic_ns=0,
    )


def _noise(frame_id: int) -> np.ndarray:
    """20 µV of noise on each channel: a good signal on any range."""
    return 20e-6 * np.random.default_rng(frame_id).standard_normal((2, BATCH))


def _feed(plugin: SignalQuality, frames: range, volts=_noise, raw=None) -> list[OutputEvent]:
    produced = []
    for frame_id in frames:
        r = None if raw is None else raw(frame_id)
        produced += plugin.process(_packet(frame_id, volts(frame_id).astype(np.float32), r))
    return produced


def _levels(event: OutputEvent) -> list[str]:
    assert isinstance(event.payload, dict)
    return [channel["level"] for channel in event.payload["channels"]]


def test_a_declared_range_is_judged_in_volts_and_counts_are_not_looked_at() -> None:
    plugin = SignalQuality()
    plugin.process(_connected([[-0.01, 0.01], [-1.0, 1.0]]))
    at_ten_mv = lambda _frame: np.full((2, BATCH), 0.01)  # noqa: E731
    counts = lambda _frame: np.full((2, BATCH), 2**23 - 1, np.int32)  # noqa: E731
    (event, *_) = _feed(plugin, range(10), at_ten_mv, counts)
    assert event.topic is QUALITY
    assert _levels(event) == ["bad", "bad"]  # both flat; only C3 is at its rail
    channels = event.payload["channels"]  # type: ignore[index]
    assert channels[0]["reason"].startswith("railed")
    assert channels[1]["reason"].startswith("flat")
    assert event.payload["session"] == "s1"  # type: ignore[index]
    assert event.payload["first_sample"] == 0  # type: ignore[index]
    assert event.timestamp == 1_000_000 + 10 * BATCH * 4000 - 4000  # the 250th sample's stamp


def test_without_a_declared_range_the_adc_counts_are_judged() -> None:
    plugin = SignalQuality()
    plugin.process(_connected())
    assert [(f.key, f.value) for f in plugin.status()] == [
        ("quality_channels_bad", 0),
        ("quality_channels_warn", 0),
    ]
    top = lambda _frame: np.array([[2**23 - 1] * BATCH, [0] * BATCH], np.int32)  # noqa: E731
    (event, *_) = _feed(plugin, range(10), raw=top)
    assert _levels(event) == ["bad", "good"]
    assert plugin.stats() == {
        "verdicts_published": 1,
        "channel_verdicts_good": 1,
        "channel_verdicts_warn": 0,
        "channel_verdicts_bad": 1,
    }
    assert [(f.key, f.value) for f in plugin.status()] == [
        ("quality_channels_bad", 1),
        ("quality_channels_warn", 0),
    ]


def test_lead_off_names_electrodes_until_they_are_back() -> None:
    plugin = SignalQuality()
    plugin.process(_connected())
    plugin.process(SystemEvent.now(SystemEventKind.LEAD_OFF, electrodes=["C4"]))
    first, second, third = _feed(plugin, range(20))
    assert _levels(first) == ["good", "bad"]
    assert first.payload["channels"][1]["lead_off"] is True  # type: ignore[index]
    plugin.process(SystemEvent.now(SystemEventKind.LEAD_OFF, electrodes=[]))
    (after,) = _feed(plugin, range(20, 25))
    assert _levels(after) == ["good", "good"]


def test_a_gap_starts_the_window_again() -> None:
    plugin = SignalQuality()
    plugin.process(_connected())
    assert len(_feed(plugin, range(10))) == 1  # 250 samples: the first verdict
    assert _feed(plugin, range(20, 29)) == []  # after a gap, 225 samples are not a window
    (event,) = _feed(plugin, range(29, 30))
    assert event.payload["first_sample"] == 20 * BATCH  # type: ignore[index]
    assert plugin.summary() == {"timestamp": event.timestamp, **event.payload}  # type: ignore[dict-item]


def test_options_are_checked_naming_the_key() -> None:
    assert SignalQuality.from_options({"hop_s": 0.25}).options.hop_s == 0.25
    with pytest.raises(ConfigError, match="plugin.signal_quality.window_s"):
        SignalQuality.from_options({"window_s": 0})
    with pytest.raises(ConfigError, match="hop_s"):
        SignalQuality.from_options({"hop_s": 2.0, "window_s": 1.0})
    with pytest.raises(ConfigError, match="plugin.signal_quality"):
        SignalQuality.from_options({"widow_s": 1.0})
