"""Changing the source while clients stream: GET and PUT /api/source.

A PUT merges a partial ``[source]`` table into the running settings and checks it before
anything stops; the acquisition then restarts on the new source in a new session. Every
client gets the new hello, then contiguous frames at the new rate; a bad request leaves the
stream exactly as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

import eegd.client
from eegd.net.protocol import EegFrame, Hello, SystemMessage
from tests.support.live import LiveDaemon, live_daemon
from tests.support.timing import scaled
from tests.support.waiting import wait_until

SYNTHETIC_250 = """
[source]
kind = "synthetic"
sample_rate = 250
batch_size = 25
"""


@dataclass
class Client:
    """A /ws client of raw_eeg and system that keeps, per session, the frames it got."""

    hellos: list[Hello] = field(default_factory=list)
    frames: dict[str, list[EegFrame]] = field(default_factory=dict)
    system: list[SystemMessage] = field(default_factory=list)
    dropped: int = 0

    def frames_at(self, rate: float) -> list[EegFrame]:
        """The frames of the last session at ``rate``."""
        sessions = [hello.session for hello in self.hellos if hello.sample_rate == rate]
        return self.frames.get(sessions[-1], []) if sessions else []


@contextlib.asynccontextmanager
async def clients(live: LiveDaemon, count: int) -> AsyncIterator[list[Client]]:
    """``count`` clients reading as fast as they can for the duration of the block."""
    found = [Client() for _ in range(count)]

    async def read(client: Client) -> None:
        async with eegd.client.connect(
            live.ws_url + "ws", ["raw_eeg", "system"], control=True
        ) as stream:
            async for item in stream:
                if isinstance(item, Hello):
                    client.hellos.append(item)
                    client.frames.setdefault(item.session, [])
                elif isinstance(item, EegFrame):
                    client.frames[client.hellos[-1].session].append(item)
                elif isinstance(item, SystemMessage):
                    client.system.append(item)
            client.dropped = stream.frames_dropped

    readers = [asyncio.create_task(read(client)) for client in found]
    try:
        yield found
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


async def request(live: LiveDaemon, method: str, body: Any = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, live.url + "api/source", json=body) as response,
    ):
        return response.status, await response.json()


def contiguous(frames: list[EegFrame], batch: int) -> bool:
    ids = [frame.frame_id for frame in frames]
    starts = [frame.first_sample for frame in frames]
    return (
        bool(ids)
        and ids == list(range(ids[0], ids[0] + len(ids)))
        and starts == [starts[0] + batch * index for index in range(len(starts))]
    )


async def test_a_new_rate_reaches_every_client_as_a_new_hello_then_contiguous_frames() -> None:
    async with live_daemon(SYNTHETIC_250) as live, clients(live, 3) as readers:
        await wait_until(lambda: all(len(c.frames_at(250)) >= 3 for c in readers), scaled(10))
        before = live.daemon.acquisition.session
        assert before is not None

        status, state = await request(live, "PUT", {"sample_rate": 1000})
        assert status == 200, state
        assert state["settings"] == {"kind": "synthetic", "batch_size": 25, "sample_rate": 1000}
        assert state["session"]["sample_rate"] == 1000
        assert state["session"]["id"] != before.id

        await wait_until(lambda: all(len(c.frames_at(1000)) >= 20 for c in readers), scaled(10))
        status, shown = await request(live, "GET")
        assert status == 200
        assert shown["settings"]["sample_rate"] == 1000
        stats = live.daemon.acquisition.stats()

    for client in readers:
        assert [hello.sample_rate for hello in client.hellos] == [250, 1000]
        assert client.hellos[1].session == state["session"]["id"]
        old, new = client.frames[client.hellos[0].session], client.frames_at(1000)
        assert contiguous(old, 25)
        assert contiguous(new, 25)
        assert new[0].frame_id == 0  # the new session's frames start again, none missing
        assert new[0].first_sample == 0
        assert {frame.sample_rate for frame in new} == {1000}
        assert client.dropped == 0
        changes = [message for message in client.system if message.kind == "config_changed"]
        assert [message.detail["source"]["sample_rate"] for message in changes] == [1000]
    assert stats.samples_lost == 0
    assert stats.sessions == 2


BAD_REQUESTS = [
    ({"sample_rate": 300}, "source.sample_rate: 300 is not allowed"),
    ({"kind": "nope"}, "source.kind: 'nope' is not allowed"),
    ({"synthetic": {"seed": "x"}}, "source.synthetic.seed: expected `int`, got `str`"),
    ({"colour": "blue"}, "source.colour: unknown key"),
    (
        {"kind": "playback", "playback": {"path": "/nonexistent.edf"}},
        "source.playback.path: /nonexistent.edf: outside the playback directories",
    ),
    ({"batch_size": 0}, "source.batch_size: 0 is out of range"),
]


async def test_a_bad_request_leaves_the_stream_untouched() -> None:
    async with live_daemon(SYNTHETIC_250) as live, clients(live, 1) as (client,):
        await wait_until(lambda: len(client.frames_at(250)) >= 2, scaled(10))
        session = live.daemon.acquisition.session
        for body, message in BAD_REQUESTS:
            status, reply = await request(live, "PUT", body)
            assert status == 400, body
            assert reply["type"] == "error"
            assert reply["message"].startswith(message)
        seen = len(client.frames_at(250))
        await wait_until(lambda: len(client.frames_at(250)) >= seen + 2, scaled(10))
        assert live.daemon.acquisition.session is session
        assert live.daemon.config.source.sample_rate == 250
        status, state = await request(live, "GET")
        assert state["settings"] == {"kind": "synthetic", "batch_size": 25, "sample_rate": 250}
    assert len(client.hellos) == 1
    assert contiguous(client.frames_at(250), 25)
    assert not [message for message in client.system if message.kind == "config_changed"]


async def test_a_partial_table_merges_with_the_running_settings() -> None:
    toml = SYNTHETIC_250 + "\n[source.synthetic]\nseed = 7\nline_noise_hz = 50\n"
    async with live_daemon(toml) as live:
        status, state = await request(live, "PUT", {"synthetic": {"seed": 9}, "batch_size": 50})
        assert status == 200, state
        assert state["settings"] == {
            "kind": "synthetic",
            "batch_size": 50,
            "sample_rate": 250,
            "synthetic": {"seed": 9, "line_noise_hz": 50},
        }
        status, state = await request(live, "PUT", {"sample_rate": None})  # back to the default
        assert status == 200, state
        assert "sample_rate" not in state["settings"]
        assert state["session"]["sample_rate"] == 250
        assert live.daemon.acquisition.stats().sessions == 3


async def test_the_reply_says_what_the_kind_lets_one_choose() -> None:
    async with live_daemon(SYNTHETIC_250) as live:
        status, state = await request(live, "GET")
        assert status == 200
        assert state["choices"] == {
            "sample_rate": [250, 500, 1000, 2000, 4000, 8000, 16000],
            "channels": {"min": 1, "max": 32},
        }
        body = {"kind": "brainflow", "brainflow": {"board": "synthetic"}}
        status, state = await request(live, "PUT", body)
        assert status == 200, state
        assert state["choices"] == {"sample_rate": None, "channels": None}  # the board says


async def test_concurrent_source_changes_run_one_at_a_time() -> None:
    """350 concurrent PUTs once left 226 acquisition threads: now one change runs, each
    other one meanwhile gets 409, and a single reader thread is left."""
    async with live_daemon(SYNTHETIC_250) as live:
        bodies = [{"sample_rate": rate} for rate in (500, 250) * 10]
        replies = await asyncio.gather(*(request(live, "PUT", body) for body in bodies))
        statuses = [status for status, _reply in replies]
        assert set(statuses) <= {200, 409}, statuses
        assert 200 in statuses
        assert 409 in statuses
        for status, reply in replies:
            if status == 409:
                assert (reply["code"], reply["message"]) == (
                    "busy",
                    "a source change is under way; send this one once it is done",
                )
        await wait_until(lambda: live.daemon.acquisition.session is not None, scaled(10))

        def readers() -> int:
            return sum(t.name == "eegd-synthetic-reader" for t in threading.enumerate())

        await wait_until(lambda: readers() == 1, scaled(10))
        status, _ = await request(live, "PUT", {"sample_rate": 1000})
        assert status == 200
        await wait_until(lambda: readers() == 1, scaled(10))
