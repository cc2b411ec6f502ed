"""What the test modules share: the BLAS-thread fixture, data makers, factories.

Test modules import the plain helpers (``from conftest import make_data``);
pytest finds the fixtures by itself.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from skmlp import BackpropClassifier, BackpropRegressor
from skmlp._network import Network
from skmlp._objective import Objective, Penalty

N_FEATURES = 4
REGRESSION_KINDS = ("regression", "multioutput", "poisson")


@pytest.fixture(scope="module")
def one_blas_thread():
    """Tiny problems run much faster on one BLAS thread.

    SciPy's L-BFGS-B was ~100x slower on them with threaded OpenBLAS. Modules
    opt in with ``pytestmark = pytest.mark.usefixtures("one_blas_thread")``.
    """
    with threadpool_limits(limits=1):
        yield


def make_data(kind, n_samples=40, n_features=N_FEATURES, seed=0):
    """A small data set of ``kind`` whose targets are mostly noise.

    For comparisons (with scikit-learn, between code paths): 'binary' and
    'multiclass' labels, 'multilabel' indicator rows (every column has both
    values), 'regression', 'multioutput' (three targets) and 'poisson' counts.
    """
    rng = np.random.RandomState(seed)
    X = rng.randn(n_samples, n_features)
    if kind == "binary":
        y = (X[:, 0] + 0.5 * rng.randn(n_samples) > 0).astype(int)
    elif kind == "multiclass":
        y = np.arange(n_samples) % 3
        rng.shuffle(y)
    elif kind == "multilabel":
        y = (rng.rand(n_samples, 3) < 0.5).astype(int)
        y[0], y[1] = 1, 0  # every label column has both values
    elif kind == "regression":
        y = X @ rng.randn(n_features) + 0.1 * rng.randn(n_samples)
    elif kind == "multioutput":
        y = X @ rng.randn(n_features, 3) + 0.1 * rng.randn(n_samples, 3)
    elif kind == "poisson":
        y = rng.poisson(np.exp(0.5 * X[:, 0])).astype(float)
    else:
        raise ValueError(kind)
    return X, y


def make_learnable_data(kind, n_samples=60, n_features=N_FEATURES, seed=0):
    """A small data set of ``kind`` whose targets are a function of ``X``.

    For checks that a fit learns: 'binary', 'multiclass', 'multilabel' and
    'regression'.
    """
    rng = np.random.RandomState(seed)
    X = rng.randn(n_samples, n_features)
    if kind == "binary":
        y = (X[:, 0] + X[:, 1] > 0).astype(int)
    elif kind == "multiclass":
        y = np.digitize(X[:, 0] - 0.5 * X[:, 1], [-0.5, 0.5])
    elif kind == "multilabel":
        y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 0] + X[:, 2] > 0])
        y = y.astype(int)
    elif kind == "regression":
        y = X @ rng.randn(n_features) + 0.1 * rng.randn(n_samples)
    else:
        raise ValueError(kind)
    return X, y


def is_regression(kind):
    """Whether data of ``kind`` is for the regressor."""
    return kind in REGRESSION_KINDS


def make_estimator(kind, **params):
    """The skmlp estimator for data of ``kind`` (Poisson loss for 'poisson')."""
    if kind == "poisson":
        params.setdefault("loss", "poisson")
    cls = BackpropRegressor if is_regression(kind) else BackpropClassifier
    return cls(**params)


def quietly(func, *args, **kwargs):
    """Call ``func`` ignoring ConvergenceWarning (max_iter is kept tiny here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return func(*args, **kwargs)


def flat_weights(est):
    """All of a fitted estimator's weights and intercepts, as one vector."""
    return np.concatenate([a.ravel() for a in est.coefs_ + est.intercepts_])


def dense_network(layer_units, activations, loss, dropout=None, batch_norm=None):
    """An MLP core (dense layers, activations, optional dropout and batch norm)."""
    return Network.dense(layer_units, activations, loss, dropout, batch_norm)


def objective_value(network, params, X, Y, sw, alpha, grad, *, alpha_l1=0.0, rng=None):
    """The penalised mean loss a fit minimises; its gradient goes to ``grad``."""
    penalty = Penalty(alpha, alpha_l1, network.layout.n_decayed)
    return Objective(network, penalty)(params, X, Y, sw, grad, rng=rng)[0]
