"""How many BLAS threads a network's matrix products get.

Small products run faster on one thread: waking BLAS worker threads costs more
than it saves (see ``docs/performance.md``). Fits and predictions both decide
by the largest product of one step or row block.
"""

import contextlib
import functools

from threadpoolctl import ThreadpoolController

#: Largest matrix product (multiply-adds) still run on one BLAS thread. The
#: digits benchmark's 200 x 64 x 100 = 1.28M is below it (two threads gave the
#: same median fit time with twice the spread).
SINGLE_THREAD_MACS = 4_000_000


def blas_threads_for(macs: int):
    """A context that runs products of ``macs`` multiply-adds on one BLAS thread.

    Returns a limit of the BLAS libraries to one thread when ``macs`` is under
    :data:`SINGLE_THREAD_MACS`, else a no-op context (BLAS keeps its own
    threading).
    """
    if macs < SINGLE_THREAD_MACS:
        return blas_controller().limit(limits=1, user_api="blas")
    return contextlib.nullcontext()


@functools.lru_cache(maxsize=1)
def blas_controller() -> ThreadpoolController:
    """The process's BLAS and OpenMP libraries, found once.

    ``threadpoolctl.threadpool_limits`` scans the loaded libraries again on
    every call (about 1 ms and 400 KiB of temporaries); a kept controller
    limits them in 0.08 ms.
    """
    return ThreadpoolController()
