"""The checks a source's device may offer, as ``Source`` declares them: a self-test (noise
and a test signal against the datasheet, ``eegd selftest`` and ``POST /api/selftest``) and an
impedance check (each electrode's impedance, ``POST /api/impedance``).

A check is a function of the two tables that describe the device (``[source]`` and the
source's own); it opens the device by itself and answers a report the REST reply, the
finished event and the recording's sidecar read the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

if TYPE_CHECKING:
    from eegd.sources.base import SharedSourceOptions

__all__ = ["CheckReport", "ImpedanceCheck", "SelfTest", "SelfTestReport"]


class CheckReport(Protocol):
    """What a check of the device answers: its result, ready for JSON."""

    def as_dict(self) -> dict[str, Any]:
        """The result as the REST reply and the finished event give it."""


class SelfTestReport(CheckReport, Protocol):
    """A self-test's answer: the verdict, and a table for people (``eegd selftest``)."""

    @property
    def passed(self) -> bool:
        """Whether every channel passed."""

    def table(self) -> str:
        """One line per channel, with the limits."""


SelfTest: TypeAlias = Callable[["SharedSourceOptions", Mapping[str, Any], bool], SelfTestReport]
"""A source's self-test: ``[source]``, its own table, whether to check the electrodes too."""
ImpedanceCheck: TypeAlias = Callable[["SharedSourceOptions", Mapping[str, Any]], CheckReport]
"""A source's impedance check: ``[source]`` and its own table."""
