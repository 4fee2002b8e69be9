"""The acquisition loop publishes a source's aux samples: an ``AuxPacket`` just before the
EEG packet it was read with, in the aux stream's own count and rate, stamped from the
packet's first stamp; a source without aux publishes none."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from eegd.acquisition.loop import AcquisitionLoop
from eegd.aux_stream import AuxKind, AuxStream
from eegd.bus import EventBus
from eegd.events import AuxPacket, EegPacket, Event, SystemEvent, Topic
from eegd.sources.base import AuxSamples, SampleBlock, Source
from eegd.timestamps import packet_timestamps
from tests.support.timing import scaled
from tests.unit.test_acquisition import CountingSource

SLOW = AuxStream(
    channels=("Analog1",),
    units=("",),
    kinds=(AuxKind.ANALOG,),
    sample_rate=100.0,
    physical_range=((0.0, 1023.0),),
)


class SlowAuxSource(CountingSource):
    """Counting EEG at 500 Hz and one analog aux row at 100 Hz: aux sample j is ``j``."""

    @property
    def aux(self) -> AuxStream:
        return SLOW

    def read(self, n_samples: int) -> SampleBlock:
        block = super().read(n_samples)
        first = block.first_sample // 5
        count = (block.first_sample + n_samples) // 5 - first
        values = np.arange(first, first + count, dtype=np.float32)[None, :]
        return SampleBlock(
            block.first_sample, block.raw, block.volts, aux=AuxSamples(first, values)
        )


async def published(source: Source, packets: int) -> list[Event]:
    bus = EventBus()
    subscription = bus.subscribe([Topic.RAW_EEG, Topic.AUX, Topic.SYSTEM], maxsize=10_000)
    loop = AcquisitionLoop(bus, lambda: source, batch_size=10)
    task = asyncio.create_task(loop.run())
    events: list[Event] = []
    async with asyncio.timeout(scaled(5)):
        while sum(isinstance(event, EegPacket) for event in events) < packets:
            events.append(await subscription.get())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return events


async def test_aux_packets_come_before_their_eeg_packet_in_their_own_count_and_rate() -> None:
    events = await published(SlowAuxSource(), 6)
    (connected,) = [event for event in events if isinstance(event, SystemEvent)]
    assert connected.session is not None
    assert connected.session.aux == SLOW
    assert connected.detail["aux"]["sample_rate"] == 100.0
    data = [event for event in events if isinstance(event, EegPacket | AuxPacket)]
    auxes = [event for event in data if isinstance(event, AuxPacket)]
    assert [type(event) for event in data] == [AuxPacket, EegPacket] * 6
    for aux, eeg in zip(data[0::2], data[1::2], strict=True):
        assert isinstance(aux, AuxPacket)
        assert isinstance(eeg, EegPacket)
        assert aux.frame_id == eeg.frame_id
        assert aux.sample_rate == 100.0
        assert aux.channel_names == ("Analog1",)
        assert aux.first_sample == eeg.first_sample // 5
        np.testing.assert_array_equal(
            aux.timestamps,
            packet_timestamps(int(eeg.timestamps[0]), aux.first_sample, aux.n_samples, 100.0),
        )
        assert not aux.values.flags.writeable
    values = np.concatenate([aux.values[0] for aux in auxes])
    np.testing.assert_array_equal(values, np.arange(12, dtype=np.float32))


async def test_a_source_without_aux_publishes_no_aux_packets() -> None:
    events = await published(CountingSource(), 4)
    assert not any(isinstance(event, AuxPacket) for event in events)
    (connected,) = [event for event in events if isinstance(event, SystemEvent)]
    assert connected.session is not None
    assert connected.session.aux is None
    assert "aux" not in connected.detail
