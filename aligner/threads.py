"""Per-source work on every core: sources are independent, so each is read, analysed or rendered in its own thread.

libsndfile (through soundfile's cffi calls) and numpy release the GIL while they work, so threads use the cores.
Results come back in source order and do not depend on the number of threads.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

__all__ = ["map_in_threads", "locked", "blas_on_one_thread"]

T = TypeVar("T")
R = TypeVar("R")


def map_in_threads(fn: Callable[[T], R], items: Iterable[T], workers: int | None = None) -> list[R]:
    """``[fn(item) for item in items]``, run on up to ``workers`` threads (default: the machine's cores)."""
    items = list(items)
    workers = max(1, min(len(items), workers or os.cpu_count() or 1))
    if workers == 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def blas_on_one_thread():
    """A context in which numpy's matrix products (OpenBLAS, MKL) run on one thread each.

    nbd spreads its work over the cores itself (:func:`map_in_threads`); a BLAS that starts its own threads inside each
    of those fights them for the same cores (measured: a 3-minute 12-mic session took 7.4 s with OpenBLAS's threads,
    6.6 s without). One thread also keeps every float sum in one order, whatever the machine's core count.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def locked(callback: Callable[[int], None] | None) -> Callable[[int], None] | None:
    """A progress callback that threads may share."""
    if callback is None:
        return None
    lock = threading.Lock()

    def call(n: int) -> None:
        with lock:
            callback(n)

    return call
