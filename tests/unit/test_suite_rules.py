"""Rules the test suite keeps about itself (design §12, "Tests and time").

No test sleeps to synchronise: it waits for an event, a counter or a frame, or moves a fake
clock. The one sleep allowed is the poll inside ``tests/support/waiting.py``; elsewhere the
only real sleep is a single-step yield, ``asyncio.sleep(0)``. No test skips for a missing
dependency: the dev extra has them all.
"""

from __future__ import annotations

import ast
import functools
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
#: The polling helper, the only place a test may sleep for real time, and this module,
#: whose examples are sleeps the rule must find.
ALLOWED = {TESTS / "support" / "waiting.py", Path(__file__).resolve()}
#: Modules whose ``sleep`` waits for real time.
SLEEPING_MODULES = {"asyncio", "time"}
#: eegd's real clocks: the shared instances and the classes (whose instances sleep for real).
REAL_CLOCKS = {"SYSTEM_CLOCK", "SYSTEM_BLOCKING_CLOCK"}
REAL_CLOCK_CLASSES = {"SystemClock", "SystemBlockingClock"}


class _Names:
    """What the imports of one file bind: sleeping modules, bare sleeps, real clocks."""

    def __init__(self, tree: ast.AST) -> None:
        self.modules: set[str] = set()  # asyncio, time (as imported)
        self.sleeps: set[str] = set()  # from time import sleep
        self.clocks: set[str] = set()  # from eegd.clock import SYSTEM_CLOCK
        self.classes: set[str] = set()  # from eegd.clock import SystemClock
        self.clock_modules: set[str] = set()  # from eegd import clock; import eegd.clock as c
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    bound = alias.asname or alias.name
                    if alias.name in SLEEPING_MODULES:
                        self.modules.add(bound)
                    elif alias.name == "eegd.clock" and alias.asname:
                        self.clock_modules.add(alias.asname)
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    bound = alias.asname or alias.name
                    if node.module in SLEEPING_MODULES and alias.name == "sleep":
                        self.sleeps.add(bound)
                    elif node.module == "eegd.clock" and alias.name in REAL_CLOCKS:
                        self.clocks.add(bound)
                    elif node.module == "eegd.clock" and alias.name in REAL_CLOCK_CLASSES:
                        self.classes.add(bound)
                    elif node.module == "eegd" and alias.name == "clock":
                        self.clock_modules.add(bound)

    def is_real_clock(self, node: ast.expr) -> bool:
        """``SYSTEM_CLOCK``, ``SystemClock()``, ``clock.SYSTEM_CLOCK``, ``eegd.clock.…``."""
        if isinstance(node, ast.Call):
            node = node.func
            names, attributes = self.classes, REAL_CLOCK_CLASSES
        else:
            names, attributes = self.clocks, REAL_CLOCKS
        if isinstance(node, ast.Name):
            return node.id in names
        return (
            isinstance(node, ast.Attribute)
            and node.attr in attributes
            and (ast.unparse(node.value) in self.clock_modules | {"eegd.clock"})
        )

    def is_real_sleep(self, node: ast.expr) -> bool:
        """Whether ``node`` names a function that waits for real time."""
        if isinstance(node, ast.Name):
            return node.id in self.sleeps
        if not (isinstance(node, ast.Attribute) and node.attr == "sleep"):
            return False
        owner = node.value
        return (isinstance(owner, ast.Name) and owner.id in self.modules) or self.is_real_clock(
            owner
        )


def real_sleeps(tree: ast.AST) -> list[int]:
    """Lines that call or pass on a real sleep (``asyncio.sleep``, ``time.sleep``, a bare
    imported ``sleep``, the ``sleep`` of one of eegd's real clocks), whatever its argument,
    except a single-step yield: called with the literal 0 alone.

    Python a test writes out to run (an extension's module, a child's script) is a string
    here; it is read by the same rule, its lines counted from the string's first.
    """
    return sorted([*_sleeps_in(tree), *_sleeps_in_embedded_code(tree)])


def _sleeps_in_embedded_code(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "sleep" in node.value:
            try:
                embedded = ast.parse(textwrap.dedent(node.value))
            except SyntaxError:
                continue  # not Python: a message, TOML, JSON
            lines += [node.lineno + line - 1 for line in real_sleeps(embedded)]
    return lines


def _sleeps_in(tree: ast.AST) -> list[int]:
    names = _Names(tree)
    yields: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and is_single_step(node) and names.is_real_sleep(node.func):
            yields.add(id(node.func))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Name | ast.Attribute)
        and id(node) not in yields
        and names.is_real_sleep(node)
    ]


def is_single_step(call: ast.Call) -> bool:
    """``sleep(0)`` or ``sleep(delay=0)``: one turn of the loop or of the scheduler."""
    arguments = [*call.args, *(keyword.value for keyword in call.keywords)]
    return (
        len(arguments) == 1
        and isinstance(arguments[0], ast.Constant)
        and type(arguments[0].value) in (int, float)
        and arguments[0].value == 0
    )


@functools.cache
def suite_modules() -> tuple[tuple[Path, ast.Module], ...]:
    """Every module of the suite and its syntax tree, parsed once for all the rules."""
    return tuple(
        (path, ast.parse(path.read_text(), filename=str(path)))
        for path in sorted(TESTS.rglob("*.py"))
    )


def test_no_test_sleeps_for_real_time() -> None:
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{line}"
        for path, tree in suite_modules()
        if path not in ALLOWED
        for line in real_sleeps(tree)
    ]
    assert offenders == [], "tests sleep instead of waiting for an event"


#: An extension's module as a test writes it out: its sleep is on the string's 5th line.
EMBEDDED = 'CODE = """\nimport time\n\ndef read():\n    time.sleep(period)\n"""\n'


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("import asyncio\nasync def f():\n    await asyncio.sleep(0.5)\n", [3]),
        ("import time\ntime.sleep(2)\n", [2]),
        ("from asyncio import sleep\nasync def f():\n    await sleep(delay=1)\n", [3]),
        ("import asyncio\nasync def f(s):\n    await asyncio.sleep(s)\n", [3]),
        ("import time\ntime.sleep(max(0.0, due - time.monotonic()))\n", [2]),
        ("import time as t\nt.sleep(period)\n", [2]),
        ("from time import sleep as nap\nnap(x)\n", [2]),
        ("import time\nloop.run_in_executor(None, time.sleep, 1)\n", [2]),
        ("from eegd.clock import SYSTEM_BLOCKING_CLOCK as C\nC.sleep(due - C.monotonic())\n", [2]),
        (
            "from eegd.clock import SYSTEM_CLOCK\nasync def f(s):\n    await SYSTEM_CLOCK.sleep(s)",
            [3],
        ),
        (
            "from eegd.clock import SystemClock\nasync def f():\n    await SystemClock().sleep(1)",
            [3],
        ),
        ("from eegd import clock\nclock.SYSTEM_BLOCKING_CLOCK.sleep(1)\n", [2]),
        ("import eegd.clock\neegd.clock.SYSTEM_BLOCKING_CLOCK.sleep(1)\n", [2]),
        (EMBEDDED, [5]),
        ("import asyncio\nasync def f():\n    await asyncio.sleep(0)\n", []),
        ("import time\ntime.sleep(0.0)\n", []),
        (
            "from eegd.clock import SYSTEM_CLOCK\nasync def f():\n    await SYSTEM_CLOCK.sleep(0)",
            [],
        ),
        ("class Clock:\n    async def sleep(self, s):\n        await self.sleep(5)\n", []),
        ("async def f(clock, s):\n    await clock.sleep(s)\n", []),
        ("MESSAGE = 'the source may sleep(2) here'\n", []),
    ],
)
def test_the_rule_sees_every_real_sleep_but_a_single_step(source: str, found: list[int]) -> None:
    assert real_sleeps(ast.parse(source)) == found


def test_no_test_skips_for_a_missing_dependency() -> None:
    """Every test dependency is in the dev extra, which ``make test`` installs: a missing
    module is an error to see, never a test quietly not run (``pytest.importorskip``)."""
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{node.lineno}"
        for path, tree in suite_modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "importorskip"
    ]
    assert offenders == [], "tests skip where a dependency should be installed"


def test_browser_tests_run_on_the_session_loop_of_the_shared_browser() -> None:
    """A worker's browser tests share one chromium (``tests/browser/conftest.py``), which lives
    on the session's event loop: a browser test or fixture on another loop cannot use it."""
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{node.lineno}"
        for path, tree in suite_modules()
        if path.parent == TESTS / "browser"
        for node in ast.walk(tree)
        if isinstance(node, ast.keyword)
        and node.arg == "loop_scope"
        and not (isinstance(node.value, ast.Constant) and node.value.value == "session")
    ]
    assert offenders == [], 'browser tests and fixtures need loop_scope="session"'
