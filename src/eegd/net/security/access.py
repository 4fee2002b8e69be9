"""Whether one request may proceed, and as whom: pure logic over the request's headers.

``Gate.admit`` takes what matters of a request (``RequestFacts``) and the role its route
needs (``eegd.net.security.roles``) and returns the ``Principal`` it runs as, or a ``Refusal`` with
the HTTP status and a sentence saying what would be allowed. In order:

1. ``Host`` must name this server (``AllowedHosts``): 421 otherwise. DNS rebinding ends here.
2. A browser's cross-origin request is refused before it can change anything: a WebSocket's
   ``Origin`` must be the server's own or in ``server.allowed_origins``; a state-changing
   request (POST, PUT, PATCH, DELETE) must come from the server's own origin (``Origin``,
   and ``Sec-Fetch-Site`` where sent) and must not carry a body type a cross-site form may
   send without asking (``text/plain``, form encodings): 403 or 415.
3. Credentials: ``Authorization: Bearer TOKEN``, the kiosk's session cookie, or
   ``?token=`` where ``auth.query_tokens`` allows it (not from another site's page, whose
   ``<img>`` could spend the kiosk's attempts). A wrong or revoked token is a 401 and
   counts against its address and its fingerprint together; past a few, that token from
   that address gets 429 until its credit refills, while any other token, a right one
   first, is still read: one process's guesses on 127.0.0.1 never lock the kiosk out.
   Without credentials a request has ``TokenBook.anonymous_role``.
4. The role must cover the route's: 401 without credentials, 403 with too small a role.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from eegd.errors import one_line, shortened
from eegd.net.security.hosts import AllowedHosts, origin_allowed, same_origin
from eegd.net.security.refusals import Throttle
from eegd.net.security.roles import Principal, Role
from eegd.net.security.sessions import FailedAttempts, SessionStore
from eegd.net.security.tokens import AuthSettings, TokenBook

__all__ = ["SIMPLE_BODY_TYPES", "WRITE_METHODS", "Gate", "Refusal", "RequestFacts"]

logger = logging.getLogger(__name__)

#: Methods that change something.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Body types a page on another site may send without the browser asking the server first.
SIMPLE_BODY_TYPES = frozenset(
    {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
)
#: ``Sec-Fetch-Site`` values of a request the server's own pages (or the user) made.
_OWN_SITES = frozenset({"same-origin", "none"})


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the gate looks at in a request; headers absent are None."""

    method: str
    path: str
    scheme: str
    address: str
    host: str | None = None
    origin: str | None = None
    fetch_site: str | None = None
    content_type: str | None = None
    """The body's media type alone, lower case (no ``charset``)."""
    authorization: str | None = None
    session_id: str | None = None
    query_token: str | None = None
    websocket: bool = False


@dataclass(frozen=True, slots=True)
class Refusal:
    """The reply to a request the gate stops: status, error code and message, headers."""

    status: int
    code: str
    message: str
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    principal: Principal | None = None
    """Who was refused, where known (a role too small for the route)."""


class Gate:
    """The Host, Origin and credential checks of every request, and the kiosk's sign-ins."""

    def __init__(
        self, hosts: AllowedHosts, auth: AuthSettings, allowed_origins: Collection[str] = ()
    ) -> None:
        self.hosts = hosts
        self.allowed_origins = frozenset(allowed_origins)
        self.query_tokens = auth.query_tokens
        self.tokens = auth.tokens
        self.sessions = SessionStore(auth.max_sessions, auth.session_ttl_s)
        self.failures = FailedAttempts()
        self.wrong_tokens = Throttle()
        """Holds back repeated log lines about wrong tokens, per action and address."""
        self.refused = 0
        """Requests refused, for /api/status."""

    def update_tokens(self, tokens: TokenBook) -> int:
        """Use reloaded tokens; sessions of tokens no longer configured end. How many did."""
        self.tokens = tokens
        return self.sessions.keep_only(tokens.holds)

    def still_valid(self, principal: Principal) -> bool:
        """Whether the token ``principal``'s role came from is still configured."""
        return principal.credential is None or self.tokens.holds(principal.credential)

    def role_now(self, principal: Principal) -> Role:
        """The role ``principal`` has under the tokens configured now: a connection opened
        without a token has no more than such a connection would get today (tokens
        configured since it opened take away what it had without them)."""
        if principal.credential is not None:
            return principal.role
        anonymous = self.tokens.anonymous_role()
        return principal.role if anonymous.covers(principal.role) else anonymous

    def message_refusal(
        self, principal: Principal | None, message: str, needed: Role
    ) -> str | None:
        """Why ``principal`` may not send ``message`` (which needs ``needed``) over the
        connection it opened; None when it may."""
        if principal is not None and not self.still_valid(principal):
            return (
                f"the token this connection was opened with is revoked; {message!r} is "
                "refused (reconnect with a valid token)"
            )
        role_now = None if principal is None else self.role_now(principal)
        if role_now is None or not role_now.covers(needed):
            role = "no" if role_now is None else f"the {role_now.value}"
            return (
                f"{message!r} needs the {needed.value} role; this connection has {role} role "
                "(connect with Authorization: Bearer TOKEN, or sign in)"
            )
        return None

    def admit(self, facts: RequestFacts, needed: Role, now: float) -> Principal | Refusal:
        """The principal the request runs as, or why it may not run."""
        verdict = self._origin_check(facts) or self._principal(facts, now)
        if isinstance(verdict, Principal) and not verdict.role.covers(needed):
            verdict = dataclasses.replace(
                self._too_small(facts, verdict, needed), principal=verdict
            )
        if isinstance(verdict, Refusal):
            self.refused += 1
        return verdict

    def sign_in(self, token: str, address: str, now: float) -> tuple[str, Role] | Refusal:
        """A new session for ``token``: its id and role, or why not (no tokens, wrong one)."""
        if not self.tokens.has_operator:
            return Refusal(
                409,
                "no_tokens",
                "no operator token is configured, so there is nothing to sign in to: "
                "create one with `eegd token new --role operator`",
            )
        found = self._token_role(token, address, now, "sign-in")
        if isinstance(found, Refusal):
            return found
        role, token_hash = found
        session_id = self.sessions.create(role, token_hash, now)
        if session_id is None:
            return Refusal(
                503,
                "too_many_sessions",
                f"all {self.sessions.max_sessions} sessions are taken by operators; "
                "try again once one ends (auth.max_sessions)",
                {"Retry-After": "60"},
            )
        return session_id, role

    # ------------------------------------------------------------------ the steps

    def _origin_check(self, facts: RequestFacts) -> Refusal | None:
        if not self.hosts.allows(facts.host):
            shown = shortened(repr(facts.host)) if facts.host else "none"
            return Refusal(
                421,
                "misdirected_request",
                f"Host {shown} is not a name of this server (allowed: "
                f"{', '.join(sorted(self.hosts.names))} and IP addresses); "
                "add the name to server.allowed_hosts to allow it",
            )
        origin = facts.origin
        if facts.websocket:
            if origin_allowed(origin, facts.host, self.allowed_origins, facts.scheme):
                return None
            return Refusal(
                403,
                "forbidden_origin",
                f"WebSocket connections from origin {shortened(str(origin))} are not "
                "allowed; add it to server.allowed_origins to allow it",
            )
        if facts.method not in WRITE_METHODS:
            return None
        if origin is not None and not same_origin(origin, facts.host, facts.scheme):
            return Refusal(
                403,
                "cross_origin",
                f"{facts.method} {facts.path} from origin {shortened(origin)} is refused: "
                "changes come from eegd's own pages or from scripts, never other sites",
            )
        if not _own_page(facts):
            return Refusal(
                403,
                "cross_origin",
                f"{facts.method} {facts.path} from a {shortened(str(facts.fetch_site))} page is "
                "refused: changes come from eegd's own pages or from scripts",
            )
        if facts.content_type in SIMPLE_BODY_TYPES:
            return Refusal(
                415,
                "unsupported_media_type",
                f"a body of type {facts.content_type} is refused (other sites' forms send "
                "those); "
                "send JSON with Content-Type: application/json (curl --json '{...}')",
            )
        return None

    def _principal(self, facts: RequestFacts, now: float) -> Principal | Refusal:
        token = facts.query_token
        if token is not None and not self.query_tokens:
            return Refusal(
                400,
                "query_token_disabled",
                "tokens in the URL are off (they end up in logs); send Authorization: Bearer "
                "TOKEN, or set auth.query_tokens = true",
            )
        if token is not None and not facts.websocket and not _own_page(facts):
            # An <img> on another site's page may carry any URL, and each wrong token would
            # count against the address of the browser showing it, the kiosk's own.
            return Refusal(
                403,
                "cross_origin",
                f"a token in the URL of a request from another site's page is refused unread "
                f"(Sec-Fetch-Site: {shortened(str(facts.fetch_site))})",
            )
        if facts.authorization is not None:
            scheme, _, value = facts.authorization.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                return Refusal(
                    401,
                    "bad_token",
                    "the Authorization header must be 'Bearer TOKEN'",
                    {"WWW-Authenticate": 'Bearer realm="eegd"'},
                )
            token = value.strip()
        if token is not None:
            found = self._token_role(token, facts.address, now, f"{facts.method} {facts.path}")
            if isinstance(found, Refusal):
                return found
            return Principal(found[0], facts.address, "token", found[1])
        if facts.session_id is not None:
            session = self.sessions.get(facts.session_id, now)
            if session is not None:
                return Principal(session.role, facts.address, "session", session.token_hash)
        role = self.tokens.anonymous_role()
        return Principal(role, facts.address, "open" if role is Role.OPERATOR else "anonymous")

    def _token_role(
        self, token: str, address: str, now: float, what: str
    ) -> tuple[Role, str] | Refusal:
        """The role and hash of a presented token, counting a wrong one against ``address``
        and the token's fingerprint together."""
        key = (address, _fingerprint(token))
        if self.failures.blocked(key, now):
            wait = max(1, round(self.failures.retry_after(key, now)))
            return Refusal(
                429,
                "too_many_attempts",
                f"this token was wrong too often from {address}; try again in {wait} s",
                {"Retry-After": str(wait)},
            )
        found = self.tokens.role_of(token)
        if found is not None:
            return found
        self.failures.failed(key, now)
        self.wrong_tokens(
            (what, address),
            lambda count: logger.warning(
                "%s from %s: wrong or revoked token refused%s",
                one_line(what),
                address,
                f" ({count} times in the last {self.wrong_tokens.interval:g} s)"
                if count > 1
                else "",
            ),
        )
        return Refusal(
            401,
            "bad_token",
            "the token is not (or no longer) valid; `eegd token new` makes a new one",
            {"WWW-Authenticate": 'Bearer realm="eegd", error="invalid_token"'},
        )

    @staticmethod
    def _too_small(facts: RequestFacts, principal: Principal, needed: Role) -> Refusal:
        what = f"{facts.method} {facts.path}"
        if principal.via in ("token", "session"):
            return Refusal(
                403,
                "forbidden",
                f"{what} needs the {needed.value} role; this {principal.via} has "
                f"{principal.role.value}",
            )
        return Refusal(
            401,
            "unauthorized",
            f"{what} needs the {needed.value} role: send Authorization: Bearer TOKEN, "
            "or sign in on the kiosk",
            {"WWW-Authenticate": 'Bearer realm="eegd"'},
        )


def _fingerprint(token: str) -> str:
    """A short digest that tells presented tokens apart without keeping any of them."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _own_page(facts: RequestFacts) -> bool:
    """Whether a request came from no page at all (a script) or from the daemon's own."""
    return facts.fetch_site is None or facts.fetch_site in _OWN_SITES
