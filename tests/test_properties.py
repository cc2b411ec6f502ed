"""Odd and bad inputs for every public entry point (issue #15).

The examples below pin what the property-based tests found: each failed
before its fix.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning, UndefinedMetricWarning
from sklearn.linear_model import LinearRegression
from sklearn.utils._param_validation import InvalidParameterError

from skmlp import BackpropClassifier, BackpropRegressor, check_gradients

pytestmark = pytest.mark.usefixtures("one_blas_thread")


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
    "estimator", [None, "est", LinearRegression(), BackpropRegressor]
)
def test_check_gradients_refuses_other_estimators(estimator):
    X, y, _ = _data()
    with pytest.raises(
        InvalidParameterError, match="'estimator' parameter of check_gradients"
    ):
        check_gradients(estimator, X, y)


@pytest.mark.parametrize("scale_X, scale_y", [(1e300, 1.0), (1.0, 1e300)])
def test_check_gradients_refuses_a_non_finite_objective(scale_X, scale_y):
    """It overflowed with a RuntimeWarning and reported nonsense."""
    X, y, _ = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match=r"objective is not finite.*X .* or y"):
            check_gradients(
                BackpropRegressor(hidden_layer_sizes=(3,)), scale_X * X, scale_y * y
            )


# ------------------------------------------------ pinned: labels
ODD_LABELS = {
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
@pytest.mark.parametrize("case", list(ODD_LABELS))
def test_odd_labels_get_a_clear_error(case, where):
    """They got NumPy's sorting TypeError ('<' not supported between 'int' and
    'NoneType') or a RuntimeWarning from scikit-learn's int64 cast."""
    values, message = ODD_LABELS[case]
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


# ------------------------------------------------ pinned: hyperparameters
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


@pytest.mark.parametrize("where", ["y", "y_val"])
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
    with pytest.raises(error, match=f"{where} holds .*{message}"):
        if where == "y":
            reg.fit(X, bad)
        else:
            reg.fit(X, y, X_val=X, y_val=bad)


@pytest.mark.parametrize("classes", [1, "ab", {0, 1}, [], [[0, 1]]])
def test_partial_fit_classes_must_be_a_list_of_labels(classes):
    """They got errors naming y ('y has 0 samples: []', "y is a 'binary'
    target, but the model was fitted on 'multilabel-indicator' targets") or
    no argument at all ('Expected array-like (array or non-string sequence),
    got 1')."""
    X, _, y = _data()
    with pytest.raises(ValueError, match="classes must be a non-empty 1-D"):
        BackpropClassifier((3,)).partial_fit(X, y, classes=classes)
