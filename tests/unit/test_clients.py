"""One client's queue: drop-oldest for data, bounded control replies, stall detection, and
the fast path that writes a frame straight to the transport only when nothing can pass it."""

from __future__ import annotations

import asyncio

from aiohttp import web

from eegd.events import Topic
from eegd.net.stream.clients import MAX_CONTROL_QUEUED, ClientConnection, Outgoing
from eegd.net.stream.watchdog import StallWatchdog
from tests.support.clocks import FakeClock


class BufferingTransport(asyncio.Transport):
    """A transport whose send buffer holds what the test says (a peer reading or not); it
    keeps what is written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.buffered = 0
        self.written: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (16 * 1024, 64 * 1024)


def client(max_queue: int = 4, transport: asyncio.Transport | None = None) -> ClientConnection:
    return ClientConnection(
        1,
        web.WebSocketResponse(),
        route="/ws",
        remote="127.0.0.1",
        fixed_topics=None,
        max_queue=max_queue,
        transport=transport,
    )


def frame(frame_id: int) -> Outgoing:
    return Outgoing(f"frame {frame_id}".encode(), Topic.FILTERED_EEG, frame_id)


async def drain(connection: ClientConnection, count: int) -> list[bytes | str]:
    payloads = []
    for _ in range(count):
        payloads.append((await connection.next_outgoing()).payload)
        connection.written()
    return payloads


async def test_a_full_queue_drops_the_oldest_data_frames_and_reports_them_once() -> None:
    connection = client(max_queue=3)
    for frame_id in range(5):
        connection.enqueue(frame(frame_id))
    assert connection.stats.dropped == 2
    assert connection.take_drop_report() == ([0, 1], 2)
    assert connection.take_drop_report() == ([], 0)
    assert await drain(connection, 3) == [b"frame 2", b"frame 3", b"frame 4"]


async def test_control_messages_are_never_dropped_to_make_room_for_data() -> None:
    connection = client(max_queue=2)
    connection.send_control("hello")
    for frame_id in range(4):
        connection.enqueue(frame(frame_id))
    assert await drain(connection, 3) == ["hello", b"frame 2", b"frame 3"]


async def test_a_full_queue_keeps_a_marker_and_drops_the_stream_frames_around_it() -> None:
    # A marker (a file's annotation) happens once: a slow reader loses EEG frames, which
    # the next ones stand in for, never the marker.
    connection = client(max_queue=3)
    connection.enqueue(frame(0))
    connection.enqueue(Outgoing(b"marker", Topic.MARKER))
    for frame_id in range(1, 6):
        connection.enqueue(frame(frame_id))
    assert connection.take_drop_report() == ([0, 1, 2, 3], 4)
    assert await drain(connection, 3) == [b"marker", b"frame 4", b"frame 5"]


async def test_a_queue_of_markers_alone_stays_bounded() -> None:
    connection = client(max_queue=2)
    for number in range(3):
        connection.enqueue(Outgoing(f"marker {number}".encode(), Topic.MARKER))
    assert connection.take_drop_report() == ([], 1)
    assert await drain(connection, 2) == [b"marker 1", b"marker 2"]


async def test_control_replies_are_bounded_and_an_unread_client_is_over_budget() -> None:
    connection = client()
    accepted = [connection.send_control(f"pong {n}") for n in range(MAX_CONTROL_QUEUED + 10)]
    assert accepted == [True] * MAX_CONTROL_QUEUED + [False] * 10
    assert connection.over_budget
    assert len(await drain(connection, MAX_CONTROL_QUEUED)) == MAX_CONTROL_QUEUED


async def test_data_does_not_count_against_the_control_budget() -> None:
    connection = client(max_queue=MAX_CONTROL_QUEUED * 2)
    for frame_id in range(MAX_CONTROL_QUEUED * 2):
        connection.enqueue(frame(frame_id))
    assert connection.send_control("hello")
    assert not connection.over_budget


async def test_a_client_that_keeps_up_is_written_to_directly_with_its_stamp() -> None:
    transport = BufferingTransport()
    connection = client(transport=transport)
    stamps: list[int] = []
    connection.frame_written = stamps.append
    connection.offer(Outgoing(b"frame 0", Topic.FILTERED_EEG, 0, stamp_ns=123))
    connection.offer(Outgoing(b"frame 1", Topic.FILTERED_EEG, 1))
    assert transport.written == [b"frame 0", b"frame 1"]
    assert stamps == [123]
    assert (connection.stats.written_direct, connection.stats.sent) == (2, 2)


async def test_a_frame_never_passes_a_queued_one() -> None:
    transport = BufferingTransport()
    connection = client(max_queue=8, transport=transport)
    transport.buffered = 16 * 1024  # at the low-water mark: the peer is behind
    connection.offer(frame(0))
    connection.offer(frame(1))
    transport.buffered = 0  # the socket has room again, but frames 0 and 1 wait in the queue
    connection.offer(frame(2))
    assert transport.written == []
    assert await drain(connection, 3) == [b"frame 0", b"frame 1", b"frame 2"]
    connection.offer(frame(3))
    assert transport.written == [b"frame 3"]


async def test_a_full_queue_is_never_bypassed_and_its_drops_are_told_first() -> None:
    transport = BufferingTransport()
    connection = client(max_queue=2, transport=transport)
    transport.buffered = 16 * 1024
    for frame_id in range(4):
        connection.offer(frame(frame_id))
    transport.buffered = 0
    connection.offer(frame(4))
    assert transport.written == []
    assert connection.stats.dropped == 3
    assert await drain(connection, 2) == [b"frame 3", b"frame 4"]
    # Empty queue, but the drops are not reported yet: the notice must come first.
    connection.offer(frame(5))
    assert transport.written == []
    assert connection.take_drop_report() == ([0, 1, 2], 3)
    assert await drain(connection, 1) == [b"frame 5"]
    connection.offer(frame(6))
    assert transport.written == [b"frame 6"]


async def test_no_frame_passes_the_one_the_writer_holds() -> None:
    transport = BufferingTransport()
    connection = client(transport=transport)
    connection.send_control("hello")
    connection.offer(frame(0))  # behind the hello
    held = await connection.next_outgoing()
    assert held.payload == "hello"
    connection.offer(frame(1))  # the writer may still be writing the hello
    assert transport.written == []
    connection.written()
    assert await drain(connection, 2) == [b"frame 0", b"frame 1"]
    connection.offer(frame(2))
    assert transport.written == [b"frame 2"]


def test_a_socket_whose_buffer_does_not_shrink_is_stalled_whatever_filled_it() -> None:
    transport = BufferingTransport()
    connection = client(transport=transport)
    assert connection.stalled_for(0.0) == 0.0
    transport.buffered = 50_000  # pongs to a ping flood; no write of ours pending
    assert connection.stalled_for(1.0) == 1.0  # since it was last seen empty
    assert connection.stalled_for(4.0) == 4.0
    transport.buffered = 40_000  # the peer read something
    assert connection.stalled_for(5.0) == 0.0
    assert connection.stalled_for(9.0) == 4.0
    transport.buffered = 0
    assert connection.stalled_for(10.0) == 0.0


def test_a_completed_write_counts_as_progress() -> None:
    transport = BufferingTransport()
    connection = client(transport=transport)
    transport.buffered = 70_000
    connection.stalled_for(0.0)
    connection.stats.sent += 1
    transport.buffered = 80_000
    assert connection.stalled_for(2.0) == 0.0


def test_a_write_that_never_returns_is_stalled() -> None:
    connection = client()
    connection.sending_since = 100.0
    assert connection.stalled_for(107.5) == 7.5


async def test_the_watchdog_on_a_fake_clock_closes_only_the_client_that_stalls() -> None:
    clock = FakeClock(manual=True)
    stuck_transport, reading_transport = BufferingTransport(), BufferingTransport()
    stuck, reading = client(transport=stuck_transport), client(transport=reading_transport)
    stalled: list[ClientConnection] = []
    watchdog = StallWatchdog(10.0, lambda: [stuck, reading], stalled.append, clock.asyncio)
    assert watchdog.interval == 1.0
    watching = asyncio.create_task(watchdog.run())
    try:
        await clock.sleeping.wait()
        stuck_transport.buffered = reading_transport.buffered = 100
        for _ in range(10):  # stuck from the first check, at 1 s, on
            reading_transport.buffered -= 1  # a peer that keeps reading
            await clock.advance_to_next_sleep(1.0)
        assert stalled == []
        reading_transport.buffered -= 1
        await clock.advance_to_next_sleep(1.0)
        assert stalled == [stuck]
    finally:
        watching.cancel()
