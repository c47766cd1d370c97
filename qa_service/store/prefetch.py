"""Reading scattered rows of memory-mapped vectors all at once.

A question's candidates on a large knowledge base are a few hundred chunks scattered over
segments larger than the page cache. Touched one after another, each waits for its own
disk read; `will_need` first tells the kernel every page they lie on (`madvise`,
`MADV_WILLNEED`), so the reads are queued together and mostly done by the time the rows
are copied. The approximate index's inverted lists a question reads are asked for the
same way (`will_need_bytes`). On a system without `madvise` it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["will_need", "will_need_bytes"]

MADV_WILLNEED = 3  # Linux and the BSDs
PAGE = mmap.PAGESIZE


@cache
def _madvise() -> Any:
    """libc's `madvise`, or None where there is none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        function = libc.madvise
    except (OSError, AttributeError, TypeError):
        return None
    function.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    function.restype = ctypes.c_int
    return function


def will_need(array: npt.NDArray[Any], rows: npt.NDArray[np.int64]) -> int:
    """Ask for the pages holding `rows` of the C-contiguous 2-D `array` to be read now;
    returns how many page ranges were asked for (0 when `madvise` is missing)."""
    if (_madvise() is None or not len(rows) or array.ndim != 2
            or not array.flags.c_contiguous):
        return 0
    width = array.strides[0]
    base = array.ctypes.data
    starts = base + np.sort(rows).astype(np.int64) * width
    first = starts // PAGE
    last = (starts + width - 1) // PAGE
    # runs of pages: a row's pages, merged with the next row's when they touch
    breaks = np.flatnonzero(first[1:] > last[:-1] + 1) + 1
    begin = first[np.concatenate(([0], breaks))]
    end = last[np.concatenate((breaks - 1, [len(last) - 1]))]
    return will_need_bytes([(low * PAGE, (high - low + 1) * PAGE)
                            for low, high in zip(begin.tolist(), end.tolist(), strict=True)])


def will_need_bytes(spans: list[tuple[int, int]]) -> int:
    """Ask for the pages of each (address, length) of memory to be read now; returns how
    many were asked for (0 when `madvise` is missing)."""
    madvise = _madvise()
    if madvise is None:
        return 0
    asked = 0
    for address, length in spans:
        if length > 0:
            low = address // PAGE
            high = (address + length - 1) // PAGE
            madvise(low * PAGE, (high - low + 1) * PAGE, MADV_WILLNEED)
            asked += 1
    return asked
