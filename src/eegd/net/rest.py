"""The REST side's one error shape, and the parsing of JSON request bodies.

Every HTTP error, a 404 or a 413 as much as a refused setting, is
``{"type": "error", "code": ..., "message": ...}``; an unexpected exception is a 500 with a
generic message, its traceback logged once; a peer that goes mid-request is no error of
the daemon's and logs no traceback. Bodies are parsed without trusting the peer:
UTF-8 only, nesting and number sizes bounded, every value decoded on its own so an error
names its key.
"""

from __future__ import annotations

import http
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec
from aiohttp import web

from eegd.errors import ProtocolError, one_line

__all__ = ["BadBody", "error_response", "json_errors", "json_object"]

logger = logging.getLogger(__name__)


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    """The one shape of every error reply: ``{"type": "error", "code": ..., "message": ...}``."""
    return web.json_response(
        {"type": "error", "code": code, "message": message}, status=status, headers=headers
    )


#: Error codes of the HTTP errors aiohttp raises itself; others are named after their status.
_HTTP_ERROR_CODES: Mapping[int, str] = {
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn every HTTP error and unexpected exception into the JSON error shape."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or request.writer.output_size > 0:
            raise  # a redirect, or a reply already on its way (an accepted WebSocket)
        return _http_error(request, exc)
    except ConnectionError:
        # The peer went (or the guard closed it) while its body was on its way: nobody to
        # answer, nothing wrong with the daemon.
        logger.debug(
            "%s %s: the connection closed mid-request", request.method, one_line(request.path)
        )
        return error_response(400, "connection_closed", "the connection closed mid-request")
    except Exception:
        if request.writer.output_size > 0:
            raise  # too late for another reply; aiohttp logs it and closes the connection
        logger.exception("%s %s failed", request.method, one_line(request.path))
        return error_response(500, "internal_error", "internal server error; see the log")


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    status = exc.status
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = exc.reason
    code = _HTTP_ERROR_CODES.get(status) or phrase.lower().replace(" ", "_").replace("-", "_")
    headers: dict[str, str] = {}
    if isinstance(exc, web.HTTPNotFound):
        message = f"nothing at {request.path}"
    elif isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        message = f"{request.method} is not allowed on {request.path} (allowed: {allowed})"
        headers["Allow"] = ",".join(sorted(exc.allowed_methods))
    elif isinstance(exc, web.HTTPRequestEntityTooLarge):
        message = f"the body is larger than the {request.client_max_size} bytes allowed"
    else:
        message = exc.text or phrase
    return error_response(status, code, message, headers=headers)


#: Charsets a JSON body may declare: JSON is UTF-8 (RFC 8259), and ASCII is part of it.
_JSON_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})

#: The longest key an error message about a body repeats.
_SHOWN_KEY = 40


class BadBody(ProtocolError):
    """A request body that is not the JSON object expected; ``code`` goes in the reply."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def json_object(body: bytes, charset: str | None) -> dict[str, Any]:
    """The JSON object ``body`` holds, or ``BadBody`` saying what is wrong with it.

    The body must be UTF-8. Each value is decoded on its own, so a value that cannot be used
    (an integer of thousands of digits, ``1e999``, nesting too deep to decode) is refused
    naming its key. msgspec decodes without recursing in Python, and raises
    ``RecursionError`` instead of exhausting the stack on deep nesting.
    """
    if charset is not None and charset.lower() not in _JSON_CHARSETS:
        raise BadBody(
            "bad_encoding", f"charset {charset[:_SHOWN_KEY]!r} is not supported (allowed: utf-8)"
        )
    body = body.removeprefix(b"\xef\xbb\xbf")  # a byte-order mark, which JSON may carry
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadBody(
            "bad_encoding", f"the body is not UTF-8: byte {exc.start} is 0x{body[exc.start]:02x}"
        ) from None
    try:
        members = msgspec.json.decode(body, type=dict[str, msgspec.Raw])
    except msgspec.ValidationError:
        raise BadBody(
            "bad_json", 'the body must be a JSON object such as {"notch_hz": 60}'
        ) from None
    except msgspec.DecodeError as exc:
        raise BadBody("bad_json", f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadBody("bad_json", "the body is not valid JSON: nested too deeply") from None
    changes: dict[str, Any] = {}
    for key, raw in members.items():
        shown = key if len(key) <= _SHOWN_KEY else key[: _SHOWN_KEY - 3] + "..."
        try:
            value = msgspec.json.decode(raw)
        except (msgspec.DecodeError, RecursionError, ValueError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise BadBody("bad_field", f"{shown}: the value cannot be used: {reason}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise BadBody("bad_field", f"{shown}: {value} is not a finite number")
        changes[key] = value
    return changes
