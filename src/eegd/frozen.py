"""Frozen values for the bus: numpy arrays no subscriber can change, and equality for the
packets that hold them.

A packet's arrays are read-only views of a read-only base, so every subscriber can share
the very same array object and none can change it, not even by flipping the ``writeable``
flag back on (numpy refuses to make a view writeable over a read-only base).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["PacketEquality", "frozen_array"]


def frozen_array(values: npt.ArrayLike, dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    """Return a read-only, C-contiguous view of ``values`` as ``dtype``.

    An array that already owns its data with the right dtype and layout is taken over
    without a copy (the producer hands it to the bus); anything else is copied once.
    """
    wanted = np.dtype(dtype)
    if (
        isinstance(values, np.ndarray)
        and values.base is None
        and values.dtype == wanted
        and values.flags.c_contiguous
    ):
        base = values
    else:
        base = np.array(values, dtype=wanted, order="C")
    base.flags.writeable = False
    view = base.view()
    view.flags.writeable = False
    return view


class PacketEquality:
    """Field-by-field equality for dataclasses that hold numpy arrays."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            mine, theirs = getattr(self, field.name), getattr(other, field.name)
            if isinstance(mine, np.ndarray) or isinstance(theirs, np.ndarray):
                if not np.array_equal(mine, theirs):
                    return False
            elif mine != theirs:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]
