"""The typed session a ``source_connected`` event carries, and the detail clients see of it:
the JSON fields clients read of ``source_connected`` (docs/protocol.md), unchanged by it."""

from __future__ import annotations

from eegd.events import SourceSession, SystemEventKind


def session(**changes: object) -> SourceSession:
    fields: dict[str, object] = {
        "id": "9f2c",
        "sample_rate": 500.0,
        "channels": ("Fp1", "Fp2"),
        "time_anchor_us": 1_765_000_000_000_000,
        "utc_offset_us": 1_764_000_000_000_000,
        "batch_size": 25,
    }
    fields.update(changes)
    return SourceSession(**fields)  # type: ignore[arg-type]


def test_a_new_session_is_announced_with_its_facts_and_carries_them_typed() -> None:
    announced = session()
    event = announced.event()
    assert event.kind is SystemEventKind.SOURCE_CONNECTED
    assert event.session is announced
    assert dict(event.detail) == {
        "session": "9f2c",
        "sample_rate": 500.0,
        "channels": ["Fp1", "Fp2"],
        "time_anchor_us": 1_765_000_000_000_000,
        "utc_offset_us": 1_764_000_000_000_000,
    }


def test_a_declared_range_and_a_resumed_opening_are_in_the_detail_too() -> None:
    event = session(
        physical_range=((-0.1875, 0.1875), (-0.1875, 0.1875)), resumed=True, first_sample=7500
    ).event()
    assert event.detail["physical_range"] == [[-0.1875, 0.1875], [-0.1875, 0.1875]]
    assert (event.detail["resumed"], event.detail["first_sample"]) == (True, 7500)
    assert event.session is not None
    assert event.session.batch_size == 25
