"""Electrode impedance on an OpenBCI Cyton through BrainFlow, the Cyton's impedance mode.

The Cyton's firmware runs its ADS1299 with the lead-off current at 6 nA and 31.2 Hz, driven
into the P input of every channel that the SDK's ``z (CHANNEL, PCHAN, NCHAN) Z`` command
turns on; each input has a 2.2 kΩ resistor in series (OpenBCI's GUI subtracts it, with the
same 6 nA). The check opens the board itself through BrainFlow (``config_board`` sends the
commands), sets every channel to gain 1 with its electrode on the input (``x`` command: as
the GUI does, so that an electrode's DC offset does not rail it), turns the current on for
every channel at once, streams ``WINDOW_S`` after ``SETTLE_S``, turns it off and releases
the board (the next session's soft reset, ``v``, restores the channel settings). Each
figure comes from eegd's ADS1299 measurement (``eegd.sources.ads1299.impedance.assess``:
the lock-in at the excitation, the sinc³ gain at 250 SPS), not from the GUI's √2 ×
standard deviation, which counts the EEG and the square's harmonics as impedance too.

Only the Cyton itself is measured: on the Cyton + Daisy every other packet carries the
other board's channels at 125 Hz, which eegd's measurement does not model, so
``CytonImpedance.refusal`` names every other board, the Daisy included.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from eegd.errors import ConfigError, SourceError
from eegd.sources.base import SharedSourceOptions, parse_options
from eegd.sources.brainflow.boards import board_facts, board_shim, release_board, resolve_board

if TYPE_CHECKING:
    from eegd.sources.ads1299.impedance import ImpedanceResult

__all__ = [
    "BOARDS",
    "CURRENT_NA",
    "CYTON_IMPEDANCE",
    "FREQUENCY_HZ",
    "FULL_SCALE_V",
    "SERIES_RESISTANCE_OHMS",
    "SETTLE_S",
    "CytonImpedance",
    "commands",
]

#: The boards measured, by BrainFlow's name.
BOARDS: Final = ("cyton",)
#: The Cyton firmware's lead-off drive (6 nA) and frequency (fCLK / 2^16).
CURRENT_NA: Final = 6
FREQUENCY_HZ: Final = 2_048_000 / 2**16
#: The Cyton's resistor in series with each input.
SERIES_RESISTANCE_OHMS: Final = 2200.0
#: Samples thrown away after the current is turned on, in seconds.
SETTLE_S: Final = 0.5
#: Volts at full scale at gain 1: the ADS1299's 4.5 V reference.
FULL_SCALE_V: Final = 4.5
_LETTERS: Final = "12345678"
_POLL_S: Final = 0.01


def commands(channels: int, on: bool) -> str:
    """One ``config_board`` string: every channel at gain 1 with its electrode on the input
    (SRB2 kept, so the reference stays), then the P side's current on (or off)."""
    settings = "".join(f"x{letter}000110X" for letter in _LETTERS[:channels])
    lead_off = "".join(f"z{letter}{int(on)}0Z" for letter in _LETTERS[:channels])
    return (settings if on else "") + lead_off


class CytonImpedance:
    """The BrainFlow source's impedance check (``Source.impedance_check``), Cyton only."""

    def refusal(self, shared: SharedSourceOptions, options: Mapping[str, Any]) -> str | None:
        """Why the configured board cannot be measured (it is not a Cyton); None if it can."""
        name = board_facts(resolve_board(options.get("board", "synthetic"))).name
        if name in BOARDS:
            return None
        return (
            f"the brainflow source's {name} board has no impedance check "
            f"(boards with one: {', '.join(BOARDS)})"
        )

    def __call__(self, shared: SharedSourceOptions, options: Mapping[str, Any]) -> ImpedanceResult:
        """Measure every electrode of the configured Cyton; ``SourceError`` if BrainFlow fails."""
        from eegd.sources.ads1299.impedance import WINDOW_S, assess
        from eegd.sources.brainflow.source import BrainFlowSettings

        refusal = self.refusal(shared, options)
        if refusal is not None:
            raise ConfigError(refusal)
        settings = parse_options(
            options, BrainFlowSettings, "brainflow", shared.facts(set_only=True)
        )
        facts = settings.facts()
        rate = round(facts.sample_rate)
        settle, window = round(SETTLE_S * rate), round(WINDOW_S * rate)
        data = _capture(
            facts.board_id,
            settings.input_params(),
            len(facts.eeg_rows),
            settle + window,
            settings.stall_timeout_s,
        )
        microvolts = np.asarray(data, dtype=np.float64)[list(facts.eeg_rows), settle:]
        return assess(
            facts.channel_names,
            microvolts * 1e-6,
            rate,
            FREQUENCY_HZ,
            CURRENT_NA,
            [FULL_SCALE_V] * len(facts.eeg_rows),
            SERIES_RESISTANCE_OHMS,
        )


def _capture(
    board_id: int, params: Any, channels: int, samples: int, stall_s: float
) -> npt.NDArray[np.float64]:
    """Open the board, turn the current on, stream ``samples``, turn it off, release it."""
    shim = board_shim()
    board = shim.BoardShim(board_id, params)
    try:
        board.prepare_session()
        board.config_board(commands(channels, on=True))
        board.start_stream()
        _wait_for(board, samples, stall_s)
        data: npt.NDArray[np.float64] = board.get_board_data(samples)
        # Off while streaming: BrainFlow then reads no reply, which would hold the stream's
        # last bytes after a stop
        board.config_board(commands(channels, on=False))
        board.stop_stream()
    except shim.BrainFlowError as exc:
        raise SourceError(f"the impedance check could not read the board: {exc}") from exc
    finally:
        release_board(board)
    return data


def _wait_for(board: Any, samples: int, stall_s: float) -> None:
    """Until BrainFlow holds ``samples``; ``SourceError`` after ``stall_s`` without one."""
    seen, progressed_at = board.get_board_data_count(), time.monotonic()
    while seen < samples:
        time.sleep(_POLL_S)
        count = board.get_board_data_count()
        if count != seen:
            seen, progressed_at = count, time.monotonic()
        elif time.monotonic() - progressed_at >= stall_s:
            raise SourceError(f"the board sent no samples for {stall_s:g} s")


CYTON_IMPEDANCE: Final = CytonImpedance()
"""The check the BrainFlow source offers."""
