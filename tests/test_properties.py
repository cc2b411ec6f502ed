"""Odd and bad inputs for every public entry point (issue #15).

The examples below pin what the property-based tests found: each failed
before its fix.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
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
