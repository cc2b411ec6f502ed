"""scikit-learn's estimator checks, with no expected-failure list."""

import pytest
from sklearn.utils.estimator_checks import (
    check_param_validation,
    parametrize_with_checks,
)

from skmlp import BackpropClassifier, BackpropRegressor

SOLVER_CONFIGS = [
    {},  # defaults (adam)
    {"solver": "sgd", "learning_rate_init": 0.01},
    {"solver": "lbfgs"},
]

ESTIMATORS = [
    Est(**params)
    for Est in (BackpropClassifier, BackpropRegressor)
    for params in SOLVER_CONFIGS
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    """Every check of scikit-learn's ``check_estimator`` passes."""
    check(estimator)


@pytest.mark.parametrize("Est", [BackpropClassifier, BackpropRegressor])
def test_param_validation(Est):
    """Invalid parameter types and values raise sklearn's InvalidParameterError."""
    check_param_validation(Est.__name__, Est())
