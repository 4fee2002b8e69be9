"""The recordings REST API, as routes of the recorder plugin.

``POST /api/recordings`` starts one (``{"name": ..., "notes": ...}``, both optional),
``POST /api/recordings/current/stop`` stops it, ``GET /api/recordings`` lists every part,
``GET /api/recordings/{name}`` downloads one (409 while it is being written) and
``DELETE /api/recordings/{name}`` deletes one (refused while it is being written).
``POST /api/markers`` publishes a marker (``label``, optional ``duration_s`` and
``timestamp_us``, else now) on the ``marker`` topic; a recording annotates it.
``POST /api/recordings/{name}/bids`` exports a finished part into the BIDS dataset
``bids/`` of the recordings directory (``bids``), one export at a time, in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Protocol

from eegd.commands import Command
from eegd.errors import RequestRefused
from eegd.plugins.recorder.bids import BidsRequest, export_bids
from eegd.plugins.recorder.catalog import Catalog
from eegd.routes import FileReply, Route, RouteRequest

#: The BIDS dataset's folder inside the recordings directory.
BIDS_FOLDER: Final = "bids"

__all__ = ["BIDS_FOLDER", "Recordings", "recording_routes"]


class Recordings(Protocol):
    """What the routes ask of the recorder plugin (``recorder.Recorder``)."""

    @property
    def directory(self) -> Path: ...
    @property
    def ready(self) -> bool: ...
    @property
    def recording(self) -> str | None: ...
    async def start(self, body: Mapping[str, Any]) -> dict[str, Any]: ...
    async def stop(self) -> dict[str, Any]: ...
    @property
    def catalog(self) -> Catalog: ...
    def mark(self, body: Mapping[str, Any]) -> dict[str, Any]: ...


def recording_routes(plugin: type[Recordings]) -> list[Route]:
    """The routes of the recordings API, served by the running instance of ``plugin``."""
    api = _Api(plugin)
    return [
        Route("GET", "/api/recordings", api.list, role="viewer", command=Command.RECORDER_LIST),
        Route(
            "POST", "/api/recordings", api.start, role="operator", command=Command.RECORDER_START
        ),
        Route(
            "POST",
            "/api/recordings/current/stop",
            api.stop,
            role="operator",
            command=Command.RECORDER_STOP,
        ),
        Route("GET", "/api/recordings/{name}", api.download, role="viewer"),
        Route("DELETE", "/api/recordings/{name}", api.delete, role="operator"),
        Route(
            "POST",
            "/api/markers",
            api.mark,
            role="operator",
            budget="markers",
            command=Command.RECORDER_MARKER,
        ),
        Route("POST", "/api/recordings/{name}/bids", api.export_bids, role="operator"),
    ]


class _Api:
    """The handlers, each reaching the running ``plugin`` (503 while there is none)."""

    def __init__(self, plugin: type[Recordings]) -> None:
        self._plugin = plugin
        self._exporting = asyncio.Lock()
        """Held by the BIDS export running (one at a time, off the event loop)."""

    def _recorder(self, request: RouteRequest) -> Recordings:
        instance = request.control.instance()
        if not isinstance(instance, self._plugin):
            raise RequestRefused(503, "not_ready", "the recorder is not running; try again")
        return instance

    async def list(self, request: RouteRequest) -> dict[str, Any]:
        recorder = self._recorder(request)
        return {"recording": recorder.recording, "recordings": await recorder.catalog.list()}

    async def start(self, request: RouteRequest) -> dict[str, Any]:
        return await self._recorder(request).start(request.body)

    async def stop(self, request: RouteRequest) -> dict[str, Any]:
        return await self._recorder(request).stop()

    async def download(self, request: RouteRequest) -> FileReply:
        name = request.params["name"]
        path, content_type, filename = await self._recorder(request).catalog.download(name)
        return FileReply(path=path, content_type=content_type, filename=filename)

    def mark(self, request: RouteRequest) -> dict[str, Any]:
        return self._recorder(request).mark(request.body)

    async def delete(self, request: RouteRequest) -> dict[str, Any]:
        return await self._recorder(request).catalog.delete(request.params["name"])

    async def export_bids(self, request: RouteRequest) -> dict[str, Any]:
        recorder = self._recorder(request)
        if not recorder.ready:
            raise RequestRefused(503, "not_ready", "the recorder is starting; try again")
        wanted = BidsRequest.from_body(request.body)
        if self._exporting.locked():
            raise RequestRefused(409, "busy", "a BIDS export is running; try again once it ends")
        async with self._exporting:
            directory = recorder.directory
            return await asyncio.to_thread(
                export_bids,
                directory,
                request.params["name"],
                directory / BIDS_FOLDER,
                wanted,
                recorder.recording,
            )
