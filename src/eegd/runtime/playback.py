"""Playback controls on the running daemon: ``GET`` and ``PUT /api/playback``.

Choose a file from ``[source.playback] directories``, pause and resume, seek, loop and
speed (0.5 to 4 times real time). Every change but a pause is a source change
(``Daemon.update_source``): a new session that starts at the chosen place in the file
(``[source.playback] start_s``), announced as any other (``config_changed``, a new hello), so
the sample ledger never hides a jump: each session counts its own samples from zero, and
where it started in the file is ``start_s``. A pause ends the session (the acquisition task
is paused, as for a self-test) and remembers where it stopped; resuming starts a new session
there. Listing the directories and reading a file's length happen in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from eegd.acquisition.loop import AcquisitionLoop
from eegd.errors import ConfigError, EegdError, RequestRefused
from eegd.routes import Route, RouteRequest
from eegd.sources.edf import open_recording
from eegd.sources.files import allowed_file
from eegd.supervisor import Supervisor, TaskState

__all__ = ["MAX_LISTED_FILES", "SPEEDS", "PlaybackControl"]

#: The speeds a kiosk offers; any number in their range is accepted.
SPEEDS: Final = (0.5, 1.0, 2.0, 4.0)
#: Files listed at most (over every directory), in name order.
MAX_LISTED_FILES: Final = 200
_SUFFIXES: Final = frozenset({".edf", ".bdf"})
_KEYS: Final = ("path", "speed", "loop", "position_s", "paused")


@dataclass(frozen=True, slots=True)
class _Pause:
    """A pause in force: where the file stopped, and the task holding the acquisition."""

    position_s: float
    release: asyncio.Event
    holder: asyncio.Task[None]


class PlaybackControl:
    """The playback routes; the daemon hands in what they need of it."""

    def __init__(
        self,
        playing: Callable[[], Mapping[str, Any] | None],
        directories: Callable[[], tuple[str, ...]],
        update_source: Callable[[Mapping[str, Any]], Awaitable[Mapping[str, Any]]],
        supervisor: Supervisor,
        acquisition: AcquisitionLoop,
        task: str,
    ) -> None:
        self._playing = playing
        """The running ``[source.playback]`` table, or None when no file is playing."""
        self._directories = directories
        """``[source.playback] directories``, absolute."""
        self._update_source = update_source
        self._supervisor = supervisor
        self._acquisition = acquisition
        self._task = task
        self._pause: _Pause | None = None
        self._durations: dict[tuple[str, int, int], float] = {}
        """A file's length in seconds by (path, size, mtime); bounded by MAX_LISTED_FILES."""

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/api/playback", self._get, role="viewer"),
            Route("PUT", "/api/playback", self._put, role="operator"),
        ]

    def release(self) -> None:
        """End a pause: the acquisition starts again with whatever settings are in force
        (called by ``Daemon.update_source`` once the new ones are)."""
        pause, self._pause = self._pause, None
        if pause is not None:
            pause.release.set()

    async def _get(self, _request: RouteRequest) -> dict[str, Any]:
        files = await asyncio.to_thread(self._files)
        return {"state": await self._state(), "files": files, "speeds": list(SPEEDS)}

    async def _put(self, request: RouteRequest) -> dict[str, Any]:
        body = request.body
        for key in body:
            if key not in _KEYS:
                raise ConfigError(f"playback.{key}: unknown key (allowed: {', '.join(_KEYS)})")
        settings = self._settings()
        if settings is None and "path" not in body:
            raise RequestRefused(409, "not_playing", "no file is playing: choose one (path)")
        speed = _number(body, "speed", 0.5, 4.0)
        position = _number(body, "position_s", 0.0, math.inf)
        loop = body.get("loop")
        if loop is not None and not isinstance(loop, bool):
            raise ConfigError(f"playback.loop: {loop!r} is not allowed (allowed: true, false)")
        paused = body.get("paused")
        if paused is not None and not isinstance(paused, bool):
            raise ConfigError(f"playback.paused: {paused!r} is not allowed (allowed: true, false)")
        path = body.get("path")
        if path is not None and (not isinstance(path, str) or not path):
            raise ConfigError("playback.path: not allowed (allowed: a file in the directories)")
        changing = any(body.get(key) is not None for key in ("path", "speed", "loop"))
        if paused is not None and not changing and position is None:
            if paused:
                await self._enter_pause()
            elif self._pause is None:
                return await self._state()  # playing already: nothing to resume
            else:
                await self._update_source({"playback": {"start_s": await self._position()}})
            return await self._state()
        if position is None:
            position = 0.0 if path is not None else await self._position()
        table: dict[str, Any] = {"start_s": position}
        for key, value in (("path", path), ("speed", speed), ("loop", loop)):
            if value is not None:
                table[key] = value
        await self._update_source({"kind": "playback", "playback": table})
        if paused:
            await self._enter_pause()
        return await self._state()

    def _settings(self) -> dict[str, Any] | None:
        """The running ``[source.playback]`` table, or None when no file is playing."""
        table = self._playing()
        return None if table is None else dict(table)

    async def _enter_pause(self) -> None:
        """Pause the acquisition (its session ends) and keep the place it stopped at."""
        if self._pause is not None:
            return
        release = asyncio.Event()
        entered = asyncio.Event()

        async def hold() -> None:
            async with self._supervisor.paused(self._task):
                entered.set()
                await release.wait()

        holder = asyncio.create_task(hold(), name="playback-pause")
        waiting = asyncio.create_task(entered.wait())
        await asyncio.wait([waiting, holder], return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if holder.done():
            holder.result()  # the supervisor's refusal, if any
            return
        self._pause = _Pause(await self._played(), release, holder)

    async def _position(self) -> float:
        """Where in the file the playing is (or stopped, when paused), in seconds."""
        if self._pause is not None:
            return self._pause.position_s
        return await self._played()

    async def _played(self) -> float:
        """Where the running (or last) session has reached in the file, in seconds."""
        settings = self._settings() or {}
        start = float(settings.get("start_s", 0.0))
        ledger = self._acquisition.session_ledger()
        if ledger is None:
            return start
        played = start + ledger.expected / ledger.sample_rate
        duration = await self._duration(str(settings.get("path", "")))
        if duration is None or duration <= 0:
            return played
        if settings.get("loop"):
            return played % duration
        return min(played, duration)

    async def _state(self) -> dict[str, Any]:
        settings = self._settings()
        session = self._acquisition.session
        if settings is None:
            return {"playing": False, "session": session.id if session else None}
        path = str(settings.get("path", ""))
        ended = self._supervisor.status(self._task).state is TaskState.FINISHED
        return {
            "playing": True,
            "path": path,
            "name": Path(path).name,
            "speed": float(settings.get("speed", 1.0)),
            "loop": bool(settings.get("loop", False)),
            "start_s": float(settings.get("start_s", 0.0)),
            "duration_s": await self._duration(path),
            "position_s": round(await self._position(), 3),
            "paused": self._pause is not None,
            "ended": ended and self._pause is None,
            "session": session.id if session else None,
        }

    async def _duration(self, path: str) -> float | None:
        """The file's length in seconds (read once per version of it), or None if unreadable."""
        directories = self._directories()
        try:
            return await asyncio.to_thread(self._read_duration, path, directories)
        except (EegdError, OSError):
            return None

    def _read_duration(self, path: str, directories: tuple[str, ...]) -> float:
        file = allowed_file(Path(path), tuple(Path(d) for d in directories))
        stat = file.stat()
        key = (str(file), stat.st_size, stat.st_mtime_ns)
        known = self._durations.get(key)
        if known is None:
            if len(self._durations) >= MAX_LISTED_FILES:
                self._durations.clear()
            known = self._durations[key] = open_recording(file, Path(path)).duration_s
        return known

    def _files(self) -> list[dict[str, Any]]:
        """The EDF and BDF files directly inside the directories (MAX_LISTED_FILES at most)."""
        found: list[dict[str, Any]] = []
        for directory in self._directories():
            with contextlib.suppress(OSError), os.scandir(directory) as entries:
                for entry in entries:
                    if Path(entry.name).suffix.lower() not in _SUFFIXES:
                        continue
                    with contextlib.suppress(OSError):
                        if entry.is_file(follow_symlinks=False):
                            size = entry.stat(follow_symlinks=False).st_size
                            found.append({"path": entry.path, "name": entry.name, "size": size})
        found.sort(key=lambda item: (item["name"], item["path"]))
        return found[:MAX_LISTED_FILES]


def _number(body: Mapping[str, Any], key: str, low: float, high: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        allowed = f"{low:g}..{high:g}" if math.isfinite(high) else f"a number >= {low:g}"
        raise ConfigError(f"playback.{key}: {value!r} is not allowed (allowed: {allowed})")
    return float(value)
