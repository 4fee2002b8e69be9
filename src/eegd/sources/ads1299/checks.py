"""The ADS1299's checks as its source class offers them (``Source.selftest``,
``Source.impedance_check``): each builds the chain the tables describe and runs the check.

The check modules build an ``ADS1299Source`` themselves, so they are imported when a check
runs, not when the driver is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eegd.sources.base import SharedSourceOptions
from eegd.sources.checks import CheckReport, SelfTestReport

__all__ = ["impedance_check", "selftest"]


def selftest(
    shared: SharedSourceOptions, options: Mapping[str, Any], check_electrodes: bool = False
) -> SelfTestReport:
    """The self-test of the chain ``[source]`` and ``[source.ads1299]`` describe."""
    from eegd.sources.ads1299.selftest import run_configured_selftest

    return run_configured_selftest(shared, options, check_electrodes)


def impedance_check(shared: SharedSourceOptions, options: Mapping[str, Any]) -> CheckReport:
    """Each electrode's impedance on the chain ``[source]`` and ``[source.ads1299]`` describe."""
    from eegd.sources.ads1299.impedance import run_configured_impedance

    return run_configured_impedance(shared, options)
