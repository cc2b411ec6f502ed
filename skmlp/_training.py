"""Training loops: mini-batch stochastic optimisation and L-BFGS.

The loops work on a :class:`FitState` that the estimator hands over (a fresh
one, or a deep copy of the one it keeps for ``warm_start``/``partial_fit``) and
returns it; the estimator publishes fitted attributes only after a loop has
returned, so a failed fit never leaves half-updated attributes behind. Nothing
here knows whether it trains a classifier or a regressor.
"""

import copy
import dataclasses
import math
import warnings
from dataclasses import dataclass, field, fields

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from skmlp import _aligned
from skmlp._objective import Objective
from skmlp._optimizers import OptimizerState
from skmlp._schedules import warmup_factor

DIVERGENCE_MESSAGE = (
    "Solver produced non-finite parameter weights. The input data may contain "
    "large values and need to be preprocessed."
)


class DivergenceError(ValueError):
    """Training produced a non-finite loss or non-finite weights."""


def divergence_hint(epoch: int | None, loss: float) -> str:
    """scikit-learn's message plus what most likely went wrong."""
    where = f" Training diverged at epoch {epoch}" if epoch else " Training diverged"
    return (
        f"{DIVERGENCE_MESSAGE}{where} (loss = {loss}). Likely causes: a "
        "learning_rate_init that is too large, or unscaled features (try "
        "sklearn.preprocessing.StandardScaler). The previously fitted model, if "
        "any, was left unchanged."
    )


@dataclass
class FitState:
    """Everything a fit continues from: parameters, optimizer and bookkeeping."""

    params: np.ndarray
    rng: np.random.RandomState
    optimizer_state: object = None
    #: non-trainable arrays of the layers (none yet), by name
    buffers: dict = field(default_factory=dict)
    sample_idx: np.ndarray | None = None
    t: int = 0
    epochs: int = 0  # epochs over all calls, for the closed-form schedules
    n_iter: int = 0
    loss: float | None = None
    loss_curve: list = field(default_factory=list)
    best_loss: float | None = np.inf
    no_improvement_count: int = 0
    validation_scores: list | None = None
    validation_losses: list | None = None
    best_validation_score: float | None = None
    best_validation_loss: float | None = None
    best_params: np.ndarray | None = None
    best_buffers: dict | None = None

    def copy(self) -> "FitState":
        """Deep copy, so that training can fail without touching the original.

        Parameters and optimizer state stay aligned (see :mod:`skmlp._aligned`).
        """
        new = copy.deepcopy(self)
        new.params = _aligned.ensure(new.params)
        if new.optimizer_state is not None:
            new.optimizer_state.realign()
        return new

    def to_dict(self) -> dict:
        """The state as builtins, arrays and dicts, for pickle and skops.

        Every field by name, so a field added later is carried too. The RNG
        becomes its ``get_state(legacy=False)`` dict, the optimizer state its
        :meth:`OptimizerState.to_dict <skmlp._optimizers.OptimizerState.to_dict>`;
        lists and dicts (``buffers``) are new containers, arrays are not
        copied. Nothing in it is a type that ``skops.io`` would have to be
        told to trust.
        """
        state = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list | dict):
                value = type(value)(value)
            state[f.name] = value
        state["rng"] = self.rng.get_state(legacy=False)
        if self.optimizer_state is not None:
            state["optimizer_state"] = self.optimizer_state.to_dict()
        return state

    @classmethod
    def from_dict(cls, state: dict) -> "FitState":
        """The state :meth:`to_dict` described, its arrays aligned again.

        Unpickled (or skops-loaded) arrays have NumPy's own 16-byte
        alignment; the parameters, the optimizer's arrays and the buffers
        move to aligned memory, as :meth:`copy` leaves them.
        """
        state = dict(state)
        rng = np.random.RandomState()
        rng.set_state(state["rng"])
        state["rng"] = rng
        if state.get("optimizer_state") is not None:
            state["optimizer_state"] = OptimizerState.from_dict(
                state["optimizer_state"]
            )
        new = cls(**state)
        new.params = _aligned.ensure(new.params)
        new.buffers = {name: _aligned.ensure(a) for name, a in new.buffers.items()}
        return new


@dataclass
class StochasticConfig:
    """Settings of the mini-batch loop (the estimator's parameters, resolved)."""

    batch_size: int
    max_iter: int
    shuffle: bool
    tol: float
    n_iter_no_change: float
    verbose: bool
    incremental: bool
    max_grad_norm: float | None = None
    warmup_epochs: int = 0
    merge_single_tail: bool = False  # batch normalization needs 2+ rows a batch


@dataclass
class Validation:
    """Held-out data: a function of the parameters returning (score, loss).

    Attributes
    ----------
    evaluate : callable
        ``(params, buffers) -> (score, loss)`` on the held-out data.
    early_stopping : bool
        Whether to stop on it and keep its best weights.
    monitor : {'score', 'loss'}
        What early stopping watches.
    """

    evaluate: object
    early_stopping: bool = True
    monitor: str = "score"


def _batches(n: int, batch_size: int, merge_tail: bool = False):
    """Consecutive slices of ``batch_size`` rows (the last may be shorter).

    With ``merge_tail`` a final batch of one row joins the one before it
    (batch normalization has no variance to take of one row).
    """
    last = n - 1 if merge_tail and n > 1 and n % batch_size == 1 else n
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        if stop == last:
            stop = n
        yield slice(start, stop)
        if stop == n:
            return


#: Bytes of input rows gathered at a time when shuffling: several mini-batches
#: are copied by one ``take`` and then sliced as views, which saves NumPy calls
#: per mini-batch while keeping working memory bounded (a constant times the
#: mini-batch, never the data set).
GATHER_BYTES = 32 << 10


class _Gatherer:
    """Copies shuffled rows into buffers reused across the epoch, chunk by chunk.

    A chunk holds a whole number of mini-batches (at least one, about
    :data:`GATHER_BYTES` of ``X``), so the mini-batches are exactly those of a
    batch-by-batch gather: consecutive ``batch_size`` slices of the shuffled
    order.
    """

    def __init__(self, arrays, batch_size: int, n: int, merge_tail: bool = False):
        self.arrays = arrays
        X = arrays[0]
        row_bytes = X.dtype.itemsize * (X.shape[1] if X.ndim > 1 else 1)
        per_chunk = max(1, GATHER_BYTES // max(1, batch_size * row_bytes))
        self.chunk_rows = min(n, batch_size * per_chunk)
        self.merge_tail = merge_tail
        rows = self.chunk_rows + merge_tail  # a merged one-row tail
        self.buffers = [
            None
            if a is None or sp.issparse(a)
            else _aligned.empty((rows, *a.shape[1:]), a.dtype)
            for a in arrays
        ]

    def take(self, rows):
        """The ``rows`` of every array (``len(rows) <= chunk_rows``)."""
        return [
            self._take(a, buf, rows)
            for a, buf in zip(self.arrays, self.buffers, strict=True)
        ]

    @staticmethod
    def _take(a, buf, rows):
        if a is None:
            return None
        if buf is None:  # sparse
            return a[rows]
        # mode="clip" (the rows are valid anyway): with the default "raise",
        # NumPy buffers ``out`` and copies every row twice
        return a.take(rows, axis=0, out=buf[: len(rows)], mode="clip")


def _shuffles(cfg, n: int) -> bool:
    """Whether epochs visit the rows in a new random order (several batches)."""
    return cfg.shuffle and cfg.batch_size < n


def _minibatches(X, Y, sw, order, batch_size: int, gather, merge_tail=False):
    """Yield ``(X, Y, sample_weight)`` for each mini-batch, in ``order``."""
    n = X.shape[0]
    if gather is None:
        for rows in _batches(n, batch_size, merge_tail):
            yield X[rows], Y[rows], None if sw is None else sw[rows]
        return
    for chunk in _batches(n, gather.chunk_rows, merge_tail):
        Xc, Yc, swc = gather.take(order[chunk])
        for rows in _batches(Xc.shape[0], batch_size, merge_tail):
            yield Xc[rows], Yc[rows], None if swc is None else swc[rows]


def _clip_norm(grad: np.ndarray, max_norm: float) -> None:
    """Rescale ``grad`` in place so that its Euclidean norm is at most ``max_norm``."""
    norm = math.sqrt(float(np.dot(grad, grad)))
    if norm > max_norm:
        grad *= max_norm / norm


def train_step(
    objective: Objective, optimizer, state: FitState, batch, grad, cfg, fuse_l2: bool
):
    """One mini-batch step: gradient, clip, update, statistics. Return ``(loss, grad)``.

    The gradient is taken at the optimizer's look-ahead point (the parameters
    themselves but for NAG), clipped to ``cfg.max_grad_norm`` if set, and the
    optimizer updates ``state.params`` in place. With ``fuse_l2`` the
    optimizer adds the L2 gradient in its own pass over the parameters and
    measures the penalty on the way (see :meth:`Penalty.fusable
    <skmlp._objective.Penalty.fusable>`). A non-finite loss returns before the
    update. After the update the batch's statistics (batch normalization's
    mean and variance) are folded into ``state.buffers``. ``grad`` is the
    gradient buffer; the one returned serves the next step.
    """
    X, Y, sw = batch
    opt_state = state.optimizer_state
    point = optimizer.lookahead(state.params, opt_state)
    loss, weight = objective(point, X, Y, sw, grad, rng=state.rng, skip_l2=fuse_l2)
    if not math.isfinite(loss):
        return loss, grad
    if cfg.max_grad_norm is not None:
        _clip_norm(grad, cfg.max_grad_norm)
    if not fuse_l2:
        grad = optimizer.step(state.params, grad, opt_state)
    else:
        penalty = objective.penalty
        l2 = penalty.l2_scale(weight)
        grad = optimizer.step(state.params, grad, opt_state, l2, penalty.n_decayed)
        if l2:
            # the penalty of the weights the gradient was taken at: a non-finite
            # one means they were already lost (the caller discards them)
            loss += penalty.fused_value(opt_state.weights_sq, weight)
    if state.buffers:  # the step was taken: the batch's statistics count
        objective.network.fold_statistics(state.buffers)
    return loss, grad


def run_epoch(
    objective: Objective,
    optimizer,
    state: FitState,
    X,
    Y,
    sw,
    cfg,
    gather=None,
    grad=None,
    interrupt=None,
) -> float:
    """One pass over the data; return the epoch's mean loss (non-finite on divergence).

    The loss is accumulated as scikit-learn does (each mini-batch's mean loss
    times its number of rows). The epoch stops at the first non-finite
    mini-batch loss, leaving the parameters as they were before that batch
    (or, when the optimizer measured a non-finite L2 penalty during its step,
    after it; the caller discards them either way).
    ``gather`` (a :class:`_Gatherer`) and ``grad`` (a gradient buffer) are
    those of earlier epochs, if any, reused. An ``interrupt``
    (:class:`skmlp._interrupt.Interrupt`) that is requested stops the epoch
    before its next mini-batch: ``interrupt.rows`` is then set to the rows the
    completed mini-batches covered, and the mean is over those rows.
    """
    n = X.shape[0]
    if grad is None:
        grad = _aligned.empty_like(state.params)
    shuffle = _shuffles(cfg, n)
    if shuffle:
        if state.sample_idx is None or len(state.sample_idx) != n:
            # int32 where it fits: half the memory, the same shuffle draws
            state.sample_idx = np.arange(n, dtype=np.int32 if n < 2**31 else np.intp)
        # in-place Fisher-Yates == sklearn.utils.shuffle(sample_idx, rng), draw for draw
        state.rng.shuffle(state.sample_idx)
    if not shuffle:
        gather = None
    elif gather is None:
        gather = _Gatherer((X, Y, sw), cfg.batch_size, n, cfg.merge_single_tail)
    fuse_l2 = objective.penalty.fusable(optimizer, cfg.max_grad_norm is not None)
    accumulated = 0.0
    batches = _minibatches(
        X, Y, sw, state.sample_idx, cfg.batch_size, gather, cfg.merge_single_tail
    )
    for i, batch in enumerate(batches):
        if interrupt is not None and interrupt.requested:
            interrupt.rows = i * cfg.batch_size  # only the last batch differs
            return accumulated / max(interrupt.rows, 1)
        loss, grad = train_step(objective, optimizer, state, batch, grad, cfg, fuse_l2)
        if not math.isfinite(loss):
            return loss
        accumulated += loss * batch[0].shape[0]
    return accumulated / n


def _validate_epoch(state: FitState, cfg, validation: Validation) -> None:
    """Record the held-out score and loss; with early stopping, track the best."""
    score, loss = validation.evaluate(state.params, state.buffers)
    state.validation_scores.append(score)
    state.validation_losses.append(loss)
    if cfg.verbose:
        print(f"Validation score: {score:f}")
    if validation.early_stopping:
        if validation.monitor == "loss":  # lower is better: watch its negative
            current, best = -loss, -state.best_validation_loss
        else:
            current, best = score, state.best_validation_score
        if current < best + cfg.tol:
            state.no_improvement_count += 1
        else:
            state.no_improvement_count = 0
        if current > best:
            _keep_best(state)
    if score > state.best_validation_score:
        state.best_validation_score = score
    if loss < state.best_validation_loss:
        state.best_validation_loss = loss


def _keep_best(state: FitState) -> None:
    """Remember the current parameters and buffers as the best so far."""
    state.best_params = state.params.copy()
    state.best_buffers = {k: v.copy() for k, v in state.buffers.items()}


def _restore_best(state: FitState) -> None:
    """Go back to the best parameters and buffers (early stopping)."""
    state.params = _aligned.copy(state.best_params)
    state.buffers = {k: v.copy() for k, v in state.best_buffers.items()}


def _update_no_improvement(state: FitState, cfg, validation) -> None:
    """scikit-learn's bookkeeping of the stopping criterion after an epoch."""
    if validation is not None:
        _validate_epoch(state, cfg, validation)
    elif state.validation_scores is not None:  # curves from an earlier warm fit
        state.validation_scores.append(np.nan)
        state.validation_losses.append(np.nan)
    if validation is None or not validation.early_stopping:
        last = state.loss_curve[-1]
        if last > state.best_loss - cfg.tol:
            state.no_improvement_count += 1
        else:
            state.no_improvement_count = 0
        if last < state.best_loss:
            state.best_loss = last


def _early_stopping(validation) -> bool:
    return validation is not None and validation.early_stopping


def _diverged(state: FitState, loss: float, validation) -> FitState:
    """Stop on a non-finite loss: keep the best weights, or raise."""
    epoch = state.n_iter
    if not _early_stopping(validation):
        raise DivergenceError(divergence_hint(epoch, loss))
    state.validation_scores.append(np.nan)
    state.validation_losses.append(np.nan)
    _restore_best(state)
    warnings.warn(
        f"Training diverged at epoch {epoch}: the training loss became {loss}. "
        "Training stopped there and the weights with the best validation score "
        f"({state.best_validation_score}) were kept. Try a smaller "
        "learning_rate_init or scale the features.",
        ConvergenceWarning,
        stacklevel=4,
    )
    return state


def fit_stochastic(
    objective: Objective,
    optimizer,
    schedule,
    state: FitState,
    X,
    Y,
    sw,
    cfg,
    validation,
    hooks=None,
    interrupt=None,
) -> FitState:
    """Run mini-batch epochs on ``state`` (mutated and returned).

    Parameters
    ----------
    objective : Objective
        The network and penalty to minimise.
    optimizer : an update rule from :mod:`skmlp._optimizers`
    schedule : a schedule from :mod:`skmlp._schedules`
    state : FitState
    X, Y, sw : training data, encoded targets and sample weights (or None)
    cfg : StochasticConfig
    validation : Validation or None
        Held-out data recorded every epoch; early stopping if it says so.
    hooks : object or None
        Told of each epoch (see :func:`fit_lbfgs` for its three methods);
        ``iteration_end(state)`` is called once the epoch's bookkeeping is
        done and returning True ends training there.
    interrupt : skmlp._interrupt.Interrupt or None
        A Ctrl-C request, checked between mini-batches. An epoch it cuts short
        counts as an epoch of the rows that ran (``t``, the loss curve and the
        validation curves agree with the weights), and training stops there.
        Without one, a KeyboardInterrupt is caught wherever it lands and the
        weights are kept as they are (scikit-learn's behaviour); with one, a
        KeyboardInterrupt (a second Ctrl-C) propagates.
    """
    state.n_iter = 0
    early_stopping = _early_stopping(validation)
    if early_stopping and state.best_params is None:
        _keep_best(state)
    opt_state = state.optimizer_state
    gather, grad = None, _aligned.empty_like(state.params)
    if _shuffles(cfg, X.shape[0]):
        gather = _Gatherer(
            (X, Y, sw), cfg.batch_size, X.shape[0], cfg.merge_single_tail
        )
    try:
        for _ in range(cfg.max_iter):
            if interrupt is not None and interrupt.requested:
                break
            opt_state.learning_rate = schedule.epoch_start(
                opt_state.learning_rate, state.epochs
            )
            opt_state.lr_scale = warmup_factor(state.epochs, cfg.warmup_epochs)
            if hooks is not None:
                hooks.iteration_begin(state)
            loss = run_epoch(
                objective, optimizer, state, X, Y, sw, cfg, gather, grad, interrupt
            )
            cut = None if interrupt is None else interrupt.rows
            if cut == 0:  # Ctrl-C before the epoch's first step: nothing ran
                if hooks is not None:
                    hooks.iteration_abandoned()
                break
            state.n_iter += 1
            state.epochs += 1
            state.loss = loss
            state.loss_curve.append(loss)
            if not np.isfinite(loss):
                if hooks is not None:
                    hooks.iteration_abandoned()
                return _diverged(state, loss, validation)
            state.t += X.shape[0] if cut is None else cut
            if cfg.verbose:
                print(f"Iteration {state.n_iter}, loss = {loss:.8f}")
            _update_no_improvement(state, cfg, validation)
            opt_state.learning_rate = schedule.epoch_end(
                opt_state.learning_rate, state.t
            )
            stop = state.no_improvement_count > cfg.n_iter_no_change and _plateau(
                state, schedule, cfg, early_stopping
            )
            if hooks is not None and hooks.iteration_end(state):
                break  # a callback asked to stop
            if stop or cut or cfg.incremental:
                break
            if state.n_iter == cfg.max_iter:
                warnings.warn(
                    f"Stochastic Optimizer: Maximum iterations ({cfg.max_iter}) "
                    "reached and the optimization hasn't converged yet. Consider "
                    "increasing max_iter, raising learning_rate_init or scaling the "
                    "features.",
                    ConvergenceWarning,
                    stacklevel=3,
                )
    except KeyboardInterrupt:
        if interrupt is not None:  # a second Ctrl-C: the fit fails, as it began
            raise
        if hooks is not None:
            hooks.iteration_abandoned()
        warnings.warn("Training interrupted by user.", stacklevel=3)
    if interrupt is not None and interrupt.requested:
        warnings.warn(
            _interrupted(state.n_iter, interrupt.rows, X.shape[0]), stacklevel=3
        )
    if early_stopping:
        _restore_best(state)
    if not np.isfinite(state.params).all():
        raise DivergenceError(divergence_hint(state.n_iter, state.loss))
    return state


def _interrupted(n_iter: int, rows, n: int) -> str:
    """The warning of a fit that Ctrl-C stopped between two mini-batch steps."""
    partial = f", the last one over {rows} of its {n} rows" if rows else ""
    return (
        f"Training interrupted by user: stopped after {n_iter} epoch(s){partial}, "
        "at the end of the mini-batch step in progress."
    )


def _plateau(state: FitState, schedule, cfg, early_stopping: bool) -> bool:
    """Handle ``n_iter_no_change`` epochs without improvement; True means stop."""
    what = "Validation score" if early_stopping else "Training loss"
    msg = (
        f"{what} did not improve more than tol={cfg.tol:f} for "
        f"{cfg.n_iter_no_change} consecutive epochs."
    )
    opt_state = state.optimizer_state
    lr, stop = schedule.plateau(opt_state.learning_rate)
    if cfg.verbose:
        print(msg + (" Stopping." if stop else f" Setting learning rate to {lr:f}"))
    if stop:
        return True
    opt_state.learning_rate = lr
    state.no_improvement_count = 0
    return False


def fit_lbfgs(
    objective: Objective,
    state: FitState,
    X,
    Y,
    sw,
    *,
    max_iter,
    max_fun,
    tol,
    hooks=None,
    interrupt=None,
) -> FitState:
    """Minimise the full-batch objective with SciPy's L-BFGS-B.

    The objective handed to SciPy is exactly the one whose gradient is returned
    (see :class:`skmlp._losses.SquaredError` for scikit-learn's multi-output
    mismatch). SciPy works in float64; the network keeps the data's dtype.

    ``hooks``, if given, is told of each iteration as ``fit_stochastic`` tells
    it of each epoch: ``iteration_begin(state)``, ``iteration_end(state) ->
    bool`` (True stops training) and ``iteration_abandoned()`` (the open
    iteration ends without a model: here the one after SciPy's last). The
    ``state`` they get is a view of SciPy's accepted iterate (``params`` a new
    array, ``n_iter`` and ``loss`` of that iterate), never the network's
    ``params``, which hold the last point the line search tried. An
    ``interrupt`` (Ctrl-C) stops at the end of the iteration in progress and
    keeps its iterate. Neither kind of stop (SciPy's status 99) warns of
    non-convergence.
    """
    params = state.params
    grad = np.empty_like(params)
    accepted = 0  # iterations SciPy accepted so far
    stopped = False  # whether the callback stopped SciPy (its status 99)

    def fun(x):
        params[...] = x
        loss = objective.value(params, X, Y, sw, grad)
        return loss, grad.astype(np.float64)

    def iterate(x, n_iter, loss):
        """The state at SciPy's iterate ``x`` (a copy in the network's dtype).

        With batch normalization its running statistics are the full batch's
        at ``x``, as the fit's would be if it stopped there.
        """
        loss = None if loss is None else float(loss)
        at = dataclasses.replace(
            state, params=x.astype(params.dtype), n_iter=n_iter, loss=loss
        )
        if state.buffers:
            at.buffers = {k: v.copy() for k, v in state.buffers.items()}
            objective.value(at.params, X, Y, sw, np.empty_like(at.params))
            objective.network.fold_statistics(at.buffers, replace=True)
        return at

    def callback(intermediate_result):
        nonlocal accepted, stopped
        accepted += 1
        if hooks is not None:
            at = iterate(intermediate_result.x, accepted, intermediate_result.fun)
            stopped = bool(hooks.iteration_end(at))
        if stopped or (interrupt is not None and interrupt.requested):
            stopped = True
            raise StopIteration
        if hooks is not None:
            hooks.iteration_begin(at)

    if hooks is not None:
        hooks.iteration_begin(iterate(params, 0, state.loss))
    result = scipy.optimize.minimize(
        fun,
        params.astype(np.float64),
        method="L-BFGS-B",
        jac=True,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol},
        callback=None if hooks is None and interrupt is None else callback,
    )
    if hooks is not None:
        hooks.iteration_abandoned()
    state.n_iter = min(result.nit, max_iter)
    if interrupt is not None and interrupt.requested:
        warnings.warn(
            f"Training interrupted by user: stopped after {state.n_iter} L-BFGS "
            "iteration(s), at the end of the iteration in progress.",
            stacklevel=3,
        )
    if result.status != 0 and not stopped:
        msg = (
            f"lbfgs failed to converge after {state.n_iter} iteration(s) "
            f"(status={result.status}):\n{result.message}\n"
        )
        if state.n_iter == max_iter:
            msg += (
                "\nIncrease the number of iterations to improve the convergence "
                f"(max_iter={max_iter})."
            )
        msg += (
            "\nYou might also want to scale the data as shown in:\n"
            "    https://scikit-learn.org/stable/modules/preprocessing.html"
        )
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    params[...] = result.x
    state.loss = float(result.fun)
    if not (np.isfinite(state.loss) and np.isfinite(params).all()):
        raise DivergenceError(divergence_hint(None, state.loss))
    if state.buffers:
        # predict with exactly what was minimised: the full batch's statistics
        objective.value(params, X, Y, sw, grad)
        objective.network.fold_statistics(state.buffers, replace=True)
    return state
