"""The daemon as a process: ``run_daemon`` serves until SIGINT/SIGTERM, or until the
acquisition gives up (the supervisor's ``task_gave_up``), and returns the exit code.

The status line goes to the log (stderr) every few seconds; SIGHUP reloads the config file
and applies what can change while running (the options of plugins that can be reconfigured,
such as the filter, the log level and the ``[auth]`` tokens). The file is read and parsed in
a worker thread, so the event loop streams on meanwhile; reloads apply one at a time, in the
order the signals came.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from eegd.bus import Subscription
from eegd.config import Config
from eegd.daemon import ACQUISITION_TASK, Daemon
from eegd.errors import EegdError
from eegd.events import SystemEvent, SystemEventKind, Topic
from eegd.systemd import Notifier

__all__ = ["run_daemon"]

logger = logging.getLogger("eegd")


async def _gave_up(events: Subscription, task: str) -> None:
    """Return once ``events`` (a ``system`` subscription) says the supervisor gave up on
    ``task`` (``task_gave_up``)."""
    async for event in events:
        if (
            isinstance(event, SystemEvent)
            and event.kind is SystemEventKind.TASK_GAVE_UP
            and event.detail.get("task") == task
        ):
            return


async def run_daemon(
    config: Config,
    stop: asyncio.Event | None = None,
    reload: Callable[[], Config] | None = None,
) -> int:
    """Serve until SIGINT/SIGTERM (or ``stop`` is set); return the process exit code: 0, or
    1 when the source failed more often than the restart policy allows.

    The URL goes to stdout as one flushed line once the port is bound (with ``port = 0`` it
    says which port was picked); logs go to stderr. SIGHUP calls ``reload`` in a worker
    thread for a fresh configuration and applies it on the loop; a bad one is logged and the
    daemon runs on unchanged.
    """
    stop = stop or asyncio.Event()
    daemon = Daemon(config, notifier=Notifier.from_environment())
    url = await daemon.serve()
    print(url, flush=True)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    reloading = asyncio.Lock()
    reloads: set[asyncio.Task[None]] = set()

    async def reload_config(read: Callable[[], Config]) -> None:
        async with reloading:
            try:
                daemon.reload(await asyncio.to_thread(read))
            except EegdError as exc:
                logger.error("SIGHUP: configuration not reloaded, nothing changed: %s", exc)

    def on_sighup() -> None:
        if reload is None:
            logger.warning("SIGHUP: there is no configuration file to reload")
            return
        task = asyncio.ensure_future(reload_config(reload))
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, on_sighup)
    with daemon.bus.subscribe([Topic.SYSTEM], maxsize=64) as events:
        gave_up = asyncio.ensure_future(_gave_up(events, ACQUISITION_TASK))
        stopped = asyncio.ensure_future(stop.wait())
        daemon.start()
        try:
            done, _ = await asyncio.wait([gave_up, stopped], return_when=asyncio.FIRST_COMPLETED)
        finally:
            gave_up.cancel()
            stopped.cancel()
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(signum)
            for task in reloads:
                task.cancel()
            await asyncio.gather(*reloads, return_exceptions=True)
            await daemon.stop()
    if gave_up in done:
        logger.error("the source failed too often; giving up")
        return 1
    return 0
