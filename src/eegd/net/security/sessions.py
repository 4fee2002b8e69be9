"""Kiosk sign-ins: bounded, expiring sessions behind an HttpOnly cookie; clock-free and pure.

A sign-in with a token gives a random session id, which the browser keeps in an
``HttpOnly; SameSite=Strict`` cookie (``Secure`` under TLS): page scripts cannot read it and
other sites' pages cannot make the browser send it. The store keeps at most ``max_sessions``
(one more ends the oldest of the same token's, or of a role no higher) for ``ttl`` s each,
remembers the hash of the token each came from so that revoking the token ends its
sessions, and keys them by the SHA-256 of the id, so neither a lookup's timing nor a memory
dump gives a live id away. Sessions live in memory: a restart signs everybody out.

``FailedAttempts`` counts wrong tokens per key (the gate's: a peer address and the
fingerprint of the token it presented): a few at once, then one per ``interval``; while a
key is over, that token from that address is refused unread.
"""

from __future__ import annotations

import collections
import hashlib
import math
import secrets
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from eegd.net.security.roles import Role

__all__ = ["SESSION_COOKIE", "FailedAttempts", "Session", "SessionStore"]

#: The cookie the session id travels in.
SESSION_COOKIE = "eegd_session"


@dataclass(frozen=True, slots=True)
class Session:
    """One sign-in: its role, the hash of the token it came from, and when it ends."""

    role: Role
    token_hash: str
    expires: float


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


class SessionStore:
    """At most ``max_sessions`` sessions of ``ttl`` seconds; times are the caller's (monotonic)."""

    def __init__(self, max_sessions: int, ttl: float) -> None:
        if max_sessions < 1 or not ttl > 0:
            raise ValueError(f"need max_sessions >= 1 and ttl > 0, got {max_sessions}, {ttl}")
        self.max_sessions = max_sessions
        self.ttl = ttl
        self._sessions: collections.OrderedDict[str, Session] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, role: Role, token_hash: str, now: float) -> str | None:
        """A new session's id (43 URL-safe characters), or None when the store is full of
        sessions this sign-in may not end. A full store ends the oldest session of the same
        token, else the oldest of a role no higher than ``role``'s: signing in over and
        over with one token cannot sign the others out, and a viewer's sign-ins never end
        an operator's session."""
        self._expire(now)
        if len(self._sessions) >= self.max_sessions:
            victim = self._victim(role, token_hash)
            if victim is None:
                return None
            del self._sessions[victim]
        session_id = secrets.token_urlsafe(32)
        self._sessions[_key(session_id)] = Session(role, token_hash, now + self.ttl)
        return session_id

    def _victim(self, role: Role, token_hash: str) -> str | None:
        own = (key for key, session in self._sessions.items() if session.token_hash == token_hash)
        lower = (key for key, session in self._sessions.items() if role.covers(session.role))
        return next(own, next(lower, None))

    def get(self, session_id: str, now: float) -> Session | None:
        """The live session of ``session_id``, or None (unknown, ended or expired)."""
        self._expire(now)
        return self._sessions.get(_key(session_id))

    def end(self, session_id: str) -> None:
        """Sign out: forget the session."""
        self._sessions.pop(_key(session_id), None)

    def keep_only(self, still_valid: Callable[[str], bool]) -> int:
        """End the sessions whose token hash no longer passes ``still_valid``; how many."""
        ended = [key for key, s in self._sessions.items() if not still_valid(s.token_hash)]
        for key in ended:
            del self._sessions[key]
        return len(ended)

    def _expire(self, now: float) -> None:
        # Sessions are kept in creation order with one ttl, so the oldest expire first.
        while self._sessions:
            key, session = next(iter(self._sessions.items()))
            if session.expires > now:
                return
            del self._sessions[key]


class FailedAttempts:
    """Wrong tokens per key: ``burst`` at once, then one per ``interval`` seconds.

    At most ``max_addresses`` keys are remembered (the longest untouched is forgotten first),
    so a flood from many addresses, or of many tokens, cannot grow the table without bound.
    """

    def __init__(self, burst: int = 5, interval: float = 10.0, max_addresses: int = 4096) -> None:
        if burst < 1 or not (math.isfinite(interval) and interval > 0) or max_addresses < 1:
            raise ValueError("need burst >= 1, a positive interval and max_addresses >= 1")
        self.burst = burst
        self.interval = interval
        self.max_addresses = max_addresses
        self._credit: collections.OrderedDict[Hashable, tuple[float, float]] = (
            collections.OrderedDict()
        )
        """key → (attempts left, when that was counted)."""

    def _left(self, key: Hashable, now: float) -> float:
        entry = self._credit.get(key)
        if entry is None:
            return float(self.burst)
        left, then = entry
        return min(float(self.burst), left + max(0.0, now - then) / self.interval)

    def blocked(self, key: Hashable, now: float) -> bool:
        """Whether ``key`` has used up its attempts for now."""
        return self._left(key, now) < 1.0

    def retry_after(self, key: Hashable, now: float) -> float:
        """Seconds until ``key`` may try once more."""
        return max(0.0, (1.0 - self._left(key, now)) * self.interval)

    def failed(self, key: Hashable, now: float) -> None:
        """Count one wrong token under ``key``."""
        left = self._left(key, now) - 1.0
        self._credit.pop(key, None)
        self._credit[key] = (max(left, 0.0), now)
        while len(self._credit) > self.max_addresses:
            self._credit.popitem(last=False)
