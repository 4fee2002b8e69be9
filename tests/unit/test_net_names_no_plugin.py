"""The network layer names no plugin's URL: control messages reach a plugin's route through
the command the route declares (``Route.command``), so a plugin may move its routes freely.

A rule over the source: every ``/api/...`` string in ``eegd.net`` (docstrings aside) is a
route of the server's own, from the role table, never one a plugin serves.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import eegd.net
from eegd.net.security.roles import SERVER_ROUTES

NET = Path(eegd.net.__file__).parent


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the nodes that are docstrings (a string statement of its own)."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }


def api_strings(source: str) -> Iterator[tuple[int, str]]:
    """Each string constant of ``source`` outside docstrings that holds ``/api/``."""
    tree = ast.parse(source)
    skipped = _docstrings(tree)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and "/api/" in node.value
            and id(node) not in skipped
        ):
            yield node.lineno, node.value


def test_the_rule_catches_a_plugin_url_in_code_but_not_in_a_docstring() -> None:
    source = (
        '"""Reads ``GET /api/recordings``."""\n'
        'def f(call):\n    """Calls POST /api/markers."""\n'
        '    return call("POST", "/api/recordings/current/stop")\n'
        'PATH = f"{BASE}/api/filter"\n'
    )
    assert sorted(api_strings(source)) == [(4, "/api/recordings/current/stop"), (5, "/api/filter")]


def test_net_names_only_the_servers_own_api_routes() -> None:
    own = {path for _method, path in SERVER_ROUTES}
    named = [
        f"{path.relative_to(NET)}:{line}: {text}"
        for path in sorted(NET.rglob("*.py"))
        for line, text in api_strings(path.read_text(encoding="utf-8"))
        if text not in own
    ]
    assert named == [], "eegd.net names a plugin's URL; declare a Route.command instead"
