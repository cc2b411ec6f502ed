"""How many BLAS threads a network's matrix products get.

Small products run faster on one thread: waking BLAS worker threads costs more
than it saves (see ``docs/performance.md``). Fits and predictions both decide
by the largest product of one step or row block.
"""

import contextlib
import functools
import os

from threadpoolctl import ThreadpoolController

#: Largest matrix product (multiply-adds) still run on one BLAS thread. The
#: digits benchmark's 200 x 64 x 100 = 1.28M is below it (two threads gave the
#: same median fit time with twice the spread).
SINGLE_THREAD_MACS = 4_000_000


#: Products below this many multiply-adds never need a limit: OpenBLAS runs a
#: GEMM on one thread up to 65536 x GEMM_MULTITHREAD_THRESHOLD (4) of them, and
#: the limit itself costs ~60 us, which a small prediction would notice.
UNTHREADED_MACS = 1 << 18

#: Environment variables that pin BLAS to one thread when set to 1 (loky sets
#: them in its workers: cpu_count // n_jobs threads each).
_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def blas_threads_for(macs: int, *, floor: int = 0):
    """A context that runs products of ``macs`` multiply-adds on one BLAS thread.

    Returns a limit of the BLAS libraries to one thread when ``macs`` is under
    :data:`SINGLE_THREAD_MACS` (and at least ``floor``), else a no-op context
    (BLAS keeps its own threading). Also a no-op where the environment
    already pins BLAS to one thread, as in joblib's worker processes.
    """
    if floor <= macs < SINGLE_THREAD_MACS and not _pinned_to_one_thread():
        return blas_controller().limit(limits=1, user_api="blas")
    return contextlib.nullcontext()


def single_thread_rows(largest_macs_per_row: int) -> int:
    """Most rows whose largest product stays under :data:`SINGLE_THREAD_MACS`."""
    return (SINGLE_THREAD_MACS - 1) // max(1, largest_macs_per_row)


@functools.lru_cache(maxsize=1)
def _pinned_to_one_thread() -> bool:
    """Whether the environment set BLAS's threads to 1 (read once)."""
    return any(os.environ.get(name) == "1" for name in _THREAD_VARIABLES)


@functools.lru_cache(maxsize=1)
def blas_controller() -> ThreadpoolController:
    """The process's BLAS and OpenMP libraries, found once, on first use.

    ``threadpoolctl.threadpool_limits`` scans the loaded libraries again on
    every call (about 1 ms and 400 KiB of temporaries); a kept controller
    limits them in well under a millisecond. Creating it takes ~50 ms (it
    resolves every loaded shared library), so it is made when a fit first
    needs it, not at import: a joblib worker, whose BLAS is pinned to one
    thread already, never makes one.
    """
    return ThreadpoolController()
