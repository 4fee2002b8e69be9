"""A WebSocket client on a plain socket that reads only when told, parsed strictly.

The bytes are parsed by the ``websockets`` library's sans-I/O client protocol, which fails
on anything RFC 6455 forbids (a masked or fragmented server frame, reserved bits, a control
frame that is too long, text that is not UTF-8, ...). Reading is the test's choice: while it
does not read, the socket's buffers fill and the server sees a peer that fell behind.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from tests.support.timing import scaled


class StrictClient:
    """One connection: ``receive`` feeds what arrived to the parser and keeps the frames."""

    def __init__(self, sock: socket.socket, protocol: ClientProtocol) -> None:
        self.sock = sock
        self.protocol = protocol
        self.frames: list[Frame] = []
        """Every data frame received, in order (pings and pongs are answered, not kept)."""

    @classmethod
    async def connect(cls, port: int, path: str, receive_buffer: int = 4096) -> StrictClient:
        """Open the socket (with a small receive buffer) and complete the handshake."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, ("127.0.0.1", port))
        protocol = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}{path}"), max_size=None)
        protocol.send_request(protocol.connect())
        client = cls(sock, protocol)
        await client._flush()
        while not any(isinstance(event, Response) for event in await client._read()):
            pass
        if protocol.handshake_exc is not None:
            raise AssertionError(f"the handshake failed: {protocol.handshake_exc}")
        return client

    async def receive_until(self, done: Callable[[], bool], timeout: float = 10.0) -> None:
        """Read and parse until ``done()`` holds."""
        async with asyncio.timeout(scaled(timeout)):
            while not done():
                await self._read()

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    async def _read(self) -> list[object]:
        data = await asyncio.get_running_loop().sock_recv(self.sock, 1 << 20)
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        events = self.protocol.events_received()
        if self.protocol.parser_exc is not None:
            raise AssertionError(f"not a valid WebSocket stream: {self.protocol.parser_exc!r}")
        self.frames += [
            event
            for event in events
            if isinstance(event, Frame) and event.opcode in (Opcode.TEXT, Opcode.BINARY)
        ]
        await self._flush()  # pongs to the server's pings
        if not data:
            raise AssertionError("the server closed the connection")
        return events

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        for chunk in self.protocol.data_to_send():
            if chunk:
                await loop.sock_sendall(self.sock, chunk)
