"""The ``[server]`` table: where the server listens, its TLS certificate, the names it
answers to, and the limits of its clients.

The limits are declared here once, as ``[server]`` keys; the server takes the table whole,
the connection manager the connection settings carved from it (``connection_settings``),
and every WebSocket route, the old daemon's too, the same ``ClientLimits``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Annotated, Final

import msgspec

from eegd.errors import ConfigError, EegdError
from eegd.net.protocol import MAX_MESSAGE_BYTES
from eegd.validation import Settings

__all__ = ["MESSAGE_BURST", "ClientLimits", "ConnectionSettings", "ServerSettings"]

#: Control messages a client may send at once, above its ``max_messages_per_s``; one that
#: keeps sending past both is closed (1008).
MESSAGE_BURST: Final = 50

#: A timeout or interval the server can keep: not so short it spins, not past a day.
_Seconds = Annotated[float, msgspec.Meta(ge=0.01, le=86_400)]
_Count = Annotated[int, msgspec.Meta(ge=1, le=100_000)]


class ServerSettings(Settings, frozen=True):
    """Where and how the server listens, and the limits of its clients: ``[server]``."""

    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8080
    """0 picks a free port."""
    allowed_origins: tuple[str, ...] = ()
    """Origins besides the server's own that may open WebSockets."""
    allowed_hosts: tuple[str, ...] = ()
    """Names clients may reach the server by besides loopback names, IP addresses, the
    bound address and the machine's host names (the ``Host`` header of every request)."""
    tls_cert: str | None = None
    """A PEM certificate (chain) file: serve HTTPS and WSS; needs ``tls_key``."""
    tls_key: str | None = None
    """The PEM private key of ``tls_cert``."""
    heartbeat_s: _Seconds = 10.0
    """Ping interval; a client that misses its pong is dropped."""
    max_clients: _Count = 128
    max_topics_per_client: _Count = 8
    max_message_bytes: Annotated[int, msgspec.Meta(ge=1024, le=16 * 1024 * 1024)] = (
        MAX_MESSAGE_BYTES
    )
    """Inbound WebSocket messages larger than this get ``too_large``; 4 × larger close (1009)."""
    max_messages_per_s: Annotated[float, msgspec.Meta(ge=0.01, le=1_000_000)] = 20.0
    """Control messages a client may send per second (bursts of ``MESSAGE_BURST``); a flood
    is closed."""
    client_queue_s: Annotated[float, msgspec.Meta(ge=0.01, le=600)] = 2.0
    """Seconds of a client's topics its queue holds before dropping the oldest frames."""
    stall_timeout_s: _Seconds = 10.0
    """A client whose socket takes nothing for this long is closed (1008)."""
    header_timeout_s: _Seconds = 5.0
    """A connection that has not sent a complete request this long after opening is closed."""
    max_pending_connections: _Count = 64
    """Connections waiting for their request (headers or body) at once; one more closes the
    oldest."""
    body_timeout_s: _Seconds = 10.0
    """A request body must arrive within this, plus a second per ``body_min_bytes_per_s``
    bytes it declares, or the connection is closed."""
    body_min_bytes_per_s: Annotated[float, msgspec.Meta(ge=1, le=1e9)] = 1024.0
    """The slowest a request body may arrive (see ``body_timeout_s``)."""
    max_changes_per_s: Annotated[float, msgspec.Meta(ge=0.01, le=10_000)] = 20.0
    """Changes (REST requests of operator routes) one address may ask for per second, in
    bursts of twice as many; more get 429."""
    max_markers_per_s: Annotated[float, msgspec.Meta(ge=0.01, le=100_000)] = 1000.0
    """Markers (``POST /api/markers``) one address may put per second, in bursts of twice as
    many; more get 429. Their own budget: an experiment marks far faster than anyone changes
    a setting."""

    def __post_init__(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            given, missing = (
                ("tls_cert", "tls_key") if self.tls_key is None else ("tls_key", "tls_cert")
            )
            raise ConfigError(f"{missing}: needed with {given} (allowed: both, or neither)")

    @property
    def scheme(self) -> str:
        """``https`` with a certificate, else ``http``."""
        return "http" if self.tls_cert is None else "https"

    def tls_context(self) -> ssl.SSLContext | None:
        """The server's TLS context, or None without a certificate; a file that cannot be
        used is an ``EegdError`` naming the key."""
        if self.tls_cert is None or self.tls_key is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(self.tls_cert, self.tls_key)
        except FileNotFoundError as exc:
            raise EegdError(f"server.tls_cert/tls_key: {exc.filename}: no such file") from exc
        except (OSError, ssl.SSLError) as exc:
            raise EegdError(
                f"server.tls_cert/tls_key: cannot use {self.tls_cert} with {self.tls_key}: {exc}"
            ) from exc
        return context

    def client_limits(self) -> ClientLimits:
        """What one WebSocket client may ask for, on every route."""
        return ClientLimits(
            max_clients=self.max_clients,
            max_topics=self.max_topics_per_client,
            max_message_bytes=self.max_message_bytes,
            max_messages_per_s=self.max_messages_per_s,
            message_burst=MESSAGE_BURST,
        )

    def connection_settings(self) -> ConnectionSettings:
        """The limits and timing of client connections, as the connection manager takes them."""
        return ConnectionSettings(
            queue_seconds=self.client_queue_s,
            stall_timeout=self.stall_timeout_s,
            limits=self.client_limits(),
        )


@dataclass(frozen=True, slots=True)
class ClientLimits:
    """What one WebSocket client may ask for, carved from ``[server]`` (``client_limits``)."""

    max_clients: int
    """Clients at once (each route's count apart)."""
    max_topics: int
    """Data topics at once; ``system`` does not count."""
    max_message_bytes: int
    """Inbound control messages larger than this are refused."""
    max_messages_per_s: float
    """Control messages a client may send per second on average ..."""
    message_burst: int
    """... and at once; a client that keeps sending past the limit is closed (1008)."""


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Limits and timing of the streaming clients, carved from ``[server]``
    (``connection_settings``)."""

    queue_seconds: float
    """Each client's queue holds about this many seconds of its topics' frames."""
    stall_timeout: float
    """A client whose socket accepts nothing for this long is closed with 1008."""
    limits: ClientLimits
    min_queue_frames: int = 8
    """The least a client's queue holds, however slow its topics."""
    drop_warning_interval: float = 5.0
    """A slow client's drops are summed up in one warning per this many seconds."""
