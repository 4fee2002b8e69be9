"""One opening of a source, read in a thread of its own and watched for stalls.

The acquisition loop opens a source and hands it to a ``SourceReader``: its thread reads
blocks of ``batch_size`` (a source's ``read`` blocks until they exist), checks each one
(``SampleBlock.problem``) and hands it to the event loop with ``call_soon_threadsafe``, at
most ``max_pending`` ahead of the loop. ``watch`` returns when the thread ends (raising
what the source raised) and raises ``SourceError`` when one read stays overdue: a source
that delivers nothing for ``stall_timeout_s`` beyond its block's duration. ``finish``
stops the thread (cutting a read short where the source can), closes the source, and
leaves behind a thread stuck in a read that never returns rather than wait for it.

This is also the boundary with the drivers: whatever a source's ``open``, ``read`` or
``close`` raises that is not already an ``EegdError`` becomes a ``SourceError`` naming the
source kind and the original error (``translated``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from eegd.errors import EegdError, SourceError
from eegd.sources.base import SampleBlock, Source

__all__ = ["Arrival", "BlockHandler", "RejectHandler", "SourceReader", "translated"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Seconds a reader thread gets to end after its source is closed before it is left behind.
_GRACE_S: Final = 1.0

#: Called on the loop with each good block, when the thread read it (``time.monotonic_ns``,
#: for latency) and its ``Arrival`` on the source's clock and the wall clock.
BlockHandler = Callable[["SourceReader", SampleBlock, int, "Arrival"], None]
#: Called on the loop with each malformed block and what is wrong with it.
RejectHandler = Callable[["SourceReader", SampleBlock, str], None]


@dataclass(frozen=True, slots=True)
class Arrival:
    """When a block came: on the source's clock (``monotonic``, seconds) and on the wall
    clock (µs since the epoch), read one after the other as the read returned."""

    monotonic_s: float
    wall_us: int


def translated(kind: str, what: str, action: Callable[[], _T]) -> _T:
    """``action()``, its non-eegd errors raised as a ``SourceError`` naming ``kind``."""
    try:
        return action()
    except EegdError:
        raise
    except Exception as exc:
        raise SourceError(f"{kind} source: {what} failed: {type(exc).__name__}: {exc}") from exc


class SourceReader:
    """Reads an open ``source`` in a thread until stopped; ``release`` frees a pending slot.

    ``monotonic`` is the clock the source paces by, so stalls are measured on it (a test's
    stepped clock never stalls while the test holds it); ``wall_clock`` gives µs since the
    epoch. Both are read as each block arrives (``Arrival``).
    """

    def __init__(
        self,
        source: Source,
        *,
        kind: str,
        batch_size: int,
        max_pending: int,
        stall_timeout_s: float,
        monotonic: Callable[[], float],
        wall_clock: Callable[[], int],
        on_block: BlockHandler,
        on_rejected: RejectHandler,
    ) -> None:
        self.source = source
        self._kind = kind
        self._batch_size = batch_size
        self._stall_timeout = stall_timeout_s
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._on_block = on_block
        self._on_rejected = on_rejected
        self._pending = threading.BoundedSemaphore(max_pending)
        self._stop = threading.Event()
        self._reading: tuple[int, float] | None = None
        """(read number, clock time it began) while the thread is inside ``source.read``."""
        self._ended: asyncio.Future[None] | None = None

    def release(self) -> None:
        """The loop has handled one block: the thread may hand it another."""
        self._pending.release()

    def start(self) -> None:
        """Start the thread; must be called on the running loop.

        A thread of its own rather than the default executor: a source stuck in a read that
        never returns must not hold one of the executor's few workers for good.
        """
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[None] = loop.create_future()
        self._ended = ended

        def settle(error: BaseException | None) -> None:
            if ended.done():
                return
            if error is None:
                ended.set_result(None)
            else:
                ended.set_exception(error)

        def body() -> None:
            error: BaseException | None = None
            try:
                self._read_forever(loop)
            except BaseException as exc:  # handed to the loop, raised there
                error = None if self._stop.is_set() else exc  # moot once told to stop
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(settle, error)

        threading.Thread(target=body, name=f"eegd-{self._kind}-reader", daemon=True).start()

    @property
    def running(self) -> bool:
        """Whether the thread has not ended yet."""
        return self._ended is not None and not self._ended.done()

    async def watch(self) -> None:
        """Wait for the thread to end, raising ``SourceError`` if one read stays overdue.

        A read is overdue once it has lasted ``stall_timeout_s`` more than its block's
        duration on the source's clock; it must be seen overdue twice in a row, a poll
        apart, so a clock moved forward at once (tests) is not mistaken for a stall.
        """
        ended = self._ended
        if ended is None:
            raise RuntimeError("the reader was not started")
        limit = self._stall_timeout + self._batch_size / self.source.sample_rate
        poll = min(self._stall_timeout / 4, 0.25)
        suspect: int | None = None
        while True:
            done, _ = await asyncio.wait([ended], timeout=poll)
            if done:
                ended.result()
                return
            reading = self._reading
            if reading is None or self._monotonic() - reading[1] <= limit:
                suspect = None
            elif suspect == reading[0]:
                raise SourceError(
                    f"{self._kind} source: stalled: no samples for more than "
                    f"{self._stall_timeout:g} s"
                )
            else:
                suspect = reading[0]

    async def finish(self, stalled: bool) -> None:
        """Stop the thread (cutting a read short where the source can), close the source.

        A read in progress may end first (up to a second), unless it stalled; a thread
        still inside ``read`` after the close is left behind, with a warning. The source is
        closed even when the task is cancelled meanwhile (a pause, a stop): a source left
        open could never be opened again.
        """
        ended = self._ended
        self._stop.set()
        self.source.interrupt()
        try:
            if ended is not None and not stalled:
                await asyncio.wait([ended], timeout=_GRACE_S)
        finally:
            await self._close()

    async def _close(self) -> None:
        """Close the source in a thread that a cancel cannot stop, then see the reader end."""
        ended = self._ended
        closing = asyncio.ensure_future(
            asyncio.to_thread(translated, self._kind, "close", self.source.close)
        )
        try:
            await asyncio.shield(closing)
        finally:
            if ended is not None and not ended.done():
                await asyncio.wait([ended], timeout=_GRACE_S)
            if ended is not None and not ended.done():
                logger.warning("the %s source's reader thread did not end; left behind", self._kind)
            elif ended is not None and not ended.cancelled():
                ended.exception()  # retrieved: it was already reported, or is moot now

    def _read_forever(self, loop: asyncio.AbstractEventLoop) -> None:
        """The thread: read blocks and hand them to the loop, at most ``max_pending`` ahead."""
        source, stop, pending = self.source, self._stop, self._pending
        channels = len(source.channel_names)
        aux = source.aux
        aux_channels = 0 if aux is None else len(aux.channels)
        reads = 0
        while not stop.is_set():
            reads += 1
            self._reading = (reads, self._monotonic())
            block = translated(self._kind, "read", lambda: source.read(self._batch_size))
            arrived = Arrival(self._monotonic(), self._wall_clock())
            self._reading = None
            read_ns = time.monotonic_ns()
            problem = block.problem(channels, self._batch_size, aux_channels)
            while not pending.acquire(timeout=0.1):
                if stop.is_set():
                    return
            if problem is None:
                loop.call_soon_threadsafe(self._on_block, self, block, read_ns, arrived)
            else:
                loop.call_soon_threadsafe(self._on_rejected, self, block, problem)
