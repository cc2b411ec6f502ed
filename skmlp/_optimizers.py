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
from dataclasses import dataclass, field, fields

import numpy as np

from skmlp import _aligned
from skmlp._blocked import block_scratch, blocks, fold_l2
from skmlp._registry import Registry, build


@dataclass(eq=False)
class OptimizerState:
    """Mutable state of one optimizer run.

    Parameters
    ----------
    learning_rate : float
        Current learning rate (schedules change it).
    arrays : dict of str to ndarray
        Per-parameter state vectors (the rule's ``state_names``, e.g. velocity
        or moment estimates) and one block of ``"scratch"``.
    lr_scale : float, default=1.0
        Warm-up factor, applied on top of the schedule.
    t : int, default=0
        Steps taken.
    weights_sq : float, default=nan
        ``||w||^2`` of the weights the last step folded an L2 gradient for,
        before that step: the penalty's value, without a pass of its own.
    key : tuple or None, default=None
        The settings the state was made for; a fit whose settings differ
        starts a fresh state (see :meth:`_Optimizer.state_key`).
    schedule : str or None, default=None
        Name of the learning-rate schedule it last ran under.
    extras : dict of str to float
        Scalars of a rule's own (NAG's ``t_k``).
    """

    learning_rate: float
    arrays: dict
    lr_scale: float = 1.0
    t: int = 0
    weights_sq: float = math.nan
    key: tuple | None = None
    schedule: str | None = None
    extras: dict = field(default_factory=dict)

    def __post_init__(self):
        self.learning_rate = float(self.learning_rate)

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

    def to_dict(self) -> dict:
        """The state as builtins and arrays, for pickle and skops.

        Every field by name; ``arrays`` and ``extras`` are new dicts (the
        arrays themselves are not copied), and ``key`` is a tuple of builtins
        whose dtype is a string already (see :meth:`_Optimizer.state_key`).
        Nothing in it is a type that ``skops.io`` would have to be told to
        trust. The ``"scratch"`` block, whose contents no step reads before
        writing them, is described by its length and dtype instead (for a
        network of up to 32k float64 parameters it is as large as the
        parameters).
        """
        state = {f.name: getattr(self, f.name) for f in fields(self)}
        state["arrays"] = dict(self.arrays)
        state["extras"] = dict(self.extras)
        scratch = state["arrays"].pop("scratch", None)
        if scratch is not None:
            state["scratch"] = (scratch.size, scratch.dtype.str)
        return state

    @classmethod
    def from_dict(cls, state: dict) -> "OptimizerState":
        """The state :meth:`to_dict` described, its arrays aligned again.

        Unpickling (or loading with skops) allocates arrays with NumPy's own
        16-byte alignment; they are moved to aligned memory here, as
        :meth:`copy` does.
        """
        state = dict(state)
        scratch = state.pop("scratch", None)
        new = cls(**state)
        new.extras = dict(new.extras)
        new.realign()
        if scratch is not None:
            new.arrays["scratch"] = _aligned.empty(*scratch)
        return new


def _axpy(x: np.ndarray, y: np.ndarray, a: float, scratch: np.ndarray) -> None:
    """``y += a * x`` in place, through ``scratch``.

    NumPy ufuncs rather than BLAS ``axpy``: multi-threaded OpenBLAS level-1
    calls were up to 3x slower than two ufunc passes on a busy 2-core machine.
    """
    np.multiply(x, a, out=scratch)
    y += scratch


class _Optimizer:
    """Interface shared by the update rules.

    A rule declares its ``name`` (the ``solver`` parameter), the estimator
    parameters it is built from (``hyperparameters``: constructor argument ->
    estimator parameter), the per-parameter vectors it keeps
    (``state_names``), and implements ``_constants`` (the step's scalars) and
    ``_update`` (the update of one block). Registering the class in
    :data:`SOLVERS` makes it a solver of both estimators.
    """

    name = ""
    stochastic = True
    hyperparameters: dict = {"learning_rate_init": "learning_rate_init"}
    state_names: tuple = ()
    #: Estimator parameters whose change between warm fits starts a fresh
    #: state (the moments of other settings would not fit).
    state_key_params: tuple = ("learning_rate_init",)

    #: Whether :meth:`step` can add the L2 gradient itself. Only where the
    #: gradient is taken at ``params`` (not at a look-ahead point).
    fuses_l2 = True

    @classmethod
    def from_params(cls, params: dict, layout):
        """The rule with the settings of the estimator parameters ``params``."""
        return build(cls, params)

    @classmethod
    def state_key(cls, params: dict, flat: np.ndarray) -> tuple:
        """What a kept state must have been made for, to be continued from."""
        settings = tuple(params[name] for name in cls.state_key_params)
        return (cls.name, *settings, flat.shape, flat.dtype.str)

    def init_state(self, params: np.ndarray) -> OptimizerState:
        """Return a fresh state for ``params``: zeroed ``state_names`` vectors."""
        arrays = {name: _aligned.zeros_like(params) for name in self.state_names}
        arrays["scratch"] = block_scratch(params)
        return OptimizerState(self.learning_rate_init, arrays)

    def lookahead(self, params: np.ndarray, state: OptimizerState) -> np.ndarray:
        """The point where the next gradient is evaluated (``params`` itself here)."""
        return params

    #: Whether the decayed entries shrink before each update (see :meth:`_decay`).
    decays = False

    def _decay(self, state: OptimizerState):
        """Factor that shrinks the decayed entries before each update, or None."""
        return None

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
        decay = self._decay(state) if self.decays else None
        arrays = [state.arrays[name] for name in self.state_names]
        tmp = state.arrays["scratch"]
        if params.size <= tmp.size:  # one block (small networks): no slicing
            sq = fold_l2(grad, params, l2, n_l2, slice(0, params.size), tmp, True)
            if decay is not None:
                params[: self.n_decayed] *= decay
            self._update(params, grad, arrays, tmp[: params.size], *consts)
        else:
            sq = 0.0
            for block in blocks(params.size, tmp.size):
                g, p = grad[block], params[block]
                scratch = tmp[: block.stop - block.start]
                sq += fold_l2(g, p, l2, n_l2, block, scratch, norm=True)
                if decay is not None:
                    k = min(block.stop, self.n_decayed) - block.start
                    if k > 0:
                        p[:k] *= decay
                self._update(p, g, [a[block] for a in arrays], scratch, *consts)
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
    hyperparameters = {
        "learning_rate_init": "learning_rate_init",
        "momentum": "momentum",
        "nesterov": "nesterovs_momentum",
    }
    state_names = ("velocity",)

    def __init__(self, learning_rate_init, momentum=0.9, nesterov=True):
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.nesterov = nesterov

    def _constants(self, state):
        return state.step_size, self.momentum, self.nesterov

    @staticmethod
    def _update(p, g, arrays, scratch, lr, mu, nesterov):
        (velocity,) = arrays
        g *= lr
        velocity *= mu
        velocity -= g  # v <- mu v - lr g
        if nesterov:
            p -= g
            _axpy(velocity, p, mu, scratch)  # w <- w + mu v - lr g
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
    hyperparameters = {
        "learning_rate_init": "learning_rate_init",
        "beta_1": "beta_1",
        "beta_2": "beta_2",
        "epsilon": "epsilon",
    }
    state_names = ("m", "v")
    state_key_params = ("learning_rate_init", "beta_1", "beta_2")

    def __init__(self, learning_rate_init, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.learning_rate_init = learning_rate_init
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _constants(self, state):
        b1, b2, t = self.beta_1, self.beta_2, state.t
        root_c2 = math.sqrt(1 - b2)
        lr = state.step_size * math.sqrt(1 - b2**t) / (1 - b1**t)
        return b1, b2, self.epsilon / root_c2, -lr * (1 - b1) / root_c2

    @staticmethod
    def _update(p, g, arrays, scratch, b1, b2, eps, step):
        m, v = arrays
        np.multiply(g, g, out=scratch)
        v *= b2
        v += scratch  # v / (1 - b2)
        m *= b1
        m += g  # m / (1 - b1)
        denom = np.sqrt(v, out=scratch)
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
    hyperparameters = {**Adam.hyperparameters, "weight_decay": "weight_decay"}
    decays = True

    def __init__(
        self, learning_rate_init, beta_1, beta_2, epsilon, weight_decay, n_decayed=0
    ):
        super().__init__(learning_rate_init, beta_1, beta_2, epsilon)
        self.weight_decay = weight_decay
        self.n_decayed = n_decayed

    @classmethod
    def from_params(cls, params, layout):
        """The rule for ``params``, decaying the layout's penalised entries."""
        opt = build(cls, params)
        opt.n_decayed = layout.n_decayed
        return opt

    def _decay(self, state):
        """``1 - eta lambda``: the weights shrink before the Adam update.

        The L2 gradient (when folded in) is taken at the weights before their
        decay.
        """
        return 1 - state.step_size * self.weight_decay if self.weight_decay else None


class RMSprop(_Optimizer):
    """RMSprop (Tieleman & Hinton).

    Notes
    -----
    ``v <- rho v + (1 - rho) g^2``, ``w <- w - eta g / (sqrt(v) + eps)``.
    """

    name = "rmsprop"
    hyperparameters = {
        "learning_rate_init": "learning_rate_init",
        "rho": "rho",
        "epsilon": "epsilon",
    }
    state_names = ("v",)

    def __init__(self, learning_rate_init, rho=0.9, epsilon=1e-8):
        self.learning_rate_init = learning_rate_init
        self.rho = rho
        self.epsilon = epsilon

    def _constants(self, state):
        return self.rho, state.step_size, self.epsilon

    @staticmethod
    def _update(p, g, arrays, scratch, rho, lr, eps):
        (v,) = arrays
        np.multiply(g, g, out=scratch)
        scratch *= 1 - rho
        v *= rho
        v += scratch
        _scaled_step(p, g, v, scratch, lr, eps)


class Adagrad(_Optimizer):
    """Adagrad (Duchi et al.).

    Notes
    -----
    ``G <- G + g^2``, ``w <- w - eta g / (sqrt(G) + eps)``.
    """

    name = "adagrad"
    hyperparameters = {"learning_rate_init": "learning_rate_init", "epsilon": "epsilon"}
    state_names = ("G",)

    def __init__(self, learning_rate_init, epsilon=1e-8):
        self.learning_rate_init = learning_rate_init
        self.epsilon = epsilon

    def _constants(self, state):
        return state.step_size, self.epsilon

    @staticmethod
    def _update(p, g, arrays, scratch, lr, eps):
        (G,) = arrays
        np.multiply(g, g, out=scratch)
        G += scratch
        _scaled_step(p, g, G, scratch, lr, eps)


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
        """Return a fresh state: ``x_{k-1}``, a look-ahead buffer and ``t_1 = 1``."""
        arrays = {"x_prev": _aligned.copy(params), "y": _aligned.empty_like(params)}
        # t_k for the k steps taken so far (t_1 = 1)
        return OptimizerState(self.learning_rate_init, arrays, extras={"t": 1.0})

    def momentum(self, state) -> float:
        """``(t_k - 1) / t_{k+1}`` for the next look-ahead (0 before two steps)."""
        if state.t == 0:
            return 0.0
        t = state.extras["t"]
        return (t - 1) / self.next_t(t)

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
            state.extras["t"] = self.next_t(state.extras["t"])
        np.copyto(state.arrays["x_prev"], params)
        if y is not params:
            np.copyto(params, y)
        _axpy(grad, params, -state.step_size, grad)
        state.t += 1
        return grad


class LBFGS:
    """SciPy's full-batch L-BFGS-B (see :func:`skmlp._training.fit_lbfgs`)."""

    name = "lbfgs"
    stochastic = False


#: Solvers by name (the ``solver`` parameter): the stochastic update rules,
#: and L-BFGS.
SOLVERS = Registry("solver")
for _cls in (LBFGS, SGD, Adam, NAG, RMSprop, Adagrad, AdamW):
    SOLVERS.register(_cls.name, _cls)

#: The stochastic solvers at import (see :func:`is_stochastic` for the live test).
STOCHASTIC_SOLVERS = tuple(name for name, cls in SOLVERS.items() if cls.stochastic)


def is_stochastic(solver: str) -> bool:
    """Whether ``solver`` names a mini-batch update rule (not L-BFGS)."""
    return SOLVERS.resolve(solver).stochastic


def make_optimizer(params: dict, layout):
    """The update rule of ``params["solver"]``, with the estimator's settings."""
    return SOLVERS.resolve(params["solver"]).from_params(params, layout)
