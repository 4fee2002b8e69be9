"""A WebSocket client made by hand on a plain socket: for peers that misbehave on purpose.

Well-behaved clients use aiohttp; a hostile one must be able to stop reading, dribble a
handshake or flood frames, which a library client will not do.
"""

from __future__ import annotations

import os
import socket
import struct

from tests.support.timing import scaled

#: WebSocket opcodes a client sends.
TEXT, PING = 0x1, 0x9


def raw_websocket(port: int, path: str, receive_buffer: int = 4096) -> socket.socket:
    """A socket that has completed the WebSocket handshake and will read only when told."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    reply = sock.recv(1024)
    if not reply.startswith(b"HTTP/1.1 101"):
        sock.close()
        raise AssertionError(f"the handshake was refused: {reply[:80]!r}")
    return sock


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One complete, masked client frame (FIN set)."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return header + mask + masked


def read_until_closed(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """Everything the server still sends until it closes or resets the connection."""
    sock.settimeout(scaled(timeout))
    received = bytearray()
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return bytes(received)


def close_code(received: bytes) -> int | None:
    """The code of the close frame in a server's byte stream (unmasked frames), if any."""
    offset = 0
    while offset + 2 <= len(received):
        first, second = received[offset], received[offset + 1]
        length, offset = second & 0x7F, offset + 2
        if length == 126:
            (length,) = struct.unpack_from("!H", received, offset)
            offset += 2
        elif length == 127:
            (length,) = struct.unpack_from("!Q", received, offset)
            offset += 8
        if first & 0x0F == 0x8 and length >= 2:
            code: int = struct.unpack_from("!H", received, offset)[0]
            return code
        offset += length
    return None
