"""The control session: every reply and error code the server sends, with no socket or loop."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from eegd.commands import Command
from eegd.events import Topic
from eegd.net.control import CommandRequest, ControlSession, Outcome, RouteChange
from eegd.net.settings import ClientLimits, ServerSettings

DEFAULT_LIMITS = ServerSettings().client_limits()
LIMITS = replace(DEFAULT_LIMITS, max_topics=2, max_message_bytes=1024, max_messages_per_s=10.0)


def session(fixed: set[Topic] | None = None, limits: ClientLimits = LIMITS) -> ControlSession:
    return ControlSession("/ws/filtered_eeg" if fixed else "/ws", fixed, limits)


def replies(outcome: Outcome) -> list[dict[str, Any]]:
    return [json.loads(text) for text in outcome.replies]


def error_code(outcome: Outcome) -> str:
    [reply] = replies(outcome)
    assert reply["type"] == "error"
    assert outcome.errors == 1
    return str(reply["code"])


def test_a_client_starts_with_system_and_a_fixed_route_with_its_topic() -> None:
    assert session().opening() == RouteChange(True, frozenset({Topic.SYSTEM}))
    fixed = session({Topic.FFT})
    assert fixed.opening() == RouteChange(True, frozenset({Topic.FFT}))
    assert fixed.topics == {Topic.FFT}


def test_ping_is_answered_by_pong() -> None:
    outcome = session().receive_text('{"type": "ping"}', 0.0)
    assert replies(outcome) == [{"type": "pong"}]
    assert outcome.changes == ()
    assert outcome.errors == 0


def test_subscribe_routes_the_topics_with_their_max_rate_and_acknowledges() -> None:
    control = session()
    text = '{"type": "subscribe", "topics": ["FILTERED_EEG", "fft"], "max_rate": 250}'
    outcome = control.receive_text(text, 0.0)
    assert replies(outcome) == [{"type": "subscribed", "topics": ["filtered_eeg", "fft"]}]
    assert outcome.changes == (
        RouteChange(True, frozenset({Topic.FILTERED_EEG, Topic.FFT}), 250.0),
    )
    assert control.topics == {Topic.SYSTEM, Topic.FILTERED_EEG, Topic.FFT}


def test_unsubscribe_stops_the_route_and_acknowledges_system_too() -> None:
    control = session()
    outcome = control.receive_text('{"type": "unsubscribe", "topics": ["system"]}', 0.0)
    assert replies(outcome) == [{"type": "unsubscribed", "topics": ["system"]}]
    assert outcome.changes == (RouteChange(False, frozenset({Topic.SYSTEM})),)
    assert control.topics == set()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"type": "ping", "pad": "' + "x" * 2000 + '"}', "too_large"),
        ("{not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"topics": ["fft"]}', "unknown_type"),
        ('{"type": "subscribe"}', "bad_field"),
        ('{"type": "subscribe", "topics": ["fft"], "max_rte": 3}', "bad_field"),
        ('{"type": "subscribe", "topics": ["filtered_eeg"], "max_rate": 0.5}', "bad_field"),
        ('{"type": "subscribe", "topics": ["ff"]}', "unknown_topic"),
    ],
)
def test_a_bad_message_gets_its_error_and_changes_nothing(text: str, code: str) -> None:
    control = session()
    outcome = control.receive_text(text, 0.0)
    assert error_code(outcome) == code
    assert outcome.changes == ()
    assert control.topics == {Topic.SYSTEM}


def test_the_unknown_topic_error_lists_the_topics() -> None:
    outcome = session().receive_text('{"type": "subscribe", "topics": ["ff"]}', 0.0)
    [reply] = replies(outcome)
    assert reply["message"] == (
        "unknown topic 'ff' (allowed: raw_eeg, filtered_eeg, fft, system, marker, aux) "
        "in the 'subscribe' message"
    )


def test_a_binary_message_is_a_bad_frame() -> None:
    outcome = session().receive_binary(0.0)
    assert error_code(outcome) == "bad_frame"
    assert replies(outcome)[0]["message"] == (
        "clients send JSON text messages only, not binary frames"
    )


def test_a_fixed_route_refuses_subscriptions_but_answers_pings() -> None:
    control = session({Topic.FILTERED_EEG})
    for kind in ("subscribe", "unsubscribe"):
        outcome = control.receive_text(f'{{"type": "{kind}", "topics": ["fft"]}}', 0.0)
        assert error_code(outcome) == "not_allowed"
        assert replies(outcome)[0]["message"] == (
            "/ws/filtered_eeg streams filtered_eeg only; use /ws to choose topics"
        )
        assert outcome.changes == ()
    assert replies(control.receive_text('{"type": "ping"}', 0.0)) == [{"type": "pong"}]
    assert control.topics == {Topic.FILTERED_EEG}


def test_the_topic_limit_counts_data_topics_only() -> None:
    control = session()
    assert control.receive_text('{"type": "subscribe", "topics": ["fft", "system"]}', 0.0).changes
    again = control.receive_text('{"type": "subscribe", "topics": ["fft"]}', 0.0)
    assert again.errors == 0  # a topic it has already costs nothing
    outcome = control.receive_text(
        '{"type": "subscribe", "topics": ["raw_eeg", "filtered_eeg"]}', 0.0
    )
    assert error_code(outcome) == "too_many_topics"
    assert replies(outcome)[0]["message"] == (
        "a client may subscribe to at most 2 data topics (system is free); "
        "it has 1 and asked for 2 more"
    )
    assert outcome.changes == ()
    assert control.topics == {Topic.SYSTEM, Topic.FFT}


def test_over_the_rate_one_error_then_silence_then_a_close_for_flooding() -> None:
    limits = replace(DEFAULT_LIMITS, max_messages_per_s=10.0, message_burst=3)
    control = session(limits=limits)
    ping = '{"type": "ping"}'
    for _ in range(3):
        assert replies(control.receive_text(ping, 0.0)) == [{"type": "pong"}]
    refused = control.receive_text(ping, 0.0)
    assert error_code(refused) == "rate_limited"
    assert replies(refused)[0]["message"] == (
        "at most 10 messages per second (bursts of 3); this one and those that follow "
        "too soon are ignored"
    )
    for _ in range(3):
        ignored = control.receive_binary(0.0)
        assert ignored == Outcome()
    assert control.receive_text(ping, 0.0).flooding
    assert not control.receive_text(ping, 0.0).replies


def test_the_rate_limit_refills_with_time() -> None:
    control = session(limits=replace(DEFAULT_LIMITS, max_messages_per_s=10.0, message_burst=1))
    ping = '{"type": "ping"}'
    assert control.receive_text(ping, 0.0).errors == 0
    assert error_code(control.receive_text(ping, 0.0)) == "rate_limited"
    assert replies(control.receive_text(ping, 0.1)) == [{"type": "pong"}]


@pytest.mark.parametrize(
    ("text", "message", "command", "body"),
    [
        ('{"type":"record","action":"start"}', "record", Command.RECORDER_START, {}),
        (
            '{"type":"record","action":"start","name":"s01","notes":"n"}',
            "record",
            Command.RECORDER_START,
            {"name": "s01", "notes": "n"},
        ),
        ('{"type":"record","action":"stop"}', "record", Command.RECORDER_STOP, {}),
        ('{"type":"marker","label":"go"}', "marker", Command.RECORDER_MARKER, {"label": "go"}),
        (
            '{"type":"marker","label":"go","duration_s":0.5,"timestamp_us":17}',
            "marker",
            Command.RECORDER_MARKER,
            {"label": "go", "duration_s": 0.5, "timestamp_us": 17},
        ),
    ],
)
def test_command_messages_stand_for_their_commands(
    text: str, message: str, command: Command, body: dict[str, object]
) -> None:
    outcome = ControlSession("/ws").receive_text(text, 0.0)
    assert outcome.replies == ()
    assert outcome.command == CommandRequest(message, command, body)


def test_a_command_on_a_single_topic_route_is_not_allowed() -> None:
    session = ControlSession("/ws/filtered_eeg", fixed_topics={Topic.FILTERED_EEG})
    outcome = session.receive_text('{"type":"record","action":"start"}', 0.0)
    assert outcome.command is None
    assert json.loads(outcome.replies[0])["code"] == "not_allowed"


def test_a_bad_command_is_a_bad_field_naming_it() -> None:
    outcome = ControlSession("/ws").receive_text('{"type":"record","action":"pause"}', 0.0)
    reply = json.loads(outcome.replies[0])
    assert reply["code"] == "bad_field"
    assert "action" in reply["message"]
