"""Tokens: made once, stored only as hashes, compared in constant time; the ``[auth]`` table.

``eegd token new --role operator`` prints a random token and the hash to put in the config;
the daemon never sees the token again until a client presents it. A token is 32 random
bytes, so one SHA-256 is as hard to invert as a slow password hash would be: there is no
dictionary to try. A presented token is hashed and compared with every configured hash by
``hmac.compare_digest``, so how long a refusal takes says nothing about how close it came.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from typing import Annotated

import msgspec

from eegd.errors import ConfigError, shown
from eegd.net.security.roles import Role
from eegd.validation import Settings

__all__ = ["HASH_PREFIX", "AuthSettings", "TokenBook", "hash_token", "new_token"]

#: How a stored hash starts: the algorithm, so that another can follow one day.
HASH_PREFIX = "sha256:"
_HASH = re.compile(r"sha256:[0-9a-f]{64}")


def new_token() -> str:
    """A fresh random token: 32 bytes from the OS's generator, URL-safe base64 (43 chars)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The form a token is stored in: ``sha256:`` and its hex digest."""
    return HASH_PREFIX + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class AuthSettings(Settings, frozen=True):
    """``[auth]``: the tokens (as hashes) and how sessions and query tokens behave.

    With no operator token there is no sign-in: the Host and Origin checks alone guard
    changes, which suits a daemon on loopback. Viewer tokens need an operator token beside
    them (without one, anybody could change everything but not watch).
    """

    operator_token_hashes: tuple[str, ...] = ()
    """``sha256:...`` hashes of the operator tokens (``eegd token new --role operator``)."""
    viewer_token_hashes: tuple[str, ...] = ()
    """Hashes of viewer tokens; with none, watching needs no token."""
    query_tokens: bool = False
    """Accept ``?token=...`` on WebSocket and REST URLs (they end up in logs and history)."""
    session_ttl_s: Annotated[float, msgspec.Meta(ge=1, le=30 * 86_400)] = 12 * 3600.0
    """How long a kiosk sign-in lasts."""
    max_sessions: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 64
    """Sign-ins kept at once; one more ends the oldest of the same token's (or of all)."""
    insecure_no_auth: bool = False
    """Serve a non-loopback address without an operator token (``--insecure-no-auth``)."""

    def __post_init__(self) -> None:
        for key in ("operator_token_hashes", "viewer_token_hashes"):
            for index, value in enumerate(getattr(self, key)):
                if not _HASH.fullmatch(value):
                    raise ConfigError(
                        f"{key}[{index}]: {shown(value)} is not a token hash (allowed: "
                        '"sha256:" and 64 hex digits, as `eegd token new` prints)'
                    )
        if self.viewer_token_hashes and not self.operator_token_hashes:
            raise ConfigError(
                "viewer_token_hashes: needs operator_token_hashes too (without an operator "
                "token anyone may change everything); create one with "
                "`eegd token new --role operator`"
            )

    @property
    def tokens(self) -> TokenBook:
        """The configured hashes, ready to check presented tokens against."""
        return TokenBook(self.operator_token_hashes, self.viewer_token_hashes)


class TokenBook:
    """Which role a presented token has, if any; an empty book holds no tokens at all."""

    def __init__(self, operator: Iterable[str] = (), viewer: Iterable[str] = ()) -> None:
        self._hashes = [(Role.OPERATOR, value) for value in operator]
        self._hashes += [(Role.VIEWER, value) for value in viewer]
        self.has_operator = any(role is Role.OPERATOR for role, _value in self._hashes)
        self.has_viewer = any(role is Role.VIEWER for role, _value in self._hashes)

    def role_of(self, token: str) -> tuple[Role, str] | None:
        """The role of ``token`` and the hash it matched; None for an unknown token.

        Every configured hash is compared, in constant time, whichever matches.
        """
        presented = hash_token(token).encode()
        found: tuple[Role, str] | None = None
        for role, value in self._hashes:
            if hmac.compare_digest(presented, value.encode()) and found is None:
                found = (role, value)
        return found

    def holds(self, value: str) -> bool:
        """Whether the hash ``value`` is still configured (sessions of revoked ones end)."""
        return any(hmac.compare_digest(value, known) for _role, known in self._hashes)

    def anonymous_role(self) -> Role:
        """What a request without credentials may do: everything while no operator token
        exists, watch while no viewer token does, else only reach the public routes."""
        if not self.has_operator:
            return Role.OPERATOR
        return Role.PUBLIC if self.has_viewer else Role.VIEWER
