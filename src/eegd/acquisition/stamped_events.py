"""The events a session publishes beside its samples, stamped by its clock model: a source's
own events and markers at their samples, and a wall-clock step.

Pure builders: the acquisition loop publishes what they return.
"""

from __future__ import annotations

from types import MappingProxyType

from eegd.acquisition.clock_model import ClockModel, ClockStep
from eegd.events import MarkerEvent, SystemEvent, SystemEventKind
from eegd.sources.base import SourceEvent, SourceMarker

__all__ = ["clock_stepped", "source_event", "source_marker"]


def source_event(
    session: str, clock: ClockModel, event: SourceEvent, offset: int, frame_id: int
) -> SystemEvent:
    """A source's event (a file's annotation) as a ``system`` event at its sample's stamp;
    ``offset`` is the session's index of the source's sample 0."""
    sample = offset + event.sample
    detail = {**event.detail, "session": session, "sample": sample, "frame_id": frame_id}
    return SystemEvent(event.kind, MappingProxyType(detail), clock.stamp_us(sample))


def source_marker(
    session: str, clock: ClockModel, marker: SourceMarker, offset: int
) -> MarkerEvent:
    """A source's marker at its sample, with that sample's stamp, so the recorder writes it
    there and clients see it as one marked by hand."""
    sample = offset + marker.sample
    return MarkerEvent(
        label=marker.label,
        timestamp=clock.stamp_us(sample),
        duration_s=marker.duration_s,
        sample=sample,
        session=session,
    )


def clock_stepped(session: str, clock: ClockModel, step: ClockStep, sample: int) -> SystemEvent:
    """``clock_stepped``: the UTC map before and after, where the step was seen (``sample``
    and its stamp, which the step did not move)."""
    detail = {"session": session, **step.detail(), "sample": sample}
    detail["stamp_us"] = clock.stamp_us(sample)
    return SystemEvent(SystemEventKind.CLOCK_STEPPED, MappingProxyType(detail), clock.now_us())
