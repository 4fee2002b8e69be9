"""The voltage filter plugin: raw EEG in, high-passed, low-passed and notched EEG out.

The filter is built from the first packet's sample rate and channel count and keeps its state
from packet to packet; a gap in the samples (a lost packet, a new session) restarts it fresh
rather than carrying the state across the jump.

Its settings change while running through ``reconfigure`` (``PUT /api/filter``, a route it
declares itself, as it declares ``GET /api/filter``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import msgspec
import numpy as np
import numpy.typing as npt

from eegd.commands import Command
from eegd.dsp.filters import FilterSettings, StreamingFilter, design_sos
from eegd.errors import ConfigError
from eegd.events import EegPacket, Event, FilteredEegPacket, Topic
from eegd.plugin import TransformPlugin
from eegd.routes import Route, RouteRequest
from eegd.validation import convert

logger = logging.getLogger(__name__)

#: Every stage off: what a stream is filtered with when not even the defaults fit its rate.
_PASS_THROUGH = FilterSettings(highpass_hz=None, lowpass_hz=None, notch_hz=None)

__all__ = ["VoltageFilter", "settings_from_options"]


def settings_from_options(
    options: Mapping[str, Any], base: FilterSettings | None = None
) -> FilterSettings:
    """``base`` (default: the defaults) with ``options`` applied; 0 or None turns a stage off.

    An unknown key or a bad value raises ``ConfigError`` naming it.
    """
    current = msgspec.structs.asdict(base or FilterSettings())
    return convert({**current, **options}, FilterSettings)


def _state(request: RouteRequest) -> Mapping[str, Any]:
    return request.control.state()


def _reconfigure(request: RouteRequest) -> Mapping[str, Any]:
    return request.control.reconfigure(request.body)


class VoltageFilter(TransformPlugin):
    """Filters every ``raw_eeg`` packet into a ``filtered_eeg`` packet with the same identity."""

    name: ClassVar[str] = "voltage_filter"
    consumes: ClassVar[tuple[Topic, ...]] = (Topic.RAW_EEG,)
    produces: ClassVar[tuple[Topic, ...]] = (Topic.FILTERED_EEG,)

    def __init__(self, settings: FilterSettings | None = None) -> None:
        self._settings = settings if settings is not None else FilterSettings()
        self._filter: StreamingFilter | None = None
        self._shape: tuple[float, int] | None = None
        """(sample rate, channels) the filter was built for."""
        self._next_sample: int | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> VoltageFilter:
        """A filter configured by its options table; 0 or None turns a frequency stage off."""
        return cls(settings_from_options(options))

    @classmethod
    def routes(cls) -> list[Route]:
        """``GET /api/filter`` shows the settings, ``PUT /api/filter`` changes some of them."""
        return [
            Route("GET", "/api/filter", _state, role="viewer", command=Command.FILTER_STATE),
            Route(
                "PUT", "/api/filter", _reconfigure, role="operator", command=Command.FILTER_CHANGE
            ),
        ]

    def _design_fitting(self, sample_rate: float) -> npt.NDArray[np.float64]:
        """The design of the settings for a new stream, or of ones that fit its rate.

        Settings are checked against the rate of the stream they change, but a stream that
        starts later (the first packet, a new session at another rate) may not fit them: it
        is then filtered with the defaults, or not at all if even those do not fit, and the
        settings in effect (``GET /api/filter``) say so; it never stops the filter.
        """
        for candidate in (self._settings, FilterSettings(), _PASS_THROUGH):
            try:
                sos = design_sos(candidate, sample_rate)
            except ConfigError as exc:
                logger.warning("voltage filter at %g Hz: %s", sample_rate, exc)
                continue
            if candidate is not self._settings:
                logger.warning("voltage filter at %g Hz: using %s", sample_rate, candidate)
                self._settings = candidate
            return sos
        raise ConfigError(f"sample_rate: {sample_rate:g} Hz cannot be filtered")

    def reconfigure(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Apply ``options`` (the keys to change) over the current settings; the new state.

        Raises ``ConfigError`` naming the key, and keeps the old settings, when a key is
        unknown, a value bad, or the design does not fit the stream's sample rate.
        """
        self.update(settings_from_options(options, base=self._settings))
        return msgspec.structs.asdict(self._settings)

    @property
    def settings(self) -> FilterSettings:
        """The settings in effect."""
        return self._settings

    def update(self, settings: FilterSettings) -> None:
        """Change the settings while running; the switch is no worse than a fresh start.

        Raises ``ConfigError`` (and keeps the old settings) when the new ones do not fit the
        stream's sample rate.
        """
        if self._filter is not None and self._shape is not None:
            self._filter.redesign(design_sos(settings, self._shape[0]))
        self._settings = settings

    def process(self, event: Event) -> Sequence[Event]:
        """The filtered packet of an ``EegPacket``; nothing for any other event."""
        if not isinstance(event, EegPacket):
            return []
        stream_filter = self._filter_for(event)
        return [FilteredEegPacket.from_source(event, stream_filter.process(event.volts))]

    def _filter_for(self, packet: EegPacket) -> StreamingFilter:
        shape = (packet.sample_rate, int(packet.volts.shape[0]))
        if self._filter is None or shape != self._shape:
            self._filter = StreamingFilter(self._design_fitting(shape[0]), shape[1])
            self._shape = shape
        elif packet.first_sample != self._next_sample:
            self._filter.reset()
        self._next_sample = packet.first_sample + packet.n_samples
        return self._filter
