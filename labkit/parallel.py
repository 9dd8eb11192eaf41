"""Evaluate many candidates at once in worker processes, from a script or a notebook.

Searches (NEAT's population, a batch of architectures or hyper-parameter settings) spend their time
scoring candidates that do not depend on each other. :func:`map_parallel` scores them in ``n_jobs``
worker processes and returns the results in order. Two things make it work where a plain
``multiprocessing.Pool`` does not:

* a function defined in a notebook cell (or a lambda) travels to the workers: joblib's loky backend
  pickles it by value (cloudpickle), where ``multiprocessing`` on macOS and Windows fails with
  "Can't get attribute ... on <module '__main__'>";
* each worker uses ``threads`` torch and BLAS threads (default 1): two processes with two threads
  each on a 2-core laptop only make the threads wait for each other.

``n_jobs=1`` (the default) runs in this process, with no start-up cost: a pool pays off only when one
evaluation costs well over the few milliseconds it takes to send a candidate to a worker and back.
"""
from __future__ import annotations

import os
import sys
from typing import Callable, Iterable

from labkit.errors import check_int, fail


def map_parallel(fn: Callable, items: Iterable, n_jobs: int = 1, *, threads: int = 1) -> list:
    """``[fn(item) for item in items]``, computed in ``n_jobs`` processes (-1: one per CPU core).

    >>> map_parallel(lambda x: x * x, range(5))
    [0, 1, 4, 9, 16]
    >>> map_parallel(lambda x: x * x, range(5), n_jobs=2)
    [0, 1, 4, 9, 16]
    """
    if not callable(fn):
        raise fail("fn", "map_parallel", "a function of one item", fn)
    check_jobs(n_jobs, "map_parallel")
    check_int(threads, "threads", "map_parallel", low=1)
    items = list(items)
    jobs = min((os.cpu_count() or 1) if n_jobs == -1 else n_jobs, len(items))
    if jobs <= 1:
        return [fn(item) for item in items]
    from joblib import Parallel, delayed

    chunks = [items[i::jobs] for i in range(jobs)]              # one task per worker: a candidate each
    done = Parallel(n_jobs=jobs, backend="loky")(delayed(_run_chunk)(fn, chunk, threads) for chunk in chunks)
    out = [None] * len(items)
    for i, results in enumerate(done):                          # undo the round-robin split
        out[i::jobs] = results
    return out


def check_jobs(n_jobs, owner: str) -> int:
    """Raise unless ``n_jobs`` is an int >= 1 or -1 (one process per CPU core).

    >>> check_jobs(-1, "map_parallel")
    -1
    """
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or not (n_jobs >= 1 or n_jobs == -1):
        raise fail("n_jobs", owner, "an int >= 1, or -1 for one process per CPU core", n_jobs)
    return n_jobs


def _run_chunk(fn: Callable, chunk: list, threads: int) -> list:
    """In a worker: limit torch's and BLAS's threads, then score the chunk."""
    from threadpoolctl import threadpool_limits

    if "torch" in sys.modules:                                  # only if the work uses torch at all
        sys.modules["torch"].set_num_threads(threads)
    with threadpool_limits(threads):
        return [fn(item) for item in chunk]
