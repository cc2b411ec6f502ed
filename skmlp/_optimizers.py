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
        self.lr_scale = 1.0  # warm-up factor, applied on top of the schedule
        self.arrays = arrays
        self.t = 0

    @property
    def step_size(self) -> float:
        """The learning rate in effect: schedule times warm-up factor."""
        return self.learning_rate * self.lr_scale

    def copy(self) -> "OptimizerState":
        """Deep copy, so that a failed fit cannot touch the stored state."""
        return copy.deepcopy(self)


def _axpy(x: np.ndarray, y: np.ndarray, a: float, scratch: np.ndarray) -> None:
    """``y += a * x`` in place, through ``scratch``.

    NumPy ufuncs rather than BLAS ``axpy``: multi-threaded OpenBLAS level-1
    calls were up to 3x slower than two ufunc passes on a busy 2-core machine.
    """
    np.multiply(x, a, out=scratch)
    y += scratch


class _Optimizer:
    """Interface shared by the update rules."""

    def lookahead(self, params: np.ndarray, state: OptimizerState) -> np.ndarray:
        """The point where the next gradient is evaluated (``params`` itself here)."""
        return params


class SGD(_Optimizer):
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
    Each step is five or six whole-vector in-place operations.
    """

    name = "sgd"

    def __init__(self, learning_rate_init, momentum=0.9, nesterov=True):
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.nesterov = nesterov

    def init_state(self, params: np.ndarray) -> OptimizerState:
        """Return a fresh state for ``params``."""
        arrays = {"velocity": np.zeros_like(params), "scratch": np.empty_like(params)}
        return OptimizerState(self.learning_rate_init, arrays)

    def step(self, params, grad, state: OptimizerState) -> np.ndarray:
        """Update ``params`` in place; return the buffer for the next gradient."""
        state.t += 1
        velocity, lr, mu = state.arrays["velocity"], state.step_size, self.momentum
        scratch = state.arrays["scratch"]
        grad *= lr
        velocity *= mu
        velocity -= grad  # v <- mu v - lr g
        if self.nesterov:
            params -= grad
            _axpy(velocity, params, mu, scratch)  # w <- w + mu v - lr g
        else:
            params += velocity
        return grad


class Adam(_Optimizer):
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

    The state keeps ``m / (1 - b1)`` and ``v / (1 - b2)``, so that each moment
    update is a scale and an add; the constant factors are folded into the step
    size and ``eps``. Nine whole-vector in-place operations per step in all.
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
        np.multiply(grad, grad, out=sq)
        v *= b2
        v += sq  # v / (1 - b2)
        m *= b1
        m += grad  # m / (1 - b1)
        root_c2 = math.sqrt(1 - b2)
        lr = state.step_size * math.sqrt(1 - b2**t) / (1 - b1**t)
        denom = np.sqrt(v, out=sq)
        denom += self.epsilon / root_c2
        np.divide(m, denom, out=denom)
        _axpy(denom, params, -lr * (1 - b1) / root_c2, denom)
        return grad


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter).

    Parameters
    ----------
    learning_rate_init : float
    beta_1, beta_2 : float
    epsilon : float
    weight_decay : float
        Decay rate ``lambda``: before each Adam step, weights (not intercepts)
        shrink as ``w <- w - eta lambda w``.
    n_decayed : int
        Number of leading entries of the flat vector that are weights.
    """

    name = "adamw"

    def __init__(
        self, learning_rate_init, beta_1, beta_2, epsilon, weight_decay, n_decayed
    ):
        super().__init__(learning_rate_init, beta_1, beta_2, epsilon)
        self.weight_decay = weight_decay
        self.n_decayed = n_decayed

    def step(self, params, grad, state):
        """Decay the weights, take an Adam step; return the next gradient buffer."""
        if self.weight_decay:
            params[: self.n_decayed] *= 1 - state.step_size * self.weight_decay
        return super().step(params, grad, state)


class RMSprop(_Optimizer):
    """RMSprop (Tieleman & Hinton).

    Notes
    -----
    ``v <- rho v + (1 - rho) g^2``, ``w <- w - eta g / (sqrt(v) + eps)``.
    """

    name = "rmsprop"

    def __init__(self, learning_rate_init, rho=0.9, epsilon=1e-8):
        self.learning_rate_init = learning_rate_init
        self.rho = rho
        self.epsilon = epsilon

    def init_state(self, params):
        """Return a fresh state for ``params``."""
        arrays = {"v": np.zeros_like(params), "scratch": np.empty_like(params)}
        return OptimizerState(self.learning_rate_init, arrays)

    def step(self, params, grad, state):
        """Update ``params`` in place; ``grad`` is used as scratch space."""
        state.t += 1
        v, sq = state.arrays["v"], state.arrays["scratch"]
        np.multiply(grad, grad, out=sq)
        sq *= 1 - self.rho
        v *= self.rho
        v += sq
        _scaled_step(params, grad, v, sq, state.step_size, self.epsilon)
        return grad


class Adagrad(_Optimizer):
    """Adagrad (Duchi et al.).

    Notes
    -----
    ``G <- G + g^2``, ``w <- w - eta g / (sqrt(G) + eps)``.
    """

    name = "adagrad"

    def __init__(self, learning_rate_init, epsilon=1e-8):
        self.learning_rate_init = learning_rate_init
        self.epsilon = epsilon

    def init_state(self, params):
        """Return a fresh state for ``params``."""
        arrays = {"G": np.zeros_like(params), "scratch": np.empty_like(params)}
        return OptimizerState(self.learning_rate_init, arrays)

    def step(self, params, grad, state):
        """Update ``params`` in place; ``grad`` is used as scratch space."""
        state.t += 1
        G, sq = state.arrays["G"], state.arrays["scratch"]
        np.multiply(grad, grad, out=sq)
        G += sq
        _scaled_step(params, grad, G, sq, state.step_size, self.epsilon)
        return grad


def _scaled_step(params, grad, second_moment, scratch, lr, epsilon):
    """``params -= lr * grad / (sqrt(second_moment) + epsilon)``, in place."""
    denom = np.sqrt(second_moment, out=scratch)
    denom += epsilon
    grad /= denom
    _axpy(grad, params, -lr, grad)


class NAG(_Optimizer):
    """Nesterov's accelerated gradient, with the gradient at the look-ahead point.

    Notes
    -----
    With ``x_0`` the initial weights, ``y_1 = x_0`` and ``t_1 = 1``:

    - ``x_k = y_k - eta grad f(y_k)``
    - ``t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2``
    - ``y_{k+1} = x_k + (t_k - 1) / t_{k+1} (x_k - x_{k-1})``

    The estimator's weights are the iterates ``x_k``; :meth:`lookahead` returns
    ``y_{k+1}``, where the training loop evaluates the next gradient. (Evaluating
    it at ``x_k`` instead is the classic mistake that turns NAG into heavy-ball
    momentum.) The mini-batch losses behind ``loss_curve_`` are therefore
    measured at the look-ahead points, before each step, as scikit-learn
    measures them before each update.
    """

    name = "nag"

    def __init__(self, learning_rate_init):
        self.learning_rate_init = learning_rate_init

    @staticmethod
    def next_t(t: float) -> float:
        """``t_{k+1}`` from ``t_k``."""
        return (1 + math.sqrt(1 + 4 * t * t)) / 2

    def init_state(self, params):
        """Return a fresh state for ``params``."""
        arrays = {"x_prev": params.copy(), "y": np.empty_like(params)}
        state = OptimizerState(self.learning_rate_init, arrays)
        state.nag_t = 1.0  # t_k for the k steps taken so far (t_1 = 1)
        return state

    def momentum(self, state) -> float:
        """``(t_k - 1) / t_{k+1}`` for the next look-ahead (0 before two steps)."""
        if state.t == 0:
            return 0.0
        return (state.nag_t - 1) / self.next_t(state.nag_t)

    def lookahead(self, params, state):
        """``y = x_k + mu (x_k - x_{k-1})``; ``params`` itself while ``mu = 0``."""
        mu = self.momentum(state)
        if mu == 0.0:
            return params
        y = np.subtract(params, state.arrays["x_prev"], out=state.arrays["y"])
        y *= mu
        y += params
        return y

    def step(self, params, grad, state):
        """``x_{k+1} = y - eta g`` with ``g`` the gradient at :meth:`lookahead`."""
        y = self.lookahead(params, state)
        if state.t > 0:
            state.nag_t = self.next_t(state.nag_t)
        np.copyto(state.arrays["x_prev"], params)
        if y is not params:
            np.copyto(params, y)
        _axpy(grad, params, -state.step_size, grad)
        state.t += 1
        return grad
