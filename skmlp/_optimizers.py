"""Stochastic update rules over flat parameter vectors.

An optimizer holds only its settings; the per-fit state (velocities, moments,
step count, current learning rate) lives in an :class:`OptimizerState` created
by :meth:`init_state` and kept by the estimator across ``warm_start`` fits and
``partial_fit`` calls. Every update is a handful of whole-vector in-place NumPy
operations, rounded exactly as scikit-learn's per-layer updates are.
"""

import copy
import math

import numpy as np
from scipy.linalg.blas import get_blas_funcs


class OptimizerState:
    """Mutable state of one optimizer run.

    Parameters
    ----------
    learning_rate : float
        Current learning rate (schedules change it).
    arrays : dict of str to ndarray
        Per-parameter state vectors, e.g. velocity or moment estimates.
    """

    def __init__(self, learning_rate: float, arrays: dict):
        self.learning_rate = float(learning_rate)
        self.arrays = arrays
        self.t = 0

    def copy(self) -> "OptimizerState":
        """Deep copy, so that a failed fit cannot touch the stored state."""
        return copy.deepcopy(self)


def _blas(name: str, like: np.ndarray):
    """The BLAS level-1 routine ``name`` for ``like``'s dtype (fused, in place)."""
    return get_blas_funcs(name, (like,))


class SGD:
    """Stochastic gradient descent with (Nesterov) momentum.

    Parameters
    ----------
    learning_rate_init : float
    momentum : float
    nesterov : bool

    Notes
    -----
    ``v <- mu v - eta g``; then ``w <- w + v`` (classical momentum) or
    ``w <- w + mu v - eta g`` (Nesterov), as scikit-learn's ``SGDOptimizer``.
    Each step is three or four in-place BLAS ``axpy``/``scal`` calls.
    """

    name = "sgd"

    def __init__(self, learning_rate_init, momentum=0.9, nesterov=True):
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.nesterov = nesterov

    def init_state(self, params: np.ndarray) -> OptimizerState:
        """Return a fresh state for ``params``."""
        return OptimizerState(
            self.learning_rate_init, {"velocity": np.zeros_like(params)}
        )

    def step(self, params, grad, state: OptimizerState) -> np.ndarray:
        """Update ``params`` in place; return the buffer for the next gradient."""
        state.t += 1
        axpy, scal = _blas("axpy", params), _blas("scal", params)
        velocity, lr, mu = state.arrays["velocity"], state.learning_rate, self.momentum
        scal(mu, velocity)
        axpy(grad, velocity, a=-lr)  # v <- mu v - lr g
        if self.nesterov:
            axpy(grad, params, a=-lr)
            axpy(velocity, params, a=mu)  # w <- w + mu v - lr g
        else:
            axpy(velocity, params, a=1.0)
        return grad


class Adam:
    """Adam (Kingma & Ba), with scikit-learn's bias-corrected step size.

    Parameters
    ----------
    learning_rate_init : float
    beta_1, beta_2 : float
    epsilon : float

    Notes
    -----
    ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2``,
    ``w <- w - eta sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)``.

    The state keeps ``m / (1 - b1)`` and ``v / (1 - b2)`` so that each moment
    update is one fused ``axpy``; the constant factors are folded into the
    step size and ``eps``. The moments are rotated through the gradient buffer
    instead of copied: :meth:`step` returns the array to write the next
    gradient into. Seven whole-vector operations per step in all.
    """

    name = "adam"

    def __init__(self, learning_rate_init, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.learning_rate_init = learning_rate_init
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def init_state(self, params: np.ndarray) -> OptimizerState:
        """Return a fresh state for ``params``."""
        arrays = {
            "m": np.zeros_like(params),
            "v": np.zeros_like(params),
            "scratch": np.empty_like(params),
        }
        return OptimizerState(self.learning_rate_init, arrays)

    def step(self, params, grad, state: OptimizerState) -> np.ndarray:
        """Update ``params`` in place; return the buffer for the next gradient."""
        state.t += 1
        arrays = state.arrays
        m, v, sq = arrays["m"], arrays["v"], arrays["scratch"]
        b1, b2, t = self.beta_1, self.beta_2, state.t
        axpy = _blas("axpy", params)
        np.multiply(grad, grad, out=sq)
        new_v = axpy(v, sq, a=b2)  # in sq: b2 v + g^2
        new_m = axpy(m, grad, a=b1)  # in grad: b1 m + g
        root_c2 = math.sqrt(1 - b2)
        lr = state.learning_rate * math.sqrt(1 - b2**t) / (1 - b1**t)
        denom = np.sqrt(new_v, out=v)
        denom += self.epsilon / root_c2
        np.divide(new_m, denom, out=denom)
        axpy(denom, params, a=-lr * (1 - b1) / root_c2)
        arrays["m"], arrays["v"], arrays["scratch"] = new_m, new_v, denom
        return m
