"""Where skmlp must be better than scikit-learn.

Each property is written as a function of the estimator class where that is
practical, asserted for skmlp, and paired with a check that scikit-learn's
``MLPClassifier``/``MLPRegressor`` (1.9) does *not* have it, so every test here
documents a real difference rather than a shared behaviour. On an older
scikit-learn (1.6 is the oldest supported) the scikit-learn half checks what
that version does, or is skipped where it cannot (``tests/_versions.py``).
"""

import contextlib
import copy
import dataclasses
import functools
import inspect
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.optimize
import scipy.sparse as sp
from _versions import MLP_HAS_SAMPLE_WEIGHT, needs_mlp_sample_weight
from conftest import is_regression, make_data, quietly
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils.validation import check_is_fitted

from skmlp import BackpropClassifier, BackpropRegressor
from skmlp._objective import Objective

N_FEATURES = 4
CLASSIFIERS = [BackpropClassifier, MLPClassifier]
REGRESSORS = [BackpropRegressor, MLPRegressor]
#: CLASSIFIERS for tests whose scikit-learn half needs sample_weight
CLASSIFIERS_WEIGHTED = [
    BackpropClassifier,
    pytest.param(MLPClassifier, marks=needs_mlp_sample_weight),
]


pytestmark = pytest.mark.usefixtures("one_blas_thread")


def weights(est):
    return [a.copy() for a in est.coefs_ + est.intercepts_]


def same_weights(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))


def assert_deep_equal(a, b, path="est"):
    """Exact equality of nested estimator state (arrays, lists, dicts, objects)."""
    if isinstance(a, np.random.RandomState):
        assert isinstance(b, np.random.RandomState), path
        for x, y in zip(a.get_state(), b.get_state(), strict=True):
            assert_array_equal(x, y, err_msg=path)
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), path
        assert a.dtype == b.dtype and a.shape == b.shape, path
        assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (path, set(a) ^ set(b))
        for k in a:
            assert_deep_equal(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_deep_equal(x, y, f"{path}[{i}]")
    elif isinstance(a, float | np.floating):
        assert isinstance(b, float | np.floating), path
        assert a == b or (np.isnan(a) and np.isnan(b)), (path, a, b)
    elif dataclasses.is_dataclass(a) or hasattr(a, "__dict__"):
        assert type(a) is type(b), path
        assert_deep_equal(vars(a), vars(b), f"{path}.")
    else:
        assert a == b, (path, a, b)


def snapshot(est):
    return copy.deepcopy(vars(est))


# ============================================================ warm_start / state
WARM_CONFIGS = {
    "adam": {"solver": "adam", "learning_rate_init": 0.01},
    "sgd-nesterov": {"solver": "sgd", "learning_rate_init": 0.05},
    "sgd-invscaling": {
        "solver": "sgd",
        "learning_rate": "invscaling",
        "learning_rate_init": 0.2,
        "power_t": 0.25,
    },
}


def warm_start_equals_one_long_fit(Est, kind, config, k=3):
    """fit(max_iter=k) + warm fit(max_iter=k) == fit(max_iter=2k), exactly?"""
    X, y = make_data(kind)
    params = {
        "hidden_layer_sizes": (5,),
        "batch_size": 8,
        "shuffle": True,
        "random_state": 0,
        "tol": 0.0,
        "n_iter_no_change": 1000,
        **WARM_CONFIGS[config],
    }
    warm = Est(max_iter=k, warm_start=True, **params)
    quietly(warm.fit, X, y)
    quietly(warm.fit, X, y)
    long = quietly(Est(max_iter=2 * k, **params).fit, X, y)
    return (
        same_weights(weights(warm), weights(long))
        and warm.loss_curve_ == long.loss_curve_
        and warm.t_ == long.t_
    )


@pytest.mark.parametrize("config", list(WARM_CONFIGS))
@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_warm_start_continues_exactly(kind, config):
    """warm_start keeps the optimizer state and the shuffling RNG.

    scikit-learn restarts Adam's moments / SGD's velocities, the invscaling
    clock, and re-seeds its RNG from ``random_state`` at every fit.
    """
    Ours, Theirs = (
        (BackpropRegressor, MLPRegressor)
        if is_regression(kind)
        else (BackpropClassifier, MLPClassifier)
    )
    assert warm_start_equals_one_long_fit(Ours, kind, config)
    assert not warm_start_equals_one_long_fit(Theirs, kind, config)


def partial_fits_equal_fit(Est, kind, solver, k=4):
    """k partial_fit calls == fit(max_iter=k), exactly?

    Holds for skmlp because it keeps the RNG (and optimizer state) across
    partial_fit calls; scikit-learn re-seeds its RNG from ``random_state`` at
    every call, so each epoch reuses the same shuffling draws.
    """
    X, y = make_data(kind)
    params = {
        "hidden_layer_sizes": (5,),
        "solver": solver,
        "learning_rate_init": 0.02,
        "batch_size": 8,
        "random_state": 0,
        "tol": 0.0,
        "n_iter_no_change": 1000,
    }
    kw = {} if is_regression(kind) else {"classes": np.unique(y)}
    incremental = Est(**params)
    for _ in range(k):
        incremental.partial_fit(X, y, **kw)
    full = quietly(Est(max_iter=k, **params).fit, X, y)
    return (
        same_weights(weights(incremental), weights(full))
        and incremental.loss_curve_ == full.loss_curve_
        and incremental.t_ == full.t_
    )


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_partial_fit_calls_continue_like_one_fit(kind, solver):
    Ours, Theirs = (
        (BackpropRegressor, MLPRegressor)
        if is_regression(kind)
        else (BackpropClassifier, MLPClassifier)
    )
    assert partial_fits_equal_fit(Ours, kind, solver)
    assert not partial_fits_equal_fit(Theirs, kind, solver)


# ================================================================ multi-output
def numeric_gradient(f, x, h=1e-6):
    g = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


class LossRecorder:
    """Spies on ``Objective.__call__``: every loss, and the objective and
    arguments of the first call (so tests use the objective a fit really
    built, whatever its constructor looks like)."""

    def __init__(self, monkeypatch):
        self.losses = []
        self.first = None
        call = Objective.__call__
        signature = inspect.signature(call)

        def recording(objective, *args, **kwargs):
            loss, weight = call(objective, *args, **kwargs)
            if self.first is None:
                a = signature.bind(objective, *args, **kwargs).arguments
                self.first = (objective, a["params"].copy(), a["X"], a["Y"], a["sw"])
            self.losses.append(loss)
            return loss, weight

        monkeypatch.setattr(Objective, "__call__", recording)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("kind", ["multioutput", "multiclass", "multilabel"])
def test_network_loss_and_grad_is_consistent(kind, weighted, monkeypatch):
    """Central differences of the fit's objective match its gradient,
    for the network an lbfgs fit builds (multi-output squared error above all)."""
    X, y = make_data(kind, n_samples=15)
    sw = np.random.RandomState(2).uniform(0.5, 2.0, len(y)) if weighted else None
    Est = BackpropRegressor if is_regression(kind) else BackpropClassifier
    rec = LossRecorder(monkeypatch)
    est = Est(
        hidden_layer_sizes=(5, 3),
        activation="tanh",
        solver="lbfgs",
        alpha=0.3,
        max_iter=1,
        random_state=0,
    )
    quietly(est.fit, X, y, sample_weight=sw)
    monkeypatch.undo()
    objective, params, X, Y, sw = rec.first
    # multiclass targets reach the network as class indices (the fast path)
    assert objective.network.layer_units[-1] == 3
    assert objective.penalty.alpha == 0.3
    assert Y.ndim == (1 if kind == "multiclass" else 2)
    params = params + 0.3 * np.random.RandomState(1).randn(params.size)
    grad = np.empty_like(params)

    def f(p):
        return objective.value(p, X, Y, sw, np.empty_like(p))

    objective.value(params.copy(), X, Y, sw, grad)
    assert_allclose(grad, numeric_gradient(f, params), rtol=1e-6, atol=1e-8)


def lbfgs_pair_is_consistent(Est, kind, monkeypatch):
    """Is the (loss, gradient) function an estimator hands to L-BFGS consistent?

    Spies on ``scipy.optimize.minimize`` (both libraries call it through the
    module) to capture the objective, then compares its gradient with central
    differences of its loss at a point near the initial weights.
    """
    X, Y = make_data(kind, n_samples=20)
    captured = {}
    minimize = scipy.optimize.minimize

    def spy(fun, x0, args=(), **kwargs):
        captured.update(fun=fun, x0=np.array(x0, dtype=float), args=args)
        return minimize(fun, x0, args=args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(scipy.optimize, "minimize", spy)
        est = Est(
            hidden_layer_sizes=(4,),
            activation="tanh",
            solver="lbfgs",
            alpha=0.1,
            max_iter=2,
            random_state=0,
        )
        quietly(est.fit, X, Y)
    fun, args = captured["fun"], captured["args"]
    x = captured["x0"] + 0.1 * np.random.RandomState(1).randn(captured["x0"].size)

    def loss(p):
        return float(fun(p.copy(), *args)[0])

    grad = np.array(fun(x.copy(), *args)[1], dtype=float)
    return np.allclose(grad, numeric_gradient(loss, x), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("kind", ["multioutput", "regression"])
def test_lbfgs_objective_matches_its_gradient(kind, monkeypatch):
    """The (loss, gradient) pair minimised by lbfgs agrees, multi-output included.

    scikit-learn's loss averages the squared error over outputs while its
    gradient is that of the sum (its issue #8349), so for multi-output targets
    the gradient is ~n_outputs times too large for the loss L-BFGS line-searches
    on. Single-output targets are consistent in both libraries.
    """
    assert lbfgs_pair_is_consistent(BackpropRegressor, kind, monkeypatch)
    sklearn_ok = lbfgs_pair_is_consistent(MLPRegressor, kind, monkeypatch)
    assert sklearn_ok == (kind == "regression")


def regression_objective(est, X, Y, alpha):
    """0.5 * sum over outputs, mean over samples, + alpha/(2n) ||W||^2."""
    resid = est.predict(X).reshape(Y.shape) - Y
    n = X.shape[0]
    penalty = sum(float(np.sum(c * c)) for c in est.coefs_)
    return 0.5 * float(np.sum(resid * resid)) / n + 0.5 * alpha * penalty / n


@pytest.mark.parametrize("kind", ["multioutput", "regression"])
def test_lbfgs_loss_is_the_objective_at_the_final_weights(kind):
    """loss_ of lbfgs is the objective (0.5 * sum over outputs) at coefs_."""
    X, y = make_data(kind, n_samples=30)
    Y = y.reshape(len(y), -1)
    alpha = 0.1
    params = {"hidden_layer_sizes": (5,), "solver": "lbfgs", "alpha": alpha}
    ours = quietly(BackpropRegressor(max_iter=40, random_state=0, **params).fit, X, y)
    assert_allclose(ours.loss_, regression_objective(ours, X, Y, alpha), rtol=1e-10)
    theirs = quietly(MLPRegressor(max_iter=40, random_state=0, **params).fit, X, y)
    if kind == "multioutput":
        # sklearn reports the output-averaged loss, not what its gradient minimises
        assert not np.isclose(
            theirs.loss_, regression_objective(theirs, X, Y, alpha), rtol=1e-3
        )
    else:
        assert_allclose(
            theirs.loss_, regression_objective(theirs, X, Y, alpha), rtol=1e-10
        )


# ===================================================== predict_log_proba in logs
def saturated_model(Est, kind, scale=1e4):
    """A fitted classifier whose weights are so large that probabilities are 0/1.

    Returns it with scikit-learn's MLPClassifier carrying the very same weights,
    whose ``predict_proba`` shows the saturation (exact 0s and 1s).
    """
    X, y = make_data(kind, n_samples=20)
    params = {"hidden_layer_sizes": (4,), "solver": "lbfgs", "max_iter": 20}
    est = quietly(Est(random_state=0, **params).fit, X, y)
    sk = quietly(MLPClassifier(random_state=0, **params).fit, X, y)
    for model in (est, sk):
        model.coefs_ = [c * scale for c in est.coefs_]
        model.intercepts_ = [b * scale for b in est.intercepts_]
    return est, sk, X


def log_proba_is_finite_when_saturated(Est, kind):
    est, _, X = saturated_model(Est, kind)
    with np.errstate(divide="ignore"):
        return bool(np.isfinite(est.predict_log_proba(X)).all())


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_predict_log_proba_is_finite_for_saturated_outputs(kind):
    est, sk, X = saturated_model(BackpropClassifier, kind)
    sk_proba = sk.predict_proba(X)
    assert ((sk_proba == 0) | (sk_proba == 1)).any(), "the test needs saturation"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no divide-by-zero or overflow warnings
        proba = est.predict_proba(X)
        log_proba = est.predict_log_proba(X)
    assert log_proba.shape == proba.shape == sk_proba.shape
    assert log_proba.dtype == proba.dtype
    assert np.isfinite(log_proba).all()
    assert (log_proba <= 0).all()
    # equals log(predict_proba) wherever that is finite
    with np.errstate(divide="ignore"):
        naive = np.log(proba)
    finite = np.isfinite(naive)
    assert_allclose(log_proba[finite], naive[finite], rtol=1e-10, atol=4e-16)
    assert_allclose(np.exp(log_proba), proba, atol=1e-15)
    # and with sklearn's probabilities, away from where they are saturated
    inner = (sk_proba > 0) & (sk_proba < 1)
    assert_allclose(log_proba[inner], np.log(sk_proba[inner]), rtol=1e-10)
    if kind != "multilabel":
        assert_array_equal(est.classes_[log_proba.argmax(axis=1)], est.predict(X))
    # sklearn gives -inf for the same weights
    assert not log_proba_is_finite_when_saturated(MLPClassifier, kind)


#: Raw outputs, from moderate to saturated, one row each; a row of the
#: multiclass table is one sample's three logits.
LOGIT_ROWS = {
    "binary": [
        [t]
        for t in (-800, -100, -60, -40, -20, -5, -0.5, 0, 0.5, 5, 20, 40, 60, 100, 800)
    ],
    "multiclass": [
        row
        for t in (0.5, 5, 20, 40, 60, 100, 800)
        for row in ([t, 0, -t], [0, t, t / 2], [t, t, -t])
    ],
    "multilabel": [[t, -t, t / 2] for t in (0.5, 5, 20, 40, 60, 100, 800)],
}


def model_with_logits(kind):
    """A fitted classifier whose ``decision_function(X)`` is ``X`` itself.

    The fitted weights are overwritten with identity matrices (hidden
    activation 'identity', zero intercepts), so the rows of ``X`` are the raw
    outputs exactly; ``X`` is :data:`LOGIT_ROWS` ``[kind]``.
    """
    X = np.array(LOGIT_ROWS[kind], dtype=float)
    k = X.shape[1]
    rng = np.random.RandomState(0)
    y = {
        "binary": np.arange(20) % 2,
        "multiclass": np.arange(20) % 3,
        "multilabel": (rng.rand(20, 3) < 0.5).astype(int),
    }[kind]
    est = BackpropClassifier(
        hidden_layer_sizes=(k,), activation="identity", max_iter=1, random_state=0
    )
    quietly(est.fit, rng.randn(20, k), y)
    est.coefs_ = [np.eye(k), np.eye(k)]
    est.intercepts_ = [np.zeros(k), np.zeros(k)]
    assert_array_equal(est.decision_function(X).reshape(X.shape), X)
    return est, X


def reference_log_proba(z, link):
    """Log-probabilities of raw outputs ``z``, in log space, without skmlp.

    Sigmoid: ``log s(z) = -log1p(exp(-z))`` for ``z >= 0``, ``z - log1p(exp(z))``
    below. Softmax: ``z_j - m - log1p(sum_{i != argmax} exp(z_i - m))`` with
    ``m`` the row maximum, so the most probable class keeps its tiny distance
    from 0. Both floored at ``log(tiny)``, as predict_log_proba documents.
    """
    if link == "softmax":
        shifted = z - z.max(axis=1, keepdims=True)
        rest = np.exp(shifted)
        rest[np.arange(len(z)), z.argmax(axis=1)] = 0.0
        out = shifted - np.log1p(rest.sum(axis=1, keepdims=True))
    else:
        pos = -np.log1p(np.exp(-np.abs(z)))  # log s(|z|)
        log_p1 = np.where(z >= 0, pos, z + pos)  # log s(z) = z + log s(-z)
        log_p0 = np.where(z >= 0, -z + pos, pos)
        out = np.hstack([log_p0, log_p1]) if z.shape[1] == 1 else log_p1
    return np.maximum(out, np.log(np.finfo(z.dtype).tiny))


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_predict_log_proba_is_finite_and_the_log_of_predict_proba(kind):
    """README: "``predict_log_proba`` stays finite where scikit-learn's is -inf".

    The logits here reach +-800, where the unclipped sigmoid or softmax
    underflows to 0 (scikit-learn's ``log(predict_proba)`` gives ``-inf``).
    Below 1/2 the log-probabilities are the log-space ones of the logits (the
    reference, written in the test, floored at ``log(tiny)``); from 1/2 on
    they are the logarithms of ``predict_proba``'s clipped values, so the two
    methods agree to rounding everywhere (scikit-learn's MLP tests assert
    ``predict_log_proba == log(predict_proba)``).
    """
    est, X = model_with_logits(kind)
    link = est.out_activation_
    assert link == ("softmax" if kind == "multiclass" else "logistic")
    expected = reference_log_proba(X, link)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log_proba = est.predict_log_proba(X)
        proba = est.predict_proba(X)
    assert log_proba.shape == expected.shape
    assert np.isfinite(log_proba).all()
    floor = np.log(np.finfo(X.dtype).tiny)
    assert (expected == floor).any(), "the test needs an underflowing class"
    unlikely = expected < np.log(0.5)
    assert_allclose(
        log_proba[unlikely],
        expected[unlikely],
        rtol=1e-12,
        atol=4e-16 if kind == "multiclass" else 0,
    )
    assert_array_equal(log_proba[~unlikely], np.log(proba[~unlikely]))
    assert_allclose(log_proba, np.log(proba), rtol=1e-12)


# ================================================================== divergence
DIVERGE = {
    "hidden_layer_sizes": (5,),
    "solver": "sgd",
    "learning_rate_init": 1e6,
    "batch_size": 10,
    "max_iter": 50,
    "random_state": 0,
}
BIG = 1e6


@contextlib.contextmanager
def ignoring_runtime_warnings():
    """test_divergence_emits_no_numpy_warnings checks RuntimeWarnings on its own;
    the other divergence tests ignore them so a leak cannot hide their checks."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_divergence_emits_no_numpy_warnings(kind):
    """Divergence is reported by skmlp's ValueError, not by raw RuntimeWarnings.

    (pyproject turns RuntimeWarning into errors, so a leaked 'overflow
    encountered in matmul' fails this test instead of the ValueError.)
    """
    X, y = make_data(kind)
    Est = BackpropRegressor if is_regression(kind) else BackpropClassifier
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match="Solver produced non-finite parameter"):
            Est(**DIVERGE).fit(X * BIG, y)


@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_divergence_raises_at_once_with_a_hint(kind, monkeypatch, capsys):
    X, y = make_data(kind)
    Est = BackpropRegressor if is_regression(kind) else BackpropClassifier
    rec = LossRecorder(monkeypatch)
    est = Est(**DIVERGE, verbose=True)
    with ignoring_runtime_warnings(), pytest.raises(ValueError) as info:
        est.fit(X * BIG, y)
    msg = str(info.value)
    # verbose prints one "Iteration k" line per completed epoch
    completed = capsys.readouterr().out.count("Iteration ")
    assert msg.startswith(
        "Solver produced non-finite parameter weights. The input data may contain "
        "large values and need to be preprocessed."
    )
    assert "learning_rate_init" in msg and "StandardScaler" in msg
    assert f"diverged at epoch {completed + 1} " in msg
    # stopped at the first non-finite mini-batch loss: nothing evaluated after it
    losses = np.array(rec.losses)
    assert not np.isfinite(losses[-1])
    assert np.isfinite(losses[:-1]).all()
    batches = -(-len(y) // DIVERGE["batch_size"])
    assert completed * batches < len(losses) <= (completed + 1) * batches
    assert completed + 1 < DIVERGE["max_iter"]
    # a fresh model stays unfitted
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    assert vars(est) == vars(Est(**DIVERGE, verbose=True))

    # scikit-learn keeps running on NaN for all max_iter epochs
    sk = (MLPRegressor if is_regression(kind) else MLPClassifier)(**DIVERGE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"), pytest.raises(ValueError):
            sk.fit(X * BIG, y)
    assert sk.n_iter_ == DIVERGE["max_iter"]
    assert np.isnan(sk.loss_curve_).sum() > 1
    check_is_fitted(sk)  # and is left "fitted" with NaN weights
    assert not all(np.isfinite(c).all() for c in sk.coefs_)


def other_data(kind):
    """Data unlike ``make_data(kind)`` in all that fit records before training.

    Two more features, and other class labels (7, 8, 9) or two targets instead
    of one: a fit on it that fails without restoring the estimator leaves a
    different ``n_features_in_`` (and ``classes_``) behind.
    """
    X, y = make_data(kind, seed=1)
    X = np.hstack([X, X[:, :2] ** 2])
    y = np.column_stack([y, -y]) if is_regression(kind) else y + 7
    return X, y


def fit_then_diverge(Est, kind, how):
    """Fit well, then diverge by a warm-start refit, a partial_fit, or a fresh
    refit on :func:`other_data`."""
    X, y = make_data(kind)
    est = quietly(
        Est(
            hidden_layer_sizes=(5,),
            solver="sgd",
            learning_rate_init=0.01,
            max_iter=5,
            random_state=0,
        ).fit,
        X,
        y,
    )
    est.set_params(learning_rate_init=DIVERGE["learning_rate_init"], batch_size=10)
    X_call, y_call = X * (1e3 if how == "partial_fit" else BIG), y
    if how == "warm_start":
        est.set_params(warm_start=True)
        call = est.fit
    elif how == "refit":
        call = est.fit
        X_call, y_call = other_data(kind)
        X_call = X_call * BIG
    else:
        call = est.partial_fit
    before = snapshot(est)
    pred_before = est.predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        with np.errstate(all="ignore"):
            try:
                call(X_call, y_call)
                raised = False
            except ValueError:
                raised = True
    return est, before, pred_before, X, raised


@pytest.mark.parametrize(
    "kind, how",
    [
        ("multiclass", "warm_start"),
        ("regression", "warm_start"),
        ("regression", "partial_fit"),
        ("multiclass", "refit"),
        ("regression", "refit"),
    ],
)
def test_divergence_leaves_a_fitted_model_unchanged(kind, how):
    """A fit or partial_fit that diverges leaves the fitted model exactly as it was.

    Continuing (warm_start, partial_fit) pins down that training works on a
    copy of the kept state. A fresh refit on other data (more features, other
    classes or outputs) pins down that everything fit set before training
    diverged (``n_features_in_``, ``classes_``, the label binarizer) is
    restored: the same data would set the same values again.
    """
    Ours, Theirs = (
        (BackpropRegressor, MLPRegressor)
        if is_regression(kind)
        else (BackpropClassifier, MLPClassifier)
    )
    est, before, pred_before, X, raised = fit_then_diverge(Ours, kind, how)
    assert raised
    assert_deep_equal(vars(est), before)
    assert_array_equal(est.predict(X), pred_before)
    # the kept state still continues training normally
    est.set_params(learning_rate_init=0.01, warm_start=True)
    quietly(est.fit, X, make_data(kind)[1])
    assert all(np.isfinite(c).all() for c in est.coefs_)

    if how == "partial_fit":
        # sklearn's partial_fit keeps its old optimizer, so it ignores the new
        # learning_rate_init and does not diverge here at all
        return
    sk, sk_before, _, _, sk_raised = fit_then_diverge(Theirs, kind, how)
    assert sk_raised
    assert not all(np.isfinite(c).all() for c in sk.coefs_)
    if how == "refit":  # and it now describes the other data
        assert sk.n_features_in_ == other_data(kind)[0].shape[1] != N_FEATURES
    else:
        assert sk.n_iter_ != sk_before["n_iter_"] or len(sk.loss_curve_) != len(
            sk_before["loss_curve_"]
        )


EARLY_DIVERGE = {
    "hidden_layer_sizes": (5,),
    "solver": "sgd",
    "learning_rate_init": 0.1,
    "batch_size": 5,
    "early_stopping": True,
    "max_iter": 60,
    "tol": 0.0,
    "n_iter_no_change": 1000,
    "random_state": 0,
}


def test_divergence_with_early_stopping_keeps_the_best_weights():
    X, y = make_data("regression")
    est = BackpropRegressor(**EARLY_DIVERGE)
    with ignoring_runtime_warnings():
        with pytest.warns(ConvergenceWarning, match="[Dd]iverged"):
            est.fit(X, y)
    scores = np.array(est.validation_scores_)
    assert np.isnan(scores[-1])
    assert np.isfinite(scores[:-1]).all() and len(scores) > 2
    assert est.n_iter_ == len(scores) < EARLY_DIVERGE["max_iter"]
    best = int(np.argmax(scores[:-1]))
    assert est.best_validation_score_ == scores[best]
    assert all(np.isfinite(w).all() for w in weights(est))
    # exactly the weights of the best epoch: a run stopped there keeps the same
    ref = quietly(
        BackpropRegressor(**{**EARLY_DIVERGE, "max_iter": best + 1}).fit, X, y
    )
    assert same_weights(weights(est), weights(ref))
    assert np.isfinite(est.predict(X)).all()

    # scikit-learn trains on through NaN losses without a word
    sk = MLPRegressor(**EARLY_DIVERGE)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with np.errstate(all="ignore"):
            sk.fit(X, y)
    assert np.isnan(sk.loss_curve_).sum() > 1
    assert not any("iverge" in str(w.message) for w in record)


# ============================================================ input validation
def fitted(Est, kind, **params):
    X, y = make_data(kind)
    est = quietly(
        Est(hidden_layer_sizes=(4,), max_iter=3, random_state=0, **params).fit, X, y
    )
    return est, X, y


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_negative_sample_weight_is_rejected(kind, method):
    Ours, Theirs = (
        (BackpropRegressor, MLPRegressor)
        if is_regression(kind)
        else (BackpropClassifier, MLPClassifier)
    )
    X, y = make_data(kind)
    sw = np.ones(len(y))
    sw[3] = -1.0
    kw = {} if is_regression(kind) or method == "fit" else {"classes": np.unique(y)}
    with pytest.raises(ValueError, match="sample_weight"):
        getattr(Ours(hidden_layer_sizes=(4,), max_iter=2), method)(
            X, y, sample_weight=sw, **kw
        )
    # sklearn trains on negative weights silently (before 1.7 it takes no weights)
    sklearn_call = functools.partial(
        quietly,
        getattr(Theirs(hidden_layer_sizes=(4,), max_iter=2), method),
        X,
        y,
        sample_weight=sw,
        **kw,
    )
    if MLP_HAS_SAMPLE_WEIGHT:
        sklearn_call()
    else:
        with pytest.raises(TypeError, match="unexpected keyword argument"):
            sklearn_call()


def bad_inputs(kind):
    """Invalid variants of :func:`other_data`, one per way fit can reject data."""
    X, y = other_data(kind)
    n = len(y)
    X_nan, X_inf = X.copy(), X.copy()
    X_nan[2, 1] = np.nan
    X_inf[0, 0] = np.inf
    cases = {
        "X-nan": (X_nan, y, None),
        "X-inf": (X_inf, y, None),
        "sw-length": (X, y, np.ones(n - 1)),
        "sw-nan": (X, y, np.r_[np.nan, np.ones(n - 1)]),
        "sw-negative": (X, y, -np.ones(n)),
        "X-3d": (X[:, :, None], y, None),
        "y-length": (X, y[:-1], None),
    }
    if is_regression(kind):
        y_nan, y_inf = y.astype(float), y.astype(float)
        y_nan[1] = np.nan
        y_inf[1] = -np.inf
        cases["y-nan"] = (X, y_nan, None)
        cases["y-inf"] = (X, y_inf, None)
        cases["y-str"] = (X, np.array(["a", "b"] * (n // 2)), None)
    return cases


BAD_CASES = [(k, c) for k in ("multiclass", "regression") for c in bad_inputs(k)]


@pytest.mark.parametrize("kind, case", BAD_CASES)
def test_bad_input_raises_value_error_and_keeps_the_fitted_model(kind, case):
    """A fit rejecting bad data leaves the earlier model exactly as it was.

    The earlier model was fitted on a DataFrame (``feature_names_in_``); the
    bad data are NumPy arrays with more features and other classes or outputs
    (:func:`other_data`). Without restoring, a failure in validation would
    already have deleted ``feature_names_in_``, and one after it (sample
    weights, string targets) reset ``n_features_in_`` and ``classes_``.
    """
    Est = BackpropRegressor if is_regression(kind) else BackpropClassifier
    X0, y0 = make_data(kind)
    X0 = pd.DataFrame(X0, columns=[f"f{i}" for i in range(N_FEATURES)])
    est = quietly(Est(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit, X0, y0)
    before = snapshot(est)
    pred = est.predict(X0)
    X, y, sw = bad_inputs(kind)[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no raw NumPy warnings on the way
        with pytest.raises(ValueError) as info:
            est.fit(X, y, sample_weight=sw)
    assert not type(info.value).__module__.startswith("numpy")
    assert_deep_equal(vars(est), before)
    assert_array_equal(est.predict(X0), pred)


@pytest.mark.parametrize("Est", CLASSIFIERS_WEIGHTED)
def test_failed_refit_leaves_sklearn_inconsistent_but_not_skmlp(Est):
    """Refit on new data with a bad sample_weight after a good fit.

    scikit-learn resets n_features_in_/classes_ before it validates the weights,
    so its model no longer predicts on the data it was fitted on.
    """
    X, y = make_data("multiclass")
    X_new = np.hstack([X, X])
    y_new = y % 2
    est = quietly(Est(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit, X, y)
    pred = est.predict(X)
    with pytest.raises(ValueError):
        est.fit(X_new, y_new, sample_weight=np.ones(3))
    if Est is BackpropClassifier:
        assert est.n_features_in_ == N_FEATURES
        assert_array_equal(est.classes_, [0, 1, 2])
        assert_array_equal(est.predict(X), pred)
    else:
        assert est.n_features_in_ == 2 * N_FEATURES
        assert_array_equal(est.classes_, [0, 1])
        with pytest.raises(ValueError):
            est.predict(X)


def test_regressor_rejects_string_targets():
    """A ValueError at validation; sklearn fails inside backprop with NumPy's
    UFuncTypeError (a TypeError: 'ufunc subtract did not contain a loop ...')."""
    X, _ = make_data("regression")
    y = np.array(["low", "high"] * 20)
    with pytest.raises(ValueError):
        BackpropRegressor(hidden_layer_sizes=(3,), max_iter=2).fit(X, y)
    with pytest.raises(TypeError) as info:
        MLPRegressor(hidden_layer_sizes=(3,), max_iter=2).fit(X, y)
    assert type(info.value).__module__.startswith("numpy")


@pytest.mark.parametrize("Est", CLASSIFIERS)
def test_failed_first_partial_fit_leaves_the_estimator_untouched(Est):
    """A first partial_fit that fails must not leave classes_ behind.

    scikit-learn sets classes_ before validating X, so after a failure the next
    call without ``classes`` is wrongly accepted as a continuation.
    """
    X, y = make_data("multiclass")
    X_bad = X.copy()
    X_bad[0, 0] = np.nan
    est = Est(hidden_layer_sizes=(3,), random_state=0)
    with pytest.raises(ValueError):
        est.partial_fit(X_bad, y, classes=[0, 1, 2])
    if Est is MLPClassifier:
        assert hasattr(est, "classes_")
        return
    assert vars(est) == vars(Est(hidden_layer_sizes=(3,), random_state=0))
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        est.partial_fit(X, y)


def test_failed_first_partial_fit_by_divergence_stays_unfitted():
    X, y = make_data("regression")
    est = BackpropRegressor(**DIVERGE)
    with ignoring_runtime_warnings(), pytest.raises(ValueError, match="non-finite"):
        est.partial_fit(X * 1e3, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    assert vars(est) == vars(BackpropRegressor(**DIVERGE))


@pytest.mark.parametrize("Est", CLASSIFIERS_WEIGHTED)
def test_mini_batch_with_zero_total_weight(Est):
    """A mini-batch whose sample weights are all zero teaches nothing.

    scikit-learn divides by the batch's weight sum and raises ZeroDivisionError.
    """
    X, y = make_data("multiclass")
    sw = np.ones(len(y))
    sw[:10] = 0.0
    est = Est(
        hidden_layer_sizes=(3,),
        batch_size=10,
        shuffle=False,
        max_iter=2,
        random_state=0,
    )
    if Est is MLPClassifier:
        with pytest.raises(ZeroDivisionError):
            quietly(est.fit, X, y, sample_weight=sw)
        return
    quietly(est.fit, X, y, sample_weight=sw)
    assert np.isfinite(est.loss_curve_).all()
    assert all(np.isfinite(w).all() for w in weights(est))


# ============================================================ early stopping
#: Class sizes whose shares of a 16-row validation set (validation_fraction=0.2
#: of 80 rows) are whole rows: 10/6 and 8/5/3.
CLASS_SIZES = {"binary": [50, 30], "multiclass": [40, 25, 15]}


def validation_scores_are_class_shares(Est, kind, seeds=range(4)):
    """Is every early-stopping validation score the share of one class in y?

    All rows of ``X`` are equal, so the model predicts one class for every
    validation row and its accuracy is that class's share of the validation
    set. A stratified split gives each class its share of ``y`` exactly; a
    plain random split of these sizes rarely does, for every class and seed.
    """
    sizes = CLASS_SIZES[kind]
    y = np.repeat(np.arange(len(sizes)), sizes)
    np.random.RandomState(0).shuffle(y)
    X = np.ones((len(y), 2))
    shares = np.array(sizes) / len(y)
    for seed in seeds:
        est = Est(
            hidden_layer_sizes=(3,),
            early_stopping=True,
            validation_fraction=0.2,
            max_iter=5,
            n_iter_no_change=100,
            random_state=seed,
        )
        quietly(est.fit, X, y)
        assert len(est.validation_scores_) == 5
        for score in est.validation_scores_:
            if not np.isclose(score, shares, rtol=0, atol=1e-12).any():
                return False
    return True


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_early_stopping_split_is_stratified_for_multiclass_too(kind):
    """README: "The early-stopping validation split is stratified for multiclass
    targets too. scikit-learn stratifies it only for binary targets."
    """
    assert validation_scores_are_class_shares(BackpropClassifier, kind)
    assert validation_scores_are_class_shares(MLPClassifier, kind) == (kind == "binary")


# ==================================================================== dtypes
def preserves_float32(Est, kind, solver):
    X, y = make_data(kind)
    X = X.astype(np.float32)
    est = quietly(
        Est(hidden_layer_sizes=(4,), solver=solver, max_iter=5, random_state=0).fit,
        X,
        y,
    )
    out = [*est.coefs_, *est.intercepts_]
    if hasattr(est, "predict_proba"):
        out.append(est.predict_proba(X))
        out.append(est.predict_log_proba(X))
    else:
        out.append(est.predict(X))
    return all(a.dtype == np.float32 for a in out)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel", "regression"])
def test_float32_in_float32_out(kind, solver):
    Est = BackpropRegressor if is_regression(kind) else BackpropClassifier
    assert preserves_float32(Est, kind, solver)
    X, y = make_data(kind)
    est = quietly(
        Est(hidden_layer_sizes=(4,), solver=solver, max_iter=5, random_state=0).fit,
        X,
        y,
    )
    est32 = quietly(
        Est(hidden_layer_sizes=(4,), solver=solver, max_iter=5, random_state=0).fit,
        X.astype(np.float32),
        y,
    )
    # the same model, to float32 precision
    for a, b in zip(weights(est), weights(est32), strict=True):
        assert_allclose(b, a, rtol=1e-2, atol=1e-3)


def test_sklearn_lbfgs_upcasts_float32():
    assert not preserves_float32(MLPRegressor, "regression", "lbfgs")
    assert not preserves_float32(MLPClassifier, "multiclass", "lbfgs")


# ======================================================== pandas, sparse, labels
@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("Est", [BackpropClassifier, BackpropRegressor])
def test_dataframe_keeps_feature_names(Est, early_stopping):
    kind = "regression" if Est is BackpropRegressor else "multiclass"
    X, y = make_data(kind)
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(N_FEATURES)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no feature-name warnings
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = Est(
            hidden_layer_sizes=(4,),
            max_iter=3,
            early_stopping=early_stopping,
            random_state=0,
        )
        est.fit(df, pd.Series(y) if y.ndim == 1 else y)
        pred = est.predict(df)
    assert_array_equal(est.feature_names_in_, df.columns)
    assert est.n_features_in_ == N_FEATURES
    with pytest.warns(UserWarning, match="feature names"):
        est.predict(X)
    with pytest.raises(ValueError, match="feature names"):
        est.predict(df[df.columns[::-1]])
    assert_array_equal(est.predict(df.iloc[:5]), pred[:5])


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_sparse_matches_dense(kind, solver, fmt):
    Est = BackpropRegressor if is_regression(kind) else BackpropClassifier
    X, y = make_data(kind)
    X[np.abs(X) < 0.7] = 0.0  # make it actually sparse
    Xs = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    params = {
        "hidden_layer_sizes": (5,),
        "solver": solver,
        "max_iter": 10,
        "batch_size": 8,
        "random_state": 0,
    }
    dense = quietly(Est(**params).fit, X, y)
    sparse = quietly(Est(**params).fit, Xs, y)
    for a, b in zip(weights(dense), weights(sparse), strict=True):
        assert_allclose(b, a, rtol=1e-7, atol=1e-9)
    assert_allclose(sparse.predict(Xs), dense.predict(X), rtol=1e-7, atol=1e-9)
    if kind == "multiclass":
        assert_allclose(sparse.predict_proba(Xs), dense.predict_proba(X), rtol=1e-7)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_string_labels(n_classes, solver):
    X, y = make_data("multiclass")
    names = np.array(["cat", "dog", "emu"])[:n_classes]
    y = names[y % n_classes]
    est = quietly(
        BackpropClassifier(
            hidden_layer_sizes=(5,), solver=solver, max_iter=30, random_state=0
        ).fit,
        X,
        y,
    )
    assert_array_equal(est.classes_, names)
    pred = est.predict(X)
    assert pred.dtype.kind == "U" and set(pred) <= set(names)
    proba = est.predict_proba(X)
    assert proba.shape == (len(y), n_classes)
    assert_array_equal(names[proba.argmax(axis=1)], pred)
    assert 0.0 <= est.score(X, y) <= 1.0
    if solver == "adam":
        inc = BackpropClassifier(hidden_layer_sizes=(5,), random_state=0)
        inc.partial_fit(X[:10], y[:10], classes=names)
        inc.partial_fit(X[10:], y[10:])
        assert_array_equal(inc.classes_, names)
        assert set(inc.predict(X)) <= set(names)
        es = quietly(
            BackpropClassifier(
                hidden_layer_sizes=(5,), early_stopping=True, max_iter=5, random_state=0
            ).fit,
            X,
            y,
        )
        assert len(es.validation_scores_) == es.n_iter_


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_multilabel(solver):
    X, Y = make_data("multilabel")
    est = quietly(
        BackpropClassifier(
            hidden_layer_sizes=(5,), solver=solver, max_iter=20, random_state=0
        ).fit,
        X,
        Y,
    )
    assert est.out_activation_ == "logistic"
    assert est.n_outputs_ == Y.shape[1]
    pred = est.predict(X)
    assert pred.shape == Y.shape
    assert set(np.unique(pred)) <= {0, 1}
    proba = est.predict_proba(X)
    assert proba.shape == Y.shape
    assert_array_equal((proba > 0.5).astype(int), pred)
    assert_allclose(est.predict_log_proba(X), np.log(proba), rtol=1e-10, atol=1e-15)
    if solver != "lbfgs":
        inc = BackpropClassifier(hidden_layer_sizes=(5,), solver=solver, random_state=0)
        inc.partial_fit(X, Y, classes=np.arange(Y.shape[1]))
        inc.partial_fit(X, Y)
        assert inc.predict(X).shape == Y.shape


def test_warm_start_with_changed_layer_sizes_names_the_problem():
    """A warm refit with other hidden sizes says why, and leaves the model as it was.

    scikit-learn fails here with a raw NumPy broadcasting error.
    """
    rng = np.random.RandomState(0)
    X, y = rng.randn(30, 4), np.arange(30) % 2
    est = BackpropClassifier(
        hidden_layer_sizes=(3,), warm_start=True, max_iter=3, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    before = [c.copy() for c in est.coefs_]
    est.set_params(hidden_layer_sizes=(4,))
    with pytest.raises(ValueError, match=r"layer sizes \[4, 3, 1\].*warm_start=False"):
        est.fit(X, y)
    for old, new in zip(before, est.coefs_, strict=True):
        np.testing.assert_array_equal(old, new)
