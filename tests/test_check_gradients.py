"""The public gradient checker: it passes on the real backprop and catches bugs.

``check_gradients`` is run on fitted (a few epochs) and unfitted estimators for
every activation and every loss, with L2 and L1 penalties, class and sample
weights; it must not modify the estimator, and it must report (``not ok``,
'FAILS' in its table) a deliberately broken derivative. Small data and networks
keep the file fast.
"""

import copy

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skmlp import (
    BackpropClassifier,
    BackpropRegressor,
    GradientReport,
    check_gradients,
)
from skmlp._activations import ACTIVATIONS, GELU, Tanh
from skmlp._losses import (
    Huber,
    Quantile,
    SigmoidLogLoss,
    SoftmaxLogLoss,
    SquaredError,
)

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)

N_SAMPLES, N_FEATURES = 24, 4
HIDDEN = (5, 3)
# every registered name, aliases included, plus a per-layer list
ACTIVATION_PARAMS = [*sorted(ACTIVATIONS), ["tanh", "gelu"], ("relu", "silu")]
COMMON = dict(
    hidden_layer_sizes=HIDDEN,
    alpha=0.05,
    alpha_l1=0.01,
    learning_rate_init=0.01,
    random_state=0,
)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES))
    sw = rng.uniform(0.2, 2.0, N_SAMPLES)
    sw[3] = 0.0
    # unbalanced classes, so that class_weight='balanced' changes the weights
    y_multiclass = np.repeat(["ant", "bee", "cat"], [12, 8, 4])
    y_binary = np.repeat([-1, 1], [16, 8])
    y_multilabel = rng.integers(0, 2, (N_SAMPLES, 3))
    y_multilabel[:2] = [[0, 0, 0], [1, 1, 1]]  # every column has both values
    y_real = X @ rng.normal(size=N_FEATURES) + 0.3 * rng.normal(size=N_SAMPLES)
    y_real2 = np.column_stack([y_real, np.sin(X[:, 0])])
    y_counts = rng.poisson(1.5, N_SAMPLES).astype(float)
    targets = {
        "binary": y_binary,
        "multiclass": y_multiclass,
        "multilabel": y_multilabel,
        "real": y_real,
        "real2": y_real2,
        "counts": y_counts,
    }
    return X, sw, targets


X, SW, TARGETS = _data()

# case -> (estimator class, its loss parameters, target key)
CASES = {
    "binary": (BackpropClassifier, {}, "binary"),
    "multiclass": (BackpropClassifier, {}, "multiclass"),
    "multilabel": (BackpropClassifier, {}, "multilabel"),
    "multiclass-smoothed": (
        BackpropClassifier,
        {"label_smoothing": 0.1},
        "multiclass",
    ),
    "squared_error": (BackpropRegressor, {"loss": "squared_error"}, "real"),
    "squared_error-2out": (BackpropRegressor, {"loss": "squared_error"}, "real2"),
    "poisson": (BackpropRegressor, {"loss": "poisson"}, "counts"),
    "absolute_error": (BackpropRegressor, {"loss": "absolute_error"}, "real"),
    "huber(1)": (BackpropRegressor, {"loss": "huber", "huber_delta": 1.0}, "real"),
    "huber(0.5)-2out": (
        BackpropRegressor,
        {"loss": "huber", "huber_delta": 0.5},
        "real2",
    ),
    "quantile(0.5)": (BackpropRegressor, {"loss": "quantile", "quantile": 0.5}, "real"),
    "quantile(0.8)-2out": (
        BackpropRegressor,
        {"loss": "quantile", "quantile": 0.8},
        "real2",
    ),
}


def _estimator(case, activation="tanh", **params):
    cls, loss_params, target = CASES[case]
    est = cls(activation=activation, **{**COMMON, **loss_params, **params})
    return est, TARGETS[target]


def _id(value):
    return value if isinstance(value, str) else "-".join(value)


def _assert_same(a, b, path="estimator"):
    """Deep equality of estimator state: arrays, containers and plain objects."""
    assert type(a) is type(b), path
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, path
        np.testing.assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, np.random.RandomState):
        _assert_same(a.get_state(legacy=False), b.get_state(legacy=False), path)
    elif hasattr(a, "__dict__") and not callable(a):
        _assert_same(vars(a), vars(b), f"{path}.__dict__")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), path
    else:
        assert a == b, path


def _snapshot(est):
    return copy.deepcopy(est)


# --------------------------------------------------------------------------
# it passes on the real backprop


def _check_passes_and_leaves_estimator_alone(est, y, fitted, sample_weight=None):
    if fitted:
        est.fit(X, y, sample_weight=sample_weight)
    before = _snapshot(est)
    report = check_gradients(est, X, y, sample_weight)
    assert isinstance(report, GradientReport)
    assert report.ok, f"\n{report}"
    assert "FAILS" not in str(report)
    assert np.isfinite(report.loss) and report.loss > 0
    _assert_same(est.get_params(deep=False), before.get_params(deep=False))
    _assert_same(vars(est), vars(before))
    return report


# The core's matrix (test_gradients.py) crosses every activation with every
# loss; here the estimator plumbing is checked: every activation with two
# losses, every loss with two activations.


@pytest.mark.parametrize("fitted", [False, True], ids=["unfitted", "fitted"])
@pytest.mark.parametrize("case", ["multiclass", "quantile(0.8)-2out"])
@pytest.mark.parametrize("activation", ACTIVATION_PARAMS, ids=_id)
def test_passes_for_every_activation(activation, case, fitted):
    """Correct backprop passes, with L2 and L1; the estimator is unchanged."""
    est, y = _estimator(case, activation, max_iter=3)
    _check_passes_and_leaves_estimator_alone(est, y, fitted)


@pytest.mark.parametrize("fitted", [False, True], ids=["unfitted", "fitted"])
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_passes_for_every_loss(activation, case, fitted):
    """Every classification target type and regression loss (with parameters)."""
    est, y = _estimator(case, activation, max_iter=3)
    _check_passes_and_leaves_estimator_alone(est, y, fitted)


@pytest.mark.parametrize("fitted", [False, True], ids=["unfitted", "fitted"])
@pytest.mark.parametrize("case", ["binary", "multiclass"])
@pytest.mark.parametrize("sample_weight", [False, True], ids=["", "sample_weight"])
def test_passes_with_class_and_sample_weight(case, sample_weight, fitted):
    """class_weight='balanced' times sample_weight: checked, and taken into account."""
    est, y = _estimator(case, "relu", class_weight="balanced", max_iter=3)
    sw = SW if sample_weight else None
    if fitted:
        est.fit(X, y, sample_weight=sw)
    before = _snapshot(est)
    report = check_gradients(est, X, y, sw)
    assert report.ok, f"\n{report}"
    _assert_same(vars(est), vars(before))
    # the weights change the objective that is checked
    unweighted = check_gradients(est.set_params(class_weight=None), X, y)
    assert unweighted.ok
    assert not np.isclose(report.loss, unweighted.loss, rtol=1e-6)


@pytest.mark.parametrize("fitted", [False, True], ids=["unfitted", "fitted"])
@pytest.mark.parametrize("case", [c for c in CASES if CASES[c][0] is BackpropRegressor])
def test_passes_with_sample_weight_regression(case, fitted):
    """Regression losses with sample weights (one of them zero)."""
    est, y = _estimator(case, "elu", max_iter=3)
    _check_passes_and_leaves_estimator_alone(est, y, fitted, list(SW))


def _penalty(est):
    w = np.concatenate([c.ravel() for c in est.coefs_])
    return 0.5 * est.alpha * w @ w + est.alpha_l1 * np.abs(w).sum()


def _per_sample_loss(est, y):
    """The training loss per sample, from the public predictions."""
    if isinstance(est, BackpropClassifier):
        Y = np.asarray(y)
        if Y.ndim == 1:  # one-hot in classes_ order
            Y = (Y[:, None] == est.classes_[None, :]).astype(float)
        proba = est.predict_proba(X)
        if Y.shape[1] == 1 or est.out_activation_ == "logistic":
            if proba.shape[1] == 2 and Y.shape[1] == 2:  # binary: positive class
                Y, proba = Y[:, 1:], proba[:, 1:]
            return -(Y * np.log(proba) + (1 - Y) * np.log1p(-proba)).sum(axis=1)
        return -(Y * np.log(proba)).sum(axis=1)
    Y = np.asarray(y, dtype=float).reshape(len(X), -1)
    pred = est.predict(X).reshape(len(X), -1)
    r = pred - Y
    if est.loss == "squared_error":
        per = 0.5 * r**2
    elif est.loss == "poisson":
        safe = np.where(Y > 0, Y, 1.0)
        per = np.where(Y > 0, Y * np.log(safe / pred), 0.0) - Y + pred
    elif est.loss == "absolute_error":
        per = np.abs(r)
    elif est.loss == "huber":
        d = est.huber_delta
        per = np.where(np.abs(r) <= d, 0.5 * r**2, d * np.abs(r) - 0.5 * d * d)
    else:
        q = est.quantile
        per = np.maximum(-q * r, (1 - q) * r)
    return per.sum(axis=1)


@pytest.mark.parametrize("case", [c for c in CASES if c != "multiclass-smoothed"])
def test_reported_loss_is_the_training_objective(case):
    """``report.loss`` is ``(sum s_i L_i + alpha/2 |W|^2 + alpha_l1 |W|_1) / S``.

    Recomputed from the fitted model's public predictions and ``coefs_``.
    """
    est, y = _estimator(case, "softplus", max_iter=3)
    est.fit(X, y, sample_weight=SW)
    report = check_gradients(est, X, y, SW)
    expected = (SW @ _per_sample_loss(est, y) + _penalty(est)) / SW.sum()
    np.testing.assert_allclose(report.loss, expected, rtol=1e-9)


def test_reported_loss_with_label_smoothing():
    """Label smoothing: targets ``(1 - eps) y + eps / K`` in the checked objective."""
    est, y = _estimator("multiclass-smoothed", "tanh", max_iter=3)
    est.fit(X, y)
    report = check_gradients(est, X, y)
    Y = (y[:, None] == est.classes_[None, :]).astype(float) * 0.9 + 0.1 / 3
    per = -(Y * np.log(est.predict_proba(X))).sum(axis=1)
    np.testing.assert_allclose(report.loss, (per.sum() + _penalty(est)) / len(X))


def test_fitted_classifier_on_a_subset_missing_a_class():
    """A fitted classifier is checked with its fitted label encoding.

    The docstring promises the fitted weights; checking them on a subset of the
    data (here one without the class 'cat') must not re-encode the labels.
    """
    est, y = _estimator("multiclass", "tanh", max_iter=3)
    est.fit(X, y)
    keep = y != "cat"
    report = check_gradients(est, X[keep], y[keep])
    assert report.ok, f"\n{report}"
    assert [a.shape for a in report.arrays[: len(est.coefs_)]] == [
        c.shape for c in est.coefs_
    ]


@pytest.mark.parametrize("fitted", [False, True], ids=["unfitted", "fitted"])
def test_dropout_is_off_and_random_state_untouched(fitted):
    """Dropout estimators pass (masks off); a RandomState param is not advanced."""
    rs = np.random.RandomState(3)
    est, y = _estimator("multiclass", "relu", dropout=[0.5, 0.2], random_state=rs)
    est.set_params(max_iter=3)
    if fitted:
        est.fit(X, y)
    state = rs.get_state(legacy=False)
    before = _snapshot(est)
    report = check_gradients(est, X, y)
    assert report.ok, f"\n{report}"
    _assert_same(rs.get_state(legacy=False), state)
    _assert_same(vars(est), vars(before))


# --------------------------------------------------------------------------
# the report


def test_report_layout_and_subsampling():
    """One row per array, in coefs_ then intercepts_ order; max_entries honoured."""
    est, y = _estimator("multiclass", "tanh", max_iter=3)
    est.fit(X, y)
    report = check_gradients(est, X, y, max_entries=4, random_state=1)
    n = len(est.coefs_)
    names = [a.name for a in report.arrays]
    assert names == [f"coefs_[{i}]" for i in range(n)] + [
        f"intercepts_[{i}]" for i in range(n)
    ]
    shapes = [c.shape for c in est.coefs_] + [b.shape for b in est.intercepts_]
    assert [a.shape for a in report.arrays] == shapes
    assert [a.n_checked for a in report.arrays] == [
        min(4, int(np.prod(s))) for s in shapes
    ]
    for a in report.arrays:
        assert a.passed and 0 <= a.max_abs_error and 0 <= a.max_rel_error < 1e-5
    assert report.max_rel_error == max(a.max_rel_error for a in report.arrays)
    text = str(report)
    assert all(name in text for name in names)
    assert text.rstrip().endswith("OK")
    full = check_gradients(est, X, y)
    assert [a.n_checked for a in full.arrays] == [int(np.prod(s)) for s in shapes]
    assert full.loss == report.loss


# --------------------------------------------------------------------------
# it catches broken derivatives


def _assert_caught(report, failing=None):
    text = str(report)
    assert not report.ok, f"\n{text}"
    assert "FAILS" in text and "MISMATCH" in text
    if failing is not None:
        assert [a.name for a in report.arrays if not a.passed] == failing, text


# a broken hidden-layer derivative corrupts every array before that layer's output
HIDDEN_ARRAYS = ["coefs_[0]", "coefs_[1]", "intercepts_[0]", "intercepts_[1]"]


@pytest.mark.parametrize("fitted", [False, True], ids=["unfitted", "fitted"])
@pytest.mark.parametrize("case", ["multiclass", "huber(1)"])
def test_catches_tanh_derivative_missing_a_factor(case, fitted, monkeypatch):
    """``1 - a`` instead of ``1 - a**2``: every array below the output fails."""

    def backward(self, a, delta):
        delta *= 1 - a  # drops a factor of ``a`` in ``a * a``
        return delta

    est, y = _estimator(case, "tanh", max_iter=3)
    if fitted:
        est.fit(X, y)
    monkeypatch.setattr(Tanh, "backward", backward)
    _assert_caught(check_gradients(est, X, y), HIDDEN_ARRAYS)


def test_catches_wrong_derivative_in_one_layer_only(monkeypatch):
    """A GELU (second layer) derivative without its ``z phi(z)`` term is caught."""

    def backward(self, a, delta, z=None):
        from scipy.special import ndtr

        delta *= ndtr(z)
        return delta

    est, y = _estimator("squared_error", ["tanh", "gelu"])
    monkeypatch.setattr(GELU, "backward", backward)
    report = check_gradients(est, X, y)
    _assert_caught(report, HIDDEN_ARRAYS)


def _scaled_gradient(loss_cls, factor, monkeypatch):
    right = loss_cls.loss_and_gradient

    def wrong(self, z, y, sample_weight, grad, scale=1.0):
        value = right(self, z, y, sample_weight, grad, scale)
        grad *= factor
        return value

    monkeypatch.setattr(loss_cls, "loss_and_gradient", wrong)


@pytest.mark.parametrize(
    ("case", "loss_cls"),
    [
        ("binary", SigmoidLogLoss),
        ("multiclass", SoftmaxLogLoss),
        ("multilabel", SigmoidLogLoss),
        ("huber(0.5)-2out", Huber),
        ("quantile(0.8)-2out", Quantile),
    ],
)
@pytest.mark.parametrize("fitted", [False, True], ids=["unfitted", "fitted"])
def test_catches_loss_gradient_off_by_ten_percent(case, loss_cls, fitted, monkeypatch):
    """An output gradient 10% too large: every array fails."""
    est, y = _estimator(case, "gelu", max_iter=3)
    if fitted:
        est.fit(X, y)
    _scaled_gradient(loss_cls, 1.1, monkeypatch)
    report = check_gradients(est, X, y)
    _assert_caught(report, [a.name for a in report.arrays])


def test_catches_a_small_error_with_tight_tolerances(monkeypatch):
    """A 0.1% error passes loose tolerances but fails the defaults."""
    est, y = _estimator("squared_error", "tanh")
    assert check_gradients(est, X, y).ok
    _scaled_gradient(SquaredError, 1.001, monkeypatch)
    assert check_gradients(est, X, y, rtol=1e-2).ok
    _assert_caught(check_gradients(est, X, y))
