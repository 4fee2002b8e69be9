"""One client's control session, sans-I/O: inbound messages in, replies and route changes out.

``ControlSession`` knows the client's topics, its message rate limit, its topic limit and
whether its route takes subscriptions at all. It reads no socket and awaits nothing: the
connection layer feeds it each message with the time it arrived and carries out what it
returns (queue the replies, change the routing, close a flooding client).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eegd.commands import Command
from eegd.events import AnyTopic, Topic
from eegd.net.protocol import (
    ErrorCode,
    ErrorMessage,
    Mark,
    Ping,
    Pong,
    ProtocolViolation,
    Record,
    Subscribe,
    Subscribed,
    Unsubscribed,
    encode_server_message,
    parse_client_message,
)
from eegd.net.security.ratelimit import MessageRateLimit, Verdict
from eegd.net.security.roles import Principal
from eegd.net.settings import ClientLimits, ServerSettings
from eegd.topics import TopicRegistry

__all__ = ["CommandRequest", "ControlSession", "Outcome", "RouteChange"]


@dataclass(frozen=True, slots=True)
class RouteChange:
    """Start (``subscribe``) or stop routing ``topics`` to the client; ``max_rate`` decimates."""

    subscribe: bool
    topics: frozenset[AnyTopic]
    max_rate: float | None = None


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """A message that stands for a command: the daemon answers it as the route that serves
    ``command`` would (``eegd.routes.Route.command``).

    ``message`` is the message's type, for the ``done`` reply and for the role it needs
    (``eegd.net.security.roles.MESSAGE_ROLES``), which the daemon checks against ``principal``:
    the client that sent it.
    """

    message: str
    command: Command
    body: Mapping[str, Any] = field(default_factory=dict)
    principal: Principal | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one inbound message leads to, in order: route changes, then replies."""

    replies: tuple[str, ...] = ()
    """Encoded JSON text messages to queue for the client."""
    changes: tuple[RouteChange, ...] = ()
    errors: int = 0
    """How many of ``replies`` are errors."""
    flooding: bool = False
    """The client keeps sending past its rate limit: close it (1008)."""
    command: CommandRequest | None = None
    """A route to run for the client; its answer is a ``done`` or an ``error`` reply."""


_NOTHING = Outcome()
_FLOODING = Outcome(flooding=True)


class ControlSession:
    """The control state of one client: which topics it has and what it may still send.

    ``fixed_topics`` is set for single-topic routes, which stream those topics from the start
    and refuse subscriptions; other clients start with ``system``. ``topics`` are those a
    client may name: the built-in ones and those plugins add.
    """

    def __init__(
        self,
        route: str,
        fixed_topics: Iterable[Topic] | None = None,
        limits: ClientLimits | None = None,
        principal: Principal | None = None,
        topics: TopicRegistry | None = None,
    ) -> None:
        self.route = route
        self.principal = principal
        """Who the client is; its commands carry it, for the role check and the audit."""
        self.limits = limits or ServerSettings().client_limits()
        self.fixed_topics = frozenset(fixed_topics) if fixed_topics is not None else None
        self.topics: set[AnyTopic] = set(self.fixed_topics or {Topic.SYSTEM})
        """The topics the client gets now."""
        self._known = topics if topics is not None else TopicRegistry()
        self._rate = MessageRateLimit(self.limits.max_messages_per_s, self.limits.message_burst)

    def opening(self) -> RouteChange:
        """The routes a new client starts with."""
        return RouteChange(subscribe=True, topics=frozenset(self.topics))

    def receive_text(self, text: str | bytes, now: float) -> Outcome:
        """Handle one text message received at ``now`` (seconds, monotonic)."""
        limited = self._rate_check(now)
        if limited is not None:
            return limited
        try:
            message = parse_client_message(text, self.limits.max_message_bytes, self._known.labels)
        except ProtocolViolation as exc:
            return self._error_reply(exc.to_message())
        if isinstance(message, Ping):
            return Outcome(replies=(encode_server_message(Pong()),))
        if self.fixed_topics is not None:
            allowed = ", ".join(sorted(topic.label for topic in self.fixed_topics))
            return self._error(
                ErrorCode.NOT_ALLOWED,
                f"{self.route} streams {allowed} only; use /ws to choose topics",
            )
        if isinstance(message, Record | Mark):
            return Outcome(command=_command(message, self.principal))
        topics = frozenset(self._known.from_label(label) for label in message.topics)
        if isinstance(message, Subscribe):
            had = self.topics - {Topic.SYSTEM}
            wanted = (self.topics | topics) - {Topic.SYSTEM}
            if len(wanted) > self.limits.max_topics:
                return self._error(
                    ErrorCode.TOO_MANY_TOPICS,
                    f"a client may subscribe to at most {self.limits.max_topics} "
                    f"data topics (system is free); it has {len(had)} and asked for "
                    f"{len(wanted - had)} more",
                )
            self.topics |= topics
            return Outcome(
                replies=(encode_server_message(Subscribed(topics=message.topics)),),
                changes=(RouteChange(True, topics, message.max_rate),),
            )
        self.topics -= topics
        return Outcome(
            replies=(encode_server_message(Unsubscribed(topics=message.topics)),),
            changes=(RouteChange(False, topics),),
        )

    def receive_binary(self, now: float) -> Outcome:
        """Handle one binary message received at ``now``: clients send none."""
        limited = self._rate_check(now)
        if limited is not None:
            return limited
        return self._error(
            ErrorCode.BAD_FRAME, "clients send JSON text messages only, not binary frames"
        )

    def _rate_check(self, now: float) -> Outcome | None:
        """None when the message may be handled, else what to do instead."""
        verdict = self._rate.check(now)
        if verdict is Verdict.ACCEPT:
            return None
        if verdict is Verdict.CLOSE:
            return _FLOODING
        if verdict is Verdict.REFUSE:
            return self._error(
                ErrorCode.RATE_LIMITED,
                f"at most {self.limits.max_messages_per_s:g} messages per second "
                f"(bursts of {self.limits.message_burst}); this one and those that "
                "follow too soon are ignored",
            )
        return _NOTHING

    def _error(self, code: ErrorCode, text: str) -> Outcome:
        return self._error_reply(ErrorMessage(code=code.value, message=text))

    @staticmethod
    def _error_reply(message: ErrorMessage) -> Outcome:
        return Outcome(replies=(encode_server_message(message),), errors=1)


def _command(message: Record | Mark, principal: Principal | None) -> CommandRequest:
    """The command a command message stands for, with its body (fields left out unset)."""
    if isinstance(message, Mark):
        fields: dict[str, Any] = {
            "label": message.label,
            "duration_s": message.duration_s,
            "timestamp_us": message.timestamp_us,
        }
        kind, command = "marker", Command.RECORDER_MARKER
    elif message.action == "start":
        fields = {"name": message.name, "notes": message.notes}
        kind, command = "record", Command.RECORDER_START
    else:
        fields = {}
        kind, command = "record", Command.RECORDER_STOP
    body = {key: value for key, value in fields.items() if value is not None}
    return CommandRequest(kind, command, body, principal)
