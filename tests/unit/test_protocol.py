"""The wire protocol: exact round trips, the documented layout, and refusal of malformed input."""

from __future__ import annotations

import contextlib
import inspect
import json
import re
import struct
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from eegd.errors import ProtocolError
from eegd.events import EegPacket, FftPacket, FilteredEegPacket, SystemEvent, SystemEventKind, Topic
from eegd.net.protocol import (
    FLAG_DECIMATED,
    HEADER,
    MAX_MESSAGE_BYTES,
    MAX_NESTING,
    MAX_RATE_MAX,
    MAX_RATE_MIN,
    PROTOCOL_VERSION,
    Band,
    Dropped,
    EegFrame,
    ErrorCode,
    ErrorMessage,
    Hello,
    Ping,
    Pong,
    ProtocolViolation,
    ServerMessage,
    Spectrum,
    Subscribe,
    Subscribed,
    SystemMessage,
    Unsubscribe,
    Unsubscribed,
    decode_frame,
    decode_text,
    encode_client_message,
    encode_decimated,
    encode_event,
    encode_server_message,
    parse_client_message,
    parse_header,
)
from eegd.timestamps import sample_timestamps
from tests.support.packets import eeg_packet, fft_packet

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
ANCHOR_US = 1_700_000_000_000_000
NAMES = ("Fp1", "Fp2", "C3")
BANDS = (("delta", 1.0, 4.0), ("theta", 4.0, 8.0), ("alpha", 8.0, 13.0))


def make_raw(
    *,
    first_sample: int = 96,
    n_samples: int = 32,
    sample_rate: float = 250.0,
    names: tuple[str, ...] = NAMES,
    seed: int = 0,
) -> EegPacket:
    """A raw packet stamped the way the acquisition loop stamps it."""
    rng = np.random.default_rng(seed)
    raw = rng.integers(-(2**23), 2**23, size=(len(names), n_samples), dtype=np.int32)
    return eeg_packet(
        raw * np.float32(4.5 / 2**23 / 24),
        raw=raw,
        frame_id=first_sample // 32 + 1,
        first_sample=first_sample,
        sample_rate=sample_rate,
        channel_names=names,
        anchor_us=ANCHOR_US,
        monotonic_ns=987_654_321_012,
    )


def make_filtered(source: EegPacket) -> FilteredEegPacket:
    """A filtered packet whose samples differ from the source's volts."""
    return FilteredEegPacket.from_source(source, source.volts * np.float32(0.5) - 1e-6)


def make_fft(*, bins: int = 101, seed: int = 1) -> FftPacket:
    """A spectrum with an odd number of bins and bands, float32 as the bus carries it."""
    rng = np.random.default_rng(seed)
    freqs = np.arange(bins, dtype=np.float32) * np.float32(0.1)
    return fft_packet(
        rng.random((len(NAMES), bins)) * 30,
        rng.random((len(NAMES), len(BANDS))) * 90,
        freqs,
        source_frame_id=41,
        timestamp=ANCHOR_US + 8_000_000,
        fft_size=500,
        channel_names=NAMES,
        monotonic_ns=123_000_000_456,
        bands=BANDS,
    )


def make_hello(*, spectrum: Spectrum | None = None, sample_rate: float = 250.0) -> Hello:
    return Hello(
        session="s-1",
        sample_rate=sample_rate,
        channels=NAMES,
        time_anchor_us=ANCHOR_US,
        spectrum=spectrum,
    )


def bits(array: npt.NDArray[np.float32]) -> npt.NDArray[np.uint32]:
    return np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)


def decode_eeg(frame: bytes | bytearray, hello: Hello) -> EegFrame:
    decoded = decode_frame(frame, hello)
    assert isinstance(decoded, EegFrame)
    return decoded


# --------------------------------------------------------------------------- data frames


@pytest.mark.parametrize("topic", [Topic.RAW_EEG, Topic.FILTERED_EEG])
def test_eeg_round_trip_carries_every_field_exactly(topic: Topic) -> None:
    source = make_raw()
    packet = source if topic is Topic.RAW_EEG else make_filtered(source)
    volts = source.volts if topic is Topic.RAW_EEG else make_filtered(source).samples

    frame = decode_eeg(encode_event(packet), make_hello())

    assert frame.topic is topic
    assert (frame.frame_id, frame.first_sample) == (packet.frame_id, packet.first_sample)
    assert frame.timestamp_us == int(packet.timestamps[0])
    assert frame.monotonic_ns == packet.monotonic_ns
    assert frame.sample_rate == packet.sample_rate
    assert frame.channel_names == packet.channel_names
    assert frame.decimated is False
    assert frame.samples_uv.shape == volts.shape
    np.testing.assert_array_equal(bits(frame.samples_uv), bits((volts * 1e6).astype(np.float32)))
    np.testing.assert_array_equal(frame.timestamps, packet.timestamps)


@pytest.mark.parametrize(
    ("sample_rate", "first_sample"),
    [(250.0, 0), (333.3333333, 10**9 + 7), (16_000.0, 2**40 + 3), (255.99, 12_345)],
)
def test_decoded_timestamps_equal_the_bus_packets(sample_rate: float, first_sample: int) -> None:
    packet = make_raw(first_sample=first_sample, n_samples=512, sample_rate=sample_rate)

    frame = decode_eeg(encode_event(packet), make_hello(sample_rate=sample_rate))

    assert frame.sample_rate == sample_rate
    np.testing.assert_array_equal(frame.timestamps, packet.timestamps)
    assert frame.timestamps.dtype == np.uint64


def test_fft_round_trip_returns_the_same_packet() -> None:
    packet = make_fft()
    hello = make_hello(spectrum=Spectrum.from_packet(packet, BANDS))

    decoded = decode_frame(encode_event(packet), hello)

    assert isinstance(decoded, FftPacket)
    assert decoded == packet
    np.testing.assert_array_equal(bits(decoded.psd), bits(packet.psd))
    np.testing.assert_array_equal(bits(decoded.band_power), bits(packet.band_power))
    np.testing.assert_array_equal(bits(decoded.freqs), bits(packet.freqs))


def test_decimated_frame_round_trips_interleaved_min_max_pairs() -> None:
    rng = np.random.default_rng(5)
    minima = ((rng.random((len(NAMES), 7)) - 1) * 1e-4).astype(np.float32)
    maxima = minima + (rng.random((len(NAMES), 7)) * 1e-4).astype(np.float32)

    data = encode_decimated(
        Topic.FILTERED_EEG,
        minima,
        maxima,
        frame_id=99,
        first_sample=3_200,
        timestamp_us=ANCHOR_US + 12_800_000,
        monotonic_ns=55,
        pair_rate=62.5,
    )
    frame = decode_eeg(data, make_hello())

    assert parse_header(data).flags == FLAG_DECIMATED
    assert frame.decimated is True
    assert frame.topic is Topic.FILTERED_EEG
    assert (frame.frame_id, frame.first_sample, frame.monotonic_ns) == (99, 3_200, 55)
    assert frame.sample_rate == 62.5
    assert frame.n_samples == 7
    assert frame.samples_uv.shape == (len(NAMES), 14)
    uv_min, uv_max = (minima * 1e6).astype(np.float32), (maxima * 1e6).astype(np.float32)
    np.testing.assert_array_equal(bits(frame.samples_uv[:, 0::2]), bits(uv_min))
    np.testing.assert_array_equal(bits(frame.samples_uv[:, 1::2]), bits(uv_max))
    np.testing.assert_array_equal(
        frame.timestamps, ANCHOR_US + 12_800_000 + np.arange(7, dtype=np.uint64) * 16_000
    )


def test_decoded_arrays_are_read_only_and_detached_from_a_mutable_buffer() -> None:
    data = bytearray(encode_event(make_raw()))
    frame = decode_eeg(data, make_hello())
    before = frame.samples_uv.copy()

    data[HEADER.size : HEADER.size + 4] = b"\xff\xff\xff\xff"

    np.testing.assert_array_equal(frame.samples_uv, before)
    with pytest.raises(ValueError, match="read-only"):
        frame.samples_uv[0, 0] = 1.0
    with pytest.raises(ValueError, match="WRITEABLE"):
        frame.samples_uv.flags.writeable = True


def all_frame_kinds() -> list[bytes]:
    raw = make_raw(n_samples=5)
    return [
        encode_event(raw),
        encode_event(make_filtered(raw)),
        encode_event(make_fft(bins=7)),
        encode_decimated(
            Topic.RAW_EEG,
            np.zeros((3, 3)),
            np.ones((3, 3)),
            frame_id=1,
            first_sample=0,
            timestamp_us=ANCHOR_US,
            monotonic_ns=0,
            pair_rate=50.0,
        ),
    ]


@pytest.mark.parametrize("data", all_frame_kinds(), ids=["raw", "filtered", "fft", "decimated"])
def test_every_array_starts_at_a_4_byte_aligned_offset(data: bytes) -> None:
    header = parse_header(data)
    layout = header.payload_layout()

    assert header.frame_size == len(data)
    for _, offset, (rows, columns) in layout:
        assert offset % 4 == 0
        assert offset + 4 * rows * columns <= len(data)
    _, last_offset, (rows, columns) = layout[-1]
    assert last_offset + 4 * rows * columns == len(data)


def test_fft_arrays_sit_where_the_layout_says() -> None:
    packet = make_fft(bins=7)
    data = encode_event(packet)
    psd, band_power = parse_header(data).payload_layout()

    assert psd == ("psd", 56, (3, 7))
    assert band_power == ("band_power", 56 + 4 * 3 * 7, (3, len(BANDS)))
    at = np.frombuffer(data, "<f4", 3 * len(BANDS), band_power[1]).reshape(3, len(BANDS))
    np.testing.assert_array_equal(at, packet.band_power)


def test_header_is_56_bytes_little_endian_with_fields_at_documented_offsets() -> None:
    packet = make_raw(first_sample=2**33 + 1, n_samples=4)
    data = encode_event(packet)

    assert HEADER.size == 56
    assert data[0] == PROTOCOL_VERSION
    assert data[1] == Topic.RAW_EEG
    assert struct.unpack_from("<HHHI", data, 2) == (0, len(NAMES), 0, 4)
    assert struct.unpack_from("<QQQQd", data, 16) == (
        packet.frame_id,
        2**33 + 1,
        int(packet.timestamps[0]),
        packet.monotonic_ns,
        250.0,
    )
    assert len(data) == 56 + 4 * len(NAMES) * 4


def read_worked_example(name: str = "worked-example") -> bytes:
    """The bytes of the docs' example block ``<!-- name:begin -->`` .. ``<!-- name:end -->``."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split(f"<!-- {name}:begin -->")[1].split(f"<!-- {name}:end -->")[0]
    out = bytearray()
    for line in block.splitlines():
        match = re.match(r"^([0-9a-f]{4}) \| ([0-9a-f ]+?) *\|", line)
        if match:
            assert int(match.group(1), 16) == len(out), f"offset out of sequence: {line}"
            out += bytes.fromhex(match.group(2))
    return bytes(out)


def test_documented_worked_example_is_what_the_encoder_produces() -> None:
    anchor = 1_700_000_000_000_000
    source = EegPacket.create(
        frame_id=7,
        first_sample=224,
        timestamps=sample_timestamps(anchor, 224, 3, 250.0),
        raw=np.zeros((2, 3)),
        volts=np.zeros((2, 3)),
        sample_rate=250.0,
        channel_names=("C3", "C4"),
        monotonic_ns=123_456_789_000,
    )
    packet = FilteredEegPacket.from_source(
        source, np.array([[1e-6, -2.5e-6, 10e-6], [0.5e-6, 0.0, -1e-6]])
    )
    hello = Hello(session="3f2a9c", sample_rate=250.0, channels=("C3", "C4"), time_anchor_us=anchor)

    documented = read_worked_example()

    assert len(documented) == 80
    assert encode_event(packet) == documented
    assert encode_server_message(hello) in DOC.read_text(encoding="utf-8")
    frame = decode_eeg(documented, hello)
    assert frame.samples_uv.tolist() == [[1.0, -2.5, 10.0], [0.5, 0.0, -1.0]]
    assert frame.timestamps.tolist() == [1700000000896000, 1700000000900000, 1700000000904000]


# --------------------------------------------------------------------------- malformed frames


def patched(data: bytes, fmt: str, offset: int, *values: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, *values)
    return bytes(out)


GOOD_EEG = encode_event(make_raw(n_samples=4))
GOOD_FFT = encode_event(make_fft(bins=7))


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (b"", ErrorCode.BAD_FRAME, "shorter than the 56-byte header"),
        (GOOD_EEG[:55], ErrorCode.BAD_FRAME, "shorter than the 56-byte header"),
        (GOOD_EEG[:-1], ErrorCode.BAD_FRAME, "announces"),
        (GOOD_EEG + b"\0\0\0\0", ErrorCode.BAD_FRAME, "announces"),
        (patched(GOOD_EEG, "<B", 0, 2), ErrorCode.UNSUPPORTED_VERSION, "version 2"),
        (patched(GOOD_EEG, "<B", 0, 0), ErrorCode.UNSUPPORTED_VERSION, "version 0"),
        (patched(GOOD_EEG, "<B", 1, 4), ErrorCode.BAD_FRAME, "topic id 4"),
        (patched(GOOD_EEG, "<B", 1, 200), ErrorCode.BAD_FRAME, "1 raw_eeg, 2 filtered_eeg"),
        (patched(GOOD_EEG, "<H", 2, 0x0002), ErrorCode.BAD_FRAME, "flags 0x0002"),
        (patched(GOOD_FFT, "<H", 2, FLAG_DECIMATED), ErrorCode.BAD_FRAME, "fft"),
        (patched(GOOD_EEG, "<H", 6, 1), ErrorCode.BAD_FRAME, "bands"),
        (patched(GOOD_EEG, "<I", 8, 5), ErrorCode.BAD_FRAME, "announces"),
        (patched(GOOD_EEG, "<I", 8, 2**32 - 1), ErrorCode.BAD_FRAME, "announces"),
        (patched(GOOD_FFT, "<H", 6, 2), ErrorCode.BAD_FRAME, "announces"),
    ],
    ids=[
        "empty",
        "short-header",
        "truncated-payload",
        "trailing-bytes",
        "future-version",
        "version-0",
        "system-topic",
        "unknown-topic",
        "unknown-flag",
        "decimated-fft",
        "eeg-with-bands",
        "sample-count-mismatch",
        "huge-sample-count",
        "band-count-mismatch",
    ],
)
def test_malformed_frames_raise_protocol_violation(
    data: bytes, code: ErrorCode, words: str
) -> None:
    hello = make_hello(spectrum=Spectrum.from_packet(make_fft(bins=7), BANDS))

    with pytest.raises(ProtocolViolation, match=re.escape(words)) as caught:
        decode_frame(data, hello)

    assert caught.value.code is code
    assert isinstance(caught.value, ProtocolError)


def test_frame_whose_channels_disagree_with_the_hello_is_refused() -> None:
    data = encode_event(make_raw(names=("C3", "C4")))

    with pytest.raises(ProtocolViolation, match="2 channels but the hello names 3"):
        decode_frame(data, make_hello())


def test_fft_frame_needs_a_matching_spectrum_in_the_hello() -> None:
    with pytest.raises(ProtocolViolation, match="before a hello with a spectrum"):
        decode_frame(GOOD_FFT, make_hello())
    other = Spectrum.from_packet(make_fft(bins=9), BANDS)
    with pytest.raises(ProtocolViolation, match="7 bins and 3 bands"):
        decode_frame(GOOD_FFT, make_hello(spectrum=other))


def test_no_truncation_or_byte_corruption_leaks_another_exception() -> None:
    hello = make_hello(spectrum=Spectrum.from_packet(make_fft(bins=7), BANDS))
    rng = np.random.default_rng(9)
    for good in (GOOD_EEG, GOOD_FFT):
        for cut in range(len(good)):
            with pytest.raises(ProtocolViolation):
                decode_frame(good[:cut], hello)
        for _ in range(300):
            corrupt = bytearray(good)
            corrupt[int(rng.integers(0, 16))] = int(rng.integers(0, 256))
            with contextlib.suppress(ProtocolViolation):
                decode_frame(bytes(corrupt), hello)


@pytest.mark.parametrize(
    ("topic", "maxima_shape", "frame_id", "message"),
    [
        (Topic.FFT, (1, 2), 0, "only EEG topics"),
        (Topic.RAW_EEG, (1, 3), 0, "differ in shape"),
        (Topic.RAW_EEG, (1, 2), -1, "frame header"),
    ],
)
def test_encoder_refuses_what_the_wire_cannot_carry(
    topic: Topic, maxima_shape: tuple[int, int], frame_id: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        encode_decimated(
            topic,
            np.zeros((1, 2)),
            np.zeros(maxima_shape),
            frame_id=frame_id,
            first_sample=0,
            timestamp_us=0,
            monotonic_ns=0,
            pair_rate=1.0,
        )


# --------------------------------------------------------------------------- hello


def test_hello_round_trips_with_and_without_spectrum() -> None:
    spectrum = Spectrum.from_packet(make_fft(), BANDS)
    for hello in (make_hello(), make_hello(spectrum=spectrum, sample_rate=255.99)):
        assert decode_text(encode_server_message(hello)) == hello


def test_hello_json_has_the_documented_fields() -> None:
    packet = make_fft(bins=4)
    hello = make_hello(spectrum=Spectrum.from_packet(packet, BANDS))

    wire = json.loads(encode_server_message(hello))

    assert wire["type"] == "hello"
    assert wire["protocol"] == PROTOCOL_VERSION
    assert wire["session"] == "s-1"
    assert wire["channels"] == list(NAMES)
    assert wire["time_anchor_us"] == ANCHOR_US
    assert wire["units"]["filtered_eeg"] == "µV"
    assert wire["units"]["psd"] == "µV²/Hz"
    assert wire["spectrum"] == {
        "freqs": packet.freqs.tolist(),
        "fft_size": 500,
        "window": "hann",
        "sample_rate": 250.0,
        "bands": [list(band) for band in BANDS],
    }
    assert json.loads(encode_server_message(make_hello()))["spectrum"] is None


def test_spectrum_freqs_come_back_as_the_same_float32_values() -> None:
    packet = make_fft()
    decoded = decode_text(
        encode_server_message(make_hello(spectrum=Spectrum.from_packet(packet, BANDS)))
    )

    assert isinstance(decoded, Hello)
    assert decoded.spectrum is not None
    np.testing.assert_array_equal(
        bits(np.asarray(decoded.spectrum.freqs, np.float32)), bits(packet.freqs)
    )
    assert decoded.spectrum.bands[2] == Band("alpha", 8.0, 13.0)


def test_spectrum_needs_one_band_per_band_power_column() -> None:
    with pytest.raises(ValueError, match="2 bands given but band_power has 3 columns"):
        Spectrum.from_packet(make_fft(), BANDS[:2])


def test_hello_of_another_protocol_version_is_refused() -> None:
    wire = json.loads(encode_server_message(make_hello()))
    wire["protocol"] = 2

    with pytest.raises(ProtocolViolation, match="protocol 2") as caught:
        decode_text(json.dumps(wire))

    assert caught.value.code is ErrorCode.UNSUPPORTED_VERSION


# --------------------------------------------------------------------------- control messages


@pytest.mark.parametrize(
    "message",
    [
        Subscribe(topics=("fft", "filtered_eeg")),
        Subscribe(topics=("filtered_eeg",), max_rate=400.0),
        Unsubscribe(topics=("raw_eeg", "system")),
        Ping(),
    ],
)
def test_client_messages_round_trip(message: Subscribe | Unsubscribe | Ping) -> None:
    assert parse_client_message(encode_client_message(message)) == message
    assert parse_client_message(encode_client_message(message).encode()) == message


def test_client_message_json_is_the_documented_shape() -> None:
    assert json.loads(encode_client_message(Subscribe(topics=("fft",)))) == {
        "type": "subscribe",
        "topics": ["fft"],
    }
    assert json.loads(encode_client_message(Subscribe(topics=("fft",), max_rate=5))) == {
        "type": "subscribe",
        "topics": ["fft"],
        "max_rate": 5,
    }
    assert json.loads(encode_client_message(Ping())) == {"type": "ping"}


def test_topic_names_are_canonicalised() -> None:
    message = parse_client_message('{"type": "subscribe", "topics": ["FFT", "Filtered_EEG"]}')

    assert isinstance(message, Subscribe)
    assert message.topics == ("fft", "filtered_eeg")
    assert message.topic_ids == (Topic.FFT, Topic.FILTERED_EEG)


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        ("{not json", ErrorCode.BAD_JSON, "not valid JSON"),
        (b"\xff\xfe{}", ErrorCode.BAD_JSON, "not valid JSON"),
        ('["subscribe"]', ErrorCode.BAD_JSON, "JSON object"),
        ('{"topics": ["fft"]}', ErrorCode.UNKNOWN_TYPE, "allowed: subscribe, unsubscribe, ping"),
        ('{"type": 3}', ErrorCode.UNKNOWN_TYPE, "allowed: subscribe"),
        ('{"type": "subscribe_all"}', ErrorCode.UNKNOWN_TYPE, "'subscribe_all'"),
        ('{"type": "subscribe"}', ErrorCode.BAD_FIELD, "topics"),
        ('{"type": "subscribe", "topics": "fft"}', ErrorCode.BAD_FIELD, "$.topics"),
        ('{"type": "unsubscribe", "topics": [1]}', ErrorCode.BAD_FIELD, "$.topics[0]"),
        ('{"type": "subscribe", "topics": [], "max_rte": 3}', ErrorCode.BAD_FIELD, "max_rte"),
        ('{"type": "subscribe", "topics": [], "max_rate": "9"}', ErrorCode.BAD_FIELD, "$.max_rate"),
        ('{"type": "subscribe", "topics": [], "max_rate": 0}', ErrorCode.BAD_FIELD, "$.max_rate"),
        ('{"type": "subscribe", "topics": [], "max_rate": -2}', ErrorCode.BAD_FIELD, "from 1 to"),
        (
            '{"type": "subscribe", "topics": ["fft", "eeg"]}',
            ErrorCode.UNKNOWN_TOPIC,
            "unknown topic 'eeg' (allowed: raw_eeg, filtered_eeg, fft, system, marker, aux)",
        ),
        ('{"type": "unsubscribe", "topics": [""]}', ErrorCode.UNKNOWN_TOPIC, "allowed: raw_eeg"),
    ],
)
def test_bad_client_messages_raise_with_a_code_and_a_helpful_message(
    data: str | bytes, code: ErrorCode, words: str
) -> None:
    with pytest.raises(ProtocolViolation, match=re.escape(words)) as caught:
        parse_client_message(data)

    assert caught.value.code is code


@pytest.mark.parametrize("as_bytes", [False, True])
def test_messages_over_the_limit_are_too_large(as_bytes: bool) -> None:
    padding = " " * (MAX_MESSAGE_BYTES - len('{"type":"ping"}') + 1)
    text = '{"type":"ping"}' + padding
    at_limit = '{"type":"ping"}' + padding[1:]

    with pytest.raises(ProtocolViolation, match="65536 bytes") as caught:
        parse_client_message(text.encode() if as_bytes else text)

    assert caught.value.code is ErrorCode.TOO_LARGE
    assert parse_client_message(at_limit.encode() if as_bytes else at_limit) == Ping()


def test_the_limit_counts_utf8_bytes_not_characters() -> None:
    text = '{"type":"ping","x":"' + "µ" * (MAX_MESSAGE_BYTES // 2) + '"}'

    with pytest.raises(ProtocolViolation) as caught:
        parse_client_message(text)

    assert caught.value.code is ErrorCode.TOO_LARGE


def test_violation_becomes_the_error_reply() -> None:
    with pytest.raises(ProtocolViolation) as caught:
        parse_client_message('{"type": "subscribe", "topics": ["nope"]}')

    reply = json.loads(encode_server_message(caught.value.to_message()))

    assert reply["type"] == "error"
    assert reply["code"] == "unknown_topic"
    assert "allowed: raw_eeg, filtered_eeg, fft, system" in reply["message"]


@pytest.mark.parametrize(
    "message",
    [
        Subscribed(topics=("fft",)),
        Unsubscribed(topics=("fft", "raw_eeg")),
        Pong(),
        ErrorMessage(code="bad_json", message="message is not valid JSON"),
        Dropped(frames=(1041, 1042, 2**63), count=3),
        SystemMessage(kind=SystemEventKind.SOURCE_LOST, detail={"retry_in_s": 2.0}, timestamp=7),
    ],
)
def test_server_messages_round_trip(message: ServerMessage) -> None:
    text = encode_server_message(message)

    assert decode_text(text) == message
    assert json.loads(text)["type"] == message.__struct_config__.tag


def test_system_event_is_encoded_as_a_system_text_frame_and_comes_back() -> None:
    event = SystemEvent.now(SystemEventKind.TASK_FAILED, task="brain_waves", attempt=3)

    text = encode_event(event)

    assert isinstance(text, str)
    assert json.loads(text) == {
        "type": "system",
        "kind": "task_failed",
        "detail": {"task": "brain_waves", "attempt": 3},
        "timestamp": event.timestamp,
    }
    decoded = decode_text(text)
    assert isinstance(decoded, SystemMessage)
    assert decoded.to_event() == event


def test_system_detail_values_json_cannot_carry_are_sent_as_text() -> None:
    event = SystemEvent.now(
        SystemEventKind.SAMPLES_LOST,
        count=np.int64(12),
        error=OSError("spi gone"),
        where=Path("/x"),
    )

    detail = json.loads(encode_event(event))["detail"]

    assert detail == {"count": 12, "error": "spi gone", "where": "/x"}


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("nope", ErrorCode.BAD_JSON),
        ('{"type": "welcome"}', ErrorCode.UNKNOWN_TYPE),
        ('{"type": "subscribed", "topics": 3}', ErrorCode.BAD_FIELD),
        (
            '{"type": "system", "kind": "exploded", "detail": {}, "timestamp": 1}',
            ErrorCode.BAD_FIELD,
        ),
    ],
)
def test_bad_server_text_raises_with_a_code(data: str, code: ErrorCode) -> None:
    with pytest.raises(ProtocolViolation) as caught:
        decode_text(data)

    assert caught.value.code is code


def test_server_messages_tolerate_fields_added_later() -> None:
    decoded = decode_text('{"type": "subscribed", "topics": ["fft"], "since": 12}')

    assert decoded == Subscribed(topics=("fft",))


# --------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize("max_rate", ["1e-9", "5e-324", "0.5", "0", "-2", "1e9", "100001", "1e400"])
def test_max_rate_outside_the_range_is_a_bad_field_naming_it_and_the_range(max_rate: str) -> None:
    text = f'{{"type": "subscribe", "topics": ["filtered_eeg"], "max_rate": {max_rate}}}'

    with pytest.raises(ProtocolViolation) as caught:
        parse_client_message(text)

    assert caught.value.code is ErrorCode.BAD_FIELD
    assert "$.max_rate" in str(caught.value)
    assert "from 1 to 100000" in str(caught.value)


@pytest.mark.parametrize("max_rate", [1, 2, 3.9, 250, 16_000, 100_000])
def test_max_rate_inside_the_range_is_accepted(max_rate: float) -> None:
    text = f'{{"type": "subscribe", "topics": ["filtered_eeg"], "max_rate": {max_rate}}}'

    message = parse_client_message(text)

    assert isinstance(message, Subscribe)
    assert message.max_rate == max_rate
    assert (MAX_RATE_MIN, MAX_RATE_MAX) == (1.0, 100_000.0)


def nested(depth: int, inner: str = "") -> str:
    return "[" * depth + inner + "]" * depth


DEEP_CLIENT_TEXT = {
    "bare-950": nested(950),
    "topics-950": '{"type": "subscribe", "topics": ' + nested(950) + "}",
    "objects-950": '{"a":' * 950 + "1" + "}" * 950,
    "before-the-type": '{"x": ' + nested(950) + ', "type": "ping"}',
    "unclosed": nested(950)[:950],
    "bare-100000": nested(100_000),
    "topics-100000": '{"type": "subscribe", "topics": ' + nested(100_000) + "}",
}


def call_from_a_deep_stack(depth: int, call: Callable[[], object]) -> object:
    """Run ``call`` under ``depth`` more Python frames, as a handler deep in aiohttp does."""
    return call() if depth == 0 else call_from_a_deep_stack(depth - 1, call)


@pytest.mark.parametrize("text", DEEP_CLIENT_TEXT.values(), ids=DEEP_CLIENT_TEXT.keys())
def test_deep_nesting_is_bad_json_however_deep_the_callers_stack(text: str) -> None:
    # 100,000 levels are past the 64 KiB limit: raise it to reach the parser.
    spare = sys.getrecursionlimit() - len(inspect.stack(0)) - 60
    for data in (text, text.encode()):
        for depth in (0, spare):
            with pytest.raises(ProtocolViolation) as caught:
                call_from_a_deep_stack(
                    depth, lambda data=data: parse_client_message(data, max_bytes=10**6)
                )
            assert caught.value.code is ErrorCode.BAD_JSON


def test_the_probes_deep_examples_get_an_error_reply() -> None:
    for text in ("[" * 950 + "]" * 950, '{"type":"subscribe","topics":' + nested(950) + "}"):
        with pytest.raises(ProtocolViolation) as caught:
            call_from_a_deep_stack(100, lambda text=text: parse_client_message(text))
        reply = json.loads(encode_server_message(caught.value.to_message()))
        assert reply["code"] == "bad_json"
        assert "32 levels" in reply["message"]


def test_nesting_up_to_the_limit_is_read_and_brackets_in_strings_do_not_count() -> None:
    at_limit = '{"type": "subscribe", "topics": ' + nested(MAX_NESTING - 1) + "}"
    with pytest.raises(ProtocolViolation) as caught:
        parse_client_message(at_limit)
    assert caught.value.code is ErrorCode.BAD_FIELD  # nested lists, not topic names

    bracketed = '{"type": "subscribe", "topics": ["' + "[" * 500 + '\\"' + "{" * 500 + '"]}'
    with pytest.raises(ProtocolViolation) as caught:
        parse_client_message(bracketed)
    assert caught.value.code is ErrorCode.UNKNOWN_TOPIC


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b'{"type": "ping", "\xff": 1}', ErrorCode.BAD_JSON),
        (b'{"type": "subscribe", "topics": ["\xed\xa0\x80"]}', ErrorCode.BAD_JSON),
        ('{"type": "subscribe", "topics": ["\ud800"]}', ErrorCode.BAD_JSON),
        ('{"type": "subscribe", "topics": ["\\ud800"]}', ErrorCode.BAD_JSON),
        ('{"type": "ping"}\ud800', ErrorCode.BAD_JSON),
        ('{"type": "subscribe", "topics": [], "max_rate": NaN}', ErrorCode.BAD_JSON),
        ('{"type": "subscribe", "topics": [], "max_rate": Infinity}', ErrorCode.BAD_JSON),
        (
            '{"type": "subscribe", "topics": [], "max_rate": 1' + "0" * 4000 + "}",
            ErrorCode.BAD_FIELD,
        ),
        ('{"type": "subscribe", "topics": [], "max_rate": true}', ErrorCode.BAD_FIELD),
        ('{"type": "ping", "type": "subscribe", "topics": [1]}', ErrorCode.BAD_FIELD),
        ('{"type": 1e999}', ErrorCode.UNKNOWN_TYPE),
        ("[" * 40 + '"' + '\\"' * 30_000, ErrorCode.BAD_JSON),
        ("", ErrorCode.BAD_JSON),
        (b"", ErrorCode.BAD_JSON),
        ("null", ErrorCode.BAD_JSON),
    ],
    ids=[
        "invalid-utf8",
        "encoded-surrogate",
        "lone-surrogate-str",
        "escaped-lone-surrogate",
        "surrogate-after-the-object",
        "nan-literal",
        "infinity-literal",
        "huge-number",
        "bool-rate",
        "duplicate-type",
        "huge-type",
        "unterminated-escaped-string",
        "empty-str",
        "empty-bytes",
        "null",
    ],
)
def test_odd_input_is_a_protocol_violation_with_a_code(data: str | bytes, code: ErrorCode) -> None:
    with pytest.raises(ProtocolViolation) as caught:
        parse_client_message(data)

    assert caught.value.code is code
    reply = json.loads(encode_server_message(caught.value.to_message()))
    assert reply == {"type": "error", "code": code.value, "message": str(caught.value)}


def test_duplicate_keys_take_the_last_value() -> None:
    message = parse_client_message(
        '{"type": "subscribe", "topics": ["fft"], "topics": ["Raw_EEG"]}'
    )

    assert message == Subscribe(topics=("raw_eeg",))


def test_a_hostile_value_is_not_echoed_back_whole() -> None:
    label = "x" * 60_000
    for text in (
        '{"type": "subscribe", "topics": ["' + label + '"]}',
        '{"type": "' + label + '"}',
        '{"type": "' + label + '", "type": "ping"}',
    ):
        with pytest.raises(ProtocolViolation) as caught:
            parse_client_message(text)
        assert len(str(caught.value)) < 600


@pytest.mark.parametrize(
    "data",
    [
        nested(950),
        nested(100_000),
        '{"type": "system", "kind": "source_lost", "timestamp": 1, "detail": {"a": '
        + nested(950)
        + "}}",
        '{"later": ' + nested(950) + ', "type": "pong"}',
        b"\xff",
        '{"type": "pong"}\ud800',
        '{"type": "hello", "protocol": 1e999}',
    ],
    ids=["bare", "bare-100000", "system-detail", "before-the-type", "utf8", "surrogate", "huge"],
)
def test_bad_server_text_is_a_protocol_violation_however_deep_the_stack(
    data: str | bytes,
) -> None:
    spare = sys.getrecursionlimit() - len(inspect.stack(0)) - 60
    for depth in (0, spare):
        with pytest.raises(ProtocolViolation) as caught:
            call_from_a_deep_stack(depth, lambda: decode_text(data))
        assert caught.value.code in (ErrorCode.BAD_JSON, ErrorCode.BAD_FIELD)


def test_server_text_nested_up_to_the_limit_is_read() -> None:
    detail = '{"a": ' * (MAX_NESTING - 1) + "1" + "}" * (MAX_NESTING - 1)
    text = '{"type": "system", "kind": "source_lost", "timestamp": 1, "detail": ' + detail + "}"

    decoded = decode_text(text)

    assert isinstance(decoded, SystemMessage)


def test_every_data_packet_has_a_frame_id_and_both_eeg_packets_their_samples() -> None:
    raw = make_raw()
    assert raw.samples is raw.volts
    assert make_filtered(raw).frame_id == raw.frame_id
    fft = make_fft()
    assert fft.frame_id == fft.source_frame_id == parse_header(encode_event(fft)).frame_id
