"""The old daemon's WebSocket routes ``/command`` and ``/config``, for elata-eeg's kiosk and
scripts written against it: its messages and replies (``eegd.net.protocol.legacy_control``),
carried out by the routes that serve their commands (``eegd.commands``), with their checks;
each change needs its role in ``LEGACY_MESSAGE_ROLES`` and is audited.

``/command`` says the recording state on connect and whenever a recording starts or stops.
``/config`` sends the configuration on connect, as each new session starts (so the first one
after a source switch already holds the new rate and channels) and when the notch changes.
As the old daemon did, both refuse changes while a recording runs. A reply always goes out
before the state its message changed is pushed. Compression is off, and every message, text
or binary, counts against the rate limit.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from aiohttp import web

from eegd.bus import DropPolicy, EventBus, Subscription
from eegd.clock import SYSTEM_CLOCK, Clock
from eegd.commands import Command
from eegd.errors import RequestRefused
from eegd.events import SystemEvent, SystemEventKind, Topic
from eegd.net.plugin_routes import CommandCaller
from eegd.net.protocol.legacy_control import (
    COMMAND_SHAPE,
    CONFIG_SHAPE,
    DURING_RECORDING,
    LegacyCommand,
    config_changes,
    config_message,
    parse_command,
    parse_config,
    powerline_refusal,
    reply,
)
from eegd.net.security.access import Gate
from eegd.net.security.audit import Auditor
from eegd.net.security.ratelimit import MessageRateLimit, Verdict
from eegd.net.security.roles import LEGACY_MESSAGE_ROLES, Principal, Role
from eegd.net.security.webgate import PRINCIPAL
from eegd.net.settings import ClientLimits

__all__ = ["LegacyRoutes"]


#: Decides whether a system event changes what a route pushes.
_Pushes = Callable[[SystemEvent], bool]


def _recording_changed(event: SystemEvent) -> bool:
    return event.kind in (SystemEventKind.RECORDING_STARTED, SystemEventKind.RECORDING_STOPPED)


def _configuration_changed(event: SystemEvent) -> bool:
    """A new session (new rate and channels), or a change that is not the source's: a source
    switch is announced before its session opens, and pushing then would repeat the old."""
    if event.kind is SystemEventKind.SOURCE_CONNECTED:
        return True
    return event.kind is SystemEventKind.CONFIG_CHANGED and "source" not in event.detail


class LegacyRoutes:
    """The aiohttp handlers of ``/command`` and ``/config``."""

    def __init__(
        self,
        call: CommandCaller,
        gate: Gate,
        auditor: Auditor,
        bus: EventBus | None,
        *,
        heartbeat: float,
        limits: ClientLimits,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._call = call
        self._gate = gate
        self._auditor = auditor
        self._bus = bus
        self._heartbeat = heartbeat
        self._limits = limits
        self._clock = clock
        """The time each message's rate is judged by."""
        self.connected = 0
        """Clients of either route now; at most ``max_clients``."""

    async def command(self, request: web.Request) -> web.StreamResponse:
        """``/command``: the recording state now and on every change; commands."""
        refusal = reply(False, f"Invalid command format: send {COMMAND_SHAPE} as text")
        return await self._serve(
            request, self._status, _recording_changed, self._on_command, refusal
        )

    async def config(self, request: web.Request) -> web.StreamResponse:
        """``/config``: the configuration now and on every change; changes."""
        refusal = reply(False, f"Invalid config format: send {CONFIG_SHAPE} as text")
        return await self._serve(
            request, self._config, _configuration_changed, self._on_config, refusal
        )

    # ------------------------------------------------------------------ the connection

    async def _serve(
        self,
        request: web.Request,
        state: Callable[[], Awaitable[str]],
        pushes: _Pushes,
        handle: Callable[[str, Principal], Awaitable[str]],
        binary_refusal: str,
    ) -> web.StreamResponse:
        ws = web.WebSocketResponse(
            heartbeat=self._heartbeat, max_msg_size=self._limits.max_message_bytes, compress=False
        )
        await ws.prepare(request)
        if self.connected >= self._limits.max_clients:
            await ws.close(code=aiohttp.WSCloseCode.TRY_AGAIN_LATER, message=b"too many clients")
            return ws
        self.connected += 1
        principal = request[PRINCIPAL]
        # Held from a message to its reply, so the state it changed is pushed after it.
        sending = asyncio.Lock()
        pusher: asyncio.Task[None] | None = None
        # Listening before the first state is read: no change falls between the two.
        feed = (
            None
            if self._bus is None
            else self._bus.subscribe([Topic.SYSTEM], maxsize=16, policy=DropPolicy.DROP_OLDEST)
        )
        try:
            first = await state()
            await ws.send_str(first)
            if feed is not None:
                pusher = asyncio.create_task(self._push(feed, pushes, state, ws, sending, first))
            rate = self._limits.max_messages_per_s
            limit = MessageRateLimit(rate, self._limits.message_burst)
            async for message in ws:
                if message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    continue
                verdict = limit.check(self._clock.monotonic())
                if verdict is Verdict.CLOSE:
                    await ws.close(code=aiohttp.WSCloseCode.POLICY_VIOLATION, message=b"flooding")
                    break
                if verdict is Verdict.IGNORE:
                    continue
                async with sending:
                    if verdict is Verdict.REFUSE:
                        answer = reply(
                            False,
                            f"at most {self._limits.max_messages_per_s:g} messages per second",
                        )
                    elif message.type is aiohttp.WSMsgType.BINARY:
                        answer = binary_refusal
                    else:
                        answer = await handle(message.data, principal)
                    await ws.send_str(answer)
        except (ConnectionError, aiohttp.ClientError):
            pass
        finally:
            self.connected -= 1
            if pusher is not None:
                pusher.cancel()
                await asyncio.gather(pusher, return_exceptions=True)
            if feed is not None:
                feed.close()
        return ws

    @staticmethod
    async def _push(
        feed: Subscription,
        pushes: _Pushes,
        state: Callable[[], Awaitable[str]],
        ws: web.WebSocketResponse,
        sending: asyncio.Lock,
        last: str,
    ) -> None:
        """Send the state again after each event that changes it, unless it is the same."""
        try:
            async for event in feed:
                if not isinstance(event, SystemEvent) or not pushes(event):
                    continue
                async with sending:
                    now = await state()
                    if now != last:
                        await ws.send_str(now)
                        last = now
        except (ConnectionError, aiohttp.ClientError):
            return  # the client went away; the handler ends too

    def _refusal(self, principal: Principal, name: str) -> str | None:
        needed = LEGACY_MESSAGE_ROLES.get(name, Role.OPERATOR)
        return self._gate.message_refusal(principal, name, needed)

    def _audit(self, principal: Principal, action: str, answer: str, body: str) -> None:
        decoded = json.loads(answer)
        accepted = decoded["status"] == "ok"
        self._auditor.record(principal, action, accepted, decoded["message"], body)

    async def _recording(self) -> str | None:
        """The recording running now, if any (none while no recorder runs)."""
        try:
            listed = await self._call(Command.RECORDER_LIST, {})
        except RequestRefused:
            return None
        name = listed.get("recording")
        return str(name) if name else None

    # ------------------------------------------------------------------ /command

    async def _status(self) -> str:
        name = await self._recording()
        return reply(True, f"Currently recording to {name}" if name else "Not recording")

    async def _on_command(self, text: str, principal: Principal) -> str:
        command = parse_command(text)
        if isinstance(command, str):
            return command
        name = command.command
        if name == "status":
            return await self._status()
        refused = self._refusal(principal, name)
        if refused is not None:
            answer = reply(False, refused)
        elif name == "set_powerline_filter":
            answer = await self._set_powerline(command)
        else:
            answer = await self._record(command)
        self._audit(principal, f"/command {name}", answer, text)
        return answer

    async def _record(self, command: LegacyCommand) -> str:
        try:
            if command.command == "start":
                started = await self._call(Command.RECORDER_START, {})
                return reply(True, f"Currently recording to {started.get('name')}")
            stopped = await self._call(Command.RECORDER_STOP, {})
        except RequestRefused as exc:
            prefix = "Failed to start recording: " if command.command == "start" else ""
            return reply(False, f"{prefix}{exc}")
        return reply(True, f"Recording stopped ({stopped.get('name', 'done')})")

    async def _set_powerline(self, command: LegacyCommand) -> str:
        if await self._recording():
            return reply(False, DURING_RECORDING)
        refused = powerline_refusal(command)
        if refused is not None:
            return refused
        try:
            await self._call(Command.FILTER_CHANGE, {"notch_hz": command.value or 0})
        except RequestRefused as exc:
            return reply(False, str(exc))
        shown = f"{command.value} Hz" if command.value else "off"
        return reply(True, f"Powerline filter {shown}")

    # ------------------------------------------------------------------ /config

    async def _current(self) -> dict[str, Any]:
        source = await self._call(Command.SOURCE_STATE, {})
        try:
            filter_state: Mapping[str, Any] = await self._call(Command.FILTER_STATE, {})
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
        change = parse_config(text)
        if isinstance(change, str):
            return change, True
        if await self._recording():
            return reply(False, DURING_RECORDING), True
        changes = config_changes(change, await self._current())
        if isinstance(changes, str):
            return changes, True
        if not changes["source"] and not changes["filter"]:
            return reply(True, "Configuration unchanged"), False
        try:
            if changes["source"]:
                await self._call(Command.SOURCE_CHANGE, changes["source"])
            if changes["filter"]:
                await self._call(Command.FILTER_CHANGE, changes["filter"])
        except RequestRefused as exc:
            return reply(False, str(exc)), True
        return reply(True, "Config update submitted"), True
