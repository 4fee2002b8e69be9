"""The JSON side of the wire protocol: the hello, control messages, replies and system events.

Clients send small tagged JSON objects (subscribe, unsubscribe, ping); the server answers with
acknowledgements, errors, dropped-frame notices and system events, and describes the session
in a hello. Everything here is sans-I/O: text in, validated Structs out, and back.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Annotated, Any, Final, TypeAlias

import msgspec
import numpy as np

from eegd.errors import ProtocolError
from eegd.events import FftPacket, SystemEvent, SystemEventKind, Topic

__all__ = [
    "DEFAULT_UNITS",
    "MAX_MESSAGE_BYTES",
    "PROTOCOL_VERSION",
    "Band",
    "ClientMessage",
    "Dropped",
    "ErrorCode",
    "ErrorMessage",
    "Hello",
    "Ping",
    "Pong",
    "ProtocolViolation",
    "ServerMessage",
    "Spectrum",
    "Subscribe",
    "Subscribed",
    "SystemMessage",
    "Unsubscribe",
    "Unsubscribed",
    "decode_text",
    "encode_client_message",
    "encode_hello",
    "encode_server_message",
    "parse_client_message",
]

#: Version byte of every data frame and ``protocol`` of the hello; bumped on any change
#: that an existing reader would misread.
PROTOCOL_VERSION: Final = 1
#: Inbound control messages larger than this (UTF-8 bytes) are refused with ``too_large``.
MAX_MESSAGE_BYTES: Final = 64 * 1024

#: What a hello's ``units`` says by default: the unit of each quantity on the wire.
DEFAULT_UNITS: Final[Mapping[str, str]] = {
    "raw_eeg": "µV",
    "filtered_eeg": "µV",
    "psd": "µV²/Hz",
    "band_power": "µV²",
    "freqs": "Hz",
    "sample_rate": "Hz",
    "timestamp": "µs",
}

_ALLOWED_TOPIC_NAMES: Final = ", ".join(topic.label for topic in Topic)


class ErrorCode(enum.StrEnum):
    """Machine-readable reason a frame or message was refused (``ProtocolViolation.code``)."""

    BAD_JSON = "bad_json"
    UNKNOWN_TYPE = "unknown_type"
    BAD_FIELD = "bad_field"
    UNKNOWN_TOPIC = "unknown_topic"
    TOO_LARGE = "too_large"
    NOT_ALLOWED = "not_allowed"
    TOO_MANY_TOPICS = "too_many_topics"
    BAD_FRAME = "bad_frame"
    UNSUPPORTED_VERSION = "unsupported_version"


class ProtocolViolation(ProtocolError):
    """A frame or message broke the protocol; ``code`` says how, the message says what."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code

    def to_message(self) -> ErrorMessage:
        """The ``error`` reply a server sends back for this violation."""
        return ErrorMessage(code=self.code.value, message=str(self))


class Band(msgspec.Struct, frozen=True, array_like=True):
    """A frequency band of ``band_power``, half-open [low, high) Hz; JSON ``["alpha", 8, 13]``."""

    name: str
    low: float
    high: float


class Spectrum(msgspec.Struct, frozen=True, kw_only=True):
    """What every fft frame of a session shares: its frequency axis, window and bands."""

    freqs: tuple[float, ...]
    fft_size: int
    window: str
    sample_rate: float
    bands: tuple[Band, ...]

    @classmethod
    def from_packet(cls, packet: FftPacket, bands: Sequence[tuple[str, float, float]]) -> Spectrum:
        """The spectrum description of ``packet``, whose band_power columns are ``bands``."""
        if len(bands) != packet.band_power.shape[1]:
            raise ValueError(
                f"{len(bands)} bands given but band_power has {packet.band_power.shape[1]} columns"
            )
        return cls(
            freqs=tuple(packet.freqs.tolist()),
            fft_size=packet.fft_size,
            window=packet.window,
            sample_rate=packet.sample_rate,
            bands=tuple(Band(name, low, high) for name, low, high in bands),
        )


class _ServerText(msgspec.Struct, frozen=True, tag_field="type"):
    """Base of server → client JSON messages; readers ignore fields they do not know."""


class Hello(_ServerText, tag="hello", kw_only=True, frozen=True):
    """What does not change per frame: sent on connect and again whenever it changes.

    ``time_anchor_us`` is the wall-clock µs of sample 0 of ``session``; frame ids restart
    with a new session. ``spectrum`` is null until the first spectrum is known.
    """

    protocol: int = PROTOCOL_VERSION
    session: str
    sample_rate: float
    channels: tuple[str, ...]
    time_anchor_us: int
    units: dict[str, str] = msgspec.field(default_factory=lambda: dict(DEFAULT_UNITS))
    spectrum: Spectrum | None = None


class Subscribed(_ServerText, tag="subscribed", frozen=True):
    """Acknowledges a subscribe: the client now receives these topics."""

    topics: tuple[str, ...]


class Unsubscribed(_ServerText, tag="unsubscribed", frozen=True):
    """Acknowledges an unsubscribe: the client no longer receives these topics."""

    topics: tuple[str, ...]


class Pong(_ServerText, tag="pong", frozen=True):
    """The answer to an application-level ping."""


class ErrorMessage(_ServerText, tag="error", frozen=True):
    """The reply to a bad message: an ``ErrorCode`` value and a sentence saying what is allowed."""

    code: str
    message: str


class SystemMessage(_ServerText, tag="system", frozen=True):
    """A ``SystemEvent`` on the wire; ``timestamp`` is µs since the epoch."""

    kind: SystemEventKind
    detail: dict[str, Any]
    timestamp: int

    @classmethod
    def from_event(cls, event: SystemEvent) -> SystemMessage:
        """Wrap a bus event for the wire."""
        return cls(kind=event.kind, detail=dict(event.detail), timestamp=event.timestamp)

    def to_event(self) -> SystemEvent:
        """The bus event this message carries, its detail frozen like ``SystemEvent.now``."""
        return SystemEvent(
            kind=self.kind, detail=MappingProxyType(dict(self.detail)), timestamp=self.timestamp
        )


class Dropped(_ServerText, tag="dropped", frozen=True):
    """Tells a client it lost ``count`` frames to back-pressure; ``frames`` lists their ids."""

    frames: tuple[int, ...]
    count: int


class _ClientText(
    msgspec.Struct, frozen=True, tag_field="type", forbid_unknown_fields=True, omit_defaults=True
):
    """Base of client → server JSON messages; the server refuses fields it does not know."""


class _TopicsMessage(_ClientText, frozen=True):
    """A client message that names topics by label."""

    topics: tuple[str, ...]

    @property
    def topic_ids(self) -> tuple[Topic, ...]:
        """The named topics as ``Topic`` members."""
        return tuple(Topic.from_label(label) for label in self.topics)


class Subscribe(_TopicsMessage, tag="subscribe", frozen=True):
    """Start receiving ``topics``; ``max_rate`` asks for display decimation (pairs/s/channel)."""

    max_rate: Annotated[float, msgspec.Meta(gt=0)] | None = None


class Unsubscribe(_TopicsMessage, tag="unsubscribe", frozen=True):
    """Stop receiving ``topics``."""


class Ping(_ClientText, tag="ping", frozen=True):
    """An application-level liveness check; the server answers ``Pong``."""


ClientMessage: TypeAlias = Subscribe | Unsubscribe | Ping
ServerMessage: TypeAlias = Subscribed | Unsubscribed | Pong | ErrorMessage | SystemMessage | Dropped

_CLIENT_TYPES: Final[Mapping[str, type[ClientMessage]]] = {
    "subscribe": Subscribe,
    "unsubscribe": Unsubscribe,
    "ping": Ping,
}
_TOPIC_LIST: Final = f"[topic names: {_ALLOWED_TOPIC_NAMES}]"
_CLIENT_SHAPES: Final[Mapping[str, str]] = {
    "subscribe": f'{{"type": "subscribe", "topics": {_TOPIC_LIST}, "max_rate": number > 0}}'
    " (max_rate optional)",
    "unsubscribe": f'{{"type": "unsubscribe", "topics": {_TOPIC_LIST}}}',
    "ping": '{"type": "ping"}',
}
_SERVER_TYPES: Final[Mapping[str, type[Hello | ServerMessage]]] = {
    "hello": Hello,
    "subscribed": Subscribed,
    "unsubscribed": Unsubscribed,
    "pong": Pong,
    "error": ErrorMessage,
    "system": SystemMessage,
    "dropped": Dropped,
}


def _json_fallback(value: Any) -> Any:
    """Make ``SystemEvent.detail`` values JSON can carry: mappings, numpy values, else str."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    return str(value)


_ENCODER: Final = msgspec.json.Encoder(enc_hook=_json_fallback)
_ANY_DECODER: Final = msgspec.json.Decoder()


def _decode_tagged(
    data: str | bytes, types: Mapping[str, type[Any]], shapes: Mapping[str, str]
) -> Any:
    """Decode a JSON object into the Struct its ``type`` names, with a code for each failure."""
    try:
        parsed = _ANY_DECODER.decode(data)
    except msgspec.DecodeError as exc:
        raise ProtocolViolation(ErrorCode.BAD_JSON, f"message is not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise ProtocolViolation(
            ErrorCode.BAD_JSON,
            f'message must be a JSON object with a "type" field, got {type(parsed).__name__}',
        )
    kind = parsed.get("type")
    if not isinstance(kind, str) or kind not in types:
        raise ProtocolViolation(
            ErrorCode.UNKNOWN_TYPE,
            f"unknown message type {kind!r} (allowed: {', '.join(types)})",
        )
    try:
        return msgspec.json.decode(data, type=types[kind])
    except msgspec.ValidationError as exc:
        expected = f"; expected {shapes[kind]}" if kind in shapes else ""
        raise ProtocolViolation(
            ErrorCode.BAD_FIELD, f"bad {kind!r} message: {exc}{expected}"
        ) from exc


def _utf8_size(data: str | bytes) -> int:
    return len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))


def parse_client_message(data: str | bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> ClientMessage:
    """Parse and validate one client control message; topic labels come back canonical.

    Raises ``ProtocolViolation`` with code ``too_large`` (over ``max_bytes``), ``bad_json``,
    ``unknown_type``, ``bad_field`` or ``unknown_topic`` and a message that says what is
    allowed.
    """
    size = _utf8_size(data)
    if size > max_bytes:
        raise ProtocolViolation(
            ErrorCode.TOO_LARGE,
            f"message is {size} bytes; control messages are limited to {max_bytes} bytes",
        )
    message: ClientMessage = _decode_tagged(data, _CLIENT_TYPES, _CLIENT_SHAPES)
    if isinstance(message, Ping):
        return message
    labels = []
    for label in message.topics:
        try:
            labels.append(Topic.from_label(label).label)
        except ProtocolError as exc:
            raise ProtocolViolation(
                ErrorCode.UNKNOWN_TOPIC, f"{exc} in the {message.__struct_config__.tag!r} message"
            ) from None
    return msgspec.structs.replace(message, topics=tuple(labels))


def encode_client_message(message: ClientMessage) -> str:
    """Encode a control message as the JSON text a client sends."""
    return _ENCODER.encode(message).decode()


def encode_server_message(message: Hello | ServerMessage) -> str:
    """Encode a server message (ack, error, system, dropped, pong or hello) as JSON text."""
    return _ENCODER.encode(message).decode()


def encode_hello(hello: Hello) -> str:
    """Encode the session hello as JSON text."""
    return encode_server_message(hello)


def decode_text(data: str | bytes) -> Hello | ServerMessage:
    """Decode a server text frame; a hello of another protocol version is refused."""
    message: Hello | ServerMessage = _decode_tagged(data, _SERVER_TYPES, {})
    if isinstance(message, Hello) and message.protocol != PROTOCOL_VERSION:
        raise ProtocolViolation(
            ErrorCode.UNSUPPORTED_VERSION,
            f"server speaks protocol {message.protocol}; this client reads {PROTOCOL_VERSION}",
        )
    return message
