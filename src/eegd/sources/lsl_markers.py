"""An LSL marker stream read beside the ``lsl`` source's samples: each marker and its time.

A PsychoPy experiment (or any stimulus program) pushes its markers on an LSL stream of its
own, apart from the amplifier's. ``MarkerReader`` follows that stream in a thread of its
own, so markers never hold up samples and the event loop never waits on LSL: it looks for
the stream by name (a ``ContinuousResolver`` polled, so a stream that starts later, or comes
back, is found), pulls each marker and keeps it with its LSL time mapped into this machine's
clock (``time_correction``). The source takes what has arrived with each block and turns
each time into a sample of its own stream.

The queue holds at most ``capacity`` markers; when the source falls that far behind (it
only does while its samples stall) the oldest go, counted in ``dropped`` and logged.
A failure that is not the stream going away is raised again by ``take``.
"""

from __future__ import annotations

import collections
import logging
import threading
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["MAX_LABEL_BYTES", "MarkerReader", "TimedMarker", "lsl_errors", "marker_label"]

logger = logging.getLogger(__name__)

#: The longest label kept, in UTF-8 bytes (as for markers put through the API).
MAX_LABEL_BYTES: Final = 64
#: Longest single wait of the thread, so a stop is noticed quickly.
_POLL_S: Final = 0.05
#: How long opening an inlet on a found stream may take.
_OPEN_TIMEOUT_S: Final = 5.0


@dataclass(frozen=True, slots=True)
class TimedMarker:
    """A marker's label and its moment in this machine's LSL clock (monotonic seconds)."""

    time: float
    label: str


def marker_label(value: object) -> str:
    """A marker sample's first value as a label: numbers without a needless ``.0``, at most
    ``MAX_LABEL_BYTES`` of UTF-8 (cut on a character boundary)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text.encode()[:MAX_LABEL_BYTES].decode(errors="ignore")


class MarkerReader:
    """Follows the LSL stream named ``name`` in a thread and queues its markers."""

    def __init__(self, pylsl: Any, name: str, capacity: int = 1024) -> None:
        self._pylsl = pylsl
        self.name = name
        self._queue: collections.deque[TimedMarker] = collections.deque(maxlen=capacity)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self.dropped = 0
        """Markers let go because the queue was full."""
        self.connected = threading.Event()
        """Set while an inlet on the stream is open."""

    def start(self) -> None:
        """Start following the stream."""
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"eegd-lsl-markers-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop following it and wait for the thread (about one poll)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()

    def take(self) -> list[TimedMarker]:
        """The markers that arrived since the last call, oldest first."""
        if self._failure is not None:
            raise self._failure
        taken = []
        while self._queue:
            taken.append(self._queue.popleft())
        return taken

    def _run(self) -> None:
        pylsl = self._pylsl
        try:
            resolver = pylsl.ContinuousResolver(pred=f"name='{self.name}'", forget_after=1.0)
            while not self._stop.is_set():
                found = resolver.results()
                if found:
                    self._follow(max(found, key=lambda info: info.created_at()))
                self._stop.wait(_POLL_S)
        except BaseException as exc:  # raised again by take(), in the source's read
            self._failure = exc

    def _follow(self, info: Any) -> None:
        """Pull markers from ``info``'s stream until it goes or the reader stops."""
        lost = lsl_errors(self._pylsl)
        inlet = self._pylsl.StreamInlet(info, max_buflen=360, recover=False)
        try:
            inlet.open_stream(timeout=_OPEN_TIMEOUT_S)
            correction = inlet.time_correction(timeout=_OPEN_TIMEOUT_S)
            self.connected.set()
            logger.info("lsl markers: following %r (%s)", info.name(), info.source_id())
            while not self._stop.is_set():
                sample, stamp = inlet.pull_sample(timeout=_POLL_S)
                if sample is None:
                    continue
                correction = inlet.time_correction(timeout=_OPEN_TIMEOUT_S)
                label = marker_label(sample[0])
                if label:
                    self._keep(TimedMarker(stamp + correction, label))
        except lost as exc:
            logger.warning("lsl markers: stream %r went away (%s)", info.name(), exc)
        finally:
            self.connected.clear()
            inlet.close_stream()

    def _keep(self, marker: TimedMarker) -> None:
        if len(self._queue) == self._queue.maxlen:  # the append lets the oldest go
            self.dropped += 1
            logger.warning("lsl markers: queue full, %d markers dropped so far", self.dropped)
        self._queue.append(marker)


def lsl_errors(pylsl: Any) -> tuple[type[Exception], ...]:
    """pylsl's errors for a stream that went away or did not answer in time."""
    module = getattr(pylsl, "util", pylsl)  # pylsl >= 1.17 keeps them in pylsl.util
    return (module.LostError, module.TimeoutError)
