"""Batch normalization: what it computes, when its statistics move, and how it
behaves in every place a fit or a prediction goes through.

The references are written out in NumPy here, with the formulas of PyTorch's
``BatchNorm1d`` (``torch`` is not a test dependency): training normalises by the
batch's mean and biased variance, ``running = (1 - momentum) running +
momentum batch``, inference uses the running statistics. skmlp's one deliberate
difference is the running variance, which is the biased batch variance (PyTorch
folds in ``n / (n - 1)``, which has no meaning under sample weights). The
finite-difference gradient matrix with batch norm is in ``test_gradients.py``.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmlp import BackpropClassifier, BackpropRegressor, check_gradients
from skmlp._optimizers import SOLVERS

pytestmark = pytest.mark.usefixtures("one_blas_thread")
EPS = 1e-5


def quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def data(n=40, d=4, seed=0, kind="multiclass"):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d) * [1.0, 3.0, 0.5, 2.0][:d] + [0.5, -1.0, 2.0, 0.0][:d]
    if kind == "regression":
        return X, X @ rng.randn(d) + 0.1 * rng.randn(n)
    return X, (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 2)


# ----------------------------------------------------------- the references
def ref_relu(z):
    return np.maximum(z, 0.0)


def ref_bn_train(z, gamma, beta, w):
    """Training forward: normalised by the (weighted) batch mean and biased var."""
    mu = w @ z
    var = w @ (z - mu) ** 2
    xhat = (z - mu) / np.sqrt(var + EPS)
    return gamma * xhat + beta, (mu, var, xhat)


def ref_bn_infer(z, gamma, beta, mean, var):
    return gamma * (z - mean) / np.sqrt(var + EPS) + beta


def ref_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def ref_sgd_step(X, y, W1, W2, b2, gamma, beta, lr, sw=None):
    """One full-batch SGD step of ``X W1 -> BN -> ReLU -> W2 + b2 -> softmax``.

    Written out by hand (backprop of the mean log loss, as in the user
    guide); returns the new parameters and the batch statistics.
    """
    n, k = len(X), W2.shape[1]
    s = np.ones(n) if sw is None else sw
    w = s / s.sum()
    z = X @ W1  # the intercept of a normalised layer is frozen at 0
    h, (mu, var, xhat) = ref_bn_train(z, gamma, beta, w)
    a = ref_relu(h)
    p = ref_softmax(a @ W2 + b2)
    Y = np.eye(k)[y]
    d_out = (p - Y) * w[:, None]  # d(sum_i w_i L_i) / d logits
    gW2, gb2 = a.T @ d_out, d_out.sum(axis=0)
    d_h = (d_out @ W2.T) * (h > 0)
    g_gamma, g_beta = (d_h * xhat).sum(axis=0), d_h.sum(axis=0)
    d_xhat = d_h * gamma
    std = np.sqrt(var + EPS)
    # d xhat_j / d z_i = (delta_ij - w_i - w_i xhat_i xhat_j) / std
    d_z = (
        d_xhat - w[:, None] * d_xhat.sum(0) - w[:, None] * xhat * (d_xhat * xhat).sum(0)
    ) / std
    gW1 = X.T @ d_z
    new = [
        p_ - lr * g
        for p_, g in zip(
            (W1, W2, b2, gamma, beta), (gW1, gW2, gb2, g_gamma, g_beta), strict=True
        )
    ]
    return new, (mu, var)


def sgd_classifier(**params):
    defaults = dict(
        hidden_layer_sizes=(5,),
        batch_norm=True,
        solver="sgd",
        momentum=0.0,
        alpha=0.0,
        learning_rate_init=0.1,
        random_state=0,
    )
    return BackpropClassifier(**{**defaults, **params})


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_one_sgd_step_and_the_running_statistics_match_the_reference(weighted):
    X, y = data()
    sw = np.random.RandomState(3).uniform(0.2, 2.0, len(y)) if weighted else None
    start = sgd_classifier(max_iter=1, learning_rate_init=1e-300)
    quiet_fit(start, X, y, sample_weight=sw)  # the initial parameters, unmoved
    W1, W2 = start.coefs_
    _, b2 = start.intercepts_
    gamma, beta = start.batch_norm_scales_[0], np.zeros(5)
    assert_array_equal(gamma, 1.0)  # initialised to 1 and 0 (a 1e-300 step
    assert_allclose(start.batch_norm_offsets_[0], 0.0, atol=1e-290)  # moved beta)
    assert_array_equal(start.intercepts_[0], 0.0)  # frozen at 0

    est = sgd_classifier(max_iter=1, batch_size=len(y))
    quiet_fit(est, X, y, sample_weight=sw)
    (W1n, W2n, b2n, gn, bn), (mu, var) = ref_sgd_step(
        X, y, W1, W2, b2, gamma, beta, 0.1, sw
    )
    assert_allclose(est.coefs_[0], W1n, rtol=1e-10, atol=1e-13)
    assert_allclose(est.coefs_[1], W2n, rtol=1e-10, atol=1e-13)
    assert_allclose(est.intercepts_[1], b2n, rtol=1e-10, atol=1e-13)
    assert_allclose(est.batch_norm_scales_[0], gn, rtol=1e-10, atol=1e-13)
    assert_allclose(est.batch_norm_offsets_[0], bn, rtol=1e-10, atol=1e-13)
    assert_array_equal(est.intercepts_[0], 0.0)
    # one step folded its batch statistics in, PyTorch's momentum convention,
    # the biased variance (PyTorch's unbiased one would be var * n / (n - 1))
    assert_allclose(est.batch_norm_means_[0], 0.1 * mu, rtol=1e-12)
    assert_allclose(est.batch_norm_vars_[0], 0.9 + 0.1 * var, rtol=1e-12)


def test_inference_uses_the_running_statistics():
    X, y = data()
    est = quiet_fit(sgd_classifier(max_iter=5, batch_size=10), X, y)
    W1, W2 = est.coefs_
    _, b2 = est.intercepts_
    h = ref_bn_infer(
        X @ W1,
        est.batch_norm_scales_[0],
        est.batch_norm_offsets_[0],
        est.batch_norm_means_[0],
        est.batch_norm_vars_[0],
    )
    logits = ref_relu(h) @ W2 + b2
    assert_allclose(est.decision_function(X), logits, rtol=1e-10, atol=1e-12)
    assert_allclose(est.predict_proba(X), ref_softmax(logits), rtol=1e-10)
    # not the batch statistics of X: those would give other outputs
    batch, _ = ref_bn_train(
        X @ W1,
        est.batch_norm_scales_[0],
        est.batch_norm_offsets_[0],
        np.full(40, 1 / 40),
    )
    assert not np.allclose(ref_relu(batch) @ W2 + b2, logits, atol=1e-3)
    # one row at a time gives the same: inference is row by row
    rows = np.vstack([est.decision_function(X[i : i + 1]) for i in range(5)])
    assert_allclose(rows, logits[:5], rtol=1e-12)


def test_running_statistics_follow_the_momentum_over_several_batches():
    """Three batches: each one's statistics, under the weights it was seen
    with, folded in with momentum 0.3; one epoch of fit equals three
    partial_fit calls of one batch each."""
    X, y = data(n=30)
    model = sgd_classifier(batch_size=10, shuffle=False, batch_norm_momentum=0.3)
    epoch = quiet_fit(clone(model).set_params(max_iter=1), X, y)
    start = quiet_fit(
        clone(model).set_params(max_iter=1, learning_rate_init=1e-300), X, y
    )
    W1 = start.coefs_[0]
    mean, var = np.zeros(5), np.ones(5)
    steps = clone(model)
    for k in range(3):
        rows = slice(10 * k, 10 * k + 10)
        z = X[rows] @ W1
        mean, var = 0.7 * mean + 0.3 * z.mean(0), 0.7 * var + 0.3 * z.var(0)
        steps.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
        assert_allclose(steps.batch_norm_means_[0], mean, rtol=1e-10, atol=1e-14)
        assert_allclose(steps.batch_norm_vars_[0], var, rtol=1e-10)
        W1 = steps.coefs_[0].copy()
    for a, b in zip(
        epoch.coefs_ + epoch.batch_norm_means_ + epoch.batch_norm_vars_,
        steps.coefs_ + steps.batch_norm_means_ + steps.batch_norm_vars_,
        strict=True,
    ):
        assert_allclose(a, b, rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------- sample weights
@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_integer_weights_equal_repeated_rows_and_zero_removes_a_row(solver):
    X, y = data(n=20, kind="regression")
    counts = np.random.RandomState(1).randint(0, 4, len(y))
    counts[:2] = [0, 3]
    params = dict(
        hidden_layer_sizes=(6,),
        batch_norm=True,
        solver=solver,
        batch_size=200,  # one full batch either way
        shuffle=False,
        max_iter=5,
        random_state=0,
    )
    weighted = quiet_fit(
        BackpropRegressor(**params), X, y, sample_weight=counts.astype(float)
    )
    repeated = quiet_fit(
        BackpropRegressor(**params), np.repeat(X, counts, axis=0), np.repeat(y, counts)
    )
    for a, b in zip(
        weighted.coefs_ + weighted.batch_norm_means_ + weighted.batch_norm_vars_,
        repeated.coefs_ + repeated.batch_norm_means_ + repeated.batch_norm_vars_,
        strict=True,
    ):
        assert_allclose(a, b, rtol=1e-7, atol=1e-10)


# ----------------------------------------------------------- what is trained
def test_scales_and_offsets_are_not_penalised_or_decayed():
    X, y = data()
    est = quiet_fit(BackpropClassifier((5,), batch_norm=True, max_iter=2), X, y)
    network = est._fitted_network().network
    layout = network.layout
    named = {s.name: s for s in layout.segments}
    assert not named["scale"].decayed and not named["offset"].decayed
    n_coef = sum(c.size for c in est.coefs_)
    assert layout.n_decayed == n_coef
    assert min(named["scale"].slice.start, named["offset"].slice.start) >= n_coef
    # AdamW with a huge decay and no gradient to speak of: only weights shrink
    kw = dict(
        hidden_layer_sizes=(5,),
        batch_norm=True,
        solver="adamw",
        weight_decay=100.0,
        learning_rate_init=1e-3,
        max_iter=1,
        batch_size=40,
        random_state=0,
    )
    decayed = quiet_fit(BackpropClassifier(**kw), X, y)
    plain = quiet_fit(BackpropClassifier(**{**kw, "weight_decay": 0.0}), X, y)
    assert not np.allclose(decayed.coefs_[0], plain.coefs_[0])
    assert_allclose(
        decayed.batch_norm_scales_[0], plain.batch_norm_scales_[0], rtol=1e-9
    )


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_normalised_layers_keep_a_zero_intercept_and_sklearn_shapes(solver):
    X, y = data()
    est = quiet_fit(
        BackpropClassifier((6, 5), batch_norm=[True, False], solver=solver, max_iter=5),
        X,
        y,
    )
    assert [b.shape for b in est.intercepts_] == [(6,), (5,), (3,)]
    assert_array_equal(est.intercepts_[0], 0.0)
    assert np.abs(est.intercepts_[1]).max() > 0
    assert est.batch_norm_scales_[1] is None and est.batch_norm_means_[1] is None
    assert est.batch_norm_scales_[0].shape == (6,)


# ----------------------------------------------------------- purity, L-BFGS
def test_loss_evaluations_never_move_the_running_statistics():
    X, y = data()
    est = quiet_fit(sgd_classifier(max_iter=3, batch_size=10), X, y)
    before = [m.copy() for m in est.batch_norm_means_ + est.batch_norm_vars_]
    report = check_gradients(est, X, y)
    assert report.ok
    assert {a.name for a in report.arrays} >= {
        "batch_norm_scales_[0]",
        "batch_norm_offsets_[0]",
    }
    for a, b in zip(est.batch_norm_means_ + est.batch_norm_vars_, before, strict=True):
        assert_array_equal(a, b)


def test_lbfgs_predicts_with_the_statistics_it_minimised():
    """At the solution the running statistics are the full batch's: the
    inference-mode training loss equals the reported objective."""
    X, y = data(n=60)
    est = quiet_fit(
        BackpropClassifier(
            (6,), batch_norm=True, solver="lbfgs", alpha=0.0, max_iter=50
        ),
        X,
        y,
    )
    z = X @ est.coefs_[0]
    assert_allclose(est.batch_norm_means_[0], z.mean(0), rtol=1e-10)
    assert_allclose(est.batch_norm_vars_[0], z.var(0), rtol=1e-10)
    proba = est.predict_proba(X)
    log_loss = -np.mean(np.log(proba[np.arange(len(y)), y]))
    assert_allclose(log_loss, est.loss_, rtol=1e-9)


# ----------------------------------------------------------- the fit's lifecycle
def test_early_stopping_restores_the_statistics_with_the_best_weights():
    X, y = data(n=80, seed=2)
    X_val, y_val = data(n=30, seed=5)
    kw = dict(
        hidden_layer_sizes=(6,),
        batch_norm=True,
        solver="sgd",
        learning_rate_init=0.3,
        batch_size=20,
        random_state=0,
        n_iter_no_change=3,
        tol=0.0,
    )
    stopped = quiet_fit(
        BackpropClassifier(early_stopping=True, max_iter=40, **kw),
        X,
        y,
        X_val=X_val,
        y_val=y_val,
    )
    best = int(np.argmax(stopped.validation_scores_)) + 1
    assert best < stopped.n_iter_, "the test needs a best epoch before the last"
    exact = quiet_fit(
        BackpropClassifier(max_iter=best, **kw), X, y, X_val=X_val, y_val=y_val
    )
    for name in (
        "coefs_",
        "batch_norm_means_",
        "batch_norm_vars_",
        "batch_norm_scales_",
    ):
        for a, b in zip(getattr(stopped, name), getattr(exact, name), strict=True):
            assert_array_equal(a, b)


@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_warm_start_and_partial_fit_continue_the_statistics(how):
    X, y = data()
    kw = dict(hidden_layer_sizes=(5,), batch_norm=True, batch_size=10, random_state=0)
    once = quiet_fit(BackpropClassifier(max_iter=4, **kw), X, y)
    if how == "warm_start":
        twice = BackpropClassifier(max_iter=2, warm_start=True, **kw)
        quiet_fit(twice, X, y)
        quiet_fit(twice, X, y)
    else:
        twice = BackpropClassifier(**kw)
        for _ in range(4):
            twice.partial_fit(X, y, classes=[0, 1, 2])
    for name in (
        "coefs_",
        "batch_norm_means_",
        "batch_norm_vars_",
        "batch_norm_offsets_",
    ):
        for a, b in zip(getattr(once, name), getattr(twice, name), strict=True):
            assert_array_equal(a, b)


def test_a_failed_fit_leaves_the_statistics_as_they_were():
    X, y = data(kind="regression")
    est = quiet_fit(
        BackpropRegressor(hidden_layer_sizes=(5,), batch_norm=True, max_iter=3), X, y
    )
    saved = [a.copy() for a in est.batch_norm_means_ + est.batch_norm_vars_]
    est.set_params(warm_start=True, learning_rate_init=1e10, solver="sgd", max_iter=50)
    with warnings.catch_warnings(), pytest.raises(ValueError, match="diverged"):
        warnings.simplefilter("ignore")
        est.fit(X[::-1], y[::-1] * 1e10)  # other data, and divergent steps
    for a, b in zip(est.batch_norm_means_ + est.batch_norm_vars_, saved, strict=True):
        assert_array_equal(a, b)


def test_switching_batch_norm_between_warm_fits_is_refused():
    X, y = data()
    est = quiet_fit(BackpropClassifier((5,), max_iter=2, warm_start=True), X, y)
    with pytest.raises(ValueError, match="batch normalization per hidden layer"):
        est.set_params(batch_norm=True).fit(X, y)


# ----------------------------------------------------------- one-row batches
def test_a_trailing_one_row_batch_joins_the_one_before():
    X, y = data(n=21)
    est = quiet_fit(sgd_classifier(max_iter=2, batch_size=10), X, y)
    assert est._fit_state.optimizer_state.t == 4  # two batches an epoch, not three
    plain = quiet_fit(
        BackpropClassifier(
            (5,), solver="sgd", batch_size=10, max_iter=2, random_state=0
        ),
        X,
        y,
    )
    assert plain._fit_state.optimizer_state.t == 6  # without batch norm: as before


@pytest.mark.parametrize("Est", [BackpropClassifier, BackpropRegressor])
def test_one_sample_is_refused(Est):
    X, y = data(n=1, kind="regression")
    if Est is BackpropClassifier:
        with pytest.raises(ValueError, match="more than 1 sample"):
            Est(batch_norm=True).partial_fit(X, [0], classes=[0, 1])
    with pytest.raises(ValueError, match="more than 1 sample"):
        Est(batch_norm=True).fit(X, [1])
    # one row of positive weight is one sample to the batch statistics
    X, y = data(n=10, kind="regression" if Est is BackpropRegressor else "multiclass")
    weights = np.zeros(10)
    weights[3] = 1.0
    with pytest.raises(ValueError, match="more than 1 sample of positive weight"):
        Est(batch_norm=True).fit(X, y, sample_weight=weights)
    kind = "regression" if Est is BackpropRegressor else "multiclass"
    with pytest.raises(ValueError, match=r"batch_norm=True.*batch_size=1"):
        Est(batch_norm=True, batch_size=1).fit(*data(n=10, kind=kind))
    # L-BFGS ignores batch_size (full-batch statistics), as scikit-learn does
    quiet_fit(
        Est(batch_norm=True, batch_size=1, solver="lbfgs", max_iter=3),
        *data(n=10, kind=kind),
    )


# ----------------------------------------------------------- combinations
def test_dropout_and_batch_norm_combine():
    X, y = data()
    est = quiet_fit(
        BackpropClassifier(
            (8, 6), batch_norm=True, dropout=0.3, max_iter=5, random_state=0
        ),
        X,
        y,
    )
    assert_array_equal(est.predict_proba(X), est.predict_proba(X))  # no masks
    assert check_gradients(est, X, y).ok  # dropout off, batch statistics on


def test_float32_stays_float32():
    X, y = data()
    est = quiet_fit(
        BackpropClassifier((5,), batch_norm=True, max_iter=3), X.astype(np.float32), y
    )
    assert est.batch_norm_scales_[0].dtype == np.float32
    assert est.batch_norm_means_[0].dtype == np.float32
    assert est.predict_proba(X.astype(np.float32)).dtype == np.float32


def test_validation_scores_use_the_running_statistics():
    X, y = data(n=60)
    X_val, y_val = data(n=30, seed=4)
    est = quiet_fit(
        BackpropClassifier((5,), batch_norm=True, max_iter=6, random_state=0),
        X,
        y,
        X_val=X_val,
        y_val=y_val,
    )
    assert est.validation_scores_[-1] == est.score(X_val, y_val)


def test_the_default_network_is_unchanged_by_the_new_parameters():
    """batch_norm=False draws, trains and predicts exactly as before."""
    X, y = data()
    a = quiet_fit(BackpropClassifier((5,), max_iter=3, random_state=0), X, y)
    b = quiet_fit(
        BackpropClassifier((5,), max_iter=3, random_state=0, batch_norm=[False]), X, y
    )
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        assert_array_equal(p, q)
    assert a.batch_norm_scales_ == [None]


# ----------------------------------------------------------- scikit-learn's checks
#: 50 epochs keep the checks fast (a quarter of the default's time) and are
#: enough with batch norm; Adagrad's shrinking steps want a larger first one
BN_ESTIMATORS = [
    Est(
        batch_norm=True,
        solver=solver,
        max_iter=50,
        learning_rate_init=0.01 if solver == "adagrad" else 0.001,
    )
    for Est in (BackpropClassifier, BackpropRegressor)
    for solver in sorted(SOLVERS)
]


@parametrize_with_checks(BN_ESTIMATORS)
def test_sklearn_compatible_with_batch_norm(estimator, check):
    """check_estimator with batch_norm=True, every solver (sample-weight
    equivalence included: the batch statistics are weighted)."""
    check(estimator)
