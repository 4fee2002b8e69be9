"""eegd's real spidev/gpiod code path against a held-out model of the chip on the seed's board.

The model (``tests.support.ads1299_model``) is written from the datasheet and shares no
constant with the driver; expected values here come from the datasheet's formulas too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import eegd.sources.ads1299
from eegd.errors import SourceError
from eegd.sources.ads1299 import ADS1299Settings, ADS1299Source
from eegd.sources.ads1299.hardware import open_hardware
from eegd.sources.ads1299.selftest import run_selftest
from eegd.sources.base import SampleBlock
from tests.support.ads1299_model import F_CLK, VREF
from tests.support.standin import PiEEG16Board, SeedBoard, install


@pytest.fixture
def board(monkeypatch: pytest.MonkeyPatch) -> SeedBoard:
    seed_board = SeedBoard()
    install(monkeypatch, seed_board)
    return seed_board


def source_on(
    board: SeedBoard, channels: int = 8, rate: int = 250, **options: object
) -> ADS1299Source:
    settings = ADS1299Settings.from_mapping(options)  # the default board: the seed's
    return ADS1299Source(
        settings, channels, rate, hardware=lambda: open_hardware(settings, clock=board.clock)
    )


def read_all(source: ADS1299Source, n: int, batch: int = 50) -> list[SampleBlock]:
    blocks = []
    have = 0
    while have < n:
        block = source.read(min(batch, n - have))
        blocks.append(block)
        have += block.n_samples
    return blocks


def lsb(gain: int) -> float:
    """SBAS499: 1 LSB = (2 × VREF / gain) / 2^24."""
    return 2 * VREF / gain / 2**24


def test_the_seed_board_starts_by_opcode_and_obeys_the_timing(board: SeedBoard) -> None:
    with source_on(board) as source:
        assert board.requested == {25}  # DRDY only: the board wires no START/RESET/PWDN
        blocks = read_all(source, 500)
        assert board.chip.start_command  # started by the START opcode
    assert [b.first_sample for b in blocks] == list(range(0, 500, 50))
    assert board.chip.violations.total() == 0  # tPOR, 18 tCLK, 4 tCLK per byte, CS hold
    assert not board.chip.start_command  # STOP on close
    assert board.requested == set()
    assert not board.spi_open


@pytest.mark.parametrize("gain", [1, 2, 4, 6, 8, 12, 24])
def test_known_inputs_arrive_at_the_right_scale(board: SeedBoard, gain: int) -> None:
    board.chip.inputs.noise = False
    full_scale = VREF / gain
    levels = [full_scale * f for f in (-0.9, -0.5, -0.01, 0.0, 0.001, 0.25, 0.5, 0.9)]
    board.chip.inputs.dc_volts = levels
    with source_on(board, gain=gain) as source:
        block = source.read(20)
    assert np.allclose(block.volts[:, -1], levels, rtol=0, atol=lsb(gain))


@pytest.mark.parametrize(("amplitude", "frequency"), [(1, "fast"), (2, "slow")])
def test_the_test_signal_has_the_datasheets_amplitude_and_frequency(
    board: SeedBoard, amplitude: int, frequency: str
) -> None:
    options = {"input": "test", "gain": 1}
    options |= {"test_signal_amplitude": amplitude, "test_signal_frequency": frequency}
    with source_on(board, rate=500, **options) as source:
        volts = np.concatenate([b.volts for b in read_all(source, 2500, 250)], axis=1)
    # SBAS499 CONFIG2: ±(VREFP − VREFN) / 2400 (× 2 with CAL_AMP0); fCLK / 2^20 or / 2^21
    expected = amplitude * VREF / 2400
    assert np.allclose(np.abs(volts), expected, atol=lsb(1))
    period_s = 2 ** (20 if frequency == "fast" else 21) / F_CLK
    rises = np.flatnonzero(np.diff(np.sign(volts[0])) > 0)
    assert np.diff(rises) / 500 == pytest.approx(period_s, abs=1 / 500)


def test_lead_off_names_only_the_detached_electrode(board: SeedBoard) -> None:
    board.chip.inputs.noise = False
    with source_on(board, channels=6, lead_off=True) as source:
        assert source.read(10).lead_off == frozenset()  # the model sets every unselected bit
        board.chip.inputs.electrode_off_p.add(2)
        assert source.read(10).lead_off == frozenset({"C3"})
        board.chip.inputs.electrode_off_p.clear()
        board.chip.inputs.reference_off = True
        assert source.read(10).lead_off == frozenset({"REF"})


@pytest.mark.parametrize(
    ("channels", "bias_channels", "sensp"),
    [(8, None, 0xFF), (5, None, 0x1F), (5, [1, 7], 0x01), (3, [2, 3], 0x06)],
)
def test_the_bias_drive_takes_only_channels_in_use(
    board: SeedBoard, channels: int, bias_channels: list[int] | None, sensp: int
) -> None:
    options: dict[str, object] = {} if bias_channels is None else {"bias_channels": bias_channels}
    with source_on(board, channels=channels, **options):
        # SBAS499 register map: BIAS_SENSP at 0x0D; CHnSET bit 7 powers a channel down
        assert board.chip.registers[0x0D] == sensp
        powered_down = [bool(board.chip.registers[0x05 + c] & 0x80) for c in range(8)]
    assert powered_down == [c >= channels for c in range(8)]


def test_stale_drdy_edges_are_drained_before_start(board: SeedBoard) -> None:
    board.chip.start_command = True  # a previous session left the chip converting
    board.chip.refresh()
    with source_on(board) as source:
        first = source.read(10)
    assert first.first_sample == 0
    assert source.missed_drdy == 0


def test_a_late_read_is_counted_and_never_passed_off(board: SeedBoard) -> None:
    with source_on(board) as source:
        source.read(10)
        board.transfer_delay_s = 1.5 / 250  # the host stalls while it reads sample 10
        blocks = read_all(source, 30, 10)
    assert source.late_reads == 1
    assert [(b.first_sample, b.gap_cause) for b in blocks][:2] == [(11, "late_read"), (21, None)]


def test_a_rate_the_host_cannot_sustain_is_refused_with_what_was_measured(
    board: SeedBoard,
) -> None:
    board.host_cost_s = 1.2 / 4000  # each read takes longer than a 4 kSPS period
    with source_on(board, rate=4000) as source, pytest.raises(SourceError) as refused:
        read_all(source, 3 * 4000, 400)  # three seconds: judged after two
    message = str(refused.value)
    assert "4000 SPS is more than this host sustains" in message
    assert "in the first 2 s (missed DRDYs or frames read late" in message
    assert "one DRDY every 250.0 µs" in message
    board.host_cost_s = 0.5 / 4000  # half the period: sustained
    with source_on(board, rate=4000) as source:
        source.read(400)
        board.transfer_delay_s = 0.1  # and one long stall (the daemon starting) is no reason
        read_all(source, 12_000, 400)
    assert source.missed_drdy > 300  # one gap of 0.1 s...
    assert source.late_reads < 10  # ...and a few late reads around it: sustained all the same


def test_a_wake_up_without_an_edge_waits_on(board: SeedBoard) -> None:
    with source_on(board) as source:
        source.read(5)
        board.spurious_wakeups = 3
        block = source.read(5)
    assert (block.first_sample, block.n_samples) == (5, 5)


@pytest.mark.parametrize(
    ("chip_id", "named"),
    [(0x3C, "ADS1299-4"), (0x3D, "ADS1299-6"), (0x00, "no chip answers"), (0x92, "not an ADS1299")],
)
def test_another_chip_is_named_and_refused(board: SeedBoard, chip_id: int, named: str) -> None:
    board.chip.chip_id = chip_id
    source = source_on(board)
    with pytest.raises(SourceError, match=named):
        source.open()
    assert board.requested == set()


def test_pieeg16_reads_each_chip_on_its_own_select_and_drdy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    board = PiEEG16Board()
    install(monkeypatch, board)
    levels = []
    for n, slot in enumerate(board.slots):
        slot.chip.inputs.noise = False
        slot.chip.inputs.dc_volts = [VREF / 24 * (c + 1) / 10 * (1 - 2 * n) for c in range(8)]
        levels += slot.chip.inputs.dc_volts
    settings = ADS1299Settings.from_mapping({"board": "pieeg16"})
    source = ADS1299Source(
        settings, 16, 250, hardware=lambda: open_hardware(settings, clock=board.clock)
    )
    with source:
        assert board.requested == {26, 13, 19}
        blocks = read_all(source, 500)
        board.slots[1].chip.reset()  # chip 2 alone loses its configuration
        after = blocks_for(source, board, 3.0)
    assert board.contention == 0  # never both chips selected at once
    assert [slot.chip.violations.total() for slot in board.slots] == [0, 0]
    # multiple readback: DAISY_EN' set on each chip, each written on its own select
    assert [slot.chip.registers[0x01] & 0x40 for slot in board.slots] == [0x40, 0x40]
    assert [b.first_sample for b in blocks] == list(range(0, 500, 50))
    assert np.allclose(blocks[-1].volts[:, -1], levels, atol=lsb(24))
    events = [event for block in after for event in block.events]
    # START is an opcode on this board, so chip 2's conversions stop with its reset
    assert [(e.detail["chips"], e.detail["found_by"]) for e in events] == [([2], "drdy_stopped")]
    assert np.allclose(after[-1].volts[:, -1], levels, atol=lsb(24))


def blocks_for(source: ADS1299Source, board: SeedBoard, seconds: float) -> list[SampleBlock]:
    """Blocks read while ``seconds`` pass on the board's clock."""
    end = board.clock.now + seconds
    blocks = []
    while board.clock.now < end:
        blocks.append(source.read(25))
    return blocks


@pytest.mark.parametrize(
    ("wiring", "found_by"),
    [
        ({}, "drdy_stopped"),  # the seed's board: START by opcode, so conversions stop
        ({"start_gpio": 22}, "gpio_echo"),  # START held high: conversions go on at defaults
        ({"start_gpio": 22, "free_chip_gpios": []}, "register_check"),
    ],
)
def test_a_spontaneous_reset_is_found_within_a_second_and_healed_in_the_session(
    monkeypatch: pytest.MonkeyPatch, wiring: dict[str, object], found_by: str
) -> None:
    board = SeedBoard(start_line=wiring.get("start_gpio"))  # type: ignore[arg-type]
    install(monkeypatch, board)
    board.chip.inputs.noise = False
    levels = [VREF / 24 * f for f in (0.5, -0.5, 0.25, -0.25, 0.1, -0.1, 0.01, 0.0)]
    board.chip.inputs.dc_volts = levels
    with source_on(board, **wiring) as source:
        before = blocks_for(source, board, 1.2)  # between two read-backs (every 0.5 s)
        reset_at = board.clock.now
        board.chip.reset()  # a brown-out: every register back to its default
        after = blocks_for(source, board, 5.0)
    assert source.device_resets == 1
    # found within 1 s: the driver's own RESET follows the spontaneous one
    assert board.chip.reset_times[-1] - reset_at <= 1.0
    healed = [b for b in after if b.events]
    assert len(healed) == 1
    (event,) = healed[0].events
    assert event.kind.value == "device_reset"
    detail = dict(event.detail)
    suspect_from = detail.pop("suspect_from_sample", None)
    assert detail == {"chips": [1], "found_by": found_by, "count": 1}
    assert healed[0].gap_cause == "device_reset"
    assert healed[0].first_sample > before[-1].first_sample
    expected = np.array(levels)[:, None]
    # the right scale again: every sample after the gap is the inputs at gain 24
    for block in after[after.index(healed[0]) :]:
        assert np.allclose(block.volts, expected, atol=lsb(24))
    # before the gap, a sample from the reset chip is only ever one the event calls suspect
    wrong = [
        block.first_sample
        + int(np.flatnonzero(~np.isclose(block.volts, expected, atol=lsb(24)).all(0))[0])
        for block in after[: after.index(healed[0])]
        if not np.allclose(block.volts, expected, atol=lsb(24))
    ]
    if found_by == "register_check":
        assert suspect_from is not None
        assert wrong
        assert min(wrong) >= suspect_from
    else:
        assert wrong == []
        assert suspect_from is None


@pytest.mark.parametrize("gain", [1, 2, 4, 6, 8, 12, 24])
def test_the_selftest_passes_a_typical_chip_and_fails_a_noisy_one(
    board: SeedBoard, gain: int
) -> None:
    settings = ADS1299Settings.from_mapping({"gain": gain})

    def open_source(derived: ADS1299Settings) -> ADS1299Source:
        return ADS1299Source(
            derived, 8, 250, hardware=lambda: open_hardware(derived, clock=board.clock)
        )

    typical = run_selftest(open_source, settings, [gain] * 8, 250)
    assert typical.passed, typical.table()
    amplitudes = {round(c.test_signal.amplitude_uv) for c in typical.channels}
    assert amplitudes == {1875}  # 4.5 V / 2400, as printed
    board.chip.inputs.noise_scale = 3.0  # three times the datasheet's typical noise
    noisy = run_selftest(open_source, settings, [gain] * 8, 250)
    assert len(noisy.failed) == 8
    assert all(not c.noise.passed and c.test_signal.passed for c in noisy.channels)


def test_the_driver_imports_nothing_from_the_emulator() -> None:
    """No module the driver or the hardware adapter loads at import is the emulator's."""
    package = Path(eegd.sources.ads1299.__file__).parent
    seen: set[str] = set()
    todo = ["driver", "hardware"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        tree = ast.parse((package / f"{name}.py").read_text())
        for node in tree.body:  # module level: what importing it runs
            if isinstance(node, ast.ImportFrom) and node.module:
                prefix = "eegd.sources.ads1299."
                if node.module.startswith(prefix):
                    todo.append(node.module.removeprefix(prefix))
    assert seen.isdisjoint({"emulator", "signals", "noise"}), sorted(seen)
