"""What a BIDS export may be asked for: labels as BIDS defines them, a run index, overwrite.

BIDS (the specification's entity table) defines a label as an alphanumeric value, which its
schema writes as the pattern ``[0-9a-zA-Z]+``, and a run as a non-negative integer index.
"""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eegd.errors import ConfigError
from eegd.plugins.recorder.bids import BidsRequest, bids_entries

BIDS_LABEL_CHARACTERS = set(string.ascii_letters + string.digits)


@given(st.sampled_from(["subject", "session", "task"]), st.text(max_size=12))
def test_a_label_is_taken_exactly_when_bids_allows_it(key: str, text: str) -> None:
    allowed = bool(text) and set(text) <= BIDS_LABEL_CHARACTERS
    if allowed:
        assert getattr(BidsRequest.from_body({key: text}), key) == text
    else:
        with pytest.raises(ConfigError, match=f"^{key}: .* letters and digits only"):
            BidsRequest.from_body({key: text})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"subject": "sub-01"}, "subject: 'sub-01' is not a BIDS label"),
        ({"task": "eyes_closed"}, "task: 'eyes_closed' is not a BIDS label"),
        ({"session": 2}, "session: 2 is not a BIDS label"),
        ({"run": "1"}, "run: '1' is not a BIDS run"),
        ({"run": -1}, "run: -1 is not a BIDS run"),
        ({"run": True}, "run: True is not a BIDS run"),
        ({"overwrite": "yes"}, "overwrite: 'yes' is not true or false"),
        ({"acquisition": "a"}, "acquisition: unknown key (allowed: subject, session, task"),
    ],
)
def test_a_bad_request_names_the_offending_key_and_value(
    body: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        BidsRequest.from_body(body)
    assert str(caught.value).startswith(message)


def test_the_defaults_name_subject_01_doing_the_task_rest() -> None:
    request = BidsRequest.from_body({})
    assert (request.subject, request.session, request.task, request.run) == (
        "01",
        None,
        "rest",
        None,
    )
    assert request.overwrite is False


def test_the_provenance_keeps_the_sidecar_but_not_the_token_hashes() -> None:
    sidecar = {
        "eegd_version": "9.9",
        "status": "recovered",
        "source": {"kind": "brainflow"},
        "config": {
            "auth": {"operator_token_hashes": ["sha256:x"]},
            "source": {"brainflow": {"board": "cyton"}},
        },
        "ledger": {"samples_written": 5},
    }
    entries = bids_entries(sidecar)
    assert entries["SoftwareVersions"] == "eegd 9.9"
    assert entries["ManufacturersModelName"] == "eegd brainflow source, board cyton"
    provenance = entries["eegd"]
    assert provenance["status"] == "recovered"
    assert "recovered" in provenance["note"]
    assert provenance["ledger"] == {"samples_written": 5}
    assert "auth" not in provenance["config"]
    assert sidecar["config"]["auth"]  # the sidecar itself is left as it was
