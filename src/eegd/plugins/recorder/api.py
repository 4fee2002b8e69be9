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
from typing import Any, Final

from eegd.commands import Command
from eegd.errors import RequestRefused
from eegd.plugin import FileReply, Route, RouteRequest
from eegd.plugins.recorder.bids import BidsRequest, export_bids
from eegd.plugins.recorder.recorder import Recorder

#: The BIDS dataset's folder inside the recordings directory.
BIDS_FOLDER: Final = "bids"

__all__ = ["recording_routes"]


def recording_routes() -> list[Route]:
    """The routes of the recordings API."""
    return [
        Route("GET", "/api/recordings", _list, role="viewer", command=Command.RECORDER_LIST),
        Route("POST", "/api/recordings", _start, role="operator", command=Command.RECORDER_START),
        Route(
            "POST",
            "/api/recordings/current/stop",
            _stop,
            role="operator",
            command=Command.RECORDER_STOP,
        ),
        Route("GET", "/api/recordings/{name}", _download, role="viewer"),
        Route("DELETE", "/api/recordings/{name}", _delete, role="operator"),
        Route(
            "POST",
            "/api/markers",
            _mark,
            role="operator",
            budget="markers",
            command=Command.RECORDER_MARKER,
        ),
        Route("POST", "/api/recordings/{name}/bids", _BidsExport(), role="operator"),
    ]


def _recorder(request: RouteRequest) -> Recorder:
    instance = request.control.instance()
    if not isinstance(instance, Recorder):
        raise RequestRefused(503, "not_ready", "the recorder is not running; try again")
    return instance


async def _list(request: RouteRequest) -> dict[str, Any]:
    recorder = _recorder(request)
    return {"recording": recorder.recording, "recordings": await recorder.list_recordings()}


async def _start(request: RouteRequest) -> dict[str, Any]:
    return await _recorder(request).start(request.body)


async def _stop(request: RouteRequest) -> dict[str, Any]:
    return await _recorder(request).stop()


async def _download(request: RouteRequest) -> FileReply:
    path, content_type, filename = await _recorder(request).download(request.params["name"])
    return FileReply(path=path, content_type=content_type, filename=filename)


def _mark(request: RouteRequest) -> dict[str, Any]:
    return _recorder(request).mark(request.body)


async def _delete(request: RouteRequest) -> dict[str, Any]:
    return await _recorder(request).delete(request.params["name"])


class _BidsExport:
    """``POST /api/recordings/{name}/bids``: one export at a time, off the event loop."""

    def __init__(self) -> None:
        self._running = asyncio.Lock()

    async def __call__(self, request: RouteRequest) -> dict[str, Any]:
        recorder = _recorder(request)
        if not recorder.ready:
            raise RequestRefused(503, "not_ready", "the recorder is starting; try again")
        wanted = BidsRequest.from_body(request.body)
        if self._running.locked():
            raise RequestRefused(409, "busy", "a BIDS export is running; try again once it ends")
        async with self._running:
            directory = recorder.directory
            return await asyncio.to_thread(
                export_bids,
                directory,
                request.params["name"],
                directory / BIDS_FOLDER,
                wanted,
                recorder.recording,
            )
