"""The C allocator's handling of the large, short-lived arrays nbd makes block by block.

Every block of every source passes through arrays of 0.25-1 MB (samples, filtered samples, slopes) that live for
microseconds. glibc's malloc returns such memory to the system as soon as it is freed (mmap'd chunks are unmapped; the
top of the heap is trimmed once 128 KB are free), so the next block's array faults its pages in again: on a 3-minute
12-mic session the kernel spent 1.0 of 2.5 s of detection doing that, and 2.2 s of system time in a whole run.
Letting malloc keep up to 64 MB of freed memory for reuse removes it.
"""
from __future__ import annotations

import ctypes
import sys

__all__ = ["reuse_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done: bool | None = None


def reuse_freed_memory() -> bool:
    """Ask glibc's malloc to serve arrays up to 32 MB from its heap and to keep up to 64 MB of freed memory for reuse
    (process-wide; the first call does it). Returns whether the allocator took the settings (False on systems
    without glibc, where nothing changes)."""
    global _done
    if _done is None:
        _done = False
        if sys.platform.startswith("linux"):
            try:
                mallopt = ctypes.CDLL(None).mallopt
            except (OSError, AttributeError):
                return False
            mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            _done = bool(mallopt(_M_MMAP_THRESHOLD, 32 << 20)) and bool(mallopt(_M_TRIM_THRESHOLD, 64 << 20))
    return _done
