"""Any board BrainFlow supports (OpenBCI Cyton and Ganglion, Muse, its synthetic board, ...).

The board is named as BrainFlow's ``BoardIds`` spells it, case-insensitively and without the
``_BOARD`` suffix (``cyton_daisy``), or by its numeric id. Its sample rate, EEG rows and
channel names are device facts: the ones the user did not set come from BrainFlow's board
description, and one the user set that differs is a ``ConfigError``. BrainFlow reports µV,
which become volts; the int32 counts are those of a 24-bit converter over the declared
physical range (±187.5 mV by default, an ADS1299 at gain 24, the chip of OpenBCI's boards).

BrainFlow's own log goes to eegd's logger ``eegd.sources.brainflow.board``; its timestamp row
is kept as the device clock of each sample (``clock_anchor``, ``last_device_time``), while
eegd's timestamps stay based on sample indices. Its marker row (``insert_marker``, a board's
trigger input) becomes eegd markers at their samples, labelled with the value. Every
BrainFlow error becomes a ``SourceError`` carrying BrainFlow's message, so the supervisor's
back-off reconnects.
"""

from eegd.sources.brainflow.boards import BoardFacts, board_facts, board_names, resolve_board
from eegd.sources.brainflow.log_bridge import install_log_bridge
from eegd.sources.brainflow.source import (
    DEFAULT_PHYSICAL_RANGE_UV,
    BrainFlowSettings,
    BrainFlowSource,
)

__all__ = [
    "DEFAULT_PHYSICAL_RANGE_UV",
    "BoardFacts",
    "BrainFlowSettings",
    "BrainFlowSource",
    "board_facts",
    "board_names",
    "install_log_bridge",
    "resolve_board",
]
