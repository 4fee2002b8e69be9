"""A small asyncio client for eegd's WebSocket streams.

    async for packet in eegd.client.stream("ws://127.0.0.1:8080/ws", topics=["fft"]):
        print(packet.source_frame_id, packet.band_power[:, 2])   # alpha power per channel

EEG arrives as ``EegFrame`` (µV, channel-major), spectra as ``FftPacket``, a source's aux
stream as ``AuxFrame`` (in the units of ``hello.aux``), system
messages as ``SystemEvent``, markers as ``MarkerEvent`` and a plugin's text topic (such as
``quality``) as ``OutputEvent``. The session ``hello`` (channel
names, rate, spectrum bins) is on ``Stream.hello``.
"""

from __future__ import annotations

import contextlib
import ssl as ssl_module
from collections.abc import AsyncIterator, Iterable
from types import TracebackType

import aiohttp

from eegd.errors import ProtocolError
from eegd.events import FftPacket, MarkerEvent, OutputEvent, SystemEvent
from eegd.net.protocol import (
    AuxFrame,
    Dropped,
    EegFrame,
    ErrorMessage,
    Hello,
    MarkerMessage,
    ProtocolViolation,
    ServerMessage,
    Subscribe,
    SystemMessage,
    Unsubscribe,
    Unsubscribed,
    decode_frame,
    decode_output,
    decode_text,
    encode_client_message,
)

__all__ = ["Item", "Stream", "connect", "stream"]

#: What a stream yields: data and system events, and with ``control=True`` also replies.
Item = (
    EegFrame
    | FftPacket
    | AuxFrame
    | SystemEvent
    | MarkerEvent
    | OutputEvent
    | Hello
    | ServerMessage
)


class Stream:
    """An open WebSocket to eegd that decodes what it receives.

    By default it yields data and system events and keeps the rest to itself (the hello in
    ``hello``, back-pressure notices counted in ``frames_dropped``); an ``error`` reply
    raises ``ProtocolError``. With ``control=True`` every message is yielded as it comes.
    """

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, control: bool = False) -> None:
        self._ws = ws
        self._control = control
        self.hello: Hello | None = None
        self.frames_dropped = 0
        self._system_leaving = False
        """Set between asking to unsubscribe from ``system`` and the server's ack of it."""

    @property
    def close_code(self) -> int | None:
        """The WebSocket close code once the connection has ended."""
        return self._ws.close_code

    async def subscribe(self, topics: Iterable[str], max_rate: float | None = None) -> None:
        """Ask for more topics (``/ws`` only)."""
        await self._ws.send_str(
            encode_client_message(Subscribe(topics=tuple(topics), max_rate=max_rate))
        )

    async def unsubscribe(self, topics: Iterable[str]) -> None:
        """Stop receiving topics (``/ws`` only)."""
        names = tuple(topics)
        if "system" in names and not self._control:
            self._system_leaving = True  # system messages still in flight are not yielded
        await self._ws.send_str(encode_client_message(Unsubscribe(topics=names)))

    async def send_text(self, text: str) -> None:
        """Send a raw text message, for tools that speak the protocol themselves."""
        await self._ws.send_str(text)

    async def close(self) -> None:
        """Close the connection normally."""
        await self._ws.close()

    def __aiter__(self) -> Stream:
        return self

    async def __anext__(self) -> Item:
        while True:
            message = await self._ws.receive()
            if message.type is aiohttp.WSMsgType.BINARY:
                if self.hello is None:
                    raise ProtocolError("a data frame arrived before the hello")
                return decode_frame(message.data, self.hello)
            if message.type is not aiohttp.WSMsgType.TEXT:
                raise StopAsyncIteration
            try:
                decoded = decode_text(message.data)
            except ProtocolViolation:
                topics = () if self.hello is None else self.hello.topics
                output = decode_output(message.data, topics)
                if output is None:
                    raise
                return output
            if isinstance(decoded, Hello):
                self.hello = decoded
            elif isinstance(decoded, Dropped):
                self.frames_dropped += decoded.count
            elif isinstance(decoded, Unsubscribed) and "system" in decoded.topics:
                self._system_leaving = False
            if self._control:
                return decoded
            if isinstance(decoded, SystemMessage) and not self._system_leaving:
                return decoded.to_event()
            if isinstance(decoded, MarkerMessage):
                return decoded.to_event()
            if isinstance(decoded, ErrorMessage):
                raise ProtocolError(f"server refused a message: {decoded.code}: {decoded.message}")

    async def __aenter__(self) -> Stream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


@contextlib.asynccontextmanager
async def connect(
    url: str,
    topics: Iterable[str] | None = None,
    *,
    max_rate: float | None = None,
    control: bool = False,
    headers: dict[str, str] | None = None,
    token: str | None = None,
    ssl: ssl_module.SSLContext | bool = True,
) -> AsyncIterator[Stream]:
    """Open a stream; on ``/ws`` receive exactly ``topics`` (single-topic routes take none).

    ``/ws`` sends ``system`` messages by default; naming topics without ``system`` turns them
    off, so ``stream(url, ["fft"])`` yields spectra and nothing else. ``token`` goes as
    ``Authorization: Bearer`` (``eegd token new``); ``ssl`` is aiohttp's, for ``wss://``
    with a certificate of one's own (an ``SSLContext`` that trusts it).
    """
    wanted = list(topics or ())
    headers = dict(headers or {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, headers=headers, max_msg_size=0, autoping=True, ssl=ssl) as ws,
    ):
        opened = Stream(ws, control=control)
        if wanted:
            if "system" not in wanted:
                await opened.unsubscribe(["system"])
            await opened.subscribe(wanted, max_rate=max_rate)
        yield opened


async def stream(
    url: str,
    topics: Iterable[str] | None = None,
    *,
    max_rate: float | None = None,
    token: str | None = None,
    ssl: ssl_module.SSLContext | bool = True,
) -> AsyncIterator[EegFrame | FftPacket | AuxFrame | SystemEvent | MarkerEvent | OutputEvent]:
    """Yield decoded events from ``url`` until the server closes the connection; ``token``
    and ``ssl`` are as for ``connect``."""
    async with connect(url, topics, max_rate=max_rate, token=token, ssl=ssl) as opened:
        async for item in opened:
            if isinstance(
                item, EegFrame | FftPacket | AuxFrame | SystemEvent | MarkerEvent | OutputEvent
            ):
                yield item
