"""Safe defaults: no non-loopback bind without an operator token unless told, and TLS.

The bind refusal runs the CLI in-process (it fails before anything listens); the TLS tests
serve a certificate made for the test and stream over ``wss://`` to a client that trusts it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

import eegd.client
from eegd.cli import main
from eegd.net.protocol import EegFrame
from eegd.net.security.tokens import hash_token, new_token
from tests.support.live import live_daemon, next_released, watching
from tests.support.tls import self_signed, trusting


def test_a_non_loopback_bind_without_a_token_exits_2_saying_how_to_make_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["run", "--host", "0.0.0.0", "--port", "0"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("eegd: error: --host (server.host: listening on 0.0.0.0")
    assert "eegd token new --role operator" in error
    assert "--insecure-no-auth" in error
    assert len(error.splitlines()) == 1
    assert main(["config", "--host", "0.0.0.0", "--insecure-no-auth"]) == 0
    assert main(["config", "--host", "::"]) == 2
    monkeypatch.setenv("EEGD_OPERATOR_TOKEN_HASHES", hash_token(new_token()))
    capsys.readouterr()
    assert main(["config", "--host", "::"]) == 0, capsys.readouterr().err


async def test_insecure_no_auth_warns_at_start(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    overrides = {"server.host": "0.0.0.0", "auth.insecure_no_auth": True}
    async with live_daemon(overrides=overrides, stepped=True) as live, watching(live) as watcher:
        await watcher.wait_frame(await live.release(1))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        message.startswith("--insecure-no-auth: no operator token is configured")
        and "may change the filter" in message
        for message in warnings
    ), warnings


async def test_a_non_loopback_bind_with_a_token_starts_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    overrides = {"server.host": "0.0.0.0", "auth.operator_token_hashes": [hash_token("t")]}
    async with live_daemon(overrides=overrides, stepped=True):
        pass
    assert not [r for r in caplog.records if "insecure" in r.getMessage()]


async def test_tls_streams_over_wss_and_signs_in_with_a_secure_cookie(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    token = new_token()
    toml = (
        f'[server]\ntls_cert = "{cert}"\ntls_key = "{key}"\n'
        f'[auth]\noperator_token_hashes = ["{hash_token(token)}"]\n'
    )
    trusted = trusting(cert)
    async with live_daemon(toml, stepped=True) as live:
        assert live.url.startswith("https://")
        url = live.url.replace("https://", "wss://")
        async with eegd.client.connect(url + "ws", ["filtered_eeg"], ssl=trusted) as stream:
            frame = await next_released(live, stream, EegFrame)
            assert frame.samples_uv.shape[0] == 8
        async with aiohttp.ClientSession() as session:
            async with session.post(
                live.url + "api/session", json={"token": token}, ssl=trusted
            ) as response:
                assert response.status == 200
                assert "Secure" in response.headers["Set-Cookie"]
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await session.get(live.url + "api/status")  # not trusted: refused by the client
            plain = live.url.replace("https://", "http://")
            with pytest.raises(aiohttp.ClientError):
                await session.get(plain + "api/status")


def test_a_bad_certificate_exits_2_naming_the_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = tmp_path / "eegd.toml"
    toml.write_text(f'[server]\ntls_cert = "{tmp_path}/none.pem"\ntls_key = "{tmp_path}/k.pem"\n')
    assert main(["run", "--config", str(toml), "--port", "0"]) == 2
    assert "server.tls_cert/tls_key" in capsys.readouterr().err
    toml.write_text(f'[server]\ntls_cert = "{tmp_path}/none.pem"\n')
    assert main(["config", "--config", str(toml)]) == 2
    assert "server.tls_key: needed with tls_cert" in capsys.readouterr().err
