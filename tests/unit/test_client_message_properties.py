"""Whatever a client sends, the parser returns a valid message or a ProtocolViolation.

Property-based: arbitrary text and bytes, arbitrary JSON values, deep nesting and objects
shaped like real messages with random field values. Nothing but ``ProtocolViolation`` may
escape, and every violation becomes a well-formed ``error`` reply.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from eegd.events import Topic
from eegd.net.protocol import (
    MAX_RATE_MAX,
    MAX_RATE_MIN,
    ClientMessage,
    ErrorCode,
    Ping,
    ProtocolViolation,
    Subscribe,
    Unsubscribe,
    decode_text,
    encode_client_message,
    encode_server_message,
    parse_client_message,
)

LABELS = [topic.label for topic in Topic]
CODES = {code.value for code in ErrorCode}
EXAMPLES = settings(max_examples=200, deadline=None)

#: Any character, lone surrogates and JSON's punctuation made likely.
CHARACTERS = (
    st.characters()
    | st.integers(0xD800, 0xDFFF).map(chr)
    | st.sampled_from(list('[]{}",:0123456789.eE-+ \\tnulrfaNIy'))
)
TEXT = st.text(CHARACTERS, max_size=200)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(10**400), 10**400)
    | st.floats()  # NaN and infinities become the non-JSON literals NaN and Infinity
    | TEXT
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            TEXT | st.sampled_from(["type", "topics", "max_rate"]), children, max_size=5
        )
    ),
    max_leaves=30,
)


@st.composite
def label_variants(draw: st.DrawFn) -> str:
    """A real topic label in random letter case."""
    label = draw(st.sampled_from(LABELS))
    return "".join(draw(st.sampled_from([c.lower(), c.upper()])) for c in label)


TOPIC_NAMES = label_variants() | TEXT
MAX_RATES = (
    st.floats()
    | st.floats(MAX_RATE_MIN, MAX_RATE_MAX)
    | st.integers(-(10**6), 10**6)
    | st.sampled_from([0, 1, 2, 3, 3.9, 1e-9, 5e-324, 0.5, 1e9, 1e300, 100_000, 100_000.5])
)


@st.composite
def message_shaped(draw: st.DrawFn) -> dict[str, Any]:
    """An object with a real message's keys (some of them), random values, in random order."""
    fields: dict[str, Any] = {}
    if draw(st.booleans()) or draw(st.booleans()):
        fields["type"] = draw(st.sampled_from(["subscribe", "unsubscribe", "ping"]) | JSON_VALUES)
    if draw(st.booleans()):
        fields["topics"] = draw(st.lists(TOPIC_NAMES | JSON_VALUES, max_size=6) | JSON_VALUES)
    if draw(st.booleans()):
        fields["max_rate"] = draw(MAX_RATES | JSON_VALUES)
    if not draw(st.integers(0, 4)):
        fields[draw(TEXT)] = draw(JSON_VALUES)
    order = draw(st.permutations(list(fields)))
    return {key: fields[key] for key in order}


def as_json(value: object, ascii_only: bool) -> str:
    return json.dumps(value, ensure_ascii=ascii_only)


def nested_text(depth: int, opener: str, inner: str, closed: bool) -> str:
    closer = {"[": "]", '{"a":': "}", '{"type":"ping","x":': "}"}[opener]
    return opener * depth + inner + (closer * depth if closed else "")


def check_client_message(data: str | bytes) -> ClientMessage | None:
    """Parse ``data``: a valid message comes back, or a violation that makes a proper reply."""
    try:
        message = parse_client_message(data)
    except ProtocolViolation as caught:
        check_violation(caught)
        return None
    assert isinstance(message, Subscribe | Unsubscribe | Ping)
    if isinstance(message, Subscribe | Unsubscribe):
        assert all(label in LABELS for label in message.topics)
    if isinstance(message, Subscribe) and message.max_rate is not None:
        assert math.isfinite(message.max_rate)
        assert MAX_RATE_MIN <= message.max_rate <= MAX_RATE_MAX
    assert parse_client_message(encode_client_message(message)) == message
    return message


def check_violation(violation: ProtocolViolation) -> None:
    """The violation's ``error`` reply is ``{"type": "error", "code": ..., "message": ...}``."""
    reply = json.loads(encode_server_message(violation.to_message()))
    assert set(reply) == {"type", "code", "message"}
    assert reply["type"] == "error"
    assert reply["code"] in CODES
    assert reply["code"] == violation.code.value
    assert isinstance(reply["message"], str)
    assert reply["message"]


def check_server_text(data: str | bytes) -> None:
    """``decode_text`` returns a message or raises a ProtocolViolation, nothing else."""
    try:
        decode_text(data)
    except ProtocolViolation as caught:
        check_violation(caught)


@EXAMPLES
@given(TEXT | st.text(max_size=2000))
def test_any_text(text: str) -> None:
    check_client_message(text)
    check_server_text(text)


@EXAMPLES
@given(st.binary(max_size=2000))
def test_any_bytes(data: bytes) -> None:
    check_client_message(data)
    check_server_text(data)


@EXAMPLES
@given(JSON_VALUES, st.booleans(), st.booleans())
def test_any_json_value(value: object, ascii_only: bool, as_bytes: bool) -> None:
    text = as_json(value, ascii_only)
    data = text.encode("utf-8", "surrogatepass") if as_bytes else text

    check_client_message(data)
    check_server_text(data)


@EXAMPLES
@given(
    st.integers(0, 20_000),
    st.sampled_from(["[", '{"a":', '{"type":"ping","x":']),
    st.sampled_from(["", "1", '"x"', "[]", "{}"]),
    st.booleans(),
)
def test_any_nesting_depth(depth: int, opener: str, inner: str, closed: bool) -> None:
    text = nested_text(depth, opener, inner, closed)

    assert check_client_message(text) is None or depth <= 1
    check_server_text(text)


@EXAMPLES
@given(message_shaped(), st.booleans())
def test_objects_shaped_like_messages(fields: dict[str, Any], ascii_only: bool) -> None:
    check_client_message(as_json(fields, ascii_only))


def expected_acceptance(fields: dict[str, Any]) -> bool:
    """Whether a message of well-typed fields is valid, by the rules of docs/protocol.md."""
    kind = fields["type"]
    if kind == "ping":
        return set(fields) == {"type"}
    if "topics" not in fields or not all(
        name.upper() in Topic.__members__ for name in fields["topics"]
    ):
        return False
    if kind == "unsubscribe":
        return "max_rate" not in fields
    rate = fields.get("max_rate")
    return rate is None or MAX_RATE_MIN <= rate <= MAX_RATE_MAX


@st.composite
def well_typed(draw: st.DrawFn) -> dict[str, Any]:
    """A message whose fields have the right JSON types, but maybe not the right values."""
    fields: dict[str, Any] = {"type": draw(st.sampled_from(["subscribe", "unsubscribe", "ping"]))}
    if draw(st.booleans()):
        fields["topics"] = draw(st.lists(TOPIC_NAMES, max_size=5))
    if draw(st.booleans()):
        fields["max_rate"] = draw(
            st.floats(allow_nan=False, allow_infinity=False) | st.floats(0, 200_000)
        )
    order = draw(st.permutations(list(fields)))
    return {key: fields[key] for key in order}


@EXAMPLES
@given(well_typed())
def test_well_typed_messages_are_accepted_exactly_when_the_protocol_allows(
    fields: dict[str, Any],
) -> None:
    message = check_client_message(json.dumps(fields))

    assert (message is not None) is expected_acceptance(fields)
    if isinstance(message, Subscribe):
        assert message.max_rate == fields.get("max_rate")
