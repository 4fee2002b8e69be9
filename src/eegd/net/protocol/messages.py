"""The JSON side of the wire protocol: the hello, control messages, replies and system events.

Clients send small tagged JSON objects (subscribe, unsubscribe, ping); the server answers with
acknowledgements, errors, dropped-frame notices and system events, and describes the session
in a hello. Everything here is sans-I/O: text in, validated Structs out, and back.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Mapping, Sequence
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal, TypeAlias

import msgspec
import numpy as np

from eegd.aux_stream import AuxStream
from eegd.errors import ProtocolError
from eegd.events import (
    FftPacket,
    FrameKind,
    MarkerEvent,
    OutputEvent,
    OutputTopic,
    SystemEvent,
    SystemEventKind,
    Topic,
)
from eegd.topics import MESSAGE_TYPES

__all__ = [
    "AuxInfo",
    "DEFAULT_UNITS",
    "MAX_MESSAGE_BYTES",
    "MAX_NESTING",
    "MAX_RATE_MAX",
    "MAX_RATE_MIN",
    "PROTOCOL_VERSION",
    "Band",
    "ClientMessage",
    "Command",
    "Done",
    "Dropped",
    "ErrorCode",
    "ErrorMessage",
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
    "decode_text",
    "decode_output",
    "encode_client_message",
    "encode_output",
    "encode_server_message",
    "parse_client_message",
]

#: Version byte of every data frame and ``protocol`` of the hello; bumped on any change
#: that an existing reader would misread.
PROTOCOL_VERSION: Final = 1
#: Inbound control messages larger than this (UTF-8 bytes) are refused with ``too_large``.
MAX_MESSAGE_BYTES: Final = 64 * 1024
#: JSON text nested deeper than this many arrays and objects is refused with ``bad_json``
#: before it is decoded: no message needs more than a few levels, and a fixed bound keeps
#: the decoder's recursion far from Python's limit however deep the caller's stack is.
MAX_NESTING: Final = 32

#: The range of ``Subscribe.max_rate``, in (min, max) pairs per second per channel. Below one
#: pair per second a display has nothing to draw; the top is far above the fastest EEG source
#: (the ADS1299's 16,000 samples/s), where decimation already keeps every sample, so every
#: rate a display can use is accepted and only nonsense (1e-300, 1e300) is refused.
MAX_RATE_MIN: Final = 1.0
MAX_RATE_MAX: Final = 100_000.0

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

_BUILTIN_LABELS: Final = tuple(topic.label for topic in Topic)
#: A hello's topics by default: the built-in ones of a session without an aux stream.
_SESSION_LABELS: Final = tuple(label for label in _BUILTIN_LABELS if label != Topic.AUX.label)
_ALLOWED_TOPIC_NAMES: Final = ", ".join(_BUILTIN_LABELS)


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
    RATE_LIMITED = "rate_limited"


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
    def from_packet(
        cls, packet: FftPacket, bands: Sequence[tuple[str, float, float]] | None = None
    ) -> Spectrum:
        """The spectrum description of ``packet``, whose band_power columns are ``bands``.

        ``bands`` defaults to the packet's own.
        """
        if bands is None:
            bands = packet.bands
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


class AuxInfo(msgspec.Struct, frozen=True, kw_only=True):
    """The session's aux stream as the hello describes it: what every aux frame's rows are.

    Per channel its name, unit (of the frames' values), kind (``accelerometer``, ``analog``,
    ``battery``, ``gpio``) and the span of values it may take; ``sample_rate`` is the aux
    stream's own, in Hz.
    """

    channels: tuple[str, ...]
    units: tuple[str, ...]
    kinds: tuple[str, ...]
    sample_rate: float
    physical_range: tuple[tuple[float, float], ...]

    @classmethod
    def from_stream(cls, stream: AuxStream) -> AuxInfo:
        """The description of a session's ``AuxStream``."""
        return cls(
            channels=stream.channels,
            units=stream.units,
            kinds=tuple(kind.value for kind in stream.kinds),
            sample_rate=stream.sample_rate,
            physical_range=stream.physical_range,
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
    topics: tuple[str, ...] = _SESSION_LABELS
    """The topics a client may subscribe to: the built-in ones, then those plugins add
    (``aux`` only while the session has an aux stream)."""
    aux: AuxInfo | None = None
    """The session's aux stream; null when its source has none."""


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


class MarkerMessage(_ServerText, tag="marker", frozen=True):
    """A ``MarkerEvent`` on the wire: ``timestamp_us`` of the moment marked (µs since the
    epoch), ``sample`` its index in ``session`` (null without a running session)."""

    label: str
    timestamp_us: int
    duration_s: float | None = None
    sample: int | None = None
    session: str | None = None

    @classmethod
    def from_event(cls, event: MarkerEvent) -> MarkerMessage:
        """Wrap a bus event for the wire."""
        return cls(
            label=event.label,
            timestamp_us=event.timestamp,
            duration_s=event.duration_s,
            sample=event.sample,
            session=event.session,
        )

    def to_event(self) -> MarkerEvent:
        """The bus event this message carries."""
        return MarkerEvent(
            label=self.label,
            timestamp=self.timestamp_us,
            duration_s=self.duration_s,
            sample=self.sample,
            session=self.session,
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
    """Start receiving ``topics``; ``max_rate`` asks for display decimation (pairs/s/channel).

    ``max_rate`` lies from ``MAX_RATE_MIN`` to ``MAX_RATE_MAX`` (see there why).
    """

    max_rate: Annotated[float, msgspec.Meta(ge=MAX_RATE_MIN, le=MAX_RATE_MAX)] | None = None


class Unsubscribe(_TopicsMessage, tag="unsubscribe", frozen=True):
    """Stop receiving ``topics``."""


class Ping(_ClientText, tag="ping", frozen=True):
    """An application-level liveness check; the server answers ``Pong``."""


class Record(_ClientText, tag="record", frozen=True):
    """Start or stop the recording: ``POST /api/recordings`` (with ``name``, ``notes``) or
    ``POST /api/recordings/current/stop`` over the WebSocket; the server answers ``Done``."""

    action: Literal["start", "stop"]
    name: str | None = None
    notes: str | None = None


class Mark(_ClientText, tag="marker", frozen=True):
    """Put a marker, as ``POST /api/markers`` does; ``timestamp_us`` is the moment marked
    (µs since the epoch), the time of arrival when absent. The server answers ``Done``."""

    label: str
    duration_s: float | None = None
    timestamp_us: int | None = None


class Done(_ServerText, tag="done", frozen=True):
    """A command (``record``, ``marker``) was carried out: ``result`` is what its REST route
    answers. A refused command gets an ``error`` instead."""

    command: str
    result: dict[str, Any]


#: The client messages that stand for a REST route: carried out by the daemon, not the session.
Command: TypeAlias = Record | Mark
ClientMessage: TypeAlias = Subscribe | Unsubscribe | Ping | Record | Mark
ServerMessage: TypeAlias = (
    Subscribed | Unsubscribed | Pong | ErrorMessage | SystemMessage | MarkerMessage | Dropped | Done
)

_CLIENT_TYPES: Final = (Subscribe, Unsubscribe, Ping, Record, Mark)
_SERVER_TYPES: Final = (
    Hello,
    Subscribed,
    Unsubscribed,
    Pong,
    ErrorMessage,
    SystemMessage,
    MarkerMessage,
    Dropped,
    Done,
)
_TOPIC_LIST: Final = f"[topic names: {_ALLOWED_TOPIC_NAMES}]"
_CLIENT_SHAPES: Final[Mapping[str, str]] = {
    "subscribe": f'{{"type": "subscribe", "topics": {_TOPIC_LIST}, "max_rate": number from'
    f" {MAX_RATE_MIN:g} to {MAX_RATE_MAX:g}}} (max_rate optional, in pairs per second per"
    " channel)",
    "unsubscribe": f'{{"type": "unsubscribe", "topics": {_TOPIC_LIST}}}',
    "ping": '{"type": "ping"}',
    "record": '{"type": "record", "action": "start" or "stop", "name": string, "notes": string}'
    " (name and notes optional, for start)",
    "marker": '{"type": "marker", "label": string, "duration_s": number, "timestamp_us": integer}'
    " (duration_s and timestamp_us optional)",
}


def _json_fallback(value: Any) -> Any:
    """Make ``SystemEvent.detail`` values JSON can carry: mappings, numpy values, else str."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    return str(value)


_ENCODER: Final = msgspec.json.Encoder(enc_hook=_json_fallback)
_CLIENT_DECODER: Final = msgspec.json.Decoder(ClientMessage)
_SERVER_DECODER: Final = msgspec.json.Decoder(Hello | ServerMessage)
#: A JSON string, escapes included, or an unterminated one up to the end: once it starts at
#: a quote it always matches without backtracking, so hostile text is scanned in linear time.
#: What is left between strings is structure and scalars.
_JSON_STRING: Final = re.compile(rb'"[^"\\]*(?:\\(?:.|\Z)[^"\\]*)*(?:"|\Z)', re.DOTALL)
#: Nesting step of each byte: +1 for ``[`` and ``{``, -1 for ``]`` and ``}``.
_NESTING_STEP: Final = np.zeros(256, dtype=np.int32)
_NESTING_STEP[[ord("["), ord("{")]] = 1
_NESTING_STEP[[ord("]"), ord("}")]] = -1


class _TypeProbe(msgspec.Struct):
    """Just the ``type`` of a JSON object, undecoded: what a refused message meant to be."""

    type: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)

    def tag(self) -> str | None:
        """``type`` if it is a JSON string, else None."""
        try:
            return msgspec.json.decode(self.type, type=str)
        except msgspec.DecodeError:  # missing, or not a string
            return None


def _clip(text: str, limit: int = 300) -> str:
    """``text`` cut short, so that an error reply never echoes a hostile value back whole."""
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _excerpt(value: object) -> str:
    """A short ``repr`` of a value a client sent."""
    return _clip(repr(value), 60)


def _nesting_exceeds(data: bytes, limit: int) -> bool:
    """Whether arrays and objects in ``data`` nest deeper than ``limit``, strings aside."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    structure = np.frombuffer(_JSON_STRING.sub(b"", data), dtype=np.uint8)
    return bool(np.cumsum(_NESTING_STEP[structure]).max(initial=0) > limit)


def _refuse_unreadable(data: bytes) -> None:
    """Refuse, as ``bad_json``, text that is not UTF-8 or nests deeper than ``MAX_NESTING``."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolViolation(
            ErrorCode.BAD_JSON,
            f"message is not valid JSON: not UTF-8 ({exc.reason} at byte {exc.start})",
        ) from None
    if _nesting_exceeds(data, MAX_NESTING):
        raise ProtocolViolation(
            ErrorCode.BAD_JSON, f"message nests arrays and objects deeper than {MAX_NESTING} levels"
        )


def _decode_tagged(
    data: bytes,
    decoder: msgspec.json.Decoder[Any],
    types: tuple[type[msgspec.Struct], ...],
    shapes: Mapping[str, str],
) -> Any:
    """Decode UTF-8 JSON into the tagged Struct its ``type`` names, with a code for each failure.

    ``decoder`` decodes the union of ``types`` directly. Only when that fails is the text
    read again, for its ``type`` alone, to tell an unknown type from a bad field.
    """
    _refuse_unreadable(data)
    try:
        try:
            return decoder.decode(data)
        except msgspec.ValidationError as exc:
            failure = exc
        probe = msgspec.json.decode(data, type=_TypeProbe)
    except msgspec.ValidationError as exc:
        raise ProtocolViolation(
            ErrorCode.BAD_JSON, f'message must be a JSON object with a "type" field: {exc}'
        ) from exc
    except msgspec.DecodeError as exc:
        raise ProtocolViolation(ErrorCode.BAD_JSON, f"message is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # a last guard: the nesting limit keeps far from it
        raise ProtocolViolation(ErrorCode.BAD_JSON, "message nests too deeply") from exc
    tags = [str(kind.__struct_config__.tag) for kind in types]
    kind = probe.tag()
    if kind is None or kind not in tags:
        if kind is not None:
            what = f"unknown message type {_excerpt(kind)}"
        elif probe.type:
            what = f"unknown message type {_clip(bytes(probe.type).decode(), 60)}"
        else:
            what = 'message has no "type" field'
        raise ProtocolViolation(ErrorCode.UNKNOWN_TYPE, f"{what} (allowed: {', '.join(tags)})")
    expected = f"; expected {shapes[kind]}" if kind in shapes else ""
    raise ProtocolViolation(
        ErrorCode.BAD_FIELD, f"bad {kind!r} message: {_clip(str(failure))}{expected}"
    ) from failure


def _utf8(data: str | bytes) -> bytes:
    """``data`` as UTF-8; a str's lone surrogates become bytes that are not valid UTF-8."""
    return data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")


def parse_client_message(
    data: str | bytes,
    max_bytes: int = MAX_MESSAGE_BYTES,
    topics: Collection[str] = _BUILTIN_LABELS,
) -> ClientMessage:
    """Parse and validate one client control message; topic labels come back canonical.

    ``topics`` are the labels a client may name (the built-in ones, and those plugins add).
    Raises ``ProtocolViolation`` with code ``too_large`` (over ``max_bytes``), ``bad_json``
    (not UTF-8 JSON, not an object, or nested deeper than ``MAX_NESTING``), ``unknown_type``,
    ``bad_field`` or ``unknown_topic`` and a message that says what is allowed; nothing else
    escapes, whatever ``data`` holds.
    """
    raw = _utf8(data)
    if len(raw) > max_bytes:
        raise ProtocolViolation(
            ErrorCode.TOO_LARGE,
            f"message is {len(raw)} bytes; control messages are limited to {max_bytes} bytes",
        )
    message: ClientMessage = _decode_tagged(raw, _CLIENT_DECODER, _CLIENT_TYPES, _CLIENT_SHAPES)
    if isinstance(message, Ping | Record | Mark):
        return message
    labels = tuple(label.lower() for label in message.topics)
    for label, canonical in zip(message.topics, labels, strict=True):
        if canonical not in topics:
            raise ProtocolViolation(
                ErrorCode.UNKNOWN_TOPIC,
                f"unknown topic {_excerpt(label)} (allowed: {', '.join(topics)})"
                f" in the {message.__struct_config__.tag!r} message",
            )
    return msgspec.structs.replace(message, topics=labels)


def encode_output(event: OutputEvent) -> str | bytes:
    """A plugin topic's event for the wire: ``{"type": label, "timestamp": µs, ...}`` for a
    text topic; for a binary one the version byte, the topic's ``wire_id``, the bytes."""
    topic, payload = event.topic, event.payload
    if isinstance(payload, bytes):
        if topic.frame is not FrameKind.BINARY or topic.wire_id is None:
            raise ValueError(f"{topic.label}: bytes need a binary topic with a wire_id")
        return bytes((PROTOCOL_VERSION, topic.wire_id)) + payload
    message = {"type": topic.label, "timestamp": event.timestamp, **payload}
    return _ENCODER.encode(message).decode()


def encode_client_message(message: ClientMessage) -> str:
    """Encode a control message as the JSON text a client sends."""
    return _ENCODER.encode(message).decode()


def encode_server_message(message: Hello | ServerMessage) -> str:
    """Encode a server message (ack, error, system, dropped, pong or hello) as JSON text."""
    return _ENCODER.encode(message).decode()


def decode_text(data: str | bytes) -> Hello | ServerMessage:
    """Decode a server text frame; a hello of another protocol version is refused.

    Raises ``ProtocolViolation`` (``bad_json``, ``unknown_type``, ``bad_field`` or
    ``unsupported_version``) and nothing else, whatever ``data`` holds.
    """
    message: Hello | ServerMessage = _decode_tagged(_utf8(data), _SERVER_DECODER, _SERVER_TYPES, {})
    if isinstance(message, Hello) and message.protocol != PROTOCOL_VERSION:
        raise ProtocolViolation(
            ErrorCode.UNSUPPORTED_VERSION,
            f"server speaks protocol {message.protocol}; this client reads {PROTOCOL_VERSION}",
        )
    return message


def decode_output(data: str | bytes, topics: Collection[str]) -> OutputEvent | None:
    """The event of a plugin's text topic that ``data`` carries, if its ``type`` is one of
    ``topics`` (the hello's) and no server message's; else None. Never raises."""
    try:
        message = msgspec.json.decode(_utf8(data))
    except msgspec.DecodeError:
        return None
    if not isinstance(message, dict):
        return None
    kind, timestamp = message.pop("type", None), message.pop("timestamp", None)
    if (
        not isinstance(kind, str)
        or kind not in topics
        or kind in MESSAGE_TYPES
        or kind in _BUILTIN_LABELS
        or not isinstance(timestamp, int)
    ):
        return None
    return OutputEvent(OutputTopic(kind), message, timestamp)
