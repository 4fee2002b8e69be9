"""The fan-out with fake clients: encode once, route by topic and max_rate, queue sizing."""

from __future__ import annotations

import numpy as np

from eegd.events import (
    EegPacket,
    FftPacket,
    FilteredEegPacket,
    SystemEvent,
    SystemEventKind,
    Topic,
)
from eegd.frozen import frozen_array
from eegd.net.protocol import (
    Hello,
    encode_event,
    encode_server_message,
    parse_header,
    server_frame,
)
from eegd.net.stream.clients import ClientStats, Outgoing
from eegd.net.stream.fanout import Fanout
from eegd.timestamps import sample_timestamps

NAMES = ("C3", "C4")
RATES = {Topic.RAW_EEG: 10.0, Topic.FILTERED_EEG: 10.0, Topic.FFT: 4.0, Topic.SYSTEM: 1.0}


class FakeClient:
    """A client that keeps what it is sent, with a bounded data queue like the real one."""

    def __init__(self, client_id: int, control_room: int = 100, legacy: bool = False) -> None:
        self.id = client_id
        self.legacy = legacy
        self.topics: set[Topic] = set()
        self.max_queue = 0
        self.stats = ClientStats()
        self.data: list[Outgoing] = []
        self.control: list[str] = []
        self._control_room = control_room

    def offer(self, item: Outgoing) -> None:
        if len(self.data) >= self.max_queue:
            self.data.pop(0)
            self.stats.dropped += 1
        self.data.append(item)

    def send_control(self, text: str) -> bool:
        if len(self.control) >= self._control_room:
            return False
        self.control.append(text)
        return True


def unframed(item: Outgoing) -> bytes:
    """The payload of a server's WebSocket frame: past its 2, 4 or 10 header bytes."""
    frame = item.payload
    assert isinstance(frame, bytes)
    return frame[{126: 4, 127: 10}.get(frame[1], 2) :]


def fanout(*clients: FakeClient) -> Fanout[FakeClient]:
    out: Fanout[FakeClient] = Fanout(RATES, queue_seconds=2.0, min_queue_frames=8)
    for client in clients:
        out.add(client)
    return out


def filtered(frame_id: int, n: int = 10) -> FilteredEegPacket:
    raw = EegPacket.create(
        frame_id=frame_id,
        first_sample=frame_id * n,
        timestamps=sample_timestamps(0, frame_id * n, n, 100.0),
        raw=np.zeros((2, n), dtype=np.int32),
        volts=np.arange(2 * n, dtype=np.float32).reshape(2, n) * np.float32(1e-6),
        sample_rate=100.0,
        channel_names=NAMES,
        monotonic_ns=1,
    )
    return FilteredEegPacket.from_source(raw, raw.volts)


def fft(frame_id: int) -> FftPacket:
    return FftPacket(
        source_frame_id=frame_id,
        timestamp=5,
        freqs=frozen_array(np.arange(3), np.float32),
        psd=frozen_array(np.ones((2, 3)), np.float32),
        band_power=frozen_array(np.ones((2, 1)), np.float32),
        fft_size=4,
        window="hann",
        sample_rate=2.0,
        channel_names=NAMES,
        monotonic_ns=1,
        bands=(("delta", 0.0, 1.0),),
    )


def test_one_encoding_serves_every_full_rate_client_with_the_same_bytes() -> None:
    a, b, c = FakeClient(1), FakeClient(2), FakeClient(3)
    out = fanout(a, b, c)
    out.subscribe(a, [Topic.FILTERED_EEG])
    out.subscribe(b, [Topic.FILTERED_EEG])
    out.subscribe(c, [Topic.FFT])
    packet = filtered(7)
    assert out.dispatch(packet) == []
    assert a.data[0].payload is b.data[0].payload
    framed = server_frame(encode_event(packet))
    assert a.data[0] == Outgoing(framed, Topic.FILTERED_EEG, 7, packet.monotonic_ns)
    assert c.data == []
    assert out.encoded[Topic.FILTERED_EEG] == 1
    assert out.frames_built[Topic.FILTERED_EEG] == 1
    assert out.routed[Topic.FILTERED_EEG] == 1


def test_an_event_nobody_wants_is_neither_encoded_nor_counted() -> None:
    out = fanout(FakeClient(1))
    out.dispatch(filtered(1))
    assert out.encoded[Topic.FILTERED_EEG] == 0
    assert out.routed[Topic.FILTERED_EEG] == 0


def test_fft_frames_carry_the_source_frame_id_and_system_events_none() -> None:
    a = FakeClient(1)
    out = fanout(a)
    out.subscribe(a, [Topic.FFT, Topic.SYSTEM])
    out.dispatch(fft(41))
    out.dispatch(SystemEvent.now(SystemEventKind.SHUTDOWN))
    assert [item.frame_id for item in a.data] == [41, None]
    assert [item.payload[0] for item in a.data] == [0x82, 0x81]  # binary, then text


def test_clients_of_one_max_rate_share_one_envelope_encoding() -> None:
    a, b, c = FakeClient(1), FakeClient(2), FakeClient(3)
    out = fanout(a, b, c)
    out.subscribe(a, [Topic.FILTERED_EEG], max_rate=10.0)
    out.subscribe(b, [Topic.FILTERED_EEG], max_rate=10.0)
    out.subscribe(c, [Topic.FILTERED_EEG], max_rate=50.0)
    out.dispatch(filtered(0))
    assert out.encoded[Topic.FILTERED_EEG] == 0
    assert out.encoded_envelopes[Topic.FILTERED_EEG] == 2
    assert out.frames_built[Topic.FILTERED_EEG] == 2
    assert a.data[0].payload is b.data[0].payload
    assert parse_header(unframed(a.data[0])).decimated
    assert c.data[0].payload != a.data[0].payload
    assert out.clients_of(Topic.FILTERED_EEG) == 3


def test_queues_hold_about_queue_seconds_of_the_clients_topics() -> None:
    a = FakeClient(1)
    out = fanout(a)
    out.subscribe(a, [Topic.SYSTEM])
    assert a.max_queue == 8  # the floor
    out.subscribe(a, [Topic.RAW_EEG, Topic.FILTERED_EEG])
    assert a.max_queue == 42  # (10 + 10 + 1) frames/s × 2 s
    out.unsubscribe(a, [Topic.RAW_EEG])
    assert a.max_queue == 22


def test_a_dispatch_names_the_clients_that_lost_a_frame() -> None:
    slow, fast = FakeClient(1), FakeClient(2)
    out = fanout(slow, fast)
    out.subscribe(slow, [Topic.FILTERED_EEG])
    out.subscribe(fast, [Topic.FILTERED_EEG])
    slow.max_queue = 2
    fast.max_queue = 100
    assert out.dispatch(filtered(0)) == []
    assert out.dispatch(filtered(1)) == []
    assert out.dispatch(filtered(2)) == [(slow, 0)]
    assert [item.frame_id for item in slow.data] == [1, 2]
    assert [item.frame_id for item in fast.data] == [0, 1, 2]


def test_a_removed_client_is_routed_nothing_and_leaves_no_route() -> None:
    a = FakeClient(1)
    out = fanout(a)
    out.subscribe(a, [Topic.FILTERED_EEG, Topic.SYSTEM], max_rate=10.0)
    assert out.wanted(Topic.FILTERED_EEG)
    assert out.remove(a)
    assert not out.remove(a)
    assert not out.wanted(Topic.FILTERED_EEG)
    assert not out.wanted(Topic.SYSTEM)
    assert out.dispatch(filtered(0)) == []
    assert a.data == []


def test_broadcast_reaches_everyone_and_names_who_has_no_room() -> None:
    a, full = FakeClient(1), FakeClient(2, control_room=0)
    out = fanout(a, full)
    text = encode_server_message(Hello(session="s", sample_rate=1.0, channels=(), time_anchor_us=0))
    assert out.broadcast(text) == [full]
    assert a.control == [text]
