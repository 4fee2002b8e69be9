"""CPU cost of the whole pipeline per second of EEG, against two references from the same run.

The pipeline is the real daemon (un-paced synthetic source → acquisition thread → bus →
voltage_filter → brain_waves) with an ``fft`` subscriber; any drop fails the run, so lost
work cannot look fast. References on the same data: the offline floor (the same samples
generated in one read, filtered by one ``sosfilt`` call and their spectra computed in one
vectorised FFT) and a naive per-sample Python filter loop. The same measurement on other
sources, next to the synthetic one: BrainFlow's synthetic board (the real library, which
streams in real time, its own thread's CPU counted too), a BDF file played at speed 0, and
the emulated ADS1299 at 8 and 32 channels × 16 kSPS (un-paced, on its virtual clock). For the
ADS1299, ``bench/ads1299.py``'s ``measure`` adds the driver's read and decode alone and the
emulator's own cost, so the pipeline's figure can be read without the emulator in it.
The recorder at 32 ch × 16 kSPS: the same run with and without a BDF+ recording, the
difference being the recorder's cost, and the fsyncs it made. JSON on stdout.

    python bench/pipeline.py [--seconds-scale 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import edfio
import numpy as np
import scipy.signal

# bench/ads1299.py, beside this file (the script's directory is first on sys.path)
from ads1299 import Case as DriverCase
from ads1299 import measure as measure_driver

from eegd.config import Config, load_config
from eegd.daemon import Daemon
from eegd.dsp.bands import BANDS
from eegd.dsp.decimate import anti_alias_taps
from eegd.dsp.filters import design_sos, steady_state
from eegd.dsp.spectrum import band_power, decimation_factor, hann_psd
from eegd.events import Topic
from eegd.plugins.brain_waves import BrainWaves
from eegd.plugins.recorder import Recorder
from eegd.sources.base import SampleBlock, Source


@dataclass(frozen=True)
class Case:
    """One stream shape to measure."""

    channels: int
    sample_rate: int
    batch_size: int
    seconds: float


#: Packets allowed between the source and the end of the pipeline; below every queue size.
IN_FLIGHT = 32

CASES = (
    Case(8, 250, 32, 240.0),
    Case(8, 16000, 512, 30.0),
    Case(32, 16000, 512, 15.0),
)


def case_config(case: Case) -> Config:
    """The daemon's configuration for ``case``, un-paced."""
    return load_config(
        None,
        {
            "source.channels": ("", case.channels),
            "source.sample_rate": ("", case.sample_rate),
            "source.batch_size": ("", case.batch_size),
            "source.synthetic.paced": ("", False),
        },
    )


class GatedSource(Source):
    """The synthetic source, held back so that at most ``gate`` packets are in flight.

    An un-paced source outruns any consumer; the gate makes the pipeline the bottleneck
    without letting a queue overflow, so the run measures processing, not dropping.
    """

    def __init__(self, inner: Source, gate: threading.Semaphore) -> None:
        self._inner = inner
        self._gate = gate

    @property
    def sample_rate(self) -> float:
        return self._inner.sample_rate

    @property
    def channel_names(self) -> tuple[str, ...]:
        return self._inner.channel_names

    def open(self) -> None:
        self._inner.open()

    def read(self, n_samples: int) -> SampleBlock:
        self._gate.acquire()
        return self._inner.read(n_samples)

    def close(self) -> None:
        self._inner.close()


async def run_pipeline(case: Case) -> dict[str, Any]:
    """Push ``case.seconds`` of EEG through the daemon; CPU seconds and counters."""
    return await measure(case_config(case), case.seconds)


async def measure(config: Config, seconds: float, record: bool = False) -> dict[str, Any]:
    """Push ``seconds`` of the configured source's EEG through the daemon; CPU and counters.

    With ``record``, a recording runs from the first packet to the last, and the run ends
    only once the recorder has written every sample.
    """
    probe = config.build_source()
    sample_rate, batch_size = probe.sample_rate, config.source.batch_size
    gate = threading.Semaphore(0 if record else IN_FLIGHT)
    daemon = Daemon(
        config,
        source_factory=lambda: GatedSource(config.build_source(), gate),
    )
    frames = math.ceil(seconds * sample_rate / batch_size)
    spectra = 0
    with (
        daemon.bus.subscribe([Topic.FFT], maxsize=100_000) as fft,
        daemon.bus.subscribe([Topic.FILTERED_EEG], maxsize=IN_FLIGHT + 1) as filtered,
    ):
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        daemon.start()
        if record:
            recorder = await ready_recorder(daemon)
            await recorder.start({"name": "bench"})
            gate.release(IN_FLIGHT)
        for _ in range(frames):
            await asyncio.wait_for(filtered.get(), timeout=60)
            gate.release()
        brain_waves = daemon.plugins["brain_waves"]
        assert isinstance(brain_waves, BrainWaves)
        while brain_waves.packets_seen < frames:
            await asyncio.sleep(0)
        if record:
            while recorder.stats()["samples_written"] < frames * batch_size:
                await asyncio.sleep(0.001)
        cpu, wall = time.process_time() - cpu_start, time.perf_counter() - wall_start
        while fft.get_nowait() is not None:
            spectra += 1
        drops = daemon.bus.stats().dropped
        gate.release(10 * IN_FLIGHT)  # let the reader thread see the stop
        await daemon.stop()
    if drops:
        raise SystemExit(f"{config.source.kind}: {drops} events dropped; the measurement is void")
    seconds = frames * batch_size / sample_rate
    return {
        "channels": len(probe.channel_names),
        "sample_rate": sample_rate,
        "batch_size": batch_size,
        "cpu_s": cpu,
        "wall_s": wall,
        "eeg_s": seconds,
        "frames": frames,
        "spectra": spectra,
        "drops": drops,
        "cpu_s_per_eeg_s": cpu / seconds,
    }


def offline_floor(case: Case) -> dict[str, Any]:
    """The same work done in one shot on the whole array: generate, filter, all spectra."""
    config = case_config(case)
    n = int(case.seconds * case.sample_rate)
    start = time.process_time()
    source = config.build_source()
    source.open()
    volts = source.read(n).volts.astype(np.float64)
    source.close()
    sos = design_sos(config.filter, case.sample_rate)
    filtered, _ = scipy.signal.sosfilt(sos, volts, axis=1, zi=steady_state(sos, volts[:, 0]))
    settings = config.spectrum
    q = decimation_factor(case.sample_rate, settings.max_freq_hz)
    rate = case.sample_rate / q
    if q > 1:
        taps = anti_alias_taps(case.sample_rate, q, settings.max_freq_hz)
        filtered = scipy.signal.upfirdn(taps, filtered, down=q, axis=1)[:, : -(-n // q)]
    window, hop = round(settings.window_s * rate), round(settings.hop_s * rate)
    segments = np.lib.stride_tricks.sliding_window_view(filtered, window, axis=1)[:, ::hop]
    segments = np.ascontiguousarray(segments.transpose(1, 0, 2))
    freqs, psd = hann_psd(segments, rate, settings.detrend)
    keep = freqs <= settings.max_freq_hz
    band_power(freqs[keep], psd[..., keep] * 1e12, BANDS)
    cpu = time.process_time() - start
    return {"cpu_s": cpu, "eeg_s": n / case.sample_rate, "cpu_s_per_eeg_s": cpu / case.seconds}


def naive_loop(seconds: float) -> dict[str, Any]:
    """Per-sample Python biquads over 8 ch × 250 Hz: what eegd's design avoids."""
    config = case_config(Case(8, 250, 32, seconds))
    source = config.build_source()
    source.open()
    volts = source.read(int(seconds * 250)).volts.astype(np.float64)
    source.close()
    sos = design_sos(config.filter, 250)
    start = time.process_time()
    state = [[[0.0, 0.0] for _ in sos] for _ in range(volts.shape[0])]
    out = np.empty_like(volts)
    for i in range(volts.shape[1]):
        for channel in range(volts.shape[0]):
            x = volts[channel, i]
            for section, (b0, b1, b2, _a0, a1, a2) in enumerate(sos):
                z = state[channel][section]
                y = b0 * x + z[0]
                z[0] = b1 * x - a1 * y + z[1]
                z[1] = b2 * x - a2 * y
                x = y
            out[channel, i] = x
    cpu = time.process_time() - start
    return {"cpu_s": cpu, "eeg_s": seconds, "cpu_s_per_eeg_s": cpu / seconds}


#: The emulated ADS1299 cases: (channels, sample rate, batch size, seconds of EEG).
ADS1299_CASES = ((8, 16000, 512, 30.0), (32, 16000, 512, 15.0))


def ads1299_config(channels: int, sample_rate: int, batch_size: int) -> Config:
    """The emulated ADS1299 chain, un-paced, with SPI fast enough for 16 kSPS."""
    return load_config(
        None,
        {
            "source.kind": ("", "ads1299"),
            "source.channels": ("", channels),
            "source.sample_rate": ("", sample_rate),
            "source.batch_size": ("", batch_size),
            "source.ads1299.emulate": ("", True),
            "source.ads1299.paced": ("", False),
            "source.ads1299.spi_hz": ("", 20_000_000),
        },
    )


def ads1299_cases(scale: float) -> list[dict[str, Any]]:
    """The pipeline on the emulated ADS1299, with the driver's and emulator's own costs."""
    results = []
    for channels, rate, batch, seconds in ADS1299_CASES:
        pipeline = asyncio.run(measure(ads1299_config(channels, rate, batch), seconds * scale))
        driver = measure_driver(DriverCase(channels, rate, batch), seconds * scale)
        costs = driver["cpu_s_per_s"]
        results.append(
            {
                "channels": channels,
                "sample_rate": rate,
                "batch_size": batch,
                "pipeline": pipeline,
                "driver_read_decode_cpu_s_per_eeg_s": costs["driver"],
                "driver_us_per_drdy": driver["driver_us_per_drdy"],
                "emulator_cpu_s_per_eeg_s": costs["emulator"],
                "pipeline_minus_emulator_cpu_s_per_eeg_s": pipeline["cpu_s_per_eeg_s"]
                - costs["emulator"],
                "samples_lost": driver["samples_lost"],
            }
        )
    return results


async def ready_recorder(daemon: Daemon) -> Recorder:
    """The daemon's recorder once it takes requests."""
    while True:
        recorder = daemon.plugins.get("recorder")
        if isinstance(recorder, Recorder) and recorder.ready:
            return recorder
        await asyncio.sleep(0.001)


#: The recorder's case: the largest stream, written as BDF+.
RECORDER_CASE = Case(32, 16000, 512, 15.0)


def recorder_case(directory: Path, scale: float) -> dict[str, Any]:
    """The pipeline at 32 × 16 kSPS with and without a BDF+ recording, and its fsyncs.

    fsyncs are counted by wrapping ``os.fsync`` in this process (the recorder calls it for
    every sync of a data file or its sidecar).
    """
    case = RECORDER_CASE
    config = load_config(
        None,
        {
            "source.channels": ("", case.channels),
            "source.sample_rate": ("", case.sample_rate),
            "source.batch_size": ("", case.batch_size),
            "source.synthetic.paced": ("", False),
            "recording.directory": ("", str(directory)),
            "recording.format": ("", "bdf"),
        },
    )
    seconds = case.seconds * scale
    idle = asyncio.run(measure(config, seconds))
    syncs = 0
    real_fsync = os.fsync

    def counting_fsync(descriptor: int) -> None:
        nonlocal syncs
        syncs += 1
        real_fsync(descriptor)

    os.fsync = counting_fsync
    try:
        recording = asyncio.run(measure(config, seconds, record=True))
    finally:
        os.fsync = real_fsync
    return {
        "channels": case.channels,
        "sample_rate": case.sample_rate,
        "batch_size": case.batch_size,
        "without_recording": idle,
        "recording_bdf": recording,
        "recorder_cpu_s_per_eeg_s": recording["cpu_s_per_eeg_s"] - idle["cpu_s_per_eeg_s"],
        "fsyncs": syncs,
        "fsyncs_per_wall_s": syncs / recording["wall_s"],
        "fsyncs_per_eeg_s": syncs / recording["eeg_s"],
        "bytes_written": sum(path.stat().st_size for path in directory.glob("bench*")),
    }


def source_configs(directory: Path, seconds: float) -> dict[str, Config]:
    """BrainFlow's synthetic board, and a BDF file of ``seconds`` (8 × 250 Hz) at speed 0."""
    path = directory / "bench.bdf"
    t = np.arange(round(seconds * 250)) / 250
    signals = [
        edfio.BdfSignal(
            50 * np.sin(2 * np.pi * (6 + 3 * index) * t),
            sampling_frequency=250,
            label=f"EEG{index + 1}",
            physical_dimension="uV",
            physical_range=(-200, 200),
        )
        for index in range(8)
    ]
    edfio.Bdf(signals).write(path)
    return {
        "brainflow_synthetic_board": load_config(
            None,
            {"source.kind": ("", "brainflow"), "source.brainflow.board": ("", "synthetic")},
        ),
        "playback_bdf_speed_0": load_config(
            None,
            {
                "source.kind": ("", "playback"),
                "source.playback.path": ("", str(path)),
                "source.playback.speed": ("", 0),
            },
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds-scale", type=float, default=1.0, help="scale every duration")
    scale = parser.parse_args().seconds_scale
    results = []
    for case in CASES:
        scaled = Case(case.channels, case.sample_rate, case.batch_size, case.seconds * scale)
        pipeline = asyncio.run(run_pipeline(scaled))
        floor = offline_floor(scaled)
        results.append(
            {
                "channels": case.channels,
                "sample_rate": case.sample_rate,
                "batch_size": case.batch_size,
                "pipeline": pipeline,
                "offline_floor": floor,
                "ratio_to_floor": pipeline["cpu_s_per_eeg_s"] / floor["cpu_s_per_eeg_s"],
            }
        )
    sources = {}
    with tempfile.TemporaryDirectory() as directory:
        # the board streams in real time: a shorter run; the file holds a little more than read
        for name, config in source_configs(Path(directory), 250.0 * scale).items():
            seconds = (15.0 if name.startswith("brainflow") else 240.0) * scale
            sources[name] = asyncio.run(measure(config, seconds))
    ads1299 = ads1299_cases(scale)
    with tempfile.TemporaryDirectory() as directory:
        recorder = recorder_case(Path(directory), scale)
    naive = naive_loop(20.0 * scale)
    everyday = results[0]["pipeline"]["cpu_s_per_eeg_s"]
    json.dump(
        {
            "benchmark": "pipeline",
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "cases": results,
            "sources": sources,
            "ads1299_emulated": ads1299,
            "recorder": recorder,
            "naive_8x250": naive,
            "naive_over_pipeline_8x250": naive["cpu_s_per_eeg_s"] / everyday,
        },
        sys.stdout,
        indent=2,
    )
    print()


if __name__ == "__main__":
    main()
