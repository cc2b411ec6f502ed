"""Stochastic update rules over flat parameter vectors.

An optimizer holds only its settings; the per-fit state (velocities, moments,
step count, current learning rate) lives in an :class:`OptimizerState` created
by :meth:`init_state` and kept by the estimator across ``warm_start`` fits and
``partial_fit`` calls. Every update is a handful of whole-vector in-place NumPy
operations, rounded exactly as scikit-learn's per-layer updates are.

Updates run block by block (:data:`skmlp._blocked.BLOCK_BYTES` of each array at
a time), so that the handful of passes an update makes over each block hit the
CPU cache instead of main memory, and the scratch space is one block, not one
parameter vector. An L2 penalty's gradient ``l2 * w`` can be folded into the
same pass, and its value measured on the way (see :meth:`_Optimizer.step`),
which saves four passes over the weights per step.
"""

import copy
import math

import numpy as np

from skmlp import _aligned
from skmlp._blocked import add_scaled, block_scratch, blocks, fold_l2


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
        # ||w||^2 of the weights the last step folded an L2 gradient for,
        # before that step: the penalty's value, without a pass of its own
        self.weights_sq = math.nan

    @property
    def step_size(self) -> float:
        """The learning rate in effect: schedule times warm-up factor."""
        return self.learning_rate * self.lr_scale

    def copy(self) -> "OptimizerState":
        """Deep copy, so that a failed fit cannot touch the stored state.

        The copied arrays are aligned as freshly created ones are (see
        :mod:`skmlp._aligned`); a plain deep copy would lose that.
        """
        new = copy.deepcopy(self)
        new.realign()
        return new

    def realign(self) -> None:
        """Move any state array that is not aligned to aligned memory."""
        self.arrays = {name: _aligned.ensure(a) for name, a in self.arrays.items()}


def _axpy(x: np.ndarray, y: np.ndarray, a: float, scratch: np.ndarray) -> None:
    """``y += a * x`` in place, through ``scratch``.

    NumPy ufuncs rather than BLAS ``axpy``: multi-threaded OpenBLAS level-1
    calls were up to 3x slower than two ufunc passes on a busy 2-core machine.
    """
    np.multiply(x, a, out=scratch)
    y += scratch


class _Optimizer:
    """Interface shared by the update rules."""

    #: Whether :meth:`step` can add the L2 gradient itself. Only where the
    #: gradient is taken at ``params`` (not at a look-ahead point).
    fuses_l2 = True

    def lookahead(self, params: np.ndarray, state: OptimizerState) -> np.ndarray:
        """The point where the next gradient is evaluated (``params`` itself here)."""
        return params

    def step(self, params, grad, state: OptimizerState, l2=0.0, n_l2=0):
        """Update ``params`` in place; return the buffer for the next gradient.

        Parameters
        ----------
        params : ndarray of shape (n_params,)
        grad : ndarray of shape (n_params,)
            Gradient at :meth:`lookahead`; used as scratch space.
        state : OptimizerState
        l2 : float, default=0.0
            When non-zero, ``l2 * params[:n_l2]`` is added to ``grad[:n_l2]``
            first, block by block (the L2 penalty's gradient, folded in).
        n_l2 : int, default=0
            Number of leading entries (the weights) that ``l2`` applies to.
            With ``l2``, ``state.weights_sq`` receives the sum of squares of
            ``params[:n_l2]`` before the update, summed block by block in the
            same pass (the training loop's L2 penalty value).
        """
        state.t += 1
        consts = self._constants(state)
        arrays = [state.arrays[name] for name in self.state_names]
        tmp = state.arrays["scratch"]
        if params.size <= tmp.size:  # one block (small networks): no slicing
            sq = fold_l2(grad, params, l2, n_l2, slice(0, params.size), tmp, True)
            self._update(params, grad, arrays, tmp[: params.size], *consts)
        else:
            sq = 0.0
            for block in blocks(params.size, tmp.size):
                g, p = grad[block], params[block]
                t = tmp[: block.stop - block.start]
                sq += fold_l2(g, p, l2, n_l2, block, t, norm=True)
                self._update(p, g, [a[block] for a in arrays], t, *consts)
        state.weights_sq = sq if l2 else math.nan
        return grad


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
    """

    name = "sgd"
    state_names = ("velocity",)

    def __init__(self, learning_rate_init, momentum=0.9, nesterov=True):
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.nesterov = nesterov

    def init_state(self, params: np.ndarray) -> OptimizerState:
        """Return a fresh state for ``params``."""
        arrays = {
            "velocity": _aligned.zeros_like(params),
            "scratch": block_scratch(params),
        }
        return OptimizerState(self.learning_rate_init, arrays)

    def _constants(self, state):
        return state.step_size, self.momentum, self.nesterov

    @staticmethod
    def _update(p, g, arrays, t, lr, mu, nesterov):
        (velocity,) = arrays
        g *= lr
        velocity *= mu
        velocity -= g  # v <- mu v - lr g
        if nesterov:
            p -= g
            _axpy(velocity, p, mu, t)  # w <- w + mu v - lr g
        else:
            p += velocity


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
    size and ``eps``. Ten in-place operations per block in all.
    """

    name = "adam"
    state_names = ("m", "v")

    def __init__(self, learning_rate_init, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.learning_rate_init = learning_rate_init
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def init_state(self, params: np.ndarray) -> OptimizerState:
        """Return a fresh state for ``params``."""
        arrays = {
            "m": _aligned.zeros_like(params),
            "v": _aligned.zeros_like(params),
            "scratch": block_scratch(params),
        }
        return OptimizerState(self.learning_rate_init, arrays)

    def _constants(self, state):
        b1, b2, t = self.beta_1, self.beta_2, state.t
        root_c2 = math.sqrt(1 - b2)
        lr = state.step_size * math.sqrt(1 - b2**t) / (1 - b1**t)
        return b1, b2, self.epsilon / root_c2, -lr * (1 - b1) / root_c2

    @staticmethod
    def _update(p, g, arrays, t, b1, b2, eps, step):
        m, v = arrays
        np.multiply(g, g, out=t)
        v *= b2
        v += t  # v / (1 - b2)
        m *= b1
        m += g  # m / (1 - b1)
        denom = np.sqrt(v, out=t)
        denom += eps
        np.divide(m, denom, out=denom)
        _axpy(denom, p, step, denom)


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

    def step(self, params, grad, state, l2=0.0, n_l2=0):
        """Decay the weights, take an Adam step; return the next gradient buffer.

        ``l2`` and ``n_l2`` are as in :meth:`Adam.step`; the L2 gradient is
        taken at the weights before their decay.
        """
        sq = math.nan
        if l2:
            sq = add_scaled(grad, params, l2, n_l2, state.arrays["scratch"], norm=True)
        if self.weight_decay:
            params[: self.n_decayed] *= 1 - state.step_size * self.weight_decay
        grad = super().step(params, grad, state)
        state.weights_sq = sq
        return grad


class RMSprop(_Optimizer):
    """RMSprop (Tieleman & Hinton).

    Notes
    -----
    ``v <- rho v + (1 - rho) g^2``, ``w <- w - eta g / (sqrt(v) + eps)``.
    """

    name = "rmsprop"
    state_names = ("v",)

    def __init__(self, learning_rate_init, rho=0.9, epsilon=1e-8):
        self.learning_rate_init = learning_rate_init
        self.rho = rho
        self.epsilon = epsilon

    def init_state(self, params):
        """Return a fresh state for ``params``."""
        arrays = {"v": _aligned.zeros_like(params), "scratch": block_scratch(params)}
        return OptimizerState(self.learning_rate_init, arrays)

    def _constants(self, state):
        return self.rho, state.step_size, self.epsilon

    @staticmethod
    def _update(p, g, arrays, t, rho, lr, eps):
        (v,) = arrays
        np.multiply(g, g, out=t)
        t *= 1 - rho
        v *= rho
        v += t
        _scaled_step(p, g, v, t, lr, eps)


class Adagrad(_Optimizer):
    """Adagrad (Duchi et al.).

    Notes
    -----
    ``G <- G + g^2``, ``w <- w - eta g / (sqrt(G) + eps)``.
    """

    name = "adagrad"
    state_names = ("G",)

    def __init__(self, learning_rate_init, epsilon=1e-8):
        self.learning_rate_init = learning_rate_init
        self.epsilon = epsilon

    def init_state(self, params):
        """Return a fresh state for ``params``."""
        arrays = {"G": _aligned.zeros_like(params), "scratch": block_scratch(params)}
        return OptimizerState(self.learning_rate_init, arrays)

    def _constants(self, state):
        return state.step_size, self.epsilon

    @staticmethod
    def _update(p, g, arrays, t, lr, eps):
        (G,) = arrays
        np.multiply(g, g, out=t)
        G += t
        _scaled_step(p, g, G, t, lr, eps)


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
    fuses_l2 = False  # its gradient is taken at the look-ahead point

    def __init__(self, learning_rate_init):
        self.learning_rate_init = learning_rate_init

    @staticmethod
    def next_t(t: float) -> float:
        """``t_{k+1}`` from ``t_k``."""
        return (1 + math.sqrt(1 + 4 * t * t)) / 2

    def init_state(self, params):
        """Return a fresh state for ``params``."""
        arrays = {"x_prev": _aligned.copy(params), "y": _aligned.empty_like(params)}
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

    def step(self, params, grad, state, l2=0.0, n_l2=0):
        """``x_{k+1} = y - eta g`` with ``g`` the gradient at :meth:`lookahead`.

        ``l2`` and ``n_l2`` are as in :meth:`_Optimizer.step`, the L2 gradient
        being taken at the look-ahead point ``y`` like the rest of ``g`` (the
        training loop leaves L2 to the network for NAG: see ``fuses_l2``).
        """
        y = self.lookahead(params, state)
        if l2:
            grad[:n_l2] += l2 * y[:n_l2]
        if state.t > 0:
            state.nag_t = self.next_t(state.nag_t)
        np.copyto(state.arrays["x_prev"], params)
        if y is not params:
            np.copyto(params, y)
        _axpy(grad, params, -state.step_size, grad)
        state.t += 1
        return grad
