"""Stand-in for ``gpiod.line`` (libgpiod v2): the enums a line's settings use."""

from __future__ import annotations

import enum


class Direction(enum.Enum):
    """Line direction."""

    AS_IS = 1
    INPUT = 2
    OUTPUT = 3


class Value(enum.Enum):
    """Logical line value."""

    INACTIVE = 0
    ACTIVE = 1


class Edge(enum.Enum):
    """Edge detection."""

    NONE = 1
    RISING = 2
    FALLING = 3
    BOTH = 4


class Bias(enum.Enum):
    """Internal bias."""

    AS_IS = 1
    UNKNOWN = 2
    DISABLED = 3
    PULL_UP = 4
    PULL_DOWN = 5
