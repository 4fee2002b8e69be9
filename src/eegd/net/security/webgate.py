"""The gate on the aiohttp side: a middleware that runs ``Gate.admit`` for every request, the
audit of every change, and the kiosk's sign-in routes (``/api/session``).

Every request, REST, WebSocket upgrade and static file alike, passes the middleware with the
role its route declares (``eegd.net.security.roles``); a request for no route needs nothing but the
Host and Origin checks (and gets its 404). The principal a request runs as is
``request[PRINCIPAL]``. Requests of operator routes are changes: each address may ask for a
bounded number a second from the budget its route spends (``eegd.net.security.changelimit``, else
429), and each is audited, accepted or refused.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import hdrs, web

from eegd.errors import one_line, shortened
from eegd.net.rest import BadBody, error_response, json_object
from eegd.net.security.access import Gate, Refusal, RequestFacts
from eegd.net.security.audit import Auditor
from eegd.net.security.changelimit import ChangeLimits
from eegd.net.security.refusals import Throttle
from eegd.net.security.roles import Principal, Role
from eegd.net.security.sessions import SESSION_COOKIE

__all__ = ["PRINCIPAL", "BudgetLookup", "RoleLookup", "WebGate", "request_facts"]

#: Where the middleware leaves the ``Principal`` of an admitted request.
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("eegd_principal", Principal)

#: The role a route needs, by method and path as routed; None if it declares none.
RoleLookup = Callable[[str, str], Role | None]
#: The rate budget a route's calls spend (a key of ``WebGate.limits``), by method and path.
BudgetLookup = Callable[[str, str], str]

logger = logging.getLogger(__name__)

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _media_type(request: web.Request) -> str | None:
    header = request.headers.get(hdrs.CONTENT_TYPE)
    if header is None:
        return None
    return header.split(";", 1)[0].strip().lower()


def request_facts(request: web.Request) -> RequestFacts:
    """What ``Gate.admit`` looks at, read from an aiohttp request."""
    headers = request.headers
    # Any header aiohttp would take for an upgrade contains the word, whatever surrounds it
    # ("websocket\xa0" is one): such a request gets the WebSocket Origin check.
    upgrade = "websocket" in headers.get(hdrs.UPGRADE, "").lower()
    return RequestFacts(
        method=request.method,
        path=request.path,
        scheme=request.scheme,
        address=request.remote or "?",
        host=headers.get(hdrs.HOST),
        origin=headers.get(hdrs.ORIGIN),
        fetch_site=headers.get("Sec-Fetch-Site"),
        content_type=_media_type(request),
        authorization=headers.get(hdrs.AUTHORIZATION),
        session_id=request.cookies.get(SESSION_COOKIE),
        query_token=request.query.get("token"),
        websocket=upgrade,
    )


def _refusal_response(refusal: Refusal) -> web.Response:
    return error_response(refusal.status, refusal.code, refusal.message, refusal.headers)


def _outcome(response: web.StreamResponse) -> tuple[str, str]:
    """The status of a reply and the message of an error reply; and its error code."""
    status = str(response.status)
    if response.status < 400 or not isinstance(response, web.Response):
        return status, status
    try:
        error = json.loads(response.body)  # type: ignore[arg-type]
        message, code = error["message"], error["code"]
    except (TypeError, ValueError, KeyError):
        return status, status
    return f"{status} {message}", f"{status} {code}"


class WebGate:
    """Runs the gate for every request and serves ``GET``, ``POST`` and ``DELETE
    /api/session``: who the kiosk is, sign in with a token, sign out."""

    def __init__(
        self,
        gate: Gate,
        roles: RoleLookup,
        auditor: Auditor,
        clock: Callable[[], float] = time.monotonic,
        limits: Mapping[str, ChangeLimits] | None = None,
        budget_of: BudgetLookup | None = None,
    ) -> None:
        self.gate = gate
        self._roles = roles
        self.auditor = auditor
        self._clock = clock
        self.limits = limits or {
            "changes": ChangeLimits(rate=20.0, burst=40, setting="server.max_changes_per_s")
        }
        """How many changes of each budget an address may ask for."""
        self._budget_of = budget_of or (lambda _method, _path: "changes")
        self.upgrades = Throttle()
        """Holds back repeated log lines about refused WebSocket upgrades, per origin."""

    def needed(self, request: web.Request) -> Role:
        """The role ``request``'s route needs: operator if it declares none (fail closed),
        public for a request that matches no route (it gets a 404 or 405)."""
        route = request.match_info.route
        resource = route.resource
        if resource is None or request.match_info.http_exception is not None:
            return Role.PUBLIC
        method = "GET" if route.method == "HEAD" else route.method
        return self._roles(method, resource.canonical) or Role.OPERATOR

    @web.middleware
    async def middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """Admit or refuse ``request``; audit it if its route changes something."""
        needed = self.needed(request)
        facts = request_facts(request)
        verdict = self.gate.admit(facts, needed, self._clock())
        action = f"{request.method} {request.path}"
        resource = request.match_info.route.resource
        route = f"{request.method} {resource.canonical if resource is not None else '?'}"
        if isinstance(verdict, Refusal):
            if needed is Role.OPERATOR:
                who = verdict.principal or Principal(
                    Role.PUBLIC, request.remote or "?", "unchecked"
                )
                outcome = f"{verdict.status} {verdict.message}"
                self.auditor.record(who, action, False, outcome, route=route, reason=verdict.code)
            if facts.websocket:
                self._upgrade_refused(facts, verdict)
            return _refusal_response(verdict)
        request[PRINCIPAL] = verdict
        if needed is not Role.OPERATOR:
            return await handler(request)
        budget = self._budget_of(request.method, resource.canonical if resource else "?")
        limits = self.limits[budget]
        wait = limits.take(verdict.address, self._clock())
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            refusal = Refusal(
                429,
                f"too_many_{budget}",
                f"too many {budget} from {verdict.address} (allowed: "
                f"{limits.rate:g} a second, {limits.setting}); "
                f"try again in {seconds} s",
                {"Retry-After": str(seconds)},
            )
            outcome = f"{refusal.status} {refusal.message}"
            self.auditor.record(verdict, action, False, outcome, route=route, reason=refusal.code)
            return _refusal_response(refusal)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            outcome = f"{exc.status} {exc.reason}"
            self.auditor.record(verdict, action, False, outcome, route=route)
            raise
        # The handler read the body already; aiohttp keeps it, so this reads nothing more.
        raw = await request.read() if request.body_exists else b""
        body = raw.decode("utf-8", "replace").strip()
        outcome, code = _outcome(response)
        accepted = response.status < 400
        self.auditor.record(verdict, action, accepted, outcome, body, route=route, reason=code)
        return response

    def _upgrade_refused(self, facts: RequestFacts, refusal: Refusal) -> None:
        """Say in the log, once a minute per origin (or Host), which setting would let a
        refused WebSocket upgrade through: a newcomer's kiosk on another port gets a 403 it
        cannot see, and this line tells its user what to write."""
        if refusal.code == "forbidden_origin":
            origin = shortened(str(facts.origin))
            setting = f"add {origin!r} to server.allowed_origins to allow it"
            key: tuple[str, str] = ("origin", origin)
        elif refusal.code == "misdirected_request":
            origin = shortened(str(facts.host))
            setting = f"add {origin!r} to server.allowed_hosts to allow it"
            key = ("host", origin)
        else:
            return
        what = "origin" if key[0] == "origin" else "Host"

        def report(count: int) -> None:
            logger.warning(
                "refused a WebSocket connection to %s from %s %s%s: %s",
                one_line(shortened(facts.path)),
                what,
                one_line(origin),
                f" ({count} times in the last {self.upgrades.interval:g} s)" if count > 1 else "",
                one_line(setting),
            )

        self.upgrades(key, report)

    # ------------------------------------------------------------------ /api/session

    async def session_state(self, request: web.Request) -> web.Response:
        """``GET /api/session``: the caller's role, and whether signing in means anything."""
        principal = request[PRINCIPAL]
        tokens = self.gate.tokens
        return web.json_response(
            {
                "role": principal.role.value,
                "via": principal.via,
                "sign_in": tokens.has_operator,
                "viewer_token": tokens.has_viewer,
                "session_ttl_s": self.gate.sessions.ttl,
            }
        )

    async def sign_in(self, request: web.Request) -> web.Response:
        """``POST /api/session`` with ``{"token": ...}``: a session cookie for the token's role."""
        try:
            body = json_object(await request.read(), request.charset)
        except BadBody as exc:
            return error_response(400, exc.code, str(exc))
        token: Any = body.get("token")
        if not isinstance(token, str) or not token or set(body) != {"token"}:
            return error_response(
                400, "bad_field", 'the body must be {"token": "..."}, the token as a string'
            )
        address = request.remote or "?"
        signed = self.gate.sign_in(token, address, self._clock())
        if isinstance(signed, Refusal):
            return _refusal_response(signed)
        session_id, role = signed
        response = web.json_response({"role": role.value, "session_ttl_s": self.gate.sessions.ttl})
        response.set_cookie(
            SESSION_COOKIE,
            session_id,
            max_age=int(self.gate.sessions.ttl),
            path="/",
            httponly=True,
            samesite="Strict",
            secure=request.secure,
        )
        return response

    async def sign_out(self, request: web.Request) -> web.Response:
        """``DELETE /api/session``: end the caller's session and drop its cookie."""
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id is not None:
            self.gate.sessions.end(session_id)
        response = web.json_response({"role": self.gate.tokens.anonymous_role().value})
        response.del_cookie(SESSION_COOKIE, path="/")
        return response
