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
    """

    name = "sgd"

    def __init__(self, learning_rate_init, momentum=0.9, nesterov=True):
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.nesterov = nesterov

    def init_state(self, params: np.ndarray) -> OptimizerState:
        """Return a fresh state for ``params``."""
        arrays = {"velocity": np.zeros_like(params)}
        if self.nesterov:
            arrays["scratch"] = np.empty_like(params)
        return OptimizerState(self.learning_rate_init, arrays)

    def step(self, params, grad, state: OptimizerState) -> None:
        """Update ``params`` in place; ``grad`` is used as scratch space."""
        state.t += 1
        velocity = state.arrays["velocity"]
        grad *= state.learning_rate
        velocity *= self.momentum
        velocity -= grad
        if self.nesterov:
            update = np.multiply(velocity, self.momentum, out=state.arrays["scratch"])
            update -= grad
            params += update
        else:
            params += velocity


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

    def step(self, params, grad, state: OptimizerState) -> None:
        """Update ``params`` in place; ``grad`` is used as scratch space."""
        state.t += 1
        m, v, scratch = state.arrays["m"], state.arrays["v"], state.arrays["scratch"]
        b1, b2 = self.beta_1, self.beta_2
        m *= b1
        m += np.multiply(grad, 1 - b1, out=scratch)
        v *= b2
        grad *= grad
        grad *= 1 - b2
        v += grad
        lr = state.learning_rate * math.sqrt(1 - b2**state.t) / (1 - b1**state.t)
        np.sqrt(v, out=scratch)
        scratch += self.epsilon
        np.divide(m, scratch, out=scratch)
        scratch *= -lr
        params += scratch
