"""The BrainFlow source on BrainFlow's real synthetic board: names, device facts, reads, errors."""

from __future__ import annotations

import gc
import logging
import threading
from pathlib import Path

import numpy as np
import pytest
from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams
from brainflow.data_filter import DataFilter

from eegd.clock import SystemBlockingClock
from eegd.errors import ConfigError, SourceError
from eegd.sources.base import SharedSourceOptions
from eegd.sources.brainflow import (
    BrainFlowSettings,
    BrainFlowSource,
    board_facts,
    board_names,
    resolve_board,
)
from eegd.validation import convert
from tests.support.timing import scaled

SYNTHETIC = int(BoardIds.SYNTHETIC_BOARD)
SYNTHETIC_NAMES = tuple(BoardShim.get_eeg_names(SYNTHETIC))


@pytest.mark.parametrize(
    ("name", "board"),
    [
        ("synthetic", BoardIds.SYNTHETIC_BOARD),
        ("SYNTHETIC", BoardIds.SYNTHETIC_BOARD),
        ("synthetic_board", BoardIds.SYNTHETIC_BOARD),
        ("cyton", BoardIds.CYTON_BOARD),
        ("Cyton_Daisy", BoardIds.CYTON_DAISY_BOARD),
        ("ganglion", BoardIds.GANGLION_BOARD),
        ("muse_2", BoardIds.MUSE_2_BOARD),
        ("neuropawn_knight_board_imu", BoardIds.NEUROPAWN_KNIGHT_BOARD_IMU),
        (" -1 ", BoardIds.SYNTHETIC_BOARD),
        (2, BoardIds.CYTON_DAISY_BOARD),
        (-1, BoardIds.SYNTHETIC_BOARD),
    ],
)
def test_boards_are_found_by_name_or_id(name: str | int, board: BoardIds) -> None:
    assert resolve_board(name) == int(board)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("cyton daisy", "did you mean cyton_daisy"),
        ("no", "'no' is not a BrainFlow board"),
        (12, "12 is not a BrainFlow board id"),
        (-100, "-100 is not a BrainFlow board id"),
        (True, "a board name or id"),
    ],
)
def test_unknown_boards_are_config_errors_naming_the_key(name: object, message: str) -> None:
    with pytest.raises(ConfigError, match="^board: ") as caught:
        resolve_board(name)  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_board_names_are_short_and_lower_case() -> None:
    names = board_names()
    assert {"synthetic", "cyton", "cyton_daisy", "ganglion", "muse_2"} <= set(names)
    assert all(name == name.lower() and not name.endswith("_board") for name in names)
    assert "no" not in names


def test_device_facts_come_from_the_board_description() -> None:
    facts = BrainFlowSettings(board="synthetic").facts()
    assert facts.sample_rate == BoardShim.get_sampling_rate(SYNTHETIC) == 250
    assert facts.eeg_rows == tuple(BoardShim.get_eeg_channels(SYNTHETIC))
    assert facts.channel_names == SYNTHETIC_NAMES
    assert len(facts.channel_names) == 16
    assert facts.timestamp_row == BoardShim.get_timestamp_channel(SYNTHETIC)


def test_a_board_without_eeg_names_gets_numbered_labels() -> None:
    facts = board_facts(int(BoardIds.GANGLION_BOARD))
    assert facts.channel_names == ("EEG1", "EEG2", "EEG3", "EEG4")


def test_values_the_user_set_that_agree_with_the_board_are_accepted() -> None:
    settings = BrainFlowSettings(
        board="synthetic", channels=16, sample_rate=250, channel_names=SYNTHETIC_NAMES
    )
    assert settings.facts().channel_names == SYNTHETIC_NAMES


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"channels": 8}, "channels: 8 is not what the synthetic board has (16 EEG channels"),
        ({"sample_rate": 500}, "sample_rate: 500 is not the synthetic board's rate (250 Hz"),
        ({"channel_names": ("A",) * 16}, "channel_names: ['A', "),
    ],
)
def test_values_the_user_set_that_differ_from_the_board_are_config_errors(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        BrainFlowSource(BrainFlowSettings(board="synthetic", **changes))  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"ip_port": -1}, "ip_port"),
        ({"timeout": 1.5}, "timeout"),
        ({"serial_port": 3}, "serial_port"),
        ({"physical_range_uv": 0}, "physical_range_uv"),
        ({"stall_timeout_s": -1}, "stall_timeout_s"),
    ],
)
def test_bad_connection_settings_are_config_errors(changes: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=f"^{key}: "):
        convert(changes, BrainFlowSettings)


def test_the_synthetic_board_streams_contiguous_blocks_in_volts_and_counts() -> None:
    source = BrainFlowSource(BrainFlowSettings(board="synthetic"))
    with source:
        blocks = [source.read(32) for _ in range(4)]
        assert source.clock_anchor is not None
        assert source.last_device_time is not None
        assert source.last_device_time > source.clock_anchor
    assert [block.first_sample for block in blocks] == [0, 32, 64, 96]
    for block in blocks:
        assert block.volts.shape == block.raw.shape == (16, 32)
        assert block.volts.dtype == np.float32
        assert block.raw.dtype == np.int32
        assert np.all(np.isfinite(block.volts))
        # BrainFlow's synthetic EEG is µV-scale: well below a millivolt once in volts.
        assert 0 < np.abs(block.volts).max() < 1e-2
        # The counts are the volts on a 24-bit scale over ±187.5 mV, within half a count.
        error = block.raw * source.lsb_volts - block.volts.astype(np.float64)
        assert np.abs(error).max() <= source.lsb_volts / 2 + 1e-9
    assert source.physical_range == ((-0.1875, 0.1875),) * 16


def test_a_source_can_be_opened_again_after_closing() -> None:
    source = BrainFlowSource(BrainFlowSettings(board="synthetic"))
    for _ in range(2):
        with source:
            assert source.read(8).first_sample == 0
        source.close()  # twice is harmless


def test_a_port_that_does_not_exist_is_a_source_error_with_brainflows_message() -> None:
    source = BrainFlowSource(BrainFlowSettings(board="cyton", serial_port="/dev/ttyDOESNOTEXIST"))
    with pytest.raises(SourceError) as caught:
        source.open()
    message = str(caught.value)
    assert message.startswith("cannot open brainflow cyton board on /dev/ttyDOESNOTEXIST: ")
    assert "UNABLE_TO_OPEN_PORT_ERROR" in message
    with pytest.raises(SourceError, match="not open"):
        source.read(1)


def test_a_session_released_under_the_source_is_a_source_error() -> None:
    source = BrainFlowSource(BrainFlowSettings(board="synthetic"))
    with source:
        source.read(1)
        BoardShim.release_all_sessions()  # what a device that vanished looks like to eegd
        with pytest.raises(SourceError, match="^lost the brainflow synthetic board: "):
            source.read(10_000)


def test_a_lost_boards_shim_freed_after_the_reconnect_leaves_the_new_session_alone() -> None:
    # BoardShim.__del__ releases any session prepared under its board id and parameters; the
    # lost session's shim lives on in the error's traceback until the garbage collector runs
    lost = BrainFlowSource(BrainFlowSettings(board="synthetic"))
    lost.open()
    lost.read(1)
    BoardShim.release_all_sessions()
    with pytest.raises(SourceError, match="^lost the brainflow synthetic board: ") as caught:
        lost.read(10_000)
    lost.close()
    with BrainFlowSource(BrainFlowSettings(board="synthetic")) as reconnected:
        reconnected.read(1)
        del caught
        gc.collect()
        assert reconnected.read(8).first_sample == 1


class _SteppingClock(SystemBlockingClock):
    """Real time, except that each look at the clock is one second after the previous one."""

    def __init__(self) -> None:
        self.now = 0.0
        self.looked = threading.Event()

    def monotonic(self) -> float:
        self.now += 1.0
        self.looked.set()
        return self.now


def test_a_board_that_stops_sending_is_lost_after_the_stall_timeout() -> None:
    source = BrainFlowSource(
        BrainFlowSettings(board="synthetic", stall_timeout_s=3.0), _SteppingClock()
    )
    with source:
        source._board.stop_stream()  # the board keeps its session but sends nothing more
        with pytest.raises(SourceError, match="sent no samples for 3 s"):
            source.read(10_000)


def test_close_from_another_thread_wakes_a_waiting_read() -> None:
    clock = _SteppingClock()
    source = BrainFlowSource(BrainFlowSettings(board="synthetic", stall_timeout_s=1e9), clock)
    source.open()
    failure: list[BaseException] = []

    def read() -> None:
        try:
            source.read(250 * 3600)  # an hour of samples: only close can end this wait
        except SourceError as exc:
            failure.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    assert clock.looked.wait(timeout=scaled(10))
    source.close()
    reader.join(timeout=scaled(10))
    assert not reader.is_alive()
    assert len(failure) == 1
    assert "closed" in str(failure[0])


def test_brainflows_log_goes_to_eegds_logger() -> None:
    board_log = logging.getLogger("eegd.sources.brainflow.board")
    handler = _Waiting("/dev/ttyDOESNOTEXIST")
    board_log.addHandler(handler)
    level = board_log.level
    board_log.setLevel(logging.DEBUG)  # BrainFlow then logs everything, down to trace
    try:
        source = BrainFlowSource(
            BrainFlowSettings(board="cyton", serial_port="/dev/ttyDOESNOTEXIST")
        )
        with pytest.raises(SourceError):
            source.open()
        # The bridge thread passes BrainFlow's lines on as they come; wait for the port's.
        assert handler.seen.wait(timeout=scaled(10))
    finally:
        board_log.removeHandler(handler)
        board_log.setLevel(level)
    assert handler.record is not None
    assert handler.record.name == "eegd.sources.brainflow.board"


class _Waiting(logging.Handler):
    """Keeps the first record that mentions ``text`` and says when it came."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text
        self.seen = threading.Event()
        self.record: logging.LogRecord | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.record is None and self._text in record.getMessage():
            self.record = record
            self.seen.set()


def test_from_options_takes_what_the_user_did_not_set_from_the_board() -> None:
    shared = SharedSourceOptions(kind="brainflow", channels=8, sample_rate=500)  # defaults
    source = BrainFlowSource.from_options(shared, {"board": "synthetic"})
    assert (len(source.channel_names), source.sample_rate) == (16, 250)


@pytest.mark.parametrize(
    ("explicit", "options", "message"),
    [
        ({"channels"}, {}, "source.channels: 8 is not what the synthetic board has"),
        ({"sample_rate"}, {}, "source.sample_rate: 500 is not the synthetic board's rate"),
        (set(), {"board": "cyton daisy"}, "source.brainflow.board: 'cyton daisy' is not a"),
        (
            set(),
            {"ip_port": -2},
            "source.brainflow.ip_port: -2 is out of range (allowed: 0..65535)",
        ),
        (set(), {"serial": "x"}, "source.brainflow.serial: unknown key (allowed: board, "),
        (set(), {"timeout": "5"}, "source.brainflow.timeout: expected `int`, got `str`"),
    ],
)
def test_from_options_errors_name_the_dotted_key(
    explicit: set[str], options: dict[str, object], message: str
) -> None:
    shared = SharedSourceOptions(
        kind="brainflow", channels=8, sample_rate=500, explicit=frozenset(explicit)
    )
    with pytest.raises(ConfigError) as caught:
        BrainFlowSource.from_options(shared, options)
    assert str(caught.value).startswith(message)


def test_a_marker_inserted_on_the_board_is_a_marker_at_the_sample_brainflow_put_it_on(
    tmp_path: Path,
) -> None:
    # BrainFlow's file streamer keeps its own copy of every row of every sample the board
    # produces: the marker's sample there is the oracle, found by its EEG values.
    copy = tmp_path / "board.csv"
    source = BrainFlowSource(BrainFlowSettings(board="synthetic"))
    with source:
        board = BoardShim(SYNTHETIC, BrainFlowInputParams())  # the same board, as a client
        board.add_streamer(f"file://{copy}:w")
        blocks = [source.read(32)]
        board.insert_marker(7)
        while not any(block.markers for block in blocks) and len(blocks) < 100:
            blocks.append(source.read(32))
        blocks.append(source.read(32))  # no marker inserted: none read
    markers = [marker for block in blocks for marker in block.markers]
    assert [marker.label for marker in markers] == ["7"]
    rows = DataFilter.read_file(str(copy))
    (column,) = np.flatnonzero(rows[BoardShim.get_marker_channel(SYNTHETIC)])
    streamed_uv = rows[list(BoardShim.get_eeg_channels(SYNTHETIC)), column]
    volts = np.concatenate([block.volts for block in blocks], axis=1).astype(np.float64)
    at = markers[0].sample
    assert np.allclose(volts[:, at] * 1e6, streamed_uv, atol=1e-3)
    assert not np.allclose(volts[:, at - 1] * 1e6, streamed_uv, atol=1e-3)
    assert not np.allclose(volts[:, at + 1] * 1e6, streamed_uv, atol=1e-3)


def test_the_synthetic_boards_accelerometer_and_battery_rows_are_its_aux_stream() -> None:
    source = BrainFlowSource(BrainFlowSettings(board="synthetic"))
    aux = source.aux
    assert aux is not None
    assert aux.channels == ("AccelX", "AccelY", "AccelZ", "Battery")
    assert aux.units == ("g", "g", "g", "%")
    assert [kind.value for kind in aux.kinds] == ["accelerometer"] * 3 + ["battery"]
    assert aux.sample_rate == BoardShim.get_sampling_rate(SYNTHETIC)
    with source:
        blocks = [source.read(32) for _ in range(3)]
    for index, block in enumerate(blocks):
        assert block.aux is not None
        assert block.aux.first_sample == block.first_sample == 32 * index
        assert block.aux.values.shape == (4, 32)
        assert block.aux.values.dtype == np.float32
        assert block.problem(16, 32, aux_channels=4) is None
    values = np.concatenate([block.aux.values for block in blocks if block.aux], axis=1)
    # BrainFlow's synthetic accelerometer reads about 1 g, its battery 80-100 %.
    assert 0.5 < values[:3].min()
    assert values[:3].max() < 1.5
    assert 50 <= values[3].min()
    assert values[3].max() <= 100


def test_a_board_without_accelerometer_analog_or_battery_rows_has_no_aux_stream() -> None:
    assert BrainFlowSource(BrainFlowSettings(board="muse_2")).aux is None


def test_cytons_analog_rows_join_its_accelerometer_in_the_aux_stream() -> None:
    aux = BrainFlowSource(BrainFlowSettings(board="cyton", serial_port="/dev/null")).aux
    assert aux is not None
    assert aux.channels == ("AccelX", "AccelY", "AccelZ", "Analog1", "Analog2", "Analog3")
    assert [kind.value for kind in aux.kinds] == ["accelerometer"] * 3 + ["analog"] * 3
