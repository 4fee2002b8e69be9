"""The recordings on disk as the API serves them: the list, a part's file to download, a
part deleted.

Each reads or changes the directory in the recorder's writer thread (``RecordingWriter.io``)
and refuses a part while it is being written (409). Before the recorder is ready (recovery
done, subscribed) every request is refused with 503 (``check_ready``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eegd.errors import RequestRefused
from eegd.plugins.recorder.library import (
    CONTENT_TYPES,
    SUFFIXES,
    delete_recording,
    list_recordings,
    read_sidecar,
)
from eegd.plugins.recorder.settings import check_name
from eegd.plugins.recorder.writer import RecordingWriter

__all__ = ["Catalog", "check_ready"]

logger = logging.getLogger(__name__)


def check_ready(ready: asyncio.Event) -> None:
    """``RequestRefused`` (503) while the recorder is starting."""
    if not ready.is_set():
        raise RequestRefused(503, "not_ready", "the recorder is starting; try again")


class Catalog:
    """The recorder's directory for the API; ``recording`` names the part being written."""

    def __init__(
        self,
        directory: Path,
        writer: RecordingWriter,
        ready: asyncio.Event,
        recording: Callable[[], str | None],
    ) -> None:
        self.directory = directory
        self._writer = writer
        self._ready = ready
        self._recording = recording

    async def list(self) -> list[dict[str, Any]]:
        """Every recording part in the directory, oldest first."""
        check_ready(self._ready)
        try:
            entries = await self._writer.io(list_recordings, self.directory)
        except OSError as exc:
            reason = f"the recording directory {self.directory} cannot be read: {exc.strerror}"
            raise RequestRefused(503, "directory_unusable", reason) from exc
        current = self._recording()
        for entry in entries:
            if entry["name"] == current:
                entry["status"] = "recording"
        return entries

    async def download(self, name: str) -> tuple[Path, str, str]:
        """The file of recording part ``name``: (path, content type, file name)."""
        sidecar = await self._sidecar(name)
        if sidecar.get("status") == "recording" or name == self._recording():
            raise RequestRefused(409, "recording", f"recording {name} is in progress")
        file_format = str(sidecar.get("format", "bdf"))
        path = self.directory / str(sidecar.get("file", name + SUFFIXES[file_format]))
        return path, CONTENT_TYPES.get(file_format, "application/octet-stream"), path.name

    async def delete(self, name: str) -> dict[str, Any]:
        """Delete recording part ``name`` (its data file and sidecar); 409 while recording."""
        sidecar = await self._sidecar(name)
        if name == self._recording():
            raise RequestRefused(409, "recording", f"recording {name} is in progress")
        await self._writer.io(delete_recording, self.directory, name, sidecar)
        logger.info("recording %s deleted", name)
        return {"name": name, "deleted": True}

    async def _sidecar(self, name: str) -> dict[str, Any]:
        check_name(name)
        check_ready(self._ready)
        content = await self._writer.io(read_sidecar, self.directory, name)
        if content is None:
            raise RequestRefused(404, "not_found", f"no recording named {name}")
        return content
