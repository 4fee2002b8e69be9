"""The old daemon's WebSocket routes, ``/command`` and ``/config``, for kiosk builds and
scripts written against it; replies keep its shape, ``{"status": "ok"|"error", "message": ...}``.

``/command`` says the recording state on connect and whenever a recording starts or stops,
and takes ``{"command": "start"|"stop"|"status"}`` and ``{"command":
"set_powerline_filter", "value": 50|60|null}``. ``/config`` sends the configuration on
connect and on every change (``sample_rate``, ``channels`` as the old indices ``[0, ..., n-1]``,
``channel_names``, ``board_driver``, ``batch_size``, ``powerline_filter_hz``) and takes
``{"channels": [...], "sample_rate": ..., "powerline_filter_hz": ...}`` (each optional): a
run-time source switch and the notch. Each message is carried out as the REST route it
stands for, with its checks, and needs its role in ``LEGACY_MESSAGE_ROLES``.

The parsing and the replies are pure functions; ``LegacyRoutes`` is the aiohttp side.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

import aiohttp
import msgspec
from aiohttp import web

from eegd.bus import DropPolicy, EventBus
from eegd.errors import RequestRefused
from eegd.events import SystemEventKind, Topic
from eegd.net.access import Gate
from eegd.net.audit import Auditor
from eegd.net.ratelimit import MessageRateLimit, Verdict
from eegd.net.roles import LEGACY_MESSAGE_ROLES, Principal, Role
from eegd.net.webgate import PRINCIPAL

__all__ = [
    "COMMAND_SHAPE",
    "CONFIG_SHAPE",
    "ConfigChange",
    "LegacyCommand",
    "LegacyRoutes",
    "RouteCaller",
    "config_message",
    "parse_command",
    "parse_config_change",
    "reply",
]

#: Runs a plugin's JSON route (method, path, body); a refusal is ``RequestRefused``.
RouteCaller = Callable[[str, str, Mapping[str, Any]], Awaitable[Mapping[str, Any]]]

COMMAND_SHAPE = (
    '{"command": "start" | "stop" | "status"} or '
    '{"command": "set_powerline_filter", "value": 50 | 60 | null}'
)
CONFIG_SHAPE = (
    '{"channels": [0, 1, ...], "sample_rate": integer, "powerline_filter_hz": 50 | 60 | null}'
)


class LegacyCommand(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A ``/command`` message; ``value`` is only for ``set_powerline_filter``."""

    command: Literal["start", "stop", "status", "set_powerline_filter"]
    value: Literal[50, 60] | None = None


class ConfigChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A ``/config`` message: the keys given are the ones to change."""

    channels: list[int] | msgspec.UnsetType = msgspec.UNSET
    sample_rate: int | msgspec.UnsetType = msgspec.UNSET
    powerline_filter_hz: Literal[50, 60] | None | msgspec.UnsetType = msgspec.UNSET


def reply(ok: bool, message: str) -> str:
    """The old reply: ``{"status": "ok"|"error", "message": ...}``."""
    return json.dumps({"status": "ok" if ok else "error", "message": message})


def parse_command(text: str | bytes) -> LegacyCommand | str:
    """The command ``text`` holds, or the error reply that says what is allowed."""
    try:
        return msgspec.json.decode(text, type=LegacyCommand)
    except (msgspec.DecodeError, RecursionError) as exc:
        return reply(False, f"Invalid command format: {exc}; expected {COMMAND_SHAPE}")


def parse_config_change(text: str | bytes, current: Mapping[str, Any]) -> dict[str, Any] | str:
    """What a ``/config`` message changes, as ``{"source": {...}, "filter": {...}}`` with the
    keys that differ from ``current`` (a ``config_message``), or the error reply."""
    try:
        change = msgspec.json.decode(text, type=ConfigChange)
    except (msgspec.DecodeError, RecursionError) as exc:
        return reply(False, f"Invalid config format: {exc}; expected {CONFIG_SHAPE}")
    source: dict[str, Any] = {}
    if not isinstance(change.channels, msgspec.UnsetType):
        if not change.channels:
            return reply(False, "Channel list cannot be empty")
        count = len(change.channels)
        if change.channels != list(range(count)):
            return reply(
                False,
                f"channels: {change.channels[:8]} cannot be chosen: eegd streams the first n "
                f"channels, so send [0, 1, ..., n-1] (here [0, ..., {count - 1}])",
            )
        if count != len(current["channels"]):
            source["channels"] = count
    if not isinstance(change.sample_rate, msgspec.UnsetType):
        if change.sample_rate != current["sample_rate"]:
            source["sample_rate"] = change.sample_rate
    notch: dict[str, Any] = {}
    if not isinstance(change.powerline_filter_hz, msgspec.UnsetType):
        if change.powerline_filter_hz != current["powerline_filter_hz"]:
            notch["notch_hz"] = change.powerline_filter_hz or 0
    return {"source": source, "filter": notch}


def config_message(source: Mapping[str, Any], filter_state: Mapping[str, Any]) -> dict[str, Any]:
    """The old daemon's configuration message, from ``GET /api/source`` and ``/api/filter``."""
    session = source.get("session") or {}
    settings = source.get("settings", {})
    names = list(session.get("channels", []))
    rate = session.get("sample_rate", settings.get("sample_rate"))
    notch = filter_state.get("notch_hz") or None
    return {
        "sample_rate": int(rate) if isinstance(rate, float) and rate.is_integer() else rate,
        "channels": list(range(len(names))),
        "channel_names": names,
        "board_driver": settings.get("kind"),
        "batch_size": settings.get("batch_size"),
        "powerline_filter_hz": int(notch) if notch else None,
    }


#: System events after which ``/command`` says the recording state again.
_RECORDING_EVENTS = frozenset(
    {SystemEventKind.RECORDING_STARTED, SystemEventKind.RECORDING_STOPPED}
)
#: System events after which ``/config`` sends the configuration again.
_CONFIG_EVENTS = frozenset({SystemEventKind.CONFIG_CHANGED, SystemEventKind.SOURCE_CONNECTED})


class LegacyRoutes:
    """The aiohttp handlers of ``/command`` and ``/config``."""

    def __init__(
        self,
        call: RouteCaller,
        gate: Gate,
        auditor: Auditor,
        bus: EventBus | None,
        *,
        heartbeat: float,
        max_message_bytes: int,
        max_messages_per_s: float,
        max_clients: int,
    ) -> None:
        self._call = call
        self._gate = gate
        self._auditor = auditor
        self._bus = bus
        self._heartbeat = heartbeat
        self._max_bytes = max_message_bytes
        self._rate = max_messages_per_s
        self._max_clients = max_clients
        self.connected = 0
        """Clients of either route now; at most ``max_clients``."""

    async def command(self, request: web.Request) -> web.StreamResponse:
        """``/command``: the recording state now and on every change; commands."""
        return await self._serve(request, self._status, _RECORDING_EVENTS, self._on_command)

    async def config(self, request: web.Request) -> web.StreamResponse:
        """``/config``: the configuration now and on every change; changes."""
        return await self._serve(request, self._config, _CONFIG_EVENTS, self._on_config)

    # ------------------------------------------------------------------ the connection

    async def _serve(
        self,
        request: web.Request,
        state: Callable[[], Awaitable[str]],
        events: frozenset[SystemEventKind],
        handle: Callable[[str, Principal], Awaitable[str]],
    ) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=self._heartbeat, max_msg_size=self._max_bytes)
        await ws.prepare(request)
        if self.connected >= self._max_clients:
            await ws.close(code=aiohttp.WSCloseCode.TRY_AGAIN_LATER, message=b"too many clients")
            return ws
        self.connected += 1
        principal = request[PRINCIPAL]
        sending = asyncio.Lock()

        async def send(text: str) -> None:
            async with sending:
                await ws.send_str(text)

        pusher: asyncio.Task[None] | None = None
        try:
            await send(await state())
            if self._bus is not None:
                pusher = asyncio.create_task(self._push(self._bus, events, state, send))
            limit = MessageRateLimit(self._rate, 50)
            async for message in ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    continue
                verdict = limit.check(time.monotonic())
                if verdict is Verdict.CLOSE:
                    await ws.close(code=aiohttp.WSCloseCode.POLICY_VIOLATION, message=b"flooding")
                    break
                if verdict is Verdict.REFUSE:
                    await send(reply(False, f"at most {self._rate:g} messages per second"))
                if verdict is Verdict.ACCEPT:
                    await send(await handle(message.data, principal))
        except (ConnectionError, aiohttp.ClientError):
            pass
        finally:
            self.connected -= 1
            if pusher is not None:
                pusher.cancel()
                await asyncio.gather(pusher, return_exceptions=True)
        return ws

    @staticmethod
    async def _push(
        bus: EventBus,
        events: frozenset[SystemEventKind],
        state: Callable[[], Awaitable[str]],
        send: Callable[[str], Awaitable[None]],
    ) -> None:
        with bus.subscribe([Topic.SYSTEM], maxsize=16, policy=DropPolicy.DROP_OLDEST) as feed:
            try:
                async for event in feed:
                    if getattr(event, "kind", None) in events:
                        await send(await state())
            except (ConnectionError, aiohttp.ClientError):
                return  # the client went away; the handler ends too

    def _refusal(self, principal: Principal, name: str) -> str | None:
        needed = LEGACY_MESSAGE_ROLES.get(name, Role.OPERATOR)
        return self._gate.message_refusal(principal, name, needed)

    def _audit(self, principal: Principal, action: str, answer: str, body: str) -> None:
        decoded = json.loads(answer)
        accepted = decoded["status"] == "ok"
        self._auditor.record(principal, action, accepted, decoded["message"], body)

    # ------------------------------------------------------------------ /command

    async def _status(self) -> str:
        try:
            listed = await self._call("GET", "/api/recordings", {})
        except RequestRefused as exc:
            return reply(False, str(exc))
        name = listed.get("recording")
        return reply(True, f"Currently recording to {name}" if name else "Not recording")

    async def _on_command(self, text: str, principal: Principal) -> str:
        command = parse_command(text)
        if isinstance(command, str):
            return command
        name = command.command
        if name == "status":
            return await self._status()
        refused = self._refusal(principal, name)
        answer = reply(False, refused) if refused else await self._carry_out(command)
        self._audit(principal, f"/command {name}", answer, text)
        return answer

    async def _carry_out(self, command: LegacyCommand) -> str:
        name = command.command
        try:
            if name == "start":
                started = await self._call("POST", "/api/recordings", {})
                return reply(True, f"Currently recording to {started.get('name')}")
            if name == "stop":
                stopped = await self._call("POST", "/api/recordings/current/stop", {})
                return reply(True, f"Recording stopped ({stopped.get('name', 'done')})")
            await self._call("PUT", "/api/filter", {"notch_hz": command.value or 0})
        except RequestRefused as exc:
            prefix = "Failed to start recording: " if name == "start" else ""
            return reply(False, f"{prefix}{exc}")
        shown = f"{command.value} Hz" if command.value else "off"
        return reply(True, f"Powerline filter {shown}")

    # ------------------------------------------------------------------ /config

    async def _current(self) -> dict[str, Any]:
        source = await self._call("GET", "/api/source", {})
        try:
            filter_state: Mapping[str, Any] = await self._call("GET", "/api/filter", {})
        except RequestRefused:
            filter_state = {}  # no voltage filter running
        return config_message(source, filter_state)

    async def _config(self) -> str:
        return json.dumps(await self._current())

    async def _on_config(self, text: str, principal: Principal) -> str:
        refused = self._refusal(principal, "config")
        answer, asked = (reply(False, refused), True) if refused else await self._change(text)
        if asked:
            self._audit(principal, "/config", answer, text)
        return answer

    async def _change(self, text: str) -> tuple[str, bool]:
        """The reply to a ``/config`` message, and whether it asked for a change."""
        change = parse_config_change(text, await self._current())
        if isinstance(change, str):
            return change, True
        if not change["source"] and not change["filter"]:
            return reply(True, "Configuration unchanged"), False
        try:
            if change["source"]:
                await self._call("PUT", "/api/source", change["source"])
            if change["filter"]:
                await self._call("PUT", "/api/filter", change["filter"])
        except RequestRefused as exc:
            return reply(False, str(exc)), True
        return reply(True, "Config update submitted"), True
