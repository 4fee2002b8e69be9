"""``eegd token new`` and the token hashes from the environment, run in-process."""

from __future__ import annotations

import json

import pytest

from eegd.cli import main
from eegd.net.security.tokens import hash_token


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_token_new_prints_the_token_then_the_lines_for_the_config(
    role: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "new", "--role", role]) == 0
    token, table, line = capsys.readouterr().out.splitlines()
    assert len(token) >= 43
    assert table == "[auth]"
    assert line == f'{role}_token_hashes = ["{hash_token(token)}"]'


def test_token_hashes_come_from_the_environment_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hashes = [hash_token("first"), hash_token("second")]
    monkeypatch.setenv("EEGD_OPERATOR_TOKEN_HASHES", ", ".join(hashes))
    assert main(["config"]) == 0
    assert json.loads(capsys.readouterr().out)["auth"]["operator_token_hashes"] == hashes
    monkeypatch.setenv("EEGD_OPERATOR_TOKEN_HASHES", "first")
    assert main(["config"]) == 2
    assert "auth.operator_token_hashes[0]" in capsys.readouterr().err
