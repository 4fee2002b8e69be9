"""A Cyton's impedance mode through BrainFlow's own Cyton driver, against a Cyton on a pty.

The board (``tests.support.cyton``, written from OpenBCI's Cyton SDK and the ADS1299
datasheet) drives its 6 nA lead-off current through electrodes of known impedance once the
``z`` command turns it on; the check must give each back within 10 %, and the railed one
red without a figure. A BrainFlow board without an impedance mode is refused by name.
"""

from __future__ import annotations

import pytest

from eegd.sources.base import SharedSourceOptions
from eegd.sources.brainflow.impedance import CYTON_IMPEDANCE
from tests.support.cyton import cyton
from tests.support.live import live_daemon
from tests.support.rest import api

#: Each more than 10 % inside its grade (green to 10 kΩ, yellow to 50): a figure within 10 %
#: of one, as measured, cannot cross a grade's limit whichever way the noise falls.
KOHMS: list[float | None] = [2.0, 5.0, 20.0, 80.0, None, 8.0, 40.0, 150.0]
NAMES = ["Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"]


def assert_known(result: dict[str, object]) -> None:
    """Each electrode's figure within 10 % of the board's, graded; the one off railed."""
    assert (result["current_na"], result["frequency_hz"]) == (6, 31.25)
    assert result["series_resistance_ohms"] == 2200.0
    electrodes = result["electrodes"]
    assert isinstance(electrodes, list)
    assert [e["name"] for e in electrodes] == NAMES
    for electrode, truth in zip(electrodes, KOHMS, strict=True):
        if truth is None:
            assert (electrode["kohm"], electrode["railed"], electrode["grade"]) == (
                None,
                True,
                "red",
            )
            continue
        assert electrode["kohm"] == pytest.approx(truth, rel=0.10), (electrode, truth)
        grade = "green" if truth <= 10 else "yellow" if truth <= 50 else "red"
        assert electrode["grade"] == grade, electrode


def test_the_cyton_check_turns_the_current_on_measures_and_turns_it_off() -> None:
    with cyton([None if k is None else k * 1e3 for k in KOHMS]) as board:
        shared = SharedSourceOptions(kind="brainflow")
        result = CYTON_IMPEDANCE(shared, {"board": "cyton", "serial_port": board.port})
        commands = board.wait_for("s")  # the board reads what BrainFlow wrote in its own time
    assert_known(result.as_dict())
    on = [f"z{channel}10Z" for channel in "12345678"]
    off = [f"z{channel}00Z" for channel in "12345678"]
    gain_1 = [f"x{channel}000110X" for channel in "12345678"]
    assert commands[: 2 + 16] == ["v", "d", *gain_1, *on]
    assert commands[-9:] == [*off, "s"]


async def test_post_impedance_on_a_cyton_daemon() -> None:
    with cyton([None if k is None else k * 1e3 for k in KOHMS], speed=4.0) as board:
        toml = (
            '[source]\nkind = "brainflow"\nbatch_size = 25\n'
            f'[source.brainflow]\nboard = "cyton"\nserial_port = "{board.port}"\n'
        )
        async with live_daemon(toml) as live:
            status = await api(live, "GET", "api/status")
            assert status["source"]["impedance"]["supported"] is True
            result = await api(live, "POST", "api/impedance")
    assert_known(result)


async def test_a_board_without_an_impedance_mode_is_named() -> None:
    toml = '[source]\nkind = "brainflow"\n[source.brainflow]\nboard = "synthetic"\n'
    async with live_daemon(toml) as live:
        status = await api(live, "GET", "api/status")
        assert status["source"]["impedance"] == {"supported": False, "last": None}
        refused = await api(live, "POST", "api/impedance", status=409)
    assert refused["code"] == "no_impedance"
    assert "brainflow source's synthetic board has no impedance check" in refused["message"]
    assert "boards with one: cyton" in refused["message"]
