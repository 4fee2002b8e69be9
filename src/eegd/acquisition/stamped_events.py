"""The events a session publishes beside its samples, stamped by its clock model: a source's
own events and markers at their samples, its aux samples, and a wall-clock step.

Pure builders: the acquisition loop publishes what they return.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from eegd.acquisition.clock_model import ClockModel, ClockStep
from eegd.aux_stream import AuxStream
from eegd.events import AuxPacket, MarkerEvent, SystemEvent, SystemEventKind
from eegd.frozen import frozen_array
from eegd.sources.base import AuxSamples, SourceEvent, SourceMarker
from eegd.timestamps import packet_timestamps

__all__ = ["aux_packet", "clock_stepped", "source_event", "source_marker"]


def aux_packet(
    stream: AuxStream,
    samples: AuxSamples,
    first: int,
    first_stamp_us: int,
    frame_id: int,
    monotonic_ns: int,
) -> AuxPacket:
    """The aux samples read with packet ``frame_id``, the first of them aux sample ``first``
    of the session: stamped from the packet's first stamp at the aux rate (so at the EEG
    rate, with the same columns, they carry the packet's very stamps)."""
    count = samples.values.shape[1]
    return AuxPacket(
        frame_id=frame_id,
        first_sample=first,
        timestamps=frozen_array(
            packet_timestamps(first_stamp_us, first, count, stream.sample_rate), np.uint64
        ),
        values=frozen_array(samples.values, np.float32),
        sample_rate=stream.sample_rate,
        channel_names=stream.channels,
        monotonic_ns=monotonic_ns,
    )


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
