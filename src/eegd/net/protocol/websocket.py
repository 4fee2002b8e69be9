"""Complete server-to-client WebSocket frames (RFC 6455 §5.2), built once per event.

A server's frames are never masked, so the frame that carries an event (header and payload)
is the same bytes for every client that gets it: the fan-out builds it once and writes it
to each client's transport as is. Only whole, unfragmented data frames are built here; the
handshake, control frames (ping, pong, close) and control messages stay with aiohttp.
"""

from __future__ import annotations

import struct
from typing import Final

__all__ = ["OPCODE_BINARY", "OPCODE_TEXT", "server_frame"]

#: The opcodes of the two data frames a server sends.
OPCODE_TEXT: Final = 0x1
OPCODE_BINARY: Final = 0x2

_FIN: Final = 0x80
_SHORT: Final = struct.Struct("!BB")
_MEDIUM: Final = struct.Struct("!BBH")
_LONG: Final = struct.Struct("!BBQ")


def server_frame(payload: bytes | str) -> bytes:
    """One final, unmasked frame: binary for ``bytes``, text (UTF-8) for ``str``."""
    if isinstance(payload, str):
        opcode, data = OPCODE_TEXT, payload.encode()
    else:
        opcode, data = OPCODE_BINARY, payload
    first, length = _FIN | opcode, len(data)
    if length < 126:
        header = _SHORT.pack(first, length)
    elif length < 1 << 16:
        header = _MEDIUM.pack(first, 126, length)
    else:
        header = _LONG.pack(first, 127, length)
    return b"".join((header, data))
