"""Property-based tests (issue #15): odd and bad inputs for every public entry point.

Hypothesis generates the inputs: shapes (1-D, 3-D, empty, one row, one
column), dtypes (object, complex, bool, str, float16, huge integers), NaN and
infinities, huge and tiny values, sparse formats, mismatched ``sample_weight``
/ ``X_val`` / ``y_val``, labels of mixed or odd types, odd hyperparameters,
every solver, with and without early stopping. Each property asserts:

* the call either works, with finite outputs (probabilities in [0, 1] that sum
  to 1 over the classes, finite log-probabilities, known class labels), or it
  raises a ValueError / TypeError whose message names the problem -- never a
  raw NumPy or Python internals message (:data:`INTERNAL_MESSAGES`);
* no RuntimeWarning escapes;
* a previously fitted model is unchanged after any failure (and predictions
  never change it).

The budget is a small fixed number of examples per property, derandomized so
that CI runs the same examples every time. Set ``SKMLP_HYPOTHESIS_EXAMPLES``
to run more, e.g. ``SKMLP_HYPOTHESIS_EXAMPLES=1000 pytest
tests/test_properties.py --hypothesis-show-statistics``.

The examples at the end pin what the properties found: each failed before
its fix.
"""

import copy
import math
import os
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, Phase, assume, given, note, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning, UndefinedMetricWarning
from sklearn.linear_model import LinearRegression
from sklearn.utils._param_validation import InvalidParameterError

from skmlp import (
    BackpropClassifier,
    BackpropRegressor,
    DivergenceError,
    GradientReport,
    check_gradients,
)
from skmlp._activations import ACTIVATIONS
from skmlp._losses import REGRESSION_LOSSES
from skmlp._optimizers import SOLVERS, is_stochastic
from skmlp._schedules import SCHEDULES

pytestmark = pytest.mark.usefixtures("one_blas_thread")

# ------------------------------------------------------------------ budget
#: Examples per property for a long run (the default budgets keep the file
#: within seconds).
EXAMPLES_ENV = "SKMLP_HYPOTHESIS_EXAMPLES"


def budget(default: int) -> settings:
    """Settings of one property: ``default`` examples unless the env var says more."""
    requested = int(os.environ.get(EXAMPLES_ENV, "0") or 0)
    return settings(
        max_examples=max(default, requested),
        derandomize=True,  # the same examples on every CI run
        database=None,  # derandomized runs need no example database
        deadline=None,  # the machine is shared: timings are noise
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
        # explaining a failure re-runs it hundreds of times (a minute here)
        phases=[phase for phase in Phase if phase != Phase.explain],
    )


# ------------------------------------------------------------------ oracles
#: Messages of NumPy / Python internals. An error reaching the user with one of
#: these says where the code broke, not what was wrong with the input.
INTERNAL_MESSAGES = (
    r"ufunc",
    r"could not broadcast",
    r"operands could not be broadcast",
    r"non-broadcastable",
    r"not supported between instances",
    r"object of type",
    r"unhashable",
    r"out of bounds",
    r"index out of range",
    r"too many indices",
    r"setting an array element with a sequence",
    r"object arrays are not supported",
    r"invalid literal for int",
    r"only length-1 arrays",
    r"only integer scalar arrays",
    r"'NoneType' object",
    r"has no attribute",
    r"zero-size array",
    r"division by zero",
    r"Negative dimensions",
    r"cannot convert float (NaN|infinity) to integer",
    r"^(float|int)\(\) argument must be",
    r"int too large to convert",
    r"cannot reshape array",
    r"truth value of an array",
    r"unsupported operand type",
    r"is not (subscriptable|iterable|callable)",
    r"positional argument",
    r"unexpected keyword",
    r"not aligned",
    r"matmul",
    r"dimension mismatch",
    r"[Cc]annot cast",
    r"not understood",
    r"maximum recursion",
)

#: scikit-learn's input-validation messages (``validate_data``, metrics, label
#: checks) and skmlp's documented failure messages that name the problem in
#: their own words rather than by the argument's name.
KNOWN_MESSAGES = (
    r"Expected 2D array, got",
    r"Found array with \d+ (sample|feature)\(s\)",
    r"Found array with dim \d",
    r"Complex data not supported",
    r"could not convert string to float",  # validate_data's float conversion
    r"Found input variables with inconsistent numbers of samples",
    r"Unknown label type",
    r"Mix of label input types",
    r"Sample weights must",
    r"Classification metrics can't handle",
    r"y_true and y_pred have different number of output",
    r"Input contains (NaN|infinity)",
    r"The validation set is too small",
    r"the resulting train set will be empty",
    r"The least populated class(es)? in y ha(s|ve) only 1 member",
    r"The test_size = \d+ should be greater or equal to the number of classes",
    r"overflow",  # skmlp's prediction-overflow messages
    r"expecting \d+ features",
    r"Input should have at least 1 dimension",
    r"Expected array-like \(array or non-string sequence\)",
    # scipy's, from accuracy_score of float16 indicator rows (left alone)
    r"scipy.sparse does not support dtype float16",
)


#: other words by which a message may name an argument
ALIASES = {
    "y": ("y_true", "target", "targets", "label", "labels", "class", "classes"),
    "y_val": ("y", "target", "label", "labels", "class", "classes"),
    "classes": ("label", "labels", "class"),
    "sample_weight": ("Sample weights",),
}


def assert_clear_error(exc: BaseException, names=(), known=KNOWN_MESSAGES) -> None:
    """``exc`` is a ValueError/TypeError naming the problem, not a raw internal.

    ``names`` are the arguments that were made bad: the message must mention
    one of them (as a word), or be one of the ``known`` messages; a
    :class:`DivergenceError` (its message explains the divergence and its
    likely causes) is clear by itself.
    """
    message = str(exc)
    described = f"{type(exc).__module__}.{type(exc).__name__}: {message}"
    assert isinstance(exc, ValueError | TypeError), f"not a clear error: {described}"
    assert not type(exc).__module__.startswith(("numpy", "scipy")), described
    for pattern in INTERNAL_MESSAGES:
        assert not re.search(pattern, message), f"internal message: {described}"
    assert len(message) > 10, f"no message: {described}"
    if not names or isinstance(exc, DivergenceError):
        return
    if any(re.search(pattern, message) for pattern in known):
        return
    names = [alias for name in names for alias in (name, *ALIASES.get(name, ()))]
    assert any(re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", message) for n in names), (
        f"the message names none of {names}: {described}"
    )


def outcome(func, *args, **kwargs):
    """``(result, None)`` or ``(None, exception)``; a RuntimeWarning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence, clipped batch size, ...
        warnings.simplefilter("error", RuntimeWarning)
        try:
            return func(*args, **kwargs), None
        except RuntimeWarning as warning:
            raise AssertionError(f"a RuntimeWarning escaped: {warning}") from warning
        except Exception as exc:  # judged by the property
            return None, exc


def snapshot(est) -> dict:
    """A deep copy of the estimator's state, to compare with after a call."""
    return copy.deepcopy(vars(est))


def assert_same(a, b, path="estimator") -> None:
    """Deep equality of estimator state: arrays by value, containers, objects."""
    assert type(a) is type(b), f"{path}: {type(a)} != {type(b)}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, path
        np.testing.assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), f"{path}: keys {a.keys()} != {b.keys()}"
        for k in a:
            assert_same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, np.random.RandomState):
        assert_same(a.get_state(legacy=False), b.get_state(legacy=False), path)
    elif isinstance(a, float | np.floating) and math.isnan(a):
        assert math.isnan(b), path
    elif hasattr(a, "__dict__") and not callable(a):
        assert_same(vars(a), vars(b), f"{path}.__dict__")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def assert_unchanged(est, before: dict) -> None:
    """``est`` is as ``before = snapshot(est)`` recorded it."""
    assert_same(vars(est), before)


def assert_good_fit(est) -> None:
    """A fit that returned left finite weights and a finite loss.

    With early stopping a diverged epoch ends training with a
    ConvergenceWarning and the best validated weights; ``loss_`` is then that
    epoch's (non-finite) loss, by design.
    """
    for array in est.coefs_ + est.intercepts_:
        assert np.isfinite(array).all()
    if not est.early_stopping:
        assert est.loss_ is None or np.isfinite(est.loss_), est.loss_


def assert_outputs(est, X, y=None) -> None:
    """Every prediction method on ``X``: sane finite outputs, or a clear error.

    Predictions never change the model.
    """
    before = snapshot(est)
    classifier = isinstance(est, BackpropClassifier)
    pred, exc = outcome(est.predict, X)
    if sp.issparse(pred):  # fitted on a sparse multilabel y, as scikit-learn does
        pred = pred.toarray()
    if exc is not None:
        assert_clear_error(exc, ["X"])
    else:
        n = pred.shape[0]
        if classifier:
            if est._label_binarizer.y_type_.startswith("multilabel"):
                assert pred.shape == (n, len(est.classes_))
                assert set(np.unique(pred).tolist()) <= {0, 1}
            else:
                assert pred.ndim == 1
                assert set(pred.tolist()) <= set(est.classes_.tolist())
        else:
            assert np.isfinite(pred).all(), pred
    if classifier:
        proba, exc = outcome(est.predict_proba, X)
        if exc is not None:
            assert_clear_error(exc, ["X"])
        else:
            assert np.isfinite(proba).all()
            assert (0 <= proba).all() and (proba <= 1).all()
            if not est._label_binarizer.y_type_.startswith("multilabel"):
                assert proba.shape[1] == max(len(est.classes_), 2)
                tol = 1e-5 if proba.dtype == np.float32 else 1e-12
                np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=tol)
        log_proba, exc = outcome(est.predict_log_proba, X)
        if exc is not None:
            assert_clear_error(exc, ["X"])
        else:
            assert np.isfinite(log_proba).all() and (log_proba <= 0).all()
        scores, exc = outcome(est.decision_function, X)
        if exc is not None:
            assert_clear_error(exc, ["X"])
        else:
            assert np.isfinite(scores).all()
    if y is not None:
        score, exc = outcome(est.score, X, y)
        if exc is not None:
            assert_clear_error(exc, ["X", "y"])
        else:
            n_rows = pred.shape[0] if pred is not None else 2
            assert np.isfinite(score) or (not classifier and n_rows < 2), score
    assert_unchanged(est, before)


# ------------------------------------------------------------------ strategies
KINDS = ("binary", "multiclass", "multilabel", "regression", "multioutput", "poisson")
CLASSIFIER_KINDS = KINDS[:3]

FLOAT64_MAX = float(np.finfo(np.float64).max)
#: values that break naive arithmetic, dropped into otherwise normal data
SPECIAL_VALUES = (
    np.nan,
    np.inf,
    -np.inf,
    1e300,
    -1e300,
    FLOAT64_MAX,
    5e-324,
    -1e-310,
    1e20,
    65504.0,  # float16's largest
    70000.0,  # beyond float16
    -0.0,
)

#: label sets a classifier should handle (two or three classes)
LABEL_SETS = (
    [0, 1, 2],
    [-1, 1, 7],
    [True, False],
    ["a", "b", "c"],
    ["", " ", "é日本"],
    [1.0, 2.0, 3.0],
    [2**62, -(2**62), 0],
    np.array(["x", "y", "z"], dtype=object),
    np.array([10, 20, 30], dtype=np.uint8),
    [b"a", b"b", b"c"],
)

#: labels no classifier can take: odd types, mixtures, non-integral floats
ODD_LABELS = (
    [None, 1],
    [None, None],
    ["a", 1],
    [(1, 2), (3, 4)],
    [np.nan, 1.0],
    [1.5, 2.5],
    [1 + 1j, 2],
    [2**70, 1],
    [object(), object()],
    ["a", None],
    [b"a", "a"],
    [frozenset(), 1],
)


@st.composite
def matrices(draw, n_rows=None, n_cols=None, special=True):
    """Float64 ``(n_rows, n_cols)`` values: mostly normal, maybe with special ones."""
    n = draw(st.sampled_from([1, 2, 3, 5, 8, 12])) if n_rows is None else n_rows
    d = draw(st.sampled_from([1, 2, 3])) if n_cols is None else n_cols
    values = np.random.RandomState(draw(st.integers(0, 2**16))).randn(n, d)
    if special and draw(st.booleans()):
        with np.errstate(all="ignore"):
            values *= draw(st.sampled_from([1e-300, 1e-310, 1e150, 1e300]))
    if special and n * d and draw(st.booleans()):
        for _ in range(draw(st.integers(1, 3))):
            i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, d - 1))
            values[i, j] = draw(st.sampled_from(SPECIAL_VALUES))
    return values


CONTAINERS = (
    "float64",
    "float32",
    "float16",
    "int64",
    "uint8",
    "bool",
    "complex",
    "object",
    "object-int",
    "object-None",
    "str",
    "str-words",
    "bytes",
    "list",
    "DataFrame",
    "csr",
    "csc",
    "coo",
    "dok",
    "lil",
    "bsr",
    "dia",
    "csr_array",
    "1-D",
    "3-D",
    "no rows",
    "no columns",
    "scalar",
    "huge-int",
    "huge-object-int",
)


def as_container(values: np.ndarray, how: str):
    """``values`` recast or reshaped as ``how`` names (see :data:`CONTAINERS`)."""
    with np.errstate(all="ignore"):
        finite = np.nan_to_num(values, nan=0.0, posinf=1e300, neginf=-1e300)
        if how in ("float64", "float32", "float16"):
            return values.astype(how)
        if how == "int64":
            return np.clip(np.round(finite), -(2**62), 2**62).astype(np.int64)
        if how == "uint8":
            return np.clip(finite, 0, 255).astype(np.uint8)
        if how == "bool":
            return values > 0
        if how == "complex":
            return values + 1j
        if how == "object":
            return values.astype(object)
        if how == "object-int":
            ints = np.clip(np.round(finite), -1e18, 1e18).astype(np.int64)
            return ints.astype(object)
        if how == "object-None":
            out = values.astype(object)
            out.flat[0] = None
            return out
        if how == "str":
            return values.astype(str)
        if how == "str-words":
            out = values.astype(str)
            out.flat[0] = "abc"
            return out
        if how == "bytes":
            return values.astype(bytes)
        if how == "list":
            return values.tolist()
        if how == "DataFrame":
            columns = [f"f{j}" for j in range(values.shape[1])]
            return pd.DataFrame(values, columns=columns)
        if how in ("csr", "csc", "coo", "dok", "lil", "bsr", "dia"):
            return getattr(sp, f"{how}_matrix")(np.where(np.isnan(values), 0, values))
        if how == "csr_array":
            return sp.csr_array(values)
        if how == "1-D":
            return values.ravel()
        if how == "3-D":
            return values[..., None]
        if how == "no rows":
            return values[:0]
        if how == "no columns":
            return values[:, :0]
        if how == "scalar":
            return values.flat[0] if values.size else 0.0
        if how == "huge-int":
            out = np.full(values.shape, np.iinfo(np.int64).max)
            out[::2] = np.iinfo(np.int64).min
            return out
        if how == "huge-object-int":
            out = np.full(values.shape, 2**70, dtype=object)
            out.flat[0] = 10**400  # beyond float64
            return out
    raise ValueError(how)


@st.composite
def odd_X(draw, n_rows=None, n_cols=None):
    """Features in any container, dtype or shape, with odd values maybe."""
    values = draw(matrices(n_rows, n_cols))
    how = draw(st.sampled_from(CONTAINERS))
    note(f"X: {how} {values.shape}\n{values!r}")
    return as_container(values, how)


def valid_target(kind, n, rng, labels=LABEL_SETS[0]):
    """A target of ``kind`` for ``n`` rows (every class present where it can be)."""
    if kind in CLASSIFIER_KINDS and kind != "multilabel":
        k = 2 if kind == "binary" else min(3, len(labels))
        idx = np.arange(n) % k
        rng.shuffle(idx)
        if isinstance(labels, np.ndarray):  # keep its dtype (object, uint8)
            return labels[:k][idx]
        return np.array([labels[i] for i in idx])
    if kind == "multilabel":
        y = (rng.rand(n, 3) < 0.5).astype(int)
        if n > 0:
            y[0] = [0, 1, 0]
        if n > 1:
            y[1] = [1, 0, 1]
        return y
    if kind == "regression":
        return rng.randn(n)
    if kind == "multioutput":
        return rng.randn(n, 2)
    return rng.poisson(1.0, n).astype(float)  # poisson


@st.composite
def odd_y(draw, kind, n):
    """A target that may be of the wrong length, shape, type or values."""
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))
    what = draw(
        st.sampled_from(
            [
                "labels",
                "odd labels",
                "length",
                "column",
                "3-D",
                "nan",
                "inf",
                "huge",
                "strings",
                "numeric strings",
                "complex",
                "sparse",
                "empty",
                "scalar",
                "continuous",
                "float16",
                "bool",
                "one class",
            ]
        )
    )
    note(f"y: {what}")
    y = valid_target(kind, n, rng)
    if what == "labels":
        return valid_target(kind, n, rng, draw(st.sampled_from(LABEL_SETS)))
    if what == "odd labels":
        labels = draw(st.sampled_from(ODD_LABELS))
        out = np.empty(n, dtype=object)
        for i in range(n):
            out[i] = labels[i % len(labels)]
        return out
    if what == "length":
        return valid_target(kind, max(n + draw(st.sampled_from([-1, 1, 5])), 0), rng)
    if what == "column":
        return y.reshape(n, -1)
    if what == "3-D":
        return y.reshape(n, -1, 1)
    if what in ("nan", "inf", "huge"):
        y = np.asarray(y, dtype=float).copy()
        y.flat[draw(st.integers(0, y.size - 1))] = {
            "nan": np.nan,
            "inf": np.inf,
            "huge": 1e300,
        }[what]
        return y
    if what == "strings":
        return np.array(["u", "v", "w"])[np.arange(n) % 3]
    if what == "numeric strings":
        return np.asarray(y).astype(str)
    if what == "complex":
        return np.asarray(y, dtype=float) + 1j
    if what == "sparse":
        return sp.csr_matrix(np.asarray(y, dtype=float).reshape(n, -1))
    if what == "empty":
        return y[:0]
    if what == "scalar":
        return 1.0
    if what == "continuous":
        return rng.randn(n)
    if what == "float16":
        return np.asarray(y, dtype=float).astype(np.float16)
    if what == "bool":
        return np.asarray(y, dtype=float) > 0
    return np.zeros_like(np.asarray(y, dtype=float))  # one class / constant


@st.composite
def odd_sample_weight(draw, n):
    """None, good weights, or weights of the wrong length, sign, shape or type."""
    what = draw(
        st.sampled_from(
            [
                "none",
                "good",
                "length",
                "negative",
                "zeros",
                "nan",
                "inf",
                "both infinities",
                "huge",
                "2-D",
                "strings",
                "scalar",
                "list",
                "object",
                "complex",
                "sparse",
            ]
        )
    )
    note(f"sample_weight: {what}")
    w = np.linspace(0.5, 2.0, n)
    return {
        "none": lambda: None,
        "good": lambda: w,
        "length": lambda: np.ones(n + 1),
        "negative": lambda: -w,
        "zeros": lambda: np.zeros(n),
        "nan": lambda: np.where(np.arange(n) == 0, np.nan, w),
        "inf": lambda: np.where(np.arange(n) == 0, np.inf, w),
        "both infinities": lambda: np.where(np.arange(n) % 2, np.inf, -np.inf),
        "huge": lambda: np.full(n, 1e308),
        "2-D": lambda: w[:, None],
        "strings": lambda: np.array(["a"] * n),
        "scalar": lambda: 2.0,
        "list": lambda: w.tolist(),
        "object": lambda: w.astype(object),
        "complex": lambda: w + 1j,
        "sparse": lambda: sp.csr_matrix(w[None]),
    }[what]()


def estimator_class(kind):
    """The estimator for targets of ``kind``."""
    return BackpropClassifier if kind in CLASSIFIER_KINDS else BackpropRegressor


@st.composite
def estimators(draw, kind, stochastic_only=False):
    """A tiny network (milliseconds per fit) with any solver and options."""
    solvers = sorted(s for s in SOLVERS if is_stochastic(s) or not stochastic_only)
    params = dict(
        hidden_layer_sizes=draw(st.sampled_from([(), (2,), (3,), (3, 2)])),
        activation=draw(st.sampled_from(sorted(ACTIVATIONS))),
        solver=draw(st.sampled_from(solvers)),
        learning_rate=draw(st.sampled_from(sorted(SCHEDULES))),
        early_stopping=draw(st.booleans()),
        max_iter=draw(st.integers(1, 3)),
        batch_size=draw(st.sampled_from(["auto", 1, 4])),
        learning_rate_init=draw(st.sampled_from([1e-3, 0.1])),
        warm_start=draw(st.booleans()),
        validation_fraction=0.25,
        random_state=draw(st.integers(0, 3)),
    )
    if draw(st.booleans()):
        params["dropout"] = 0.2
    if kind in CLASSIFIER_KINDS:
        if draw(st.booleans()):
            params["label_smoothing"] = 0.1
        if kind != "multilabel" and draw(st.booleans()):
            params["class_weight"] = "balanced"
    elif kind == "poisson":
        params["loss"] = "poisson"
    else:
        losses = sorted(set(REGRESSION_LOSSES) - {"poisson"})
        params["loss"] = draw(st.sampled_from(losses))
    note(f"estimator: {params}")
    return estimator_class(kind)(**params)


def clean_data(kind, n=12, d=3, seed=0):
    """Standard-normal features and a valid target of ``kind``."""
    rng = np.random.RandomState(seed)
    return rng.randn(n, d), valid_target(kind, n, rng)


def try_prefit(est, kind, d=3):
    """Fit ``est`` on clean data; None if these settings cannot fit it."""
    X, y = clean_data(kind, d=d)
    _, exc = outcome(est.fit, X, y)
    return None if exc is not None else (X, y)


def assume_fitted(est, kind):
    """Fit ``est`` on clean data, or skip the example if it cannot be fitted."""
    assume(try_prefit(est, kind) is not None)


def _rows(X):
    """The number of rows of any odd X, or None where it has none."""
    if isinstance(X, list):
        return len(X)
    return X.shape[0] if getattr(X, "ndim", 0) else None


# ------------------------------------------------------------------ fit
def _fit_and_judge(est, prefit, culprit, X, y, **fit_params):
    """Fit; a failure must be clear and leave a prefitted model unchanged."""
    before = snapshot(est)
    result, exc = outcome(est.fit, X, y, **fit_params)
    note(f"fit raised {exc!r}")
    if exc is not None:
        # a warm start continues from the fitted classes, features and outputs
        names = [culprit, "warm_start"] if prefit and est.warm_start else [culprit]
        assert_clear_error(exc, names)
        assert_unchanged(est, before)  # fitted or not, as it was
        return False
    assert result is est
    assert_good_fit(est)
    return True


@budget(100)
@given(data=st.data(), kind=st.sampled_from(KINDS))
def test_fit_on_odd_X(data, kind):
    """fit on X of any container, dtype, shape or values: works or fails clearly,
    and a model fitted before is unchanged by a failed fit."""
    est = data.draw(estimators(kind))
    prefit = data.draw(st.booleans()) and try_prefit(est, kind) is not None
    n = data.draw(st.sampled_from([1, 2, 3, 5, 8, 12]))
    X = data.draw(odd_X(n_rows=n))
    y = valid_target(kind, n, np.random.RandomState(0))
    if _fit_and_judge(est, prefit, "X", X, y):
        assert_outputs(est, X, y)


@budget(120)
@given(data=st.data(), kind=st.sampled_from(KINDS))
def test_fit_on_odd_y(data, kind):
    """fit on y of the wrong length, shape, type or values."""
    est = data.draw(estimators(kind))
    prefit = data.draw(st.booleans()) and try_prefit(est, kind) is not None
    n = data.draw(st.sampled_from([1, 2, 3, 5, 8, 12]))
    X = np.random.RandomState(0).randn(n, 3)
    y = data.draw(odd_y(kind, n))
    if _fit_and_judge(est, prefit, "y", X, y):
        assert_outputs(est, X, y)


@budget(80)
@given(data=st.data(), kind=st.sampled_from(KINDS))
def test_fit_on_odd_sample_weight(data, kind):
    """fit with sample weights of the wrong length, sign, shape or type."""
    est = data.draw(estimators(kind))
    prefit = data.draw(st.booleans()) and try_prefit(est, kind) is not None
    n = data.draw(st.sampled_from([1, 2, 3, 5, 8, 12]))
    rng = np.random.RandomState(0)
    X, y = rng.randn(n, 3), valid_target(kind, n, rng)
    sw = data.draw(odd_sample_weight(n))
    if _fit_and_judge(est, prefit, "sample_weight", X, y, sample_weight=sw):
        assert_outputs(est, X, y)


# ------------------------------------------------------------------ labels
def labels_of(draw, n):
    """``n`` labels from a good label set or an odd one, as an array."""
    labels = draw(st.sampled_from(LABEL_SETS + ODD_LABELS))
    note(f"labels: {labels!r}")
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = labels[i % len(labels)]
    if draw(st.booleans()):
        try:  # the labels' own dtype where NumPy has one
            return np.array(out.tolist()) if n else out
        except ValueError:
            return out
    return out


@budget(100)
@given(data=st.data(), where=st.sampled_from(["y", "classes", "y_val", "score"]))
def test_classifier_on_odd_labels(data, where):
    """Labels of mixed or odd types in y, partial_fit's classes, y_val or score's
    y: the classifier works (predicting only known classes) or says what is
    wrong with the labels."""
    kind = data.draw(st.sampled_from(["binary", "multiclass"]))
    est = data.draw(estimators(kind, stochastic_only=where in ("classes", "y_val")))
    est.set_params(early_stopping=False, class_weight=None)
    n = 12
    X = np.random.RandomState(8).randn(n, 3)
    labels = labels_of(data.draw, n)
    if where == "y":
        prefit = data.draw(st.booleans()) and try_prefit(est, kind) is not None
        if _fit_and_judge(est, prefit, "y", X, labels):
            assert_outputs(est, X, labels)
        return
    if where == "classes":
        y = labels
        if data.draw(st.booleans()):
            y = valid_target(kind, n, np.random.RandomState(0))
        classes = labels[: data.draw(st.integers(0, 3))]
        note(f"classes={classes!r}, y={y!r}")
        before = snapshot(est)
        _, exc = outcome(est.partial_fit, X, y, classes=classes)
        if exc is not None:
            assert_clear_error(exc, ["classes", "y"])
            assert_unchanged(est, before)
        else:
            assert_good_fit(est)
            assert_outputs(est, X, y)
        return
    assume_fitted(est, kind)
    before = snapshot(est)
    if where == "y_val":
        X_train, y_train = clean_data(kind)
        _, exc = outcome(est.fit, X_train, y_train, X_val=X, y_val=labels)
        if exc is not None:
            assert_clear_error(exc, ["y_val"])
            assert_unchanged(est, before)
        else:
            assert_good_fit(est)
        return
    score, exc = outcome(est.score, X, labels)
    if exc is not None:
        assert_clear_error(exc, ["y"])
    else:
        assert 0 <= score <= 1
    assert_unchanged(est, before)


# ------------------------------------------------------------------ prediction, score
@budget(60)
@given(data=st.data(), kind=st.sampled_from(KINDS))
def test_predict_on_odd_X(data, kind):
    """predict, predict_proba, predict_log_proba, decision_function and score on
    odd X, maybe with output weights scaled up as a user may edit them (to
    saturate or overflow the outputs): finite outputs or clear errors, and the
    model never changes."""
    est = data.draw(estimators(kind))
    assume_fitted(est, kind)
    scale = data.draw(st.sampled_from([1.0, 1.0, 1e3, 1e150, 1e300, FLOAT64_MAX]))
    note(f"output weights scaled by {scale}")
    with np.errstate(over="ignore"):  # finite weights, maybe as large as can be
        for array, shift in ((est.coefs_[-1], 0.0), (est.intercepts_[-1], scale)):
            array[...] = np.clip(array * scale + shift, -FLOAT64_MAX, FLOAT64_MAX)
    n_cols = data.draw(st.sampled_from([3, 3, 3, 2]))  # mostly the fitted width
    X = data.draw(odd_X(n_cols=n_cols))
    n = _rows(X)
    y = valid_target(kind, n, np.random.RandomState(1)) if n is not None else None
    assert_outputs(est, X, y)


@budget(80)
@given(data=st.data(), kind=st.sampled_from(KINDS))
def test_score_on_odd_targets(data, kind):
    """score(X, y, sample_weight) with odd y or weights: a number or a clear error."""
    est = data.draw(estimators(kind))
    assume_fitted(est, kind)
    n = data.draw(st.sampled_from([1, 2, 5, 12]))
    X = np.random.RandomState(2).randn(n, 3)
    culprit = data.draw(st.sampled_from(["y", "sample_weight"]))
    rng = np.random.RandomState(3)
    y = data.draw(odd_y(kind, n)) if culprit == "y" else valid_target(kind, n, rng)
    sw = data.draw(odd_sample_weight(n)) if culprit == "sample_weight" else None
    before = snapshot(est)
    score, exc = outcome(est.score, X, y, sample_weight=sw)
    note(f"score: {score!r} {exc!r}")
    if exc is not None:
        assert_clear_error(exc, [culprit])
    else:
        classifier = isinstance(est, BackpropClassifier)
        assert np.isfinite(score) or (not classifier and n < 2), score
    assert_unchanged(est, before)


# ------------------------------------------------------------------ partial_fit
@st.composite
def odd_classes(draw, kind):
    """``classes`` for a first ``partial_fit``: good, odd types, or wrong."""
    what = draw(
        st.sampled_from(["good", "labels", "odd", "missing", "2-D", "scalar", "empty"])
    )
    note(f"classes: {what}")
    good = [0, 1] if kind == "binary" else [0, 1, 2]
    if what == "good":
        return good
    if what == "labels":
        return list(draw(st.sampled_from(LABEL_SETS)))
    if what == "odd":
        return np.array(draw(st.sampled_from(ODD_LABELS)), dtype=object)
    if what == "missing":
        return good[:1]
    if what == "2-D":
        return [good]
    if what == "scalar":
        return 1
    return []


@budget(100)
@given(data=st.data(), kind=st.sampled_from(KINDS))
def test_partial_fit_on_odd_data(data, kind):
    """A first partial_fit with odd classes, then one with odd X or y.

    Each failure is clear and leaves the model as it was.
    """
    est = data.draw(estimators(kind, stochastic_only=True))
    n = data.draw(st.sampled_from([1, 2, 5, 12]))
    rng = np.random.RandomState(4)
    X, y = rng.randn(n, 3), valid_target(kind, n, rng)
    kwargs = {}
    if kind in CLASSIFIER_KINDS:
        kwargs["classes"] = data.draw(odd_classes(kind))
    before = snapshot(est)
    _, exc = outcome(est.partial_fit, X, y, **kwargs)
    if exc is not None:
        assert_clear_error(exc, ["classes", "y", "early_stopping", "class_weight"])
        assert_unchanged(est, before)
        return
    assert_good_fit(est)
    culprit = data.draw(st.sampled_from(["X", "y", "sample_weight"]))
    X2 = data.draw(odd_X(n_rows=n)) if culprit == "X" else X
    y2 = data.draw(odd_y(kind, n)) if culprit == "y" else y
    sw = data.draw(odd_sample_weight(n)) if culprit == "sample_weight" else None
    before = snapshot(est)
    _, exc = outcome(est.partial_fit, X2, y2, sample_weight=sw)
    note(f"second partial_fit raised {exc!r}")
    if exc is not None:
        assert_clear_error(exc, [culprit])
        assert_unchanged(est, before)
        return
    assert_good_fit(est)
    assert_outputs(est, X2, y2)


# ------------------------------------------------------------------ validation set
@st.composite
def validation_sets(draw, kind, n_val):
    """``(X_val, y_val, sample_weight_val, culprit)`` with at most one bad part."""
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))
    X_val, y_val, sw_val = rng.randn(n_val, 3), valid_target(kind, n_val, rng), None
    what = draw(
        st.sampled_from(
            [
                "good",
                "weights",
                "X_val only",
                "y_val only",
                "sample_weight_val only",
                "X_val rows",
                "y_val rows",
                "X_val columns",
                "X_val odd",
                "y_val odd",
                "y_val classes",
                "y_val outputs",
                "sample_weight_val odd",
            ]
        )
    )
    note(f"validation set: {what}")
    culprit = what.split()[0] if what not in ("good", "weights") else None
    if what == "weights":
        sw_val = np.linspace(0.5, 1.5, n_val)
    elif what == "X_val only":
        y_val = None
    elif what == "y_val only":
        X_val = None
    elif what == "sample_weight_val only":
        X_val = y_val = None
        sw_val = np.ones(n_val)
    elif what == "X_val rows":
        X_val = rng.randn(n_val + draw(st.sampled_from([-1, 1, 4])), 3)
    elif what == "y_val rows":
        y_val = valid_target(kind, n_val + draw(st.sampled_from([-1, 1, 4])), rng)
    elif what == "X_val columns":
        X_val = rng.randn(n_val, draw(st.sampled_from([1, 2, 4])))
    elif what == "X_val odd":
        X_val = draw(odd_X(n_rows=n_val, n_cols=3))
    elif what == "y_val odd":
        y_val = draw(odd_y(kind, n_val))
    elif what == "y_val classes":
        # classes the model was not fitted on, or another kind of target
        other = draw(st.sampled_from(KINDS))
        y_val = valid_target(other, n_val, rng, draw(st.sampled_from(LABEL_SETS)))
    elif what == "y_val outputs":
        y_val = rng.randn(n_val, draw(st.sampled_from([1, 2, 3])))
        if kind in CLASSIFIER_KINDS:
            y_val = (y_val > 0).astype(int)
    elif what == "sample_weight_val odd":
        sw_val = draw(odd_sample_weight(n_val))
    return X_val, y_val, sw_val, culprit


@budget(80)
@given(data=st.data(), kind=st.sampled_from(KINDS))
def test_fit_with_odd_validation_set(data, kind):
    """fit(..., X_val, y_val, sample_weight_val) mismatched or odd: the error
    names the validation argument; a model fitted before is unchanged."""
    est = data.draw(estimators(kind))
    if data.draw(st.booleans()):
        try_prefit(est, kind)
    X, y = clean_data(kind, seed=5)
    n_val = data.draw(st.sampled_from([2, 3, 6]))
    X_val, y_val, sw_val, culprit = data.draw(validation_sets(kind, n_val))
    before = snapshot(est)
    _, exc = outcome(est.fit, X, y, X_val=X_val, y_val=y_val, sample_weight_val=sw_val)
    note(f"fit raised {exc!r}")
    if exc is not None:
        names = [culprit] if culprit else []
        if not is_stochastic(est.solver) and X_val is not None:
            names.append("X_val")  # no epochs to validate
        assert_clear_error(exc, names or ["X_val", "y_val", "sample_weight_val"])
        assert_unchanged(est, before)
        return
    assert_good_fit(est)
    if culprit is not None:
        # a mismatch that fitted must at least have been a consistent one
        assert X_val is not None or y_val is None
    assert_outputs(est, X_val if X_val is not None else X)


# ------------------------------------------------------------------ set_params
#: values for any hyperparameter: most are wrong for most parameters
ODD_PARAM_VALUES = (
    -1,
    0,
    1,
    2,
    0.5,
    1.5,
    -0.5,
    np.nan,
    np.inf,
    -np.inf,
    1e308,
    1e-308,
    "a",
    "",
    None,
    True,
    False,
    [],
    [1],
    [0.5, 0.5],
    [0.5, 2.0],
    (2, 3),
    (0,),
    (2.5,),
    (np.inf,),
    [None, None],
    ["a", "b"],
    ["relu", "tanh"],
    ["relu", "nope"],
    ["relu", 1],
    {},
    {0: 1.0},
    {0: -1.0, 1: 1.0},
    {0: np.nan, 1: 1.0},
    {0: "a", 1: 1.0},
    {0: 0.0, 1: 0.0, 2: 0.0},
    np.float32(0.5),
    np.int64(2),
    np.array([0.1, 0.2]),
)
#: values aimed at one parameter's own checks (list lengths, element types, ...)
PARAMETER_VALUES = {
    "hidden_layer_sizes": [
        (),
        (0,),
        (2, 0),
        (-1,),
        (2.5,),
        (np.inf,),
        (np.nan,),
        ("a",),
        [[2]],
        (True,),
        np.array([2, 2]),
        (2, None),
        "3",
    ],
    "activation": [
        ["relu"],
        ["relu", "tanh"],
        ["relu", "tanh", "relu"],
        ["nope", "relu"],
        [None, None],
        [1, 2],
        ("relu", "gelu"),
        "nope",
        np.array(["relu", "relu"]),
    ],
    "dropout": [
        [0.1],
        [0.1, 0.2],
        [0.1, 1.0],
        [-0.1, 0.1],
        ["a", "b"],
        [None, None],
        [np.nan, 0.1],
        (0.5, 0.5),
        [0.1, "0.1"],
        [[0.1], [0.1]],
        0.999,
        1.0,
    ],
    "class_weight": [
        {},
        {0: 1.0},
        {0: -1.0, 1: 1.0},
        {0: np.nan, 1: 1.0},
        {0: np.inf, 1: 1.0},
        {0: "a", 1: 1.0},
        {0: None, 1: 1.0},
        {0: 0.0, 1: 0.0, 2: 0.0},
        {5: 1.0},
        {None: 1.0},
        "nope",
        [1, 2],
    ],
    "batch_size": [0, -1, 10**9, 2.5, "a"],
    "max_grad_norm": [0, -1, 1e-300, np.inf, np.nan],
    "n_iter_no_change": [np.inf, 0, np.nan, -np.inf],
    "learning_rate": sorted(SCHEDULES) + ["nope"],
    "solver": sorted(SOLVERS) + ["nope"],
}
#: parameters whose large values make a fit slow or huge (not an input error)
SIZE_PARAMETERS = ("hidden_layer_sizes", "max_iter", "max_fun")


@st.composite
def odd_params(draw, est):
    """One or two hyperparameters set to odd values."""
    names = sorted(est._parameter_constraints)
    aimed = sorted(set(PARAMETER_VALUES) & set(names))
    params = {}
    for _ in range(draw(st.sampled_from([1, 1, 1, 2]))):
        if draw(st.integers(0, 2)):  # a value aimed at the parameter's own checks
            name = draw(st.sampled_from(aimed))
            value = draw(st.sampled_from(PARAMETER_VALUES[name]))
        else:
            name = draw(st.sampled_from(names))
            value = draw(st.sampled_from(ODD_PARAM_VALUES))
        if name in SIZE_PARAMETERS and isinstance(value, float) and value > 1e6:
            value = 3
        params[name] = value
    note(f"set_params: {params}")
    return params


@budget(200)
@given(data=st.data(), kind=st.sampled_from(KINDS))
def test_set_params_then_fit(data, kind):
    """Odd hyperparameters: parameter validation (or the builders) rejects them
    with an error naming the parameter, or the fit works."""
    est = data.draw(estimators(kind))
    prefit = data.draw(st.booleans()) and try_prefit(est, kind) is not None
    params = data.draw(odd_params(est))
    names = list(params) + _implied_by(params)
    if prefit and est.warm_start:
        names.append("warm_start")  # it continues from the fitted layers
    est.set_params(**params)
    X, y = clean_data(kind, seed=6)
    before = snapshot(est)
    _, exc = outcome(est.fit, X, y)
    note(f"fit raised {exc!r}")
    if exc is not None:
        if isinstance(exc, DivergenceError):
            # training may diverge, but NaN or inf settings must be refused
            assert not any(_non_finite(v) for v in params.values()), exc
        assert_clear_error(exc, names, known=())
        assert_unchanged(est, before)
        return
    assert_good_fit(est)
    assert_outputs(est, X, y)


def _non_finite(value) -> bool:
    """Whether ``value`` is, or holds, a NaN or an infinity."""
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    if isinstance(value, list | tuple | np.ndarray):
        return any(_non_finite(v) for v in value)
    return isinstance(value, float | np.floating) and not np.isfinite(value)


def _implied_by(params):
    """Parameters an error may name instead: the layers set the list lengths."""
    if {"activation", "dropout"} & set(params):
        return ["hidden_layer_sizes", "hidden layers"]
    if "hidden_layer_sizes" in params:
        return ["activation", "dropout"]
    return []


# ------------------------------------------------------------------ check_gradients
@st.composite
def gradient_check_options(draw):
    """check_gradients' own keyword arguments, maybe odd."""
    options = {}
    for name, values in {
        "eps": [1e-6, 1e-4, 0, -1e-6, np.nan, np.inf, 1e300, "a", None],
        "rtol": [1e-5, 0.0, -1.0, np.nan, "a"],
        "atol": [1e-8, 0.0, -1.0, np.inf, "a"],
        "max_entries": [200, 1, 3, 0, -1, 2.5, "a", None],
        "random_state": [0, 1, None, -1, "a"],
    }.items():
        if draw(st.integers(0, 4)) == 0:  # each odd with probability 1/5
            options[name] = draw(st.sampled_from(values))
    note(f"check_gradients options: {options}")
    return options


@budget(80)
@given(data=st.data(), kind=st.sampled_from(KINDS))
def test_check_gradients_on_odd_inputs(data, kind):
    """check_gradients on a fitted or unfitted estimator (maybe with odd
    hyperparameters), odd data or odd options: a report with a finite loss or a
    clear error, and the estimator is never modified."""
    est = data.draw(estimators(kind))
    culprits = []
    if data.draw(st.booleans()) and try_prefit(est, kind) and est.warm_start:
        culprits.append("warm_start")  # the fitted classes must all be in y
    if data.draw(st.integers(0, 3)) == 0:
        params = data.draw(odd_params(est))
        est.set_params(**params)
        culprits += list(params) + _implied_by(params)
    n = data.draw(st.sampled_from([1, 2, 5, 12]))
    rng = np.random.RandomState(7)
    X, y, sw = rng.randn(n, 3), valid_target(kind, n, rng), None
    what = data.draw(st.sampled_from(["none", "X", "y", "sample_weight"]))
    if what == "X":
        X = data.draw(odd_X(n_rows=n))
    elif what == "y":
        y = data.draw(odd_y(kind, n))
    elif what == "sample_weight":
        sw = data.draw(odd_sample_weight(n))
    culprits += [what] if what != "none" else []
    options = data.draw(gradient_check_options())
    culprits += list(options)
    before = snapshot(est)
    report, exc = outcome(check_gradients, est, X, y, sw, **options)
    note(f"check_gradients raised {exc!r}")
    assert_unchanged(est, before)
    if exc is not None:
        assert_clear_error(exc, culprits)
        return
    assert isinstance(report, GradientReport)
    assert np.isfinite(report.loss), report
    assert "array" in str(report)


# ======================================================================
# Examples the properties found, pinned: each failed before its fix.


def _fit(est, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **kwargs)


def _data(n=12, d=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    return X, X[:, 0] + 0.1 * rng.randn(n), np.arange(n) % 2


# ------------------------------------------------ pinned: check_gradients
def test_check_gradients_validates_the_estimators_parameters():
    """As fit does: ``BackpropRegressor((4, 3), "gelu")`` passes a tuple as
    ``loss`` (its first positional argument) and a string as the layer sizes."""
    X, y, _ = _data()
    est = BackpropRegressor((4, 3), "gelu")
    with pytest.raises(InvalidParameterError, match="parameter of BackpropRegressor"):
        check_gradients(est, X, y)
    assert est.loss == (4, 3)  # validated, not modified
    with pytest.raises(InvalidParameterError, match="'alpha' parameter of Backprop"):
        check_gradients(BackpropClassifier((3,), alpha="a"), X, y > 0)


@pytest.mark.parametrize(
    "name, value",
    [
        ("eps", 0),
        ("eps", np.nan),
        ("rtol", "a"),
        ("atol", -1.0),
        ("max_entries", 0),
        ("max_entries", 2.5),
        ("random_state", -1),
    ],
)
def test_check_gradients_validates_its_arguments(name, value):
    X, y, _ = _data()
    with pytest.raises(
        InvalidParameterError, match=f"'{name}' parameter of check_gradients"
    ):
        check_gradients(
            BackpropRegressor(hidden_layer_sizes=(3,)), X, y, **{name: value}
        )


@pytest.mark.parametrize(
    "estimator", [None, "est", 3, object(), LinearRegression(), BackpropRegressor]
)
def test_check_gradients_refuses_other_estimators(estimator):
    X, y, _ = _data()
    with pytest.raises(
        InvalidParameterError, match="'estimator' parameter of check_gradients"
    ):
        check_gradients(estimator, X, y)


@pytest.mark.parametrize(
    "scale_X, scale_y, sample_weight",
    [(1e300, 1.0, None), (1.0, 1e300, None), (1.0, 1.0, np.full(12, 1e308))],
)
def test_check_gradients_refuses_a_non_finite_objective(
    scale_X, scale_y, sample_weight
):
    """It overflowed with a RuntimeWarning and reported nonsense."""
    X, y, _ = _data()
    reg = BackpropRegressor(hidden_layer_sizes=(3,))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match=r"not finite.*X .*, y or sample_weight"):
            check_gradients(reg, scale_X * X, scale_y * y, sample_weight)


# ------------------------------------------------ pinned: labels
PINNED_LABELS = {
    "None": ([None, 1], r"Unknown label type: {name} has labels of types"),
    "tuples": ([(1, 2), 1], r"Unknown label type: {name} has labels of types"),
    "bytes and str": ([b"a", "a"], r"Unknown label type: {name} has labels of types"),
    "NaN": ([np.nan, 1.0], r"{name} contains NaN"),
    "huge floats": ([1e300, 1.0], r"float labels of {name} reach 1e\+300"),
}


def _labels(values, n=12):
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = values[i % len(values)]
    return np.array(out.tolist()) if isinstance(values[0], float) else out


@pytest.mark.parametrize("where", ["fit", "partial_fit", "classes", "y_val", "score"])
@pytest.mark.parametrize("case", list(PINNED_LABELS))
def test_odd_labels_get_a_clear_error(case, where):
    """They got NumPy's sorting TypeError ('<' not supported between 'int' and
    'NoneType') or a RuntimeWarning from scikit-learn's int64 cast."""
    values, message = PINNED_LABELS[case]
    X, _, y = _data()
    labels = _labels(values)
    clf = BackpropClassifier((3,), max_iter=2, random_state=0)
    name = {"classes": "classes", "y_val": "y_val"}.get(where, "y")
    if where == "fit" and case == "NaN":
        message = "Input y contains NaN"  # validate_data's check comes first
    with pytest.raises(ValueError, match=message.format(name=name)):
        if where == "fit":
            clf.fit(X, labels)
        elif where == "partial_fit":
            clf.partial_fit(X, labels, classes=[0, 1])
        elif where == "classes":
            clf.partial_fit(X, y, classes=labels[:2])
        elif where == "y_val":
            clf.fit(X, y, X_val=X, y_val=labels)
        else:
            _fit(clf, X, y).score(X, labels)


# ------------------------------------------------ pinned: validation set
def _multilabel(n=12, seed=1):
    Y = (np.random.RandomState(seed).rand(n, 3) < 0.5).astype(int)
    Y[0], Y[1] = 0, 1
    return Y


VALIDATION_MISMATCHES = {
    # name: (regressor?, y, X_val, y_val, sample_weight_val, message)
    "X_val rows": (False, None, "X[:3]", "y", None, r"X_val has 3 samples, but y_val"),
    "y_val rows": (True, None, "X", "y[:3]", None, r"X_val has 12 samples, but y_val"),
    "X_val features": (True, None, "X[:, :2]", "y", None, r"X_val has 2 features"),
    "y_val NaN": (True, None, "X", "y * np.nan", None, r"Input y_val contains NaN"),
    "y_val outputs": (True, None, "X", "np.ones((12, 2))", None, r"y_val has 2 output"),
    "y_val labels": (False, "ml", "X", "y", None, r"y_val is a 'binary' target"),
    "y_val indicator": (False, None, "X", "ml[:, :2]", None, r"y_val is a 'multi"),
    "weights length": (True, None, "X", "y", "np.ones(3)", r"sample_weight_val has"),
    "weights 2-D": (True, None, "X", "y", "np.ones((12, 1))", r"sample_weight_val has"),
    "weights negative": (True, None, "X", "y", "-np.ones(12)", r"sample_weight_val"),
    "weights NaN": (True, None, "X", "y", "np.full(12, np.nan)", r"sample_weight_val"),
}


@pytest.mark.parametrize("case", list(VALIDATION_MISMATCHES))
def test_validation_set_errors_name_the_validation_argument(case):
    """They were raw broadcasting errors ('operands could not be broadcast
    together'), errors naming X, y or sample_weight instead, or (labels for an
    indicator-row model) no error and a wrong encoding."""
    regressor, y, X_val, y_val, sw_val, message = VALIDATION_MISMATCHES[case]
    X, y_real, y_class = _data()
    ml = _multilabel()
    names = {"X": X, "y": y_real if regressor else y_class, "ml": ml, "np": np}
    y = names["y"] if y is None else ml
    cls = BackpropRegressor if regressor else BackpropClassifier
    est = cls(hidden_layer_sizes=(3,), max_iter=2)
    val = {"X_val": eval(X_val, names), "y_val": eval(y_val, names)}
    if sw_val is not None:
        val["sample_weight_val"] = eval(sw_val, names)
    with pytest.raises(ValueError, match=message):
        est.fit(X, y, **val)


@pytest.mark.parametrize("method", ["partial_fit", "warm_start"])
def test_labels_after_an_indicator_row_fit_are_refused(method):
    """partial_fit and warm_start encoded them as one-hot rows, silently."""
    X, _, _ = _data()
    y = np.arange(12) % 3  # the same classes 0, 1, 2 as the indicator columns
    clf = BackpropClassifier((3,), max_iter=2, random_state=0)
    if method == "partial_fit":
        clf.partial_fit(X, _multilabel(), classes=[0, 1, 2])
    else:
        _fit(clf.set_params(warm_start=True), X, _multilabel())
    with pytest.raises(ValueError, match="y is a 'multiclass' target, but the model"):
        clf.partial_fit(X, y) if method == "partial_fit" else clf.fit(X, y)


@pytest.mark.parametrize("where", ["partial_fit", "score"])
def test_float16_labels_are_checked_without_overflow(where):
    """The int64-range check compared them with 2**63 in float16 (NEP 50)."""
    X, _, y = _data()
    labels = y.astype(np.float16)
    clf = BackpropClassifier((3,), max_iter=2, random_state=0)
    if where == "partial_fit":
        clf.partial_fit(X, labels, classes=np.array([0, 1], dtype=np.float16))
    else:
        assert 0 <= _fit(clf, X, y).score(X, labels) <= 1


# ------------------------------------------------ pinned: features
def _object_features(value):
    X = _data()[0].astype(object)
    X[1, 2] = value
    return X


def _both_infinities(dtype):
    X = _data()[0].astype(dtype)
    X[0, 0], X[1, 1] = np.inf, -np.inf
    return X


ODD_FEATURES = {
    "None": (lambda: _object_features(None), TypeError, "of type NoneType"),
    "list": (lambda: _object_features([1.0]), TypeError, "of type list"),
    "complex": (lambda: _object_features(1 + 1j), TypeError, "of type complex"),
    "huge int": (lambda: _object_features(10**400), ValueError, "401 digits"),
    "inf, -inf": (lambda: _both_infinities(np.float64), ValueError, "infinity"),
    "inf, -inf f32": (lambda: _both_infinities(np.float32), ValueError, "infinity"),
}


@pytest.mark.parametrize("where", ["fit", "predict", "X_val", "check_gradients"])
@pytest.mark.parametrize("case", list(ODD_FEATURES))
def test_odd_features_get_a_clear_error(case, where):
    """Object arrays got NumPy's conversion errors (float() argument must be a
    string or a real number, not 'NoneType'; an OverflowError for a huge
    integer); +inf with -inf a RuntimeWarning from validate_data's
    finiteness check."""
    make, error, message = ODD_FEATURES[case]
    X, _, y = _data()
    bad = make()
    name = "X_val" if where == "X_val" else "X"
    if error is TypeError or "digits" in message:
        message = f"{name} holds .*{message}"
    clf = BackpropClassifier((3,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(error, match=message):
            if where == "fit":
                clf.fit(bad, y)
            elif where == "predict":
                _fit(clf, X, y).predict(bad)
            elif where == "X_val":
                clf.fit(X, y, X_val=bad, y_val=y)
            else:
                check_gradients(clf, bad, y)


# ------------------------------------------------ pinned: sparse targets
@pytest.mark.parametrize("where", ["y", "y_val"])
def test_sparse_regression_targets_get_scikit_learns_error(where):
    """validate_data accepts a sparse y; NumPy's conversion then failed with
    'setting an array element with a sequence.'"""
    X, y, _ = _data()
    Y = sp.csr_matrix(np.column_stack([y, -y]))
    reg = BackpropRegressor(hidden_layer_sizes=(3,), max_iter=2)
    with pytest.raises(TypeError, match=f"Sparse data was passed for {where}, but"):
        if where == "y":
            reg.fit(X, Y)
        else:
            reg.fit(X, Y.toarray(), X_val=X, y_val=Y)


def test_a_sparse_label_column_y_val_gets_fits_error():
    """unique_labels failed on it: "unhashable type: 'csr_matrix'"."""
    X, _, y = _data()
    clf = BackpropClassifier((3,), max_iter=2)
    Y = sp.csr_matrix(y[:, None].astype(float))
    with pytest.raises(TypeError, match="Sparse data was passed for y, but"):
        clf.fit(X, Y)
    with pytest.raises(TypeError, match="Sparse data was passed for y_val, but"):
        clf.fit(X, y, X_val=X, y_val=Y)


def test_sparse_multilabel_y_val_is_taken_like_a_sparse_y():
    """It was refused with a label-type error (np.asarray of a sparse matrix)."""
    X, _, _ = _data()
    Y = sp.csr_matrix(_multilabel())
    clf = _fit(
        BackpropClassifier((3,), max_iter=2, random_state=0), X, Y, X_val=X, y_val=Y
    )
    dense = _fit(
        BackpropClassifier((3,), max_iter=2, random_state=0),
        X,
        Y,
        X_val=X,
        y_val=Y.toarray(),
    )
    assert clf.validation_scores_ == dense.validation_scores_


# ------------------------------------------------ pinned: all-zero weights
@pytest.mark.parametrize("where", ["fit", "early_stopping", "partial_fit", "score"])
@pytest.mark.parametrize("Est", [BackpropClassifier, BackpropRegressor])
def test_all_zero_weights_get_scikit_learns_error_on_every_version(Est, where):
    """On the oldest leg (scikit-learn 1.6.0, numpy 1.24) the properties found a
    ZeroDivisionError from the validation loss (early stopping) and from score's
    weighted average: 1.6's _check_sample_weight accepts all-zero weights, 1.9's
    refuses them. skmlp refuses them with 1.9's error whatever the version."""
    X, y_reg, y_clf = _data()
    y = y_clf if Est is BackpropClassifier else y_reg
    est = Est(
        hidden_layer_sizes=(3,), max_iter=2, early_stopping=where == "early_stopping"
    )
    zeros = np.zeros(len(y))
    message = "Sample weights must contain at least one non-zero number"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if where == "score":
            est.fit(X, y)
            before = snapshot(est)
            with pytest.raises(ValueError, match=message):
                est.score(X, y, sample_weight=zeros)
            assert_unchanged(est, before)
            return
        call = est.partial_fit if where == "partial_fit" else est.fit
        kwargs = {"classes": [0, 1]} if where == "partial_fit" and y is y_clf else {}
        with pytest.raises(ValueError, match=message):
            call(X, y, sample_weight=zeros, **kwargs)


# ------------------------------------------------ pinned: hyperparameters
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_batch_norm_with_one_row_batches(solver):
    """The long run (SKMLP_HYPOTHESIS_EXAMPLES=2000) found set_params(batch_norm=True)
    on a batch_size=1 regressor refused without naming batch_norm; and L-BFGS,
    which ignores batch_size, was refused too."""
    X, _, y = _data()
    clf = BackpropClassifier((3,), max_iter=2, batch_size=1, solver=solver)
    clf.set_params(batch_norm=True)
    if solver == "lbfgs":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
        assert_good_fit(clf)
        return
    with pytest.raises(ValueError, match=r"batch_norm=True.*batch_size=1"):
        clf.fit(X, y)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"hidden_layer_sizes": (np.inf,)}, "hidden_layer_sizes must be finite"),
        ({"dropout": ["a", "b"]}, "dropout must be a rate"),
        ({"dropout": [None, None]}, "dropout must be a rate"),
        ({"dropout": [[0.1], [0.1]]}, "dropout must be a rate"),
    ],
)
def test_odd_layer_lists_get_a_clear_error(params, message):
    """They got Python's own errors: OverflowError 'cannot convert float
    infinity to integer', float()'s 'could not convert string to float' and
    'argument must be a string or a real number, not NoneType'."""
    X, _, y = _data()
    clf = BackpropClassifier((3, 2), max_iter=2).set_params(**params)
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y)


@pytest.mark.parametrize(
    "class_weight, message",
    [
        ({0: np.nan, 1: 1.0}, "finite, non-negative weight; got {0: nan}"),
        ({0: np.inf, 1: 1.0}, "finite, non-negative weight; got {0: inf}"),
        ({0: -1.0, 1: 1.0}, r"finite, non-negative weight; got {0: -1.0}"),
        ({0: "a", 1: 1.0}, "finite, non-negative weight; got {0: 'a'}"),
        ({0: None, 1: 1.0}, "finite, non-negative weight; got {0: None}"),
        ({0: 0.0, 1: 0.0}, "every sample of y a weight of 0"),
    ],
)
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_odd_class_weights_get_a_clear_error(class_weight, message, solver):
    """NaN and inf weights ended in a DivergenceError blaming the data, a
    string in float()'s 'could not convert string to float', None in a
    TypeError; negative and all-zero weights trained without complaint."""
    X, _, y = _data()
    clf = BackpropClassifier((3,), solver=solver, max_iter=2, class_weight=class_weight)
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y)


# ------------------------------------------------ pinned: regressor score
@pytest.mark.parametrize("scale_X, scale_y", [(1e300, 1.0), (1.0, 1e300)])
def test_regressor_score_refuses_an_overflowed_r2(scale_X, scale_y):
    """r2_score squared residuals beyond float64: a RuntimeWarning and -inf
    or NaN. Predictions themselves are finite here."""
    X, y, _ = _data()
    reg = _fit(BackpropRegressor(hidden_layer_sizes=(), max_iter=2), X, y)
    assert np.isfinite(reg.predict(scale_X * X)).all()
    with pytest.raises(ValueError, match=r"R\^2 score overflowed .* of y from"):
        reg.score(scale_X * X, scale_y * y)
    with pytest.warns(UndefinedMetricWarning):  # scikit-learn's undefined R^2
        assert np.isnan(reg.score(X[:1], y[:1]))


@pytest.mark.parametrize(
    "sample_weight, error, message",
    [
        (np.array(["a"] * 12), ValueError, "could not convert string to float"),
        (np.array([None] * 12), ValueError, "sample_weight contains NaN"),
        (np.full(12, 1e308), ValueError, "accuracy overflowed .* sum of sample_weight"),
    ],
)
def test_classifier_score_checks_sample_weight(sample_weight, error, message):
    """accuracy_score summed them unchecked: NumPy's 'The `dtype` and
    `signature` arguments to ufuncs only select the general DType', an
    'unsupported operand type(s) for +' TypeError, an overflow warning."""
    X, _, y = _data()
    clf = _fit(BackpropClassifier((3,), max_iter=2), X, y)
    with pytest.raises(error, match=message):
        clf.score(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("where", ["y", "y_val", "score"])
@pytest.mark.parametrize(
    "value, error, message",
    [
        (None, TypeError, "of type NoneType, which is not a number"),
        ((1, 2), TypeError, "of type tuple, which is not a number"),
        (10**400, ValueError, "401 digits"),
    ],
)
def test_object_regression_targets_get_a_clear_error(where, value, error, message):
    """validate_data casts them with NumPy: float()'s TypeError, 'setting an
    array element with a sequence.', an OverflowError."""
    X, y, _ = _data()
    bad = y.astype(object)
    bad[3] = value
    reg = BackpropRegressor(hidden_layer_sizes=(3,), max_iter=2)
    name = "y_val" if where == "y_val" else "y"
    with pytest.raises(error, match=f"{name} holds .*{message}"):
        if where == "y":
            reg.fit(X, bad)
        elif where == "y_val":
            reg.fit(X, y, X_val=X, y_val=bad)
        else:
            _fit(reg, X, y).score(X, bad)


@pytest.mark.parametrize("classes", [1, "ab", {0, 1}, [], [[0, 1]]])
def test_partial_fit_classes_must_be_a_list_of_labels(classes):
    """They got errors naming y ('y has 0 samples: []', "y is a 'binary'
    target, but the model was fitted on 'multilabel-indicator' targets") or
    no argument at all ('Expected array-like (array or non-string sequence),
    got 1')."""
    X, _, y = _data()
    with pytest.raises(ValueError, match="classes must be a non-empty 1-D"):
        BackpropClassifier((3,)).partial_fit(X, y, classes=classes)


@pytest.mark.parametrize("where", ["fit", "sample_weight_val", "score"])
def test_weights_with_both_infinities_get_no_runtime_warning(where):
    """scikit-learn's finiteness check warned ('invalid value encountered in
    reduce') before its 'contains infinity' error, as for such features."""
    X, _, y = _data()
    sw = np.where(np.arange(12) % 2, np.inf, -np.inf)
    clf = BackpropClassifier((3,), max_iter=2)
    name = "sample_weight_val" if where == "sample_weight_val" else "sample_weight"
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match=f"Input {name} contains infinity"):
            if where == "fit":
                clf.fit(X, y, sample_weight=sw)
            elif where == "sample_weight_val":
                clf.fit(X, y, X_val=X, y_val=y, sample_weight_val=sw)
            else:
                _fit(clf, X, y).score(X, y, sample_weight=sw)


def test_a_dataframe_x_val_keeps_its_feature_names():
    """The named X_val checks of 9a5362f passed validate_data a converted
    array: a UserWarning ('X does not have valid feature names') for a
    DataFrame X_val, and reordered columns were no longer caught."""
    X, _, y = _data()
    X = pd.DataFrame(X, columns=["a", "b", "c"])
    clf = BackpropClassifier((3,), max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        _fit(clf, X, y, X_val=X, y_val=y)
    with pytest.raises(ValueError, match="feature names should match"):
        clf.fit(X, y, X_val=X[["c", "b", "a"]], y_val=y)
