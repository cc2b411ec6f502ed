"""Ctrl-C that stops training between two steps instead of inside one.

:func:`graceful_interrupt` replaces Python's SIGINT handler while a training
loop runs: the first Ctrl-C only sets :attr:`Interrupt.requested`, which the
loops of :mod:`skmlp._training` check between mini-batches (and L-BFGS
iterations); a second one raises :class:`KeyboardInterrupt` at once, as
Python's own handler would. The previous handler is restored on exit.

It acts only in the main thread, and only where Ctrl-C would raise
``KeyboardInterrupt`` anyway (SIGINT has Python's default handler): an ignored
SIGINT (a shell's background jobs) or a handler of the application's
own is left alone, and there the loops keep their plain behaviour.
"""

import math
import signal
import threading
import time
from contextlib import contextmanager

try:
    # the C functions themselves: the signal module's wrappers of getsignal and
    # signal convert to and from its enums, which takes ~20 us per fit
    import _signal as _handlers
except ImportError:  # not CPython
    _handlers = signal

#: Seconds after a graceful stop during which the next Ctrl-C, even in another
#: fit, interrupts at once: a search (GridSearchCV) runs fit after fit, and a
#: user pressing Ctrl-C twice means to stop all of it, not one fit per press.
REPEAT_SECONDS = 3.0

_last_request = -math.inf  # time.monotonic() of the last graceful stop request


class Interrupt:
    """A stop request from Ctrl-C, read by the training loops.

    Attributes
    ----------
    requested : bool
        Whether Ctrl-C was pressed: stop at the end of the current step.
    rows : int or None
        Set by :func:`skmlp._training.run_epoch` when it stopped an epoch
        early: how many of its rows the completed mini-batches covered.
    """

    def __init__(self):
        self.requested = False
        self.rows = None

    def _handle(self, signum, frame):
        global _last_request
        now = time.monotonic()
        if self.requested or now - _last_request < REPEAT_SECONDS:
            raise KeyboardInterrupt
        self.requested = True
        _last_request = now


@contextmanager
def graceful_interrupt():
    """Within the block, the first Ctrl-C requests a stop between steps.

    Yields
    ------
    interrupt : Interrupt or None
        The request to check, or None where the handler was not replaced (not
        the main thread, or SIGINT not handled by Python's default handler).
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or _handlers.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield None
        return
    interrupt = Interrupt()
    try:
        previous = _handlers.signal(signal.SIGINT, interrupt._handle)
    except ValueError:  # not the main interpreter's main thread after all
        yield None
        return
    try:
        yield interrupt
    finally:
        _handlers.signal(signal.SIGINT, previous)
