"""The emulated ADS1299 through eegd: the acquisition loop, the supervisor, the whole daemon.

The emulator runs on its virtual clock, un-paced: these tests wait on events and counters,
never on real time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import pytest

import eegd.client
from eegd.acquisition.loop import AcquisitionLoop
from eegd.bus import EventBus
from eegd.events import EegPacket, FftPacket, SystemEvent, SystemEventKind, Topic
from eegd.restart import RestartPolicy
from eegd.sources.ads1299 import ADS1299Emulator, ADS1299Settings, ADS1299Source
from eegd.supervisor import Supervisor, TaskState
from tests.support.clocks import FakeClock
from tests.support.live import live_daemon
from tests.support.timing import scaled


async def next_event(subscription: object, kind: SystemEventKind) -> SystemEvent:
    async with asyncio.timeout(scaled(10)):
        async for event in subscription:  # type: ignore[attr-defined]
            if isinstance(event, SystemEvent) and event.kind is kind:
                return event
    raise AssertionError(f"no {kind} event")


async def packets_after(subscription: object, count: int, fresh: bool = False) -> list[EegPacket]:
    """The next ``count`` packets; with ``fresh``, from the next session's first one on."""
    packets: list[EegPacket] = []
    async with asyncio.timeout(scaled(10)):
        async for event in subscription:  # type: ignore[attr-defined]
            if isinstance(event, EegPacket) and (packets or not fresh or event.frame_id == 0):
                packets.append(event)
                if len(packets) == count:
                    return packets
    raise AssertionError("the stream ended")


def stuck_drdy(emulator: ADS1299Emulator) -> None:
    emulator.faults.stuck_drdy = True


def bad_status(emulator: ADS1299Emulator) -> None:
    emulator.faults.bad_status_frames = 1000


def spi_error(emulator: ADS1299Emulator) -> None:
    emulator.faults.spi_error_after = 0


def heal(emulator: ADS1299Emulator) -> None:
    """The "device" is back: every fault cleared."""
    faults = emulator.faults
    faults.stuck_drdy, faults.bad_status_frames, faults.spi_error_after = False, 0, None
    faults.chip_id = None


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (stuck_drdy, "no DRDY for 0.1 s"),
        (bad_status, "5 frames in a row without the 1100 status prefix"),
        (spi_error, "SPI or GPIO error while streaming: [Errno 5] Input/output error"),
    ],
)
async def test_a_fault_is_a_source_lost_then_a_reopen_in_the_same_session(
    fault: Callable[[ADS1299Emulator], None], words: str
) -> None:
    bus = EventBus()
    system = bus.subscribe([Topic.SYSTEM], maxsize=1000)
    data = bus.subscribe([Topic.RAW_EEG], maxsize=100_000)
    emulator = ADS1299Emulator()
    settings = ADS1299Settings(drdy_timeout_s=0.1)
    opens = 0

    def factory() -> ADS1299Source:
        nonlocal opens
        opens += 1
        return ADS1299Source(settings, 8, 1000, hardware=emulator.hardware)

    loop = AcquisitionLoop(bus, factory, batch_size=50, max_pending=4, kind="ads1299")
    supervisor = Supervisor(
        bus, policy=RestartPolicy(initial_backoff=0.5, jitter=0.0), clock=FakeClock().asyncio
    )
    supervisor.add("acquisition", loop.run)
    supervisor.start()
    try:
        first = await next_event(system, SystemEventKind.SOURCE_CONNECTED)
        await packets_after(data, 3)
        emulator.faults.bad_status_frames = 3  # three lost samples, below the limit of 5
        await next_event(system, SystemEventKind.SAMPLES_LOST)
        assert loop.stats().samples_lost == 3
        fault(emulator)
        lost = await next_event(system, SystemEventKind.SOURCE_LOST)
        assert words in lost.detail["error"]
        assert lost.detail["session"] == first.detail["session"]
        heal(emulator)  # the device is back; the reopen (or the one after) finds it
        second = await next_event(system, SystemEventKind.SOURCE_CONNECTED)
        assert second.detail["session"] == first.detail["session"]
        assert second.detail["resumed"] is True
        start = second.detail["first_sample"]
        assert start >= lost.detail["first_sample"]
        packets: list[EegPacket] = []
        async with asyncio.timeout(scaled(10)):
            while len(packets) < 5:
                event = await data.get()
                if isinstance(event, EegPacket) and event.first_sample >= start:
                    packets.append(event)
        assert [packet.first_sample - start for packet in packets] == [0, 50, 100, 150, 200]
        stats = loop.stats()
        assert stats.sessions == 1
        assert stats.outages >= 1
        assert stats.samples_lost >= 3  # bad status words before the limit are gaps too
        ledger = loop.session_ledger()
        assert ledger is not None
        assert ledger.consistent
        assert opens == 1  # the same source, closed and reopened
        assert supervisor.status("acquisition").state is TaskState.RUNNING
    finally:
        await supervisor.stop()
    assert not emulator.converting


async def test_a_wrong_id_fails_the_start_and_the_supervisor_tries_again() -> None:
    bus = EventBus()
    system = bus.subscribe([Topic.SYSTEM], maxsize=1000)
    emulator = ADS1299Emulator()
    emulator.faults.chip_id = 0xFF
    opens = 0

    def factory() -> ADS1299Source:
        nonlocal opens
        opens += 1
        if opens > 1:
            heal(emulator)
        return ADS1299Source(ADS1299Settings(), 8, 250, hardware=emulator.hardware)

    loop = AcquisitionLoop(bus, factory, batch_size=25, kind="ads1299")
    supervisor = Supervisor(bus, policy=RestartPolicy(jitter=0.0), clock=FakeClock().asyncio)
    supervisor.add("acquisition", loop.run)
    supervisor.start()
    try:
        failed = await next_event(system, SystemEventKind.TASK_FAILED)
        assert "ID register reads 0xFF: no chip answers" in str(failed.detail)
        await next_event(system, SystemEventKind.SOURCE_CONNECTED)
        assert loop.stats().sessions == 1
    finally:
        await supervisor.stop()


async def test_emulated_chip_through_the_daemon_shows_its_alpha_peak_to_a_client() -> None:
    toml = """
[source]
kind = "ads1299"
channels = 8
sample_rate = 250
batch_size = 25

[source.ads1299]
emulate = true
paced = false
"""
    async with (
        live_daemon(toml) as live,
        eegd.client.connect(live.ws_url + "ws", ["fft"]) as stream,
    ):
        spectra: list[FftPacket] = []
        async with asyncio.timeout(scaled(20)):
            async for item in stream:
                if isinstance(item, FftPacket):
                    spectra.append(item)
                    if len(spectra) >= 8:
                        break
        status = live.daemon.status()
    assert status["source"]["kind"] == "ads1299"
    last = spectra[-1]
    psd = np.mean([spectrum.psd for spectrum in spectra[2:]], axis=0)
    band = (last.freqs >= 3) & (last.freqs <= 40)
    for name in ("O1", "O2"):
        row = last.channel_names.index(name)
        peak = float(last.freqs[band][np.argmax(psd[row][band])])
        assert abs(peak - 10.0) <= 1.0, (name, peak)


async def test_lead_off_changes_are_system_events_naming_the_electrodes() -> None:
    bus = EventBus()
    system = bus.subscribe([Topic.SYSTEM], maxsize=10_000)
    emulator = ADS1299Emulator()
    settings = ADS1299Settings(lead_off=True)
    loop = AcquisitionLoop(
        bus, lambda: ADS1299Source(settings, 8, 250, hardware=emulator.hardware), batch_size=25
    )
    task = asyncio.create_task(loop.run())
    try:
        await next_event(system, SystemEventKind.SOURCE_CONNECTED)
        emulator.set_lead_off(6)
        emulator.set_lead_off(1)
        off = await next_event(system, SystemEventKind.LEAD_OFF)
        while off.detail["electrodes"] != ["Fp2", "O1"]:  # a block may fall between the two
            assert off.detail["electrodes"] in (["Fp2"], ["O1"])
            off = await next_event(system, SystemEventKind.LEAD_OFF)
        emulator.set_lead_off(6, off=False)
        emulator.set_lead_off(1, off=False)
        back = await next_event(system, SystemEventKind.LEAD_OFF)
        while back.detail["electrodes"]:
            assert back.detail["electrodes"] == ["Fp2"]
            back = await next_event(system, SystemEventKind.LEAD_OFF)
        assert back.detail["first_sample"] > off.detail["first_sample"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_spontaneous_reset_is_announced_and_the_session_goes_on() -> None:
    bus = EventBus()
    system = bus.subscribe([Topic.SYSTEM], maxsize=10_000)
    emulator = ADS1299Emulator()
    loop = AcquisitionLoop(
        bus, lambda: ADS1299Source(ADS1299Settings(), 8, 250, hardware=emulator.hardware), 25
    )
    task = asyncio.create_task(loop.run())
    try:
        connected = await next_event(system, SystemEventKind.SOURCE_CONNECTED)
        emulator.spontaneous_reset()
        seen: dict[SystemEventKind, SystemEvent] = {}
        async with asyncio.timeout(scaled(10)):
            async for event in system:
                if event.kind in (SystemEventKind.DEVICE_RESET, SystemEventKind.SAMPLES_LOST):
                    seen[event.kind] = event
                    if len(seen) == 2:
                        break
        reset, lost = seen[SystemEventKind.DEVICE_RESET], seen[SystemEventKind.SAMPLES_LOST]
        assert reset.detail["chips"] == [1]
        # the status word's GPIO echo, or DRDY stopping (START was an opcode): either finds it
        assert reset.detail["found_by"] in ("gpio_echo", "drdy_stopped")
        assert reset.detail["sample"] == lost.detail["first_sample"] + lost.detail["count"]
        assert reset.detail["session"] == connected.detail["session"]
        assert lost.detail["cause"] == "device_reset"
        assert lost.detail["session"] == connected.detail["session"]
        ledger = loop.session_ledger()
        assert ledger is not None
        assert [gap.cause.value for gap in ledger.gaps] == ["device_reset"]
        assert loop.stats().sessions == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
