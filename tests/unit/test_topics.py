"""Topics that plugins add: the registry's rules, and a plugin topic taken through the bus,
a client's subscription, the fan-out and the wire, next to the built-in topics it must not
disturb."""

from __future__ import annotations

import json

import msgspec
import pytest

from eegd.bus import EventBus
from eegd.errors import PluginError, ProtocolError
from eegd.events import FrameKind, OutputEvent, OutputTopic, Topic
from eegd.net.control import ControlSession
from eegd.net.protocol import (
    ErrorCode,
    ProtocolViolation,
    decode_output,
    decode_text,
    encode_event,
    parse_client_message,
)
from eegd.net.protocol import messages as wire
from eegd.topics import MESSAGE_TYPES, TopicRegistry
from tests.unit.test_fanout import FakeClient, fanout, unframed

HEART = OutputTopic("heart_rate", FrameKind.TEXT, frames_per_s=2.0)
BLOB = OutputTopic("blob", FrameKind.BINARY, wire_id=200)
BUILT_IN = ["raw_eeg", "filtered_eeg", "fft", "system", "marker", "aux"]


def test_the_registry_adds_plugin_topics_after_the_built_in_ones() -> None:
    registry = TopicRegistry.of_plugins(
        [("heart", (Topic.RAW_EEG, HEART)), ("blobs", (BLOB,)), ("filter", (Topic.FILTERED_EEG,))]
    )
    assert list(registry.labels) == [*BUILT_IN, "heart_rate", "blob"]
    assert registry.from_label("Heart_Rate") is HEART
    assert registry.from_label("fft") is Topic.FFT
    assert registry.owner(HEART) == "heart"
    assert registry.owner(Topic.FFT) is None
    assert HEART in registry
    assert OutputTopic("heart_rate", FrameKind.BINARY, wire_id=129) not in registry
    with pytest.raises(
        ProtocolError, match=r"unknown topic 'pulse' \(allowed: raw_eeg, .*, blob\)"
    ):
        registry.from_label("pulse")


def test_without_plugins_only_the_built_in_topics_are_known() -> None:
    assert list(TopicRegistry().labels) == BUILT_IN


@pytest.mark.parametrize(
    ("topic", "problem"),
    [
        (OutputTopic("fft"), "taken by the protocol"),
        (OutputTopic("hello"), "taken by the protocol"),
        (OutputTopic("Heart"), "lower-case"),
        (OutputTopic(""), "lower-case"),
        (OutputTopic("x" * 33), "lower-case"),
        (OutputTopic("heart", frames_per_s=0.0), "frames_per_s"),
        (OutputTopic("heart", wire_id=200), "text topic has no wire_id"),
        (OutputTopic("heart", FrameKind.BINARY), "wire_id in 128-255"),
        (OutputTopic("heart", FrameKind.BINARY, wire_id=3), "wire_id in 128-255"),
    ],
)
def test_a_bad_topic_fails_naming_its_plugin(topic: OutputTopic, problem: str) -> None:
    with pytest.raises(PluginError, match=rf"plugin 'pulse': topic .*{problem}"):
        TopicRegistry([("pulse", topic)])


def test_two_plugins_cannot_take_one_name_or_one_wire_id() -> None:
    with pytest.raises(PluginError, match="plugin 'heart' adds a topic of that name already"):
        TopicRegistry([("heart", HEART), ("other", OutputTopic("heart_rate"))])
    with pytest.raises(PluginError, match="wire_id 200 is topic 'blob'"):
        TopicRegistry([("blobs", BLOB), ("other", OutputTopic("b2", FrameKind.BINARY, 200))])


def test_no_topic_may_take_the_type_of_a_server_message() -> None:
    # Every tagged message the server sends, read off the protocol's own union.
    tags = {kind.__struct_config__.tag for kind in wire._SERVER_TYPES}
    assert tags <= MESSAGE_TYPES


def test_an_output_event_carries_what_its_topic_frames() -> None:
    with pytest.raises(ValueError, match="mapping without 'type'"):
        OutputEvent(HEART, b"\x01", timestamp=1)
    with pytest.raises(ValueError, match="mapping without 'type'"):
        OutputEvent(HEART, {"type": "x"}, timestamp=1)
    with pytest.raises(ValueError, match="bytes"):
        OutputEvent(BLOB, {"a": 1}, timestamp=1)


def test_text_and_binary_events_on_the_wire() -> None:
    text = encode_event(OutputEvent(HEART, {"bpm": 61.5}, timestamp=1_700_000_000_000_000))
    assert text == '{"type":"heart_rate","timestamp":1700000000000000,"bpm":61.5}'
    assert encode_event(OutputEvent(BLOB, b"\xaa\xbb", timestamp=5)) == b"\x01\xc8\xaa\xbb"
    # A reader that does not know the type refuses it as such, and so can skip it.
    with pytest.raises(ProtocolViolation) as refused:
        decode_text(text)
    assert refused.value.code is ErrorCode.UNKNOWN_TYPE


def test_the_bus_carries_a_plugin_topic_and_counts_it() -> None:
    bus = EventBus()
    assert not bus.has_subscribers(HEART)
    with bus.subscribe([HEART], maxsize=1, consumer="reader") as subscription:
        assert bus.has_subscribers(HEART)
        for bpm in (60, 61):
            bus.publish(OutputEvent(HEART, {"bpm": bpm}, timestamp=bpm))
        event = subscription.get_nowait()
        assert isinstance(event, OutputEvent)
        assert event.payload == {"bpm": 61}
    stats = bus.stats().topics[HEART]
    assert (stats.published, stats.dropped, stats.subscribers) == (2, 1, 0)
    assert [c.topics for c in bus.consumers()] == [("heart_rate",)]


def test_parse_client_message_knows_the_topics_it_is_given() -> None:
    labels = TopicRegistry([("heart", HEART)]).labels
    message = parse_client_message(
        '{"type":"subscribe","topics":["Heart_Rate","fft"]}', topics=labels
    )
    assert message == wire.Subscribe(topics=("heart_rate", "fft"))
    with pytest.raises(ProtocolViolation) as refused:
        parse_client_message('{"type":"subscribe","topics":["heart_rate"]}')
    assert refused.value.code is ErrorCode.UNKNOWN_TOPIC
    assert "allowed: raw_eeg, filtered_eeg, fft, system, marker, aux)" in str(refused.value)


def test_a_client_subscribes_to_a_plugin_topic_and_gets_its_events_framed_once() -> None:
    registry = TopicRegistry([("heart", HEART)])
    control = ControlSession("/ws", topics=registry)
    outcome = control.receive_text('{"type":"subscribe","topics":["heart_rate"]}', now=0.0)
    assert [json.loads(reply) for reply in outcome.replies] == [
        {"type": "subscribed", "topics": ["heart_rate"]}
    ]
    (change,) = outcome.changes
    assert change.topics == frozenset({HEART})

    refused = control.receive_text('{"type":"subscribe","topics":["pulse"]}', now=0.1)
    (error,) = (json.loads(reply) for reply in refused.replies)
    assert error["code"] == "unknown_topic"
    allowed = "allowed: raw_eeg, filtered_eeg, fft, system, marker, aux, heart_rate)"
    assert allowed in error["message"]

    one, other = FakeClient(1), FakeClient(2)
    out = fanout(one, other)
    out.subscribe(one, change.topics)
    out.subscribe(other, [Topic.FFT])
    assert one.max_queue == 8  # 2 frames a second for 2 s, at least the minimum
    out.dispatch(OutputEvent(HEART, {"bpm": 70}, timestamp=9))
    assert [msgspec.json.decode(unframed(item)) for item in one.data] == [
        {"type": "heart_rate", "timestamp": 9, "bpm": 70}
    ]
    assert one.data[0].payload[0] == 0x81  # a final text frame
    assert other.data == []
    assert out.encoded[HEART] == 1
    assert out.clients_of(HEART) == 1
    out.unsubscribe(one, [HEART])
    assert not out.wanted(HEART)


def test_a_reader_decodes_a_plugin_topic_the_hello_names_and_nothing_else() -> None:
    text = encode_event(OutputEvent(HEART, {"bpm": 61.5}, timestamp=7))
    event = decode_output(text, ["raw_eeg", "heart_rate"])
    assert event == OutputEvent(OutputTopic("heart_rate"), {"bpm": 61.5}, timestamp=7)
    assert decode_output(text, ["raw_eeg"]) is None  # not a topic of this server
    marker = '{"type":"marker","timestamp":7,"label":"x"}'
    assert decode_output(marker, ["marker"]) is None  # a built-in message stays one
    for bad in (
        "not json",
        "[1]",
        '{"type":"heart_rate"}',
        '{"type":"heart_rate","timestamp":"7"}',
    ):
        assert decode_output(bad, ["heart_rate"]) is None
