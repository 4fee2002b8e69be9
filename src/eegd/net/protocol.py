"""eegd's WebSocket wire protocol, sans-I/O: events in, bytes or JSON text out, and back.

Data frames (raw_eeg, filtered_eeg, fft) are binary: a fixed 56-byte little-endian header,
then float32 arrays at 4-byte aligned offsets. The hello, control messages and system events
are JSON text frames. Nothing here touches a socket or awaits: the server and the client feed
these functions and write what they return. ``docs/protocol.md`` specifies it byte by byte.

Decoders raise ``ProtocolViolation`` (a ``ProtocolError``) whose ``code`` is the machine code
the server puts in its ``error`` reply; encoders raise ``ValueError`` for events they cannot
represent (a programming error, not a wire error).
"""

from __future__ import annotations

import dataclasses
import enum
import struct
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Annotated, Any, Final, TypeAlias, overload

import msgspec
import numpy as np
import numpy.typing as npt

from eegd.errors import ProtocolError
from eegd.events import (
    EegPacket,
    Event,
    FftPacket,
    FilteredEegPacket,
    SystemEvent,
    SystemEventKind,
    Topic,
    frozen_array,
    sample_timestamps,
)

__all__ = [
    "DEFAULT_UNITS",
    "FLAG_DECIMATED",
    "HEADER",
    "MAX_MESSAGE_BYTES",
    "PROTOCOL_VERSION",
    "Band",
    "ClientMessage",
    "Dropped",
    "EegFrame",
    "ErrorCode",
    "ErrorMessage",
    "FrameHeader",
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
    "decode_frame",
    "decode_text",
    "encode_client_message",
    "encode_decimated",
    "encode_event",
    "encode_hello",
    "encode_server_message",
    "parse_client_message",
    "parse_header",
]

#: Version byte of every data frame and ``protocol`` of the hello; bumped on any change
#: that an existing reader would misread.
PROTOCOL_VERSION: Final = 1
#: Inbound control messages larger than this (UTF-8 bytes) are refused with ``too_large``.
MAX_MESSAGE_BYTES: Final = 64 * 1024
#: Header flag bit 0: an EEG payload of interleaved (min, max) pairs for display.
FLAG_DECIMATED: Final = 0x0001

#: The data-frame header: version u8, topic u8, flags u16, channel_count u16, band_count u16,
#: sample_count u32, 4 reserved bytes, frame_id u64, first_sample u64, timestamp_us u64,
#: monotonic_ns u64, sample_rate f64. Every field sits at a multiple of its own size.
HEADER: Final = struct.Struct("<BBHHHI4xQQQQd")

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

_WIRE_FLOAT: Final = np.dtype("<f4")
_UV_PER_VOLT: Final = 1e6
_EEG_TOPICS: Final = (Topic.RAW_EEG, Topic.FILTERED_EEG)
_DATA_TOPICS: Final = (*_EEG_TOPICS, Topic.FFT)
_ALLOWED_DATA_TOPICS: Final = ", ".join(f"{topic.value} {topic.label}" for topic in _DATA_TOPICS)
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


# --------------------------------------------------------------------------- binary frames


@dataclasses.dataclass(frozen=True, slots=True)
class FrameHeader:
    """The fixed header of one data frame, checked against the frame's length."""

    version: int
    topic: Topic
    flags: int
    channel_count: int
    band_count: int
    sample_count: int
    frame_id: int
    first_sample: int
    timestamp_us: int
    monotonic_ns: int
    sample_rate: float

    @property
    def decimated(self) -> bool:
        """Whether the EEG payload holds (min, max) pairs instead of samples."""
        return bool(self.flags & FLAG_DECIMATED)

    def payload_layout(self) -> tuple[tuple[str, int, tuple[int, int]], ...]:
        """Each float32 array of the payload as ``(name, byte offset in the frame, shape)``."""
        per_channel = self.sample_count * (2 if self.decimated else 1)
        first = (self.channel_count, per_channel)
        if self.topic is not Topic.FFT:
            return (("samples", HEADER.size, first),)
        band_offset = HEADER.size + first[0] * first[1] * _WIRE_FLOAT.itemsize
        return (
            ("psd", HEADER.size, first),
            ("band_power", band_offset, (self.channel_count, self.band_count)),
        )

    @property
    def frame_size(self) -> int:
        """Total frame length in bytes that this header announces."""
        _, offset, (rows, columns) = self.payload_layout()[-1]
        return offset + rows * columns * _WIRE_FLOAT.itemsize


def _bad_frame(message: str) -> ProtocolViolation:
    return ProtocolViolation(ErrorCode.BAD_FRAME, message)


def parse_header(data: bytes | bytearray | memoryview) -> FrameHeader:
    """Read and check the header of a data frame, including that the frame length matches."""
    if len(data) < HEADER.size:
        raise _bad_frame(
            f"data frame is {len(data)} bytes, shorter than the {HEADER.size}-byte header"
        )
    version, topic_id, flags, channels, bands, samples, *stamps = HEADER.unpack_from(data)
    if version != PROTOCOL_VERSION:
        raise ProtocolViolation(
            ErrorCode.UNSUPPORTED_VERSION,
            f"data frame has protocol version {version}; this decoder reads {PROTOCOL_VERSION}",
        )
    if topic_id not in _DATA_TOPICS:
        raise _bad_frame(
            f"unknown data-frame topic id {topic_id} (allowed: {_ALLOWED_DATA_TOPICS})"
        )
    topic = Topic(topic_id)
    if flags & ~FLAG_DECIMATED or (flags and topic is Topic.FFT):
        raise _bad_frame(f"flags 0x{flags:04x} are not defined for {topic.label} frames")
    if topic is not Topic.FFT and bands:
        raise _bad_frame(f"{topic.label} frame declares {bands} bands; EEG frames carry none")
    header = FrameHeader(version, topic, flags, channels, bands, samples, *stamps)
    if header.frame_size != len(data):
        raise _bad_frame(
            f"{topic.label} frame is {len(data)} bytes but its header "
            f"({channels} channels × {samples} samples/bins, {bands} bands) "
            f"announces {header.frame_size}"
        )
    return header


def _pack_header(
    topic: Topic, flags: int, shape: tuple[int, ...], bands: int, stamps: tuple[Any, ...]
) -> bytes:
    """Pack a header; ``stamps`` is (frame_id, first_sample, timestamp_us, monotonic_ns, rate)."""
    try:
        return HEADER.pack(PROTOCOL_VERSION, topic, flags, shape[0], bands, shape[1], *stamps)
    except struct.error as exc:
        raise ValueError(f"cannot encode a {topic.label} frame header: {exc}") from exc


def _matrix(values: npt.ArrayLike, name: str) -> npt.NDArray[Any]:
    array = np.asarray(values)
    if array.ndim != 2:
        raise ValueError(f"{name} must be channels × samples (2-D), got shape {array.shape}")
    return array


def _encode_eeg(
    topic: Topic, volts: npt.NDArray[np.float32], packet: EegPacket | FilteredEegPacket
) -> bytes:
    uv = np.multiply(_matrix(volts, "samples"), _UV_PER_VOLT, dtype=_WIRE_FLOAT)
    timestamp_us = int(packet.timestamps[0]) if uv.shape[1] else 0
    stamps = (packet.frame_id, packet.first_sample, timestamp_us, packet.monotonic_ns)
    header = _pack_header(topic, 0, uv.shape, 0, (*stamps, packet.sample_rate))
    return b"".join((header, uv.data))


def _encode_fft(packet: FftPacket) -> bytes:
    psd = np.ascontiguousarray(_matrix(packet.psd, "psd"), dtype=_WIRE_FLOAT)
    band_power = np.ascontiguousarray(_matrix(packet.band_power, "band_power"), dtype=_WIRE_FLOAT)
    if band_power.shape[0] != psd.shape[0]:
        raise ValueError(
            f"psd has {psd.shape[0]} channels but band_power has {band_power.shape[0]}"
        )
    stamps = (packet.source_frame_id, 0, packet.timestamp, packet.monotonic_ns)
    header = _pack_header(
        Topic.FFT, 0, psd.shape, band_power.shape[1], (*stamps, packet.sample_rate)
    )
    return b"".join((header, psd.data, band_power.data))


@overload
def encode_event(event: EegPacket | FilteredEegPacket | FftPacket) -> bytes: ...
@overload
def encode_event(event: SystemEvent) -> str: ...
def encode_event(event: Event) -> bytes | str:
    """Encode one bus event for the wire: a binary data frame, or JSON text for a system event.

    EEG samples go out in µV (volts × 1e6, float32); raw ADC counts are not sent.
    """
    if isinstance(event, EegPacket):
        return _encode_eeg(Topic.RAW_EEG, event.volts, event)
    if isinstance(event, FilteredEegPacket):
        return _encode_eeg(Topic.FILTERED_EEG, event.samples, event)
    if isinstance(event, FftPacket):
        return _encode_fft(event)
    return encode_server_message(SystemMessage.from_event(event))


def encode_decimated(
    topic: Topic,
    minima: npt.ArrayLike,
    maxima: npt.ArrayLike,
    *,
    frame_id: int,
    first_sample: int,
    timestamp_us: int,
    monotonic_ns: int,
    pair_rate: float,
) -> bytes:
    """Encode a display-decimated EEG frame from per-bucket minima and maxima in volts.

    ``minima`` and ``maxima`` are channels × m float32 volts (as on the bus); the payload
    interleaves them per channel as min, max in µV. ``frame_id`` is the last source frame
    covered, ``first_sample`` and ``timestamp_us`` those of the first source sample covered,
    ``pair_rate`` pairs per second per channel.
    """
    if topic not in _EEG_TOPICS:
        raise ValueError(f"only EEG topics can be decimated, not {Topic(topic).label}")
    low, high = _matrix(minima, "minima"), _matrix(maxima, "maxima")
    if low.shape != high.shape:
        raise ValueError(f"minima {low.shape} and maxima {high.shape} differ in shape")
    pairs = np.empty((low.shape[0], 2 * low.shape[1]), dtype=_WIRE_FLOAT)
    np.multiply(low, _UV_PER_VOLT, out=pairs[:, 0::2], dtype=_WIRE_FLOAT)
    np.multiply(high, _UV_PER_VOLT, out=pairs[:, 1::2], dtype=_WIRE_FLOAT)
    stamps = (frame_id, first_sample, timestamp_us, monotonic_ns, pair_rate)
    header = _pack_header(Topic(topic), FLAG_DECIMATED, low.shape, 0, stamps)
    return b"".join((header, pairs.data))


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class EegFrame:
    """A decoded raw_eeg or filtered_eeg frame, in µV, with the hello's channel names.

    When ``decimated``, ``samples_uv`` is channels × 2m with min, max interleaved per pair,
    ``sample_rate`` is pairs per second and ``frame_id`` the last source frame covered.
    """

    topic: Topic
    frame_id: int
    first_sample: int
    timestamp_us: int
    monotonic_ns: int
    sample_rate: float
    channel_names: tuple[str, ...]
    samples_uv: npt.NDArray[np.float32]
    decimated: bool
    time_anchor_us: int

    @property
    def n_samples(self) -> int:
        """Samples per channel, or (min, max) pairs per channel when decimated."""
        return int(self.samples_uv.shape[1]) // (2 if self.decimated else 1)

    @property
    def timestamps(self) -> npt.NDArray[np.uint64]:
        """µs since the epoch per sample (or per pair's first source sample when decimated).

        Full-rate frames use the session's anchor exactly as the acquisition loop does, so the
        result equals the bus packet's timestamps.
        """
        if self.decimated:
            return sample_timestamps(self.timestamp_us, 0, self.n_samples, self.sample_rate)
        return sample_timestamps(
            self.time_anchor_us, self.first_sample, self.n_samples, self.sample_rate
        )


def decode_frame(data: bytes | bytearray | memoryview, hello: Hello) -> EegFrame | FftPacket:
    """Decode a binary data frame, taking names and the frequency axis from the session hello.

    The arrays are read-only views of the frame (a mutable buffer is copied once first).
    """
    frame = data if isinstance(data, bytes) else bytes(data)
    header = parse_header(frame)
    if header.channel_count != len(hello.channels):
        raise _bad_frame(
            f"{header.topic.label} frame has {header.channel_count} channels "
            f"but the hello names {len(hello.channels)}"
        )
    arrays = [
        np.frombuffer(frame, _WIRE_FLOAT, rows * columns, offset).reshape(rows, columns)
        for _, offset, (rows, columns) in header.payload_layout()
    ]
    if header.topic is not Topic.FFT:
        return EegFrame(
            topic=header.topic,
            frame_id=header.frame_id,
            first_sample=header.first_sample,
            timestamp_us=header.timestamp_us,
            monotonic_ns=header.monotonic_ns,
            sample_rate=header.sample_rate,
            channel_names=hello.channels,
            samples_uv=arrays[0],
            decimated=header.decimated,
            time_anchor_us=hello.time_anchor_us,
        )
    spectrum = hello.spectrum
    if spectrum is None:
        raise _bad_frame("fft frame arrived before a hello with a spectrum")
    if (header.sample_count, header.band_count) != (len(spectrum.freqs), len(spectrum.bands)):
        raise _bad_frame(
            f"fft frame has {header.sample_count} bins and {header.band_count} bands but the "
            f"hello's spectrum has {len(spectrum.freqs)} and {len(spectrum.bands)}"
        )
    return FftPacket(
        source_frame_id=header.frame_id,
        timestamp=header.timestamp_us,
        freqs=frozen_array(spectrum.freqs, np.float32),
        psd=arrays[0],
        band_power=arrays[1],
        fft_size=spectrum.fft_size,
        window=spectrum.window,
        sample_rate=header.sample_rate,
        channel_names=hello.channels,
        monotonic_ns=header.monotonic_ns,
    )


# --------------------------------------------------------------------------- JSON text frames


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


def parse_client_message(data: str | bytes) -> ClientMessage:
    """Parse and validate one client control message; topic labels come back canonical.

    Raises ``ProtocolViolation`` with code ``too_large``, ``bad_json``, ``unknown_type``,
    ``bad_field`` or ``unknown_topic`` and a message that says what is allowed.
    """
    size = _utf8_size(data)
    if size > MAX_MESSAGE_BYTES:
        raise ProtocolViolation(
            ErrorCode.TOO_LARGE,
            f"message is {size} bytes; control messages are limited to {MAX_MESSAGE_BYTES} bytes",
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
