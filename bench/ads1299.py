"""CPU cost of the ADS1299 driver per second of EEG, with the emulator's own cost measured apart.

For each case the driver reads the emulated chain for ``seconds`` of EEG on the emulator's
virtual clock (as fast as the CPU goes). Three figures, CPU seconds per second of EEG:

- ``total``: driver and emulator together;
- ``emulator``: the emulator alone, driven with the driver's own call pattern (one
  ``wait_drdy`` and one full-frame ``transfer`` per sample) and nothing else;
- ``driver``: the driver on a replay device that hands out the emulator's frames from a
  list (a few hundred nanoseconds per DRDY), i.e. the driver's read and decode alone.

``driver_us_per_drdy`` is ``driver`` per conversion, and ``period_share`` that cost over
one sample period: above 1 this CPU cannot keep up with the rate even before the system
calls and the SPI transfer a real chip adds (docs/hardware.md). The rates run from 250 to
16,000 SPS, for one chip and for a chain of four. JSON on stdout.

    python bench/ads1299.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import dataclass
from typing import Any

from eegd.sources.ads1299 import ADS1299Emulator, ADS1299Settings, ADS1299Source, Hardware
from eegd.sources.ads1299.interface import DrdyEdges, VirtualClock
from eegd.sources.ads1299.settings import frame_bytes


@dataclass(frozen=True)
class Case:
    """One stream shape."""

    channels: int
    sample_rate: int
    batch_size: int


RATES = (250, 500, 1000, 2000, 4000, 8000, 16000)
CASES = tuple(Case(channels, rate, max(32, rate // 32)) for channels in (8, 32) for rate in RATES)


class ReplayDevice:
    """SPI and DRDY that only hand back recorded frames: what the driver costs on its own."""

    def __init__(self, emulator: ADS1299Emulator, frames: list[bytes]) -> None:
        self._emulator = emulator  # answers the start-up commands
        self._frames = frames
        self._next = 0
        self._length = len(frames[0])
        self.clock = emulator.clock

    def transfer(self, data: bytes, speed_hz: int | None = None) -> bytes:
        if len(data) != self._length or any(data):
            return self._emulator.transfer(data, speed_hz)
        frame = self._frames[self._next]
        self._next = (self._next + 1) % len(self._frames)
        return frame

    def wait_drdy(self, timeout: float, chip: int = 0) -> DrdyEdges:
        return DrdyEdges(1, self.clock.monotonic())

    def drain(self) -> None:
        """No edges are queued."""

    def set_start(self, high: bool) -> None:
        self._emulator.set_start(high)

    def set_reset(self, high: bool) -> None:
        self._emulator.set_reset(high)

    def set_pwdn(self, high: bool) -> None:
        self._emulator.set_pwdn(high)

    def close(self) -> None:
        """Nothing to release."""


def _source(case: Case, hardware: Hardware) -> ADS1299Source:
    settings = ADS1299Settings(spi_hz=20_000_000)
    return ADS1299Source(settings, case.channels, case.sample_rate, hardware=lambda: hardware)


def measure(case: Case, seconds: float) -> dict[str, Any]:
    """The three CPU figures of one case."""
    samples = int(seconds * case.sample_rate)
    reads = samples // case.batch_size
    chips = -(-case.channels // 8)

    emulator = ADS1299Emulator(chips, VirtualClock())
    source = _source(case, emulator.hardware())
    with source:
        start = time.process_time()
        for _ in range(reads):
            source.read(case.batch_size)
        total = time.process_time() - start
        lost = source.missed_drdy + source.framing_errors

    emulator = ADS1299Emulator(chips, VirtualClock())
    with _source(case, emulator.hardware()):  # started and streaming; now drive it directly
        zeros = bytes(frame_bytes(chips))
        wait, transfer = emulator.wait_drdy, emulator.transfer
        recorded = []
        start = time.process_time()
        for _ in range(reads * case.batch_size):
            wait(1.0)
            recorded.append(transfer(zeros))
        alone = time.process_time() - start

    emulator = ADS1299Emulator(chips, VirtualClock())
    replay = ReplayDevice(emulator, recorded[: 4 * case.sample_rate])
    source = _source(case, Hardware(spi=(replay,), lines=replay, clock=replay.clock))
    with source:
        start = time.process_time()
        for _ in range(reads):
            source.read(case.batch_size)
        driver = time.process_time() - start

    eeg_seconds = reads * case.batch_size / case.sample_rate
    return {
        "channels": case.channels,
        "sample_rate": case.sample_rate,
        "batch_size": case.batch_size,
        "eeg_seconds": eeg_seconds,
        "cpu_s_per_s": {
            "total": round(total / eeg_seconds, 4),
            "emulator": round(alone / eeg_seconds, 4),
            "driver": round(driver / eeg_seconds, 4),
            "total_minus_emulator": round((total - alone) / eeg_seconds, 4),
        },
        "driver_us_per_drdy": round(driver / (eeg_seconds * case.sample_rate) * 1e6, 2),
        "period_share": round(driver / eeg_seconds, 4),
        "samples_lost": lost,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds of EEG per case")
    args = parser.parse_args()
    results = [measure(case, args.seconds) for case in CASES]
    print(
        json.dumps(
            {
                "benchmark": "ads1299",
                "python": platform.python_version(),
                "machine": platform.machine(),
                "processor": platform.processor() or platform.machine(),
                "cases": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
