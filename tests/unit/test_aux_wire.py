"""The aux topic on the wire, checked against docs/protocol.md: its worked example byte for
byte, a decoder written from the document's tables (not eegd's), the hello's ``aux`` and
what a reader refuses."""

from __future__ import annotations

import struct

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eegd.aux_stream import AuxKind, AuxStream
from eegd.events import AuxPacket, SourceSession, Topic
from eegd.frozen import frozen_array
from eegd.net.protocol import (
    AuxFrame,
    ErrorCode,
    Hello,
    ProtocolViolation,
    decode_frame,
    encode_event,
    encode_server_message,
    server_frame,
)
from eegd.net.stream.clients import Outgoing
from eegd.net.stream.hello import HelloTracker
from eegd.sources.base import AuxSamples, SampleBlock
from eegd.timestamps import sample_timestamps
from tests.unit.test_fanout import FakeClient, fanout
from tests.unit.test_protocol import read_worked_example

ACCEL = AuxStream(
    channels=("AccelX", "AccelY", "AccelZ"),
    units=("g", "g", "g"),
    kinds=(AuxKind.ACCELEROMETER,) * 3,
    sample_rate=250.0,
    physical_range=((-16.0, 16.0),) * 3,
)
ANCHOR = 1_700_000_000_000_000


def example_packet() -> AuxPacket:
    return AuxPacket(
        frame_id=7,
        first_sample=224,
        timestamps=frozen_array(sample_timestamps(ANCHOR, 224, 2, 250.0), np.uint64),
        values=frozen_array([[0.5, 1.0], [-0.25, 0.0], [1.0, 0.75]], np.float32),
        sample_rate=250.0,
        channel_names=ACCEL.channels,
        monotonic_ns=123_456_789_000,
    )


def session(aux: AuxStream | None, name: str = "s1") -> SourceSession:
    return SourceSession(
        id=name,
        sample_rate=250.0,
        channels=("C3", "C4"),
        time_anchor_us=ANCHOR,
        utc_offset_us=0,
        batch_size=2,
        aux=aux,
    )


def hello_of(aux: AuxStream | None) -> Hello:
    hello = HelloTracker().note(session(aux).event())
    assert hello is not None
    return hello


def outside_decode(frame: bytes, hello: dict[str, object]) -> dict[str, object]:
    """An aux frame read as docs/protocol.md sections 2.1-2.6 describe it."""
    (version, topic, flags, channels, bands, count) = struct.unpack_from("<BBHHHI", frame, 0)
    frame_id, first, stamp, _, rate = struct.unpack_from("<QQQQd", frame, 16)
    assert (version, topic, flags, bands) == (1, 6, 0, 0)
    aux = hello["aux"]
    assert isinstance(aux, dict)
    assert channels == len(aux["channels"])
    assert len(frame) == 56 + 4 * channels * count
    values = struct.unpack_from(f"<{channels * count}f", frame, 56)
    period = 1e6 / rate
    stamps = [stamp - round(first * period) + round((first + i) * period) for i in range(count)]
    return {
        "frame_id": frame_id,
        "first_sample": first,
        "rate": rate,
        "rows": {
            name: values[c * count : (c + 1) * count] for c, name in enumerate(aux["channels"])
        },
        "units": aux["units"],
        "stamps": stamps,
    }


def test_the_documented_aux_example_is_what_the_encoder_produces() -> None:
    assert encode_event(example_packet()) == read_worked_example("aux-example")


def test_a_decoder_written_from_the_document_reads_an_aux_frame_and_the_hello() -> None:
    packet = example_packet()
    hello = msgspec.json.decode(encode_server_message(hello_of(ACCEL)))
    read = outside_decode(encode_event(packet), hello)
    assert read["rows"] == {"AccelX": (0.5, 1.0), "AccelY": (-0.25, 0.0), "AccelZ": (1.0, 0.75)}
    assert (read["frame_id"], read["first_sample"], read["rate"]) == (7, 224, 250.0)
    assert read["units"] == ["g", "g", "g"]
    assert read["stamps"] == [int(stamp) for stamp in packet.timestamps]
    assert hello["aux"]["kinds"] == ["accelerometer"] * 3
    assert hello["aux"]["sample_rate"] == 250.0
    assert "aux" in hello["topics"]


def test_decode_frame_gives_the_aux_values_bit_equal_with_their_stamps() -> None:
    packet = example_packet()
    frame = decode_frame(encode_event(packet), hello_of(ACCEL))
    assert isinstance(frame, AuxFrame)
    assert frame.channel_names == ACCEL.channels
    assert frame.units == ("g", "g", "g")
    assert frame.values.tobytes() == packet.values.tobytes()
    assert not frame.values.flags.writeable
    np.testing.assert_array_equal(frame.timestamps, packet.timestamps)


def test_a_session_without_aux_has_no_aux_in_its_hello() -> None:
    hello = hello_of(None)
    assert hello.aux is None
    assert "aux" not in hello.topics
    assert '"aux":null' in encode_server_message(hello)
    assert "aux" not in session(None).event().detail


def test_a_new_hello_when_only_the_aux_stream_changes() -> None:
    tracker = HelloTracker()
    assert tracker.note(session(None).event()) is not None
    with_aux = tracker.note(session(ACCEL).event())
    assert with_aux is not None
    assert with_aux.aux is not None
    assert with_aux.aux.channels == ACCEL.channels


def test_an_aux_frame_is_refused_without_an_aux_hello_or_with_other_channels() -> None:
    data = encode_event(example_packet())
    with pytest.raises(ProtocolViolation, match="no aux stream") as refused:
        decode_frame(data, hello_of(None))
    assert refused.value.code is ErrorCode.BAD_FRAME
    two = AuxStream(
        channels=("AccelX", "AccelY"),
        units=("g", "g"),
        kinds=(AuxKind.ACCELEROMETER,) * 2,
        sample_rate=250.0,
        physical_range=((-16.0, 16.0),) * 2,
    )
    with pytest.raises(ProtocolViolation, match="aux frame has 3 channels but the hello names 2"):
        decode_frame(data, hello_of(two))
    flagged = data[:2] + b"\x01\x00" + data[4:]
    with pytest.raises(ProtocolViolation, match="not defined for aux frames"):
        decode_frame(flagged, hello_of(ACCEL))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"channels": ()}, "at least one channel"),
        ({"units": ("g",)}, "need as many units, kinds and ranges"),
        ({"channels": ("A", "A", "B")}, "must be unique"),
        ({"sample_rate": 0.0}, "must be positive"),
        ({"physical_range": ((1.0, -1.0),) * 3}, "is empty"),
    ],
)
def test_an_aux_stream_that_cannot_be_described_is_refused(
    changes: dict[str, object], message: str
) -> None:
    fields: dict[str, object] = {
        "channels": ACCEL.channels,
        "units": ACCEL.units,
        "kinds": ACCEL.kinds,
        "sample_rate": ACCEL.sample_rate,
        "physical_range": ACCEL.physical_range,
        **changes,
    }
    with pytest.raises(ValueError, match=message):
        AuxStream(**fields)  # type: ignore[arg-type]


def test_a_block_whose_aux_values_do_not_fit_the_stream_is_malformed() -> None:
    def block(aux: np.ndarray) -> SampleBlock:
        zeros = np.zeros((2, 4))
        return SampleBlock(
            0, zeros.astype(np.int32), zeros.astype(np.float32), aux=AuxSamples(0, aux)
        )

    assert block(np.zeros((3, 4), np.float32)).problem(2, 4, aux_channels=3) is None
    assert "not 3 aux channels" in str(block(np.zeros((2, 4), np.float32)).problem(2, 4, 3))
    assert "not 0 aux channels" in str(block(np.zeros((3, 4), np.float32)).problem(2, 4))
    nan = np.full((3, 4), np.nan, np.float32)
    assert block(nan).problem(2, 4, aux_channels=3) == "aux values hold NaN or infinite values"


@given(
    cut=st.integers(min_value=0, max_value=79),
    at=st.integers(min_value=0, max_value=55),
    byte=st.integers(min_value=0, max_value=255),
)
def test_a_cut_or_corrupted_aux_frame_is_refused_or_decoded_never_anything_else(
    cut: int, at: int, byte: int
) -> None:
    hello = hello_of(ACCEL)
    good = encode_event(example_packet())
    with pytest.raises(ProtocolViolation):
        decode_frame(good[:cut], hello)
    corrupt = bytearray(good)
    corrupt[at] = byte
    result = decoded(bytes(corrupt), hello)
    if isinstance(result, AuxFrame):
        assert result.values.shape == (3, result.n_samples)
    else:
        assert result in (ErrorCode.BAD_FRAME, ErrorCode.UNSUPPORTED_VERSION)


def decoded(data: bytes, hello: Hello) -> object:
    """What ``decode_frame`` makes of ``data``: the frame, or the refusal's code."""
    try:
        return decode_frame(data, hello)
    except ProtocolViolation as refused:
        return refused.code


def test_an_aux_event_is_encoded_once_and_the_same_bytes_go_to_every_client() -> None:
    a, b, c = FakeClient(1), FakeClient(2), FakeClient(3)
    out = fanout(a, b, c)
    out.subscribe(a, [Topic.AUX])
    out.subscribe(b, [Topic.AUX], max_rate=10.0)  # aux is never decimated: full rate
    out.subscribe(c, [Topic.FILTERED_EEG])
    packet = example_packet()
    assert out.dispatch(packet) == []
    assert a.data[0].payload is b.data[0].payload
    assert a.data[0] == Outgoing(server_frame(encode_event(packet)), Topic.AUX, 7, 123_456_789_000)
    assert c.data == []
    assert out.encoded[Topic.AUX] == out.frames_built[Topic.AUX] == 1
    assert not packet.values.flags.writeable
    assert not packet.timestamps.flags.writeable
