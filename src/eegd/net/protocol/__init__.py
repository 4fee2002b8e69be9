"""eegd's WebSocket wire protocol, sans-I/O: events in, bytes or JSON text out, and back.

Data frames (raw_eeg, filtered_eeg, fft) are binary: a fixed 56-byte little-endian header,
then float32 arrays at 4-byte aligned offsets (``frames``). The hello, control messages and
system events are JSON text frames (``messages``); ``websocket`` wraps an encoded event in the
complete WebSocket frame that every client of it is sent. Nothing here touches a socket or awaits:
the server and the client feed these functions and write what they return.
``docs/protocol.md`` specifies it byte by byte.

Decoders raise ``ProtocolViolation`` (a ``ProtocolError``) whose ``code`` is the machine code
the server puts in its ``error`` reply; encoders raise ``ValueError`` for events they cannot
represent (a programming error, not a wire error).
"""

from eegd.net.protocol.frames import (
    FLAG_DECIMATED,
    HEADER,
    EegFrame,
    FrameHeader,
    decode_frame,
    encode_decimated,
    encode_event,
    parse_header,
)
from eegd.net.protocol.messages import (
    DEFAULT_UNITS,
    MAX_MESSAGE_BYTES,
    MAX_NESTING,
    MAX_RATE_MAX,
    MAX_RATE_MIN,
    PROTOCOL_VERSION,
    Band,
    ClientMessage,
    Command,
    Done,
    Dropped,
    ErrorCode,
    ErrorMessage,
    Hello,
    Mark,
    MarkerMessage,
    Ping,
    Pong,
    ProtocolViolation,
    Record,
    ServerMessage,
    Spectrum,
    Subscribe,
    Subscribed,
    SystemMessage,
    Unsubscribe,
    Unsubscribed,
    decode_output,
    decode_text,
    encode_client_message,
    encode_output,
    encode_server_message,
    parse_client_message,
)
from eegd.net.protocol.websocket import OPCODE_BINARY, OPCODE_TEXT, server_frame

__all__ = [
    "DEFAULT_UNITS",
    "FLAG_DECIMATED",
    "HEADER",
    "MAX_MESSAGE_BYTES",
    "MAX_NESTING",
    "MAX_RATE_MAX",
    "MAX_RATE_MIN",
    "OPCODE_BINARY",
    "OPCODE_TEXT",
    "PROTOCOL_VERSION",
    "Band",
    "ClientMessage",
    "Command",
    "Done",
    "Dropped",
    "EegFrame",
    "ErrorCode",
    "ErrorMessage",
    "FrameHeader",
    "Hello",
    "Mark",
    "Ping",
    "Pong",
    "ProtocolViolation",
    "Record",
    "ServerMessage",
    "Spectrum",
    "Subscribe",
    "Subscribed",
    "MarkerMessage",
    "SystemMessage",
    "Unsubscribe",
    "Unsubscribed",
    "decode_frame",
    "decode_output",
    "decode_text",
    "encode_client_message",
    "encode_decimated",
    "encode_event",
    "encode_output",
    "encode_server_message",
    "parse_client_message",
    "parse_header",
    "server_frame",
]
