"""``ADS1299Settings``: the validated ``[source.ads1299]`` table, and the registers it implies.

Errors are ``ConfigError`` naming the key as ``source.ads1299.<key>``. Each key's own
values are declared on its field (``eegd.validation``); ``__post_init__`` holds the rules
across keys (the wiring's, the reference's). In a daisy chain every chip hears the same
commands (DIN, SCLK and CS are shared), so channel n of every chip shares one CHnSET: the
gains and inputs of channels n, n + 8, n + 16, ... must agree.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

import msgspec

from eegd.errors import ConfigError
from eegd.sources.adc import ADS1299_GAINS, ADS1299_SAMPLE_RATES, Ads1299Gain
from eegd.sources.ads1299.boards import DEFAULT_BOARD, BoardName
from eegd.sources.ads1299.fields import (
    ChannelSetting,
    Input,
    LeadOffCurrent,
    LeadOffFrequency,
    TestFrequency,
    config1,
    config2,
    config3,
    config4,
    encode_chnset,
    loff,
    misc1,
)
from eegd.sources.ads1299.gpio_inputs import gpio_echo
from eegd.sources.ads1299.registers import (
    CHANNELS_PER_CHIP,
    Register,
    channel_register,
)
from eegd.sources.ads1299.wiring import (
    CHIP_SELECT_ALLOWED,
    CHIP_SELECT_PATTERN,
    FREE_PINS_ALLOWED,
    GPIO_INPUTS_ALLOWED,
    Readback,
    check_gpio_inputs,
    check_wiring,
    merge_board,
)
from eegd.validation import Settings, convert

__all__ = [
    "INPUTS",
    "INTERNAL_VREF_V",
    "REFERENCE_SENSE",
    "MAX_CHIPS",
    "MAX_SPI_HZ",
    "ADS1299Settings",
    "InputName",
    "frame_bytes",
    "register_values",
]

#: Most chips in a daisy chain eegd reads (32 channels).
MAX_CHIPS: Final = 4

#: SCLK limit: the datasheet's minimum SCLK period is 50 ns (SBAS499 "Timing Requirements").
MAX_SPI_HZ: Final = 20_000_000

#: LOFF_SENSN with the reference electrode watched: channel 1's negative input (on SRB1).
REFERENCE_SENSE: Final = 0x01

#: VREFP - VREFN with the internal reference buffer on (SBAS499: 4.5 V with a 5 V AVDD).
INTERNAL_VREF_V: Final = 4.5

InputName = Literal["normal", "shorted", "test", "temperature", "supply"]
"""A per-channel input a user may select, by name (``INPUTS`` maps it to the mux code)."""

#: The per-channel inputs a user may select, by name.
INPUTS: Final[dict[str, Input]] = {name: Input[name.upper()] for name in typing.get_args(InputName)}

_KEY = "source.ads1299."
_SPI_MARGIN = 1.25
"""The SPI clock must move a frame in at most 1 / 1.25 of a sample period."""

_Flag = Annotated[bool, msgspec.Meta(extra={"allowed": "true or false"})]
_Line = Annotated[int, msgspec.Meta(ge=0, le=1023)]
"""A GPIO line offset of ``gpio_chip``."""
_ControlLine = Annotated[
    _Line | None,
    msgspec.Meta(
        extra={"allowed": "a GPIO line 0..1023, or false when the board does not wire it"}
    ),
]
_DrdyLines = Annotated[
    _Line | Annotated[tuple[_Line, ...], msgspec.Meta(min_length=1)],
    msgspec.Meta(
        extra={
            "allowed": "a GPIO line 0..1023, or a list of them, one per chip in multiple readback"
        }
    ),
]
_ChipSelects = Annotated[
    tuple[
        Annotated[
            str, msgspec.Meta(pattern=CHIP_SELECT_PATTERN, extra={"allowed": CHIP_SELECT_ALLOWED})
        ],
        ...,
    ],
    msgspec.Meta(
        min_length=1,
        extra={
            "allowed": 'a list like ["ce0"] or ["ce0", "gpio19"], one per chip in multiple readback'
        },
    ),
]
_Gains = Annotated[
    Ads1299Gain | tuple[Ads1299Gain, ...],
    msgspec.Meta(
        extra={
            "allowed": f"{', '.join(map(str, ADS1299_GAINS))}, or a list of them, one per channel"
        }
    ),
]
_IMPEDANCE = 'kΩ in 0..100000 (e.g. 5), or "off"'
_Impedance = Annotated[
    Annotated[float, msgspec.Meta(ge=0, le=100_000)] | Literal["off"],
    msgspec.Meta(extra={"allowed": _IMPEDANCE}),
]
_Impedances = Annotated[
    _Impedance | tuple[_Impedance, ...],
    msgspec.Meta(extra={"allowed": f"{_IMPEDANCE}, or a list of them, one per channel"}),
]
_Inputs = Annotated[
    InputName | tuple[InputName, ...],
    msgspec.Meta(extra={"allowed": f"{', '.join(INPUTS)}, or a list of them, one per channel"}),
]


def frame_bytes(chips: int) -> int:
    """Bytes per DRDY in RDATAC mode: per chip a 3-byte status word and 3 bytes a channel."""
    return (3 + 3 * CHANNELS_PER_CHIP) * chips


def _invalid(key: str, value: object, allowed: str) -> ConfigError:
    return ConfigError(f"{_KEY}{key}: {value!r} is not allowed (allowed: {allowed})")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class ADS1299Settings(Settings, frozen=True):
    """How the ADS1299 (or a chain of up to four) is wired and configured.

    The wiring defaults are the ``elata`` board's (``eegd.sources.ads1299.boards``): CS on
    SPI0 CE0, DRDY on GPIO 25 (header pin 22), no START, RESET or PWDN line (their opcodes
    instead). ``from_mapping`` applies the preset its ``board`` key names; constructed
    directly, every value is taken as given and ``board`` only names it. A ``None`` line is
    one the board does not wire. ``gain`` and ``input`` are one value for every channel or
    one per channel. ``chips`` None means as many as the channel count needs. ``vref_v``
    None means the internal 4.5 V reference (``reference_buffer`` on); an external
    reference needs its value. ``emulate`` reads the built-in emulator instead of
    hardware, in real time unless ``paced`` is off; ``seed`` fixes the emulator's signals.
    """

    board: BoardName = DEFAULT_BOARD
    spi_bus: Annotated[int, msgspec.Meta(ge=0, le=1023)] = 0
    chip_selects: _ChipSelects = ("ce0",)
    spi_hz: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=MAX_SPI_HZ,
            extra={"allowed": f"an integer 1..{MAX_SPI_HZ}, the ADS1299's SCLK limit (50 ns)"},
        ),
    ] = 4_000_000
    gpio_chip: Annotated[
        str, msgspec.Meta(min_length=1, extra={"allowed": "a device path like /dev/gpiochip0"})
    ] = "/dev/gpiochip0"
    drdy_gpio: _DrdyLines = 25
    start_gpio: _ControlLine = None
    reset_gpio: _ControlLine = None
    pwdn_gpio: _ControlLine = None
    chips: Annotated[int, msgspec.Meta(ge=1, le=MAX_CHIPS)] | None = None
    readback: Readback = "daisy"
    free_chip_gpios: Annotated[
        tuple[Annotated[int, msgspec.Meta(ge=1, le=4)], ...],
        msgspec.Meta(extra={"allowed": FREE_PINS_ALLOWED}),
    ] = (1, 2, 3, 4)
    """The chip's GPIO pins (1..4) the board leaves unconnected."""
    gpio_inputs: Annotated[
        tuple[Annotated[int, msgspec.Meta(ge=1, le=4)], ...],
        msgspec.Meta(extra={"allowed": GPIO_INPUTS_ALLOWED}),
    ] = ()
    """Free chip GPIO pins wired to an outside signal: inputs, sampled into the aux stream."""
    gain: _Gains = 24
    input: _Inputs = "normal"
    bias: _Flag = True
    bias_channels: (
        tuple[Annotated[int, msgspec.Meta(ge=1, le=CHANNELS_PER_CHIP * MAX_CHIPS)], ...] | None
    ) = None
    """1-based channels whose positive inputs feed the bias drive; None means all."""
    srb1: _Flag = True
    lead_off: _Flag = False
    lead_off_current_na: LeadOffCurrent = LeadOffCurrent.NA_6
    lead_off_frequency: LeadOffFrequency = LeadOffFrequency.DC
    test_signal_amplitude: Literal[1, 2] = 1
    test_signal_frequency: TestFrequency = TestFrequency.SLOW
    reference_buffer: _Flag = True
    vref_v: Annotated[float, msgspec.Meta(ge=1.0, le=5.0)] | None = None
    series_resistance_ohms: Annotated[float, msgspec.Meta(ge=0, le=1e6)] = 4990.0
    """The board's resistor between each electrode and its input (the impedance check)."""
    drdy_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 0.5
    max_framing_errors: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 5
    """Consecutive bad status words that end the session (the supervisor reconnects)."""
    emulate: _Flag = False
    paced: _Flag = True
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] = 0
    emulated_impedance_kohm: _Impedances = 5.0
    """Emulator only: each electrode's impedance (kΩ) or "off"; one for all or one per channel."""

    def __post_init__(self) -> None:
        check_wiring(msgspec.structs.asdict(self))
        check_gpio_inputs(self.gpio_inputs, self.free_chip_gpios, self.board)
        vref = self.vref_v
        if vref is None and not self.reference_buffer:
            raise ConfigError(
                f"{_KEY}vref_v: must be set with {_KEY}reference_buffer = false (the "
                "external reference's voltage, VREFP - VREFN)"
            )
        if vref is not None and self.reference_buffer and vref != INTERNAL_VREF_V:
            raise ConfigError(
                f"{_KEY}vref_v and {_KEY}reference_buffer: {vref!r} V, but the internal "
                f"reference is {INTERNAL_VREF_V} V (set reference_buffer = false for an "
                "external one)"
            )

    @property
    def echo_pins(self) -> tuple[int, ...]:
        """The free pins eegd drives as outputs for the reset echo: those not inputs."""
        return tuple(pin for pin in self.free_chip_gpios if pin not in self.gpio_inputs)

    @property
    def vref(self) -> float:
        """VREFP - VREFN in volts: the internal 4.5 V, or the external reference's."""
        return INTERNAL_VREF_V if self.vref_v is None else float(self.vref_v)

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> ADS1299Settings:
        """Settings from a TOML table over its board's preset; unknown keys are refused."""
        return convert(merge_board(options), cls, _KEY.rstrip("."))

    # Derived values -------------------------------------------------------------------

    def resolved_chips(self, channels: int) -> int:
        """Chips in the chain for ``channels`` channels; raises ``ConfigError`` if they differ."""
        if not _is_int(channels) or not 1 <= channels <= CHANNELS_PER_CHIP * MAX_CHIPS:
            raise ConfigError(f"source.channels: {channels!r} is out of range (allowed: 1..32)")
        needed = -(-channels // CHANNELS_PER_CHIP)
        chips = self.chips if self.chips is not None else needed
        if chips != needed:
            raise ConfigError(
                f"{_KEY}chips: {chips} chips read {CHANNELS_PER_CHIP * (chips - 1) + 1}.."
                f"{CHANNELS_PER_CHIP * chips} channels, but source.channels is {channels}"
            )
        return chips

    def channel_settings(self, channels: int) -> tuple[ChannelSetting, ...]:
        """Gain and input of each of the chain's 8 × chips channels; unused ones powered down."""
        slots = CHANNELS_PER_CHIP * self.resolved_chips(channels)
        gains = self._per_channel("gain", self.gain, channels)
        inputs = self._per_channel("input", self.input, channels)
        settings = [
            ChannelSetting(gain=gain, input=INPUTS[name], srb2=False)
            for gain, name in zip(gains, inputs, strict=True)
        ]
        for slot in range(channels, slots):
            if slot < CHANNELS_PER_CHIP:  # no chip uses this position: power it down
                settings.append(ChannelSetting(24, Input.SHORTED, power_down=True))
            else:  # chip 1 uses it, so every chip converts it; the samples are dropped
                settings.append(settings[slot % CHANNELS_PER_CHIP])
        for slot in range(CHANNELS_PER_CHIP, channels):
            first = settings[slot % CHANNELS_PER_CHIP]
            mine = settings[slot]
            if (first.gain, first.input) != (mine.gain, mine.input):
                key = "gain" if first.gain != mine.gain else "input"
                raise ConfigError(
                    f"{_KEY}{key}: channel {slot + 1} must match channel "
                    f"{slot % CHANNELS_PER_CHIP + 1}: daisy-chained chips share one CHnSET "
                    "per channel position"
                )
        return tuple(settings)

    def _per_channel(self, key: str, value: Any, channels: int) -> tuple[Any, ...]:
        if not isinstance(value, tuple):
            return (value,) * channels
        if len(value) != channels:
            raise _invalid(key, list(value), f"one value or {channels}, one per channel")
        return value

    def emulated_impedance_ohms(self, channels: int) -> tuple[float | None, ...]:
        """The emulated electrodes' impedances in ohms, None for one that is off."""
        values = self._per_channel(
            "emulated_impedance_kohm", self.emulated_impedance_kohm, channels
        )
        return tuple(None if kohm == "off" else float(kohm) * 1e3 for kohm in values)

    def bias_mask(self, channels: int) -> int:
        """BIAS_SENSP: the channel positions (of chip 1) whose positive inputs feed the bias.

        Only positions some chip converts: a powered-down input is not an electrode.
        """
        if not self.bias:
            return 0
        active = (1 << min(channels, CHANNELS_PER_CHIP)) - 1
        if self.bias_channels is None:
            return active
        mask = 0
        for channel in self.bias_channels:
            mask |= 1 << ((channel - 1) % CHANNELS_PER_CHIP)
        return mask & active

    def check_throughput(self, channels: int, sample_rate: int) -> None:
        """Refuse an SPI clock too slow to move every frame before the next DRDY."""
        if sample_rate not in ADS1299_SAMPLE_RATES:
            allowed = ", ".join(map(str, ADS1299_SAMPLE_RATES))
            raise ConfigError(
                f"source.sample_rate: {sample_rate!r} is not an ADS1299 rate (allowed: {allowed})"
            )
        bits = 8 * frame_bytes(self.resolved_chips(channels))
        needed = math.ceil(bits * sample_rate * _SPI_MARGIN)
        if self.spi_hz < needed:
            raise ConfigError(
                f"{_KEY}spi_hz: {self.spi_hz} is too slow for {bits} bits per frame at "
                f"{sample_rate} SPS (allowed: {needed}..{MAX_SPI_HZ})"
            )


def register_values(
    settings: ADS1299Settings, channels: int, sample_rate: int
) -> dict[Register, int]:
    """Every writable register's value for these settings, the same on every chip."""
    chips = settings.resolved_chips(channels)
    daisy = settings.readback == "daisy"
    echo_mask, echo_pattern = gpio_echo(settings.echo_pins)
    per_channel = settings.channel_settings(channels)
    lead_off_mask = reference_mask = 0
    if settings.lead_off:
        lead_off_mask = (1 << min(channels, CHANNELS_PER_CHIP)) - 1
        # Every IN- is on SRB1: channel 1's N side watches the reference, with DC current
        # only (an AC excitation of the shared reference would show on every channel).
        if settings.srb1 and settings.lead_off_frequency == LeadOffFrequency.DC:
            reference_mask = REFERENCE_SENSE
    values = {
        # In a daisy chain chip 1 runs on its oscillator and drives CLK for the others
        # (CLKSEL low on those), which ignore CLK_EN; every chip hears the same WREG. In
        # multiple readback each chip is written on its own CS and keeps its own clock.
        Register.CONFIG1: config1(sample_rate, daisy_chain=daisy, clock_out=daisy and chips > 1),
        Register.CONFIG2: config2(
            settings.test_signal_amplitude, TestFrequency(settings.test_signal_frequency)
        ),
        Register.CONFIG3: config3(
            reference_buffer=settings.reference_buffer,
            bias_buffer=settings.bias,
            bias_reference_internal=True,
        ),
        Register.LOFF: loff(
            LeadOffCurrent(settings.lead_off_current_na),
            LeadOffFrequency(settings.lead_off_frequency),
        ),
        Register.BIAS_SENSP: settings.bias_mask(channels),
        Register.BIAS_SENSN: 0x00,
        Register.LOFF_SENSP: lead_off_mask,
        Register.LOFF_SENSN: reference_mask,
        Register.LOFF_FLIP: 0x00,
        # GPIO: the echo pins as outputs carrying the pattern, the others (gpio_inputs,
        # pins the board uses) inputs
        Register.GPIO: echo_pattern << 4 | (0x0F & ~echo_mask),
        Register.MISC1: misc1(settings.srb1),
        Register.MISC2: 0x00,
        Register.CONFIG4: config4(lead_off_comparators=settings.lead_off),
    }
    for position in range(CHANNELS_PER_CHIP):
        values[channel_register(position)] = encode_chnset(per_channel[position])
    return dict(sorted(values.items()))
