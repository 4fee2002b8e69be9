"""The playback source on files pyedflib wrote: facts, values, annotations, pacing, errors."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from eegd.errors import ConfigError, SourceEnded, SourceError
from eegd.events import SystemEventKind
from eegd.sources.base import SampleBlock, SharedSourceOptions
from eegd.sources.playback import PlaybackSettings, PlaybackSource
from eegd.validation import convert
from tests.support.clocks import FakeClock
from tests.support.recordings import WrittenRecording, write_recording, write_temperature_only

ANNOTATIONS = ((1.5, -1.0, "eyes closed"), (3.25, 0.5, "stimulus"), (7.0, 2.0, "eyes open"))
FORMATS = ("EDF", "EDF+", "BDF", "BDF+")


def written(directory: Path, file_format: str, **options: object) -> WrittenRecording:
    annotations = ANNOTATIONS if file_format.endswith("+") else ()
    return write_recording(directory, file_format, annotations=annotations, **options)  # type: ignore[arg-type]


def play(path: Path, **options: object) -> PlaybackSource:
    """``path`` played as fast as read, from its own directory (the allow-list)."""
    settings = PlaybackSettings(path=path, speed=0, directories=(path.parent,), **options)  # type: ignore[arg-type]
    return PlaybackSource(settings)


def read_all(source: PlaybackSource, batch: int = 32) -> list[SampleBlock]:
    blocks = []
    with source:
        while True:
            try:
                blocks.append(source.read(batch))
            except SourceEnded:
                return blocks


@pytest.mark.parametrize("file_format", FORMATS)
def test_a_file_plays_its_channels_rate_and_values(tmp_path: Path, file_format: str) -> None:
    recording = written(tmp_path, file_format)
    source = play(recording.path)
    assert source.channel_names == recording.channel_names
    assert source.sample_rate == recording.sample_rate
    assert source.recording.format == file_format
    np.testing.assert_allclose(source.physical_range, [(-200e-6, 200e-6)] * 3)
    blocks = read_all(source)
    assert [block.first_sample for block in blocks] == list(range(0, recording.n_samples, 32))
    volts = np.concatenate([block.volts for block in blocks], axis=1)
    raw = np.concatenate([block.raw for block in blocks], axis=1)
    assert volts.shape == raw.shape == recording.microvolts.shape
    assert raw.dtype == np.int32
    step_v = recording.step_uv[0] * 1e-6
    assert np.abs(volts - recording.microvolts * 1e-6).max() <= step_v
    # The counts are the file's integers: one count is one digital step.
    assert np.abs(raw * step_v - recording.microvolts * 1e-6).max() <= 1.5 * step_v


@pytest.mark.parametrize("file_format", ["EDF+", "BDF+"])
def test_annotations_travel_with_the_block_holding_their_sample(
    tmp_path: Path, file_format: str
) -> None:
    recording = written(tmp_path, file_format)
    blocks = read_all(play(recording.path))
    found = [(block.first_sample, event) for block in blocks for event in block.events]
    assert [event.kind for _, event in found] == [SystemEventKind.ANNOTATION] * 3
    for (first, event), (onset, duration, text) in zip(found, ANNOTATIONS, strict=True):
        sample = round(onset * recording.sample_rate)
        assert event.sample == sample
        assert first <= sample < first + 32
        assert event.detail["onset_sample"] == sample
        assert event.detail["onset_s"] == pytest.approx(onset)
        assert event.detail["duration_s"] == (None if duration < 0 else pytest.approx(duration))
        assert event.detail["text"] == text
    markers = [marker for block in blocks for marker in block.markers]
    assert [(marker.sample, marker.label, marker.duration_s) for marker in markers] == [
        (event.sample, event.detail["text"], event.detail["duration_s"]) for _, event in found
    ]


def test_the_last_block_is_short_and_then_the_file_ends(tmp_path: Path) -> None:
    recording = written(tmp_path, "EDF", seconds=1)  # 200 samples: 6 × 32 and 8 more
    source = play(recording.path)
    blocks = read_all(source, batch=32)
    assert [block.n_samples for block in blocks] == [32] * 6 + [8]
    with source:
        for _ in range(7):
            source.read(32)
        with pytest.raises(SourceEnded, match="played to its end"):
            source.read(32)


def test_a_looping_file_goes_on_in_the_same_stream(tmp_path: Path) -> None:
    recording = written(tmp_path, "EDF+", seconds=10)
    source = play(recording.path, loop=True)
    n = recording.n_samples
    with source:
        blocks = [source.read(300) for _ in range(2 * n // 300 + 1)]
    assert [block.first_sample for block in blocks] == list(range(0, len(blocks) * 300, 300))
    volts = np.concatenate([block.volts for block in blocks], axis=1)
    np.testing.assert_array_equal(volts[:, n : 2 * n], volts[:, :n])
    events = [event for block in blocks for event in block.events]
    looped = [event for event in events if event.kind is SystemEventKind.SOURCE_LOOPED]
    assert [(event.sample, event.detail["loop"]) for event in looped] == [(n, 1), (2 * n, 2)]
    onsets = [event.sample for event in events if event.kind is SystemEventKind.ANNOTATION]
    first_pass = [round(onset * recording.sample_rate) for onset, _, _ in ANNOTATIONS]
    assert onsets[:6] == first_pass + [n + sample for sample in first_pass]


@pytest.mark.parametrize("speed", [1.0, 4.0])
def test_pacing_follows_the_clock_at_the_speed_asked(tmp_path: Path, speed: float) -> None:
    recording = written(tmp_path, "EDF", seconds=10)
    clock = FakeClock(100.0)
    source = PlaybackSource(
        PlaybackSettings(path=recording.path, speed=speed, directories=(tmp_path,)), clock
    )
    with source:
        start = clock.now
        for _ in range(25):
            source.read(40)  # 1000 samples: 5 s of the file
        assert clock.now - start == pytest.approx(5.0 / speed)
        clock.now += 3.0  # a late reader gets what is due at once
        slept = sum(clock.sleeps)
        source.read(40)
        assert sum(clock.sleeps) == slept


def test_speed_zero_never_waits(tmp_path: Path) -> None:
    recording = written(tmp_path, "EDF", seconds=10)
    clock = FakeClock(100.0)
    with PlaybackSource(
        PlaybackSettings(path=recording.path, speed=0, directories=(tmp_path,)), clock
    ) as source:
        for _ in range(25):
            source.read(80)
    assert sum(clock.sleeps) == 0


def test_signals_at_other_rates_or_units_are_left_out_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recording = write_recording(tmp_path, "EDF+", slow_signal=True, temperature_signal=True)
    with caplog.at_level(logging.WARNING, logger="eegd.sources.edf"):
        source = play(recording.path)
    assert source.channel_names == recording.channel_names
    messages = [record.getMessage() for record in caplog.records]
    assert any("'Resp' left out: 50 Hz, not the 200 Hz played" in text for text in messages)
    assert any("'Temp' left out: its unit 'degC' is not a voltage" in text for text in messages)


def test_the_file_opens_again_after_closing(tmp_path: Path) -> None:
    recording = written(tmp_path, "BDF+")
    source = play(recording.path)
    first = read_all(source)
    again = read_all(source)
    assert len(first) == len(again)
    np.testing.assert_array_equal(first[-1].raw, again[-1].raw)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"channels": 8}, "channels: 8 is not what "),
        ({"sample_rate": 250}, "sample_rate: 250 is not the rate of "),
        ({"channel_names": ("a", "b", "c")}, "channel_names: ['a', 'b', 'c'] are not those of "),
    ],
)
def test_values_the_user_set_that_differ_from_the_file_are_config_errors(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    recording = written(tmp_path, "EDF")
    with pytest.raises(ConfigError) as caught:
        play(recording.path, **changes)
    assert str(caught.value).startswith(message)


def test_values_the_user_set_that_agree_with_the_file_are_accepted(tmp_path: Path) -> None:
    recording = written(tmp_path, "EDF")
    source = play(
        recording.path, channels=3, sample_rate=200, channel_names=recording.channel_names
    )
    assert source.sample_rate == 200


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"speed": -1}, "speed"),
        ({"speed": float("inf")}, "speed"),
        ({"speed": True}, "speed"),
        ({"loop": 1}, "loop"),
        ({"path": 3}, "path"),
        ({"start_s": -1.0}, "start_s"),
    ],
)
def test_bad_settings_are_config_errors(changes: dict[str, object], key: str) -> None:
    options: dict[str, object] = {"path": "x.edf", **changes}
    with pytest.raises(ConfigError, match=f"^{key}: "):
        convert(options, PlaybackSettings)


def _truncated(directory: Path) -> Path:
    path = written(directory, "EDF").path
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1000])
    return path


def _not_edf(directory: Path) -> Path:
    path = directory / "notes.edf"
    path.write_text("these are not the samples you are looking for\n" * 10)
    return path


def _bad_header(directory: Path) -> Path:
    path = written(directory, "BDF").path
    data = bytearray(path.read_bytes())
    data[252:256] = b"abcd"
    path.write_bytes(bytes(data))
    return path


def _too_short(directory: Path) -> Path:
    path = directory / "empty.bdf"
    path.write_bytes(b"0       ")
    return path


def _no_records(directory: Path) -> Path:
    path = written(directory, "EDF").path
    data = bytearray(path.read_bytes())
    header_bytes = int(data[184:192])
    data[236:244] = b"0       "
    path.write_bytes(bytes(data[:header_bytes]))
    return path


def _discontinuous(directory: Path) -> Path:
    path = written(directory, "EDF+").path
    data = bytearray(path.read_bytes())
    data[192:197] = b"EDF+D"
    path.write_bytes(bytes(data))
    return path


def _no_voltage(directory: Path) -> Path:
    return write_temperature_only(directory / "temperature.edf", plus=True)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda directory: directory / "missing.edf", "no such file"),
        (lambda directory: directory, "is a directory"),
        (_truncated, "truncated: the header promises 10 data records of 1200 bytes"),
        (_not_edf, "not an EDF or BDF file: bad header"),
        (_bad_header, "bad header field 'number of signals'"),
        (_too_short, "too short for a header"),
        (_no_voltage, "no signal to play"),
        (_no_records, "holds no samples"),
        (_discontinuous, "discontinuous EDF+D/BDF+D files cannot be played"),
    ],
)
def test_a_file_that_cannot_be_played_is_one_line_naming_it(
    tmp_path: Path, make: object, problem: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(ConfigError) as caught:
        play(path)
    message = str(caught.value)
    assert message.startswith(f"path: {path}: ")
    assert problem in message
    assert "\n" not in message


def test_a_file_removed_after_the_start_is_a_source_error_at_open(tmp_path: Path) -> None:
    recording = written(tmp_path, "EDF")
    source = play(recording.path)
    read_all(source)
    recording.path.unlink()
    with pytest.raises(SourceError, match="no such file"):
        source.open()


def test_from_options_takes_the_files_facts_unless_the_user_set_them(tmp_path: Path) -> None:
    recording = written(tmp_path, "EDF+")
    shared = SharedSourceOptions(
        kind="playback", channels=8, sample_rate=250, file_directories=(tmp_path,)
    )  # defaults
    source = PlaybackSource.from_options(shared, {"path": str(recording.path), "speed": 0})
    assert (source.channel_names, source.sample_rate) == (recording.channel_names, 200)


@pytest.mark.parametrize(
    ("explicit", "options", "message"),
    [
        ({"sample_rate"}, {}, "source.sample_rate: 250 is not the rate of "),
        ({"channels"}, {}, "source.channels: 8 is not what "),
        (set(), {"path": ""}, "source.playback.path: missing (allowed: the EDF or BDF file"),
        (
            set(),
            {"path": "/nonexistent/x.edf"},
            "source.playback.path: /nonexistent/x.edf: no such file",
        ),
        (set(), {"speed": -2}, "source.playback.speed: -2 is out of range (allowed: 0..1000)"),
        (set(), {"looping": True}, "source.playback.looping: unknown key (allowed: path, "),
    ],
)
def test_from_options_errors_name_the_dotted_key(
    tmp_path: Path, explicit: set[str], options: dict[str, object], message: str
) -> None:
    recording = written(tmp_path, "EDF")
    shared = SharedSourceOptions(
        kind="playback",
        channels=8,
        sample_rate=250,
        explicit=frozenset(explicit),
        file_directories=(tmp_path, Path("/nonexistent")),
    )
    with pytest.raises(ConfigError) as caught:
        PlaybackSource.from_options(shared, {"path": str(recording.path), **options})
    assert str(caught.value).startswith(message)


def test_start_s_starts_into_the_file_with_the_stream_counting_from_zero(tmp_path: Path) -> None:
    recording = written(tmp_path, "EDF+", seconds=10)
    rate = recording.sample_rate
    blocks = read_all(play(recording.path, start_s=2.0))
    assert blocks[0].first_sample == 0
    volts = np.concatenate([block.volts for block in blocks], axis=1)
    start = round(2.0 * rate)
    assert volts.shape[1] == recording.n_samples - start
    step_v = recording.step_uv[0] * 1e-6
    assert np.abs(volts - recording.microvolts[:, start:] * 1e-6).max() <= step_v
    annotations = [event for block in blocks for event in block.events]
    later = [onset for onset, _, _ in ANNOTATIONS if onset >= 2.0]
    assert [event.sample for event in annotations] == [round(o * rate) - start for o in later]
    assert [event.detail["onset_sample"] for event in annotations] == [
        round(o * rate) for o in later
    ]


def test_start_s_loops_from_the_files_start_after_its_end(tmp_path: Path) -> None:
    recording = written(tmp_path, "EDF", seconds=2)
    n, start = recording.n_samples, round(1.5 * recording.sample_rate)
    source = play(recording.path, start_s=1.5, loop=True)
    with source:
        block = source.read(n)
    looped = [event for event in block.events if event.kind is SystemEventKind.SOURCE_LOOPED]
    assert [(event.sample, event.detail["loop"]) for event in looped] == [(n - start, 1)]
    step_v = recording.step_uv[0] * 1e-6
    expected = np.concatenate([recording.microvolts[:, start:], recording.microvolts[:, :start]], 1)
    assert np.abs(block.volts - expected * 1e-6).max() <= step_v


@pytest.mark.parametrize(
    ("start_s", "message"),
    [(10.0, r"start_s: 10 is not before the end")],
)
def test_a_start_outside_the_file_is_a_config_error(
    tmp_path: Path, start_s: float, message: str
) -> None:
    recording = written(tmp_path, "EDF", seconds=10)
    with pytest.raises(ConfigError, match=message):
        play(recording.path, start_s=start_s)
