"""The clock model: stamps from block arrivals, against a simulated device clock.

The oracle is a device whose clock runs ``1 + drift`` times the host's: its sample ``i`` is
taken at ``t0 + i / (rate × (1 + drift))`` host seconds, and a block reaches the host some
delay after its last sample (never less than ``latency``; often much more on a busy
machine; now and then a read comes very late). The model is right when its stamps follow
the device's samples (up to the constant ``latency``) whatever the delays were.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from eegd.acquisition.clock_model import ClockModel, WallClockWatch

EPOCH_US = 1_800_000_000_000_000
ORIGIN_S = 1_000.0


@dataclass(frozen=True)
class Device:
    rate: float
    batch: int
    drift: float
    """The device clock's rate against the host's, minus one."""
    latency: float
    """The least delay from a block's end to its arrival, seconds."""
    jitter: float
    """The mean of the extra delay (exponential), seconds."""
    late_every: int
    """One read in this many comes 50-500 ms late (0: never)."""
    seed: int

    def sample_time(self, index: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Host seconds at which the device took sample ``index``."""
        return ORIGIN_S + np.asarray(index, dtype=np.float64) / (self.rate * (1 + self.drift))

    def arrivals(self, blocks: int) -> npt.NDArray[np.float64]:
        """When each block (of ``batch`` samples) reached the host, nondecreasing."""
        rng = np.random.default_rng(self.seed)
        ends = self.sample_time(np.arange(1, blocks + 1) * self.batch)
        arrived = ends + self.latency + (rng.exponential(self.jitter, blocks) if self.jitter else 0)
        if self.late_every:
            late = rng.random(blocks) < 1 / self.late_every
            arrived = arrived + late * rng.uniform(0.05, 0.5, blocks)
        return np.maximum.accumulate(arrived)  # a block is read only after the one before


def run(device: Device, seconds: float) -> tuple[ClockModel, npt.NDArray[np.int64]]:
    """Feed the model ``seconds`` of the device's blocks; every stamp it issued, in order."""
    model = ClockModel(device.rate, ORIGIN_S, EPOCH_US - round(ORIGIN_S * 1e6))
    blocks = int(seconds * device.rate / device.batch)
    stamps = []
    for number, arrived in enumerate(device.arrivals(blocks).tolist()):
        first = number * device.batch
        model.observe(first + device.batch, arrived)
        stamps.append(model.stamps(first, device.batch))
    return model, np.concatenate(stamps).astype(np.int64)


def truth_us(device: Device, n_samples: int) -> npt.NDArray[np.float64]:
    """The epoch µs of each sample on the host's clock, the least latency added."""
    return (device.sample_time(np.arange(n_samples)) - ORIGIN_S + device.latency) * 1e6 + EPOCH_US


shapes = st.sampled_from([(250.0, 8), (250.0, 32), (500.0, 32), (1000.0, 64), (16000.0, 512)])
devices = st.builds(
    lambda shape, **rest: Device(*shape, **rest),
    shape=shapes,
    drift=st.floats(-300e-6, 300e-6),
    latency=st.floats(0.0, 0.005),
    jitter=st.floats(0.0, 0.003),
    late_every=st.sampled_from([0, 10, 50]),
    seed=st.integers(0, 2**32 - 1),
)


@settings(max_examples=20, deadline=None)
@given(device=devices)
def test_stamps_never_step_back(device: Device) -> None:
    _, stamps = run(device, seconds=30)
    assert np.all(np.diff(stamps) > 0)


@settings(max_examples=20, deadline=None)
@given(device=devices)
def test_stamps_follow_the_device_clock_whatever_the_delays(device: Device) -> None:
    model, stamps = run(device, seconds=60)
    error_us = stamps - truth_us(device, stamps.size)
    settled = error_us[int(20 * device.rate) :]  # once ten seconds give the slope a baseline
    assert np.percentile(np.abs(settled), 99) <= 1_000
    assert np.abs(settled).max() <= 2_000
    assert abs(model.fit.drift_ppm - device.drift * 1e6) <= 50


def test_ideal_arrivals_give_nominal_stamps_and_no_drift() -> None:
    device = Device(250.0, 32, 0.0, 0.0, 0.0, 0, 0)
    model, stamps = run(device, seconds=60)
    expected = EPOCH_US + np.rint(np.arange(stamps.size) * 4000.0)
    np.testing.assert_array_equal(stamps, expected)
    assert abs(model.fit.drift_ppm) < 1e-6
    assert model.fit.rejected == 0


def test_an_unpaced_source_is_stamped_at_its_nominal_rate_from_the_start() -> None:
    model = ClockModel(500.0, ORIGIN_S, EPOCH_US - round(ORIGIN_S * 1e6))
    stamps = []
    for block in range(100):  # 100 blocks of 16 at once: 3.2 s of samples in no time
        model.observe((block + 1) * 16, ORIGIN_S + 0.001)
        stamps.append(model.stamps(block * 16, 16))
    expected = EPOCH_US + np.arange(1600) * 2000
    np.testing.assert_array_equal(np.concatenate(stamps), expected)
    assert model.fit.rejected >= 99


@settings(max_examples=20, deadline=None)
@given(device=devices, picks=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20))
def test_a_moment_maps_to_one_sample_whose_stamp_is_nearest(
    device: Device, picks: list[float]
) -> None:
    model, stamps = run(device, seconds=12)
    for pick in picks:
        index = int(pick * (stamps.size - 1))
        assert model.sample_at_us(int(stamps[index])) == index
        assert model.stamp_us(index) == stamps[index]
        moment = int(stamps[0] + pick * (stamps[-1] - stamps[0]))
        sample = model.sample_at_us(moment)
        nearest = int(np.argmin(np.abs(stamps - moment)))
        assert abs(stamps[sample] - moment) == abs(stamps[nearest] - moment)


@settings(max_examples=30, deadline=None)
@given(device=devices, ahead=st.floats(0.0, 0.9))
def test_a_sample_yet_to_come_keeps_the_stamp_it_was_promised(device: Device, ahead: float) -> None:
    """A marker just ahead of the data is stamped before its sample arrives."""
    steady = Device(device.rate, device.batch, device.drift, device.latency, 0.0, 0, 0)
    model, stamps = run(steady, seconds=12)
    future = stamps.size + int(ahead * steady.rate)
    promised = model.stamp_us(future)
    assert promised > stamps[-1]
    assert model.sample_at_us(promised) == future


def test_the_window_runs_from_the_first_stamp_to_a_second_past_now() -> None:
    now = [ORIGIN_S]
    model = ClockModel(250.0, ORIGIN_S, EPOCH_US - round(ORIGIN_S * 1e6), monotonic=lambda: now[0])
    model.observe(32, ORIGIN_S + 0.128)
    first = int(model.stamps(0, 32)[0])
    now[0] = ORIGIN_S + 5.0
    window = model.window()
    assert (window.start_us, window.end_us) == (first, EPOCH_US + 6_000_000)
    assert first in window
    assert window.end_us in window
    assert first - 1 not in window
    assert window.end_us + 1 not in window


@given(
    step_us=st.integers(-(10**12), 10**12).filter(lambda step: abs(step) >= 20_000),
    blip_us=st.integers(-(10**6), 10**6),
    at=st.integers(1, 50),
)
def test_a_wall_clock_step_is_confirmed_once_and_a_lone_odd_reading_is_none(
    step_us: int, blip_us: int, at: int
) -> None:
    """A thread preempted between its two reads gives one odd reading (``blip_us``): never a
    step. A step that stays is announced once, by the reading after it, with both maps."""
    watch = WallClockWatch(EPOCH_US)
    steps = []
    for reading in range(100):
        now = reading * 0.1
        wall = EPOCH_US + round(now * 1e6) + (step_us if reading >= at else 0)
        if reading == 60:
            wall += blip_us
        if (step := watch.check(now, wall)) is not None:
            steps.append((reading, step))
    ((reading, step),) = steps
    assert reading == at + 1
    assert step.step_us == step_us
    assert step.before_us == EPOCH_US + step.monotonic_us
    assert step.after_us == EPOCH_US + step_us + step.monotonic_us
