"""Which files a source may read, and reading them without trusting them: the allow-list.

A file played back must lie, once every symbolic link is resolved, inside one of the
allowed directories (``[source.playback] directories``), must be a regular file (no FIFO,
device or socket) and must not live under ``/proc``, ``/sys`` or ``/dev``, whose files
claim to be regular but are not files. ``allowed_file`` checks a path against that rule;
``map_file`` then opens it without blocking (a FIFO swapped in after the check cannot
hang the open), checks the opened descriptor again, and maps it read-only, so what is read
is what was checked. Both run in worker threads, never on the event loop.

Errors are ``SourceError``s naming the path and the reason; they never quote the file's
content, so a refusal says nothing of a file the daemon may not play.
"""

from __future__ import annotations

import mmap
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from eegd.errors import SourceError, one_line

__all__ = ["PSEUDO_FILESYSTEMS", "allowed_file", "map_file"]

#: Trees whose "files" are the kernel's views, never recordings, whatever the allow-list says.
PSEUDO_FILESYSTEMS: Final = (Path("/proc"), Path("/sys"), Path("/dev"))


def _shown(path: str) -> str:
    return one_line(path[:200])


def allowed_file(path: str | os.PathLike[str], directories: Sequence[Path]) -> Path:
    """The real path of ``path`` if a source may read it; ``SourceError`` saying why not.

    A relative ``path`` is looked up in each directory in turn (the first that holds it);
    an absolute one must resolve into one of them. ``~`` is the user's home.
    """
    text = os.fspath(path)
    if "\0" in text:
        raise SourceError(f"{_shown(text)}: a path cannot hold a NUL character")
    roots = [Path(os.path.realpath(directory)) for directory in directories]
    if not roots:
        raise SourceError(
            f"{_shown(text)}: no playback directory is configured "
            "(set [source.playback] directories in the configuration file)"
        )
    given = Path(text).expanduser()
    candidates = [given] if given.is_absolute() else [root / given for root in roots]
    resolved = [Path(os.path.realpath(candidate)) for candidate in candidates]
    inside = [real for real in resolved if any(real.is_relative_to(root) for root in roots)]
    existing = [real for real in inside if os.path.lexists(real)]
    if not inside:
        allowed = ", ".join(str(root) for root in roots)
        raise SourceError(
            f"{_shown(text)}: outside the playback directories (allowed: {allowed}); "
            "add its directory to [source.playback] directories to play it"
        )
    real = (existing or inside)[0]
    if any(real.is_relative_to(pseudo) for pseudo in PSEUDO_FILESYSTEMS):
        raise SourceError(f"{_shown(text)}: not a regular file (a view of the kernel)")
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        raise SourceError(f"{_shown(text)}: no such file") from None
    except OSError as exc:
        raise SourceError(f"{_shown(text)}: cannot read: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise SourceError(f"{_shown(text)}: is a directory, not an EDF or BDF file")
    if not stat.S_ISREG(mode):
        raise SourceError(f"{_shown(text)}: not a regular file (a FIFO, device or socket)")
    return real


def map_file(path: Path, shown: str) -> mmap.mmap | bytes:
    """``path``'s bytes, mapped read-only (``b""`` for an empty file); ``shown`` names it in
    errors. The open never blocks, and a descriptor that is not a regular file is refused."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise SourceError(f"{_shown(shown)}: no such file") from None
    except OSError as exc:
        raise SourceError(f"{_shown(shown)}: cannot read: {exc.strerror}") from None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise SourceError(f"{_shown(shown)}: not a regular file (a FIFO, device or socket)")
        if status.st_size == 0:
            return b""
        try:
            return mmap.mmap(descriptor, 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise SourceError(f"{_shown(shown)}: cannot read: {exc}") from None
    finally:
        os.close(descriptor)
