"""Rules the test suite keeps about itself (design §12, "Tests and time").

No test sleeps to synchronise: it waits for an event, a counter or a frame, or moves a fake
clock. The one sleep allowed is the poll inside ``tests/support/waiting.py``. No test skips
for a missing dependency: the dev extra has them all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
#: The polling helper, the only place a test may sleep for real time.
ALLOWED = {TESTS / "support" / "waiting.py"}


def real_sleeps(tree: ast.AST) -> list[int]:
    """Lines that call ``asyncio.sleep``/``time.sleep`` (or a bare imported ``sleep``) with a
    non-zero number literal."""
    bare = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module in ("asyncio", "time")
        for alias in node.names
        if alias.name == "sleep"
    }
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        qualified = (
            isinstance(func, ast.Attribute)
            and func.attr == "sleep"
            and isinstance(func.value, ast.Name)
            and func.value.id in ("asyncio", "time")
        )
        if not (qualified or (isinstance(func, ast.Name) and func.id in bare)):
            continue
        arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
        if any(is_nonzero_number(argument) for argument in arguments[:1]):
            lines.append(node.lineno)
    return lines


def is_nonzero_number(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
        and node.value != 0
    )


def test_no_test_sleeps_for_real_time() -> None:
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{line}"
        for path in sorted(TESTS.rglob("*.py"))
        if path not in ALLOWED
        for line in real_sleeps(ast.parse(path.read_text(), filename=str(path)))
    ]
    assert offenders == [], "tests sleep instead of waiting for an event"


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("import asyncio\nasync def f():\n    await asyncio.sleep(0.5)\n", [3]),
        ("import time\ntime.sleep(2)\n", [2]),
        ("from asyncio import sleep\nasync def f():\n    await sleep(delay=1)\n", [3]),
        ("import asyncio\nasync def f():\n    await asyncio.sleep(0)\n", []),
        ("import time\ntime.sleep(0.0)\n", []),
        ("class Clock:\n    async def sleep(self, s):\n        await self.sleep(5)\n", []),
    ],
)
def test_the_rule_sees_literal_sleeps_and_only_those(source: str, found: list[int]) -> None:
    assert real_sleeps(ast.parse(source)) == found


def test_no_test_skips_for_a_missing_dependency() -> None:
    """Every test dependency is in the dev extra, which ``make test`` installs: a missing
    module is an error to see, never a test quietly not run (``pytest.importorskip``)."""
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{node.lineno}"
        for path in sorted(TESTS.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.Attribute) and node.attr == "importorskip"
    ]
    assert offenders == [], "tests skip where a dependency should be installed"
