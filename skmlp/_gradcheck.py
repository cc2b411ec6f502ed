"""A public gradient checker: backprop against central finite differences."""

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_parameter_constraints

from skmlp._base import _largest_abs
from skmlp._build import initial_params, make_network, make_penalty
from skmlp._classifier import BackpropClassifier
from skmlp._model import FittedNetwork
from skmlp._objective import Objective
from skmlp._regressor import BackpropRegressor

#: check_gradients' own arguments, validated as scikit-learn validates parameters
_CONSTRAINTS = {
    "estimator": [BackpropClassifier, BackpropRegressor],
    "eps": [Interval(Real, 0, None, closed="neither")],
    "rtol": [Interval(Real, 0, None, closed="left")],
    "atol": [Interval(Real, 0, None, closed="left")],
    "max_entries": [Interval(Integral, 1, None, closed="left")],
    "random_state": ["random_state"],
}


@dataclass
class ArrayReport:
    """Errors of one parameter array.

    Attributes
    ----------
    name : str
        The fitted attribute and index: ``'coefs_[i]'``, ``'intercepts_[i]'``,
        ``'batch_norm_scales_[i]'`` or ``'batch_norm_offsets_[i]'``.
    shape : tuple
    n_checked : int
        Entries compared.
    max_abs_error : float
        Largest ``|g - g_fd|``.
    max_rel_error : float
        Largest ``|g - g_fd| / (|g| + |g_fd|)`` (0 where both are 0).
    passed : bool
        Whether every entry has ``|g - g_fd| <= atol + rtol (|g| + |g_fd|)``.
    """

    name: str
    shape: tuple
    n_checked: int
    max_abs_error: float
    max_rel_error: float
    passed: bool


@dataclass
class GradientReport:
    """What :func:`check_gradients` found, one row per parameter array.

    Attributes
    ----------
    arrays : list of ArrayReport
    loss : float
        Objective at the checked parameters.
    rtol, atol : float
        Tolerances used by :attr:`ok`.
    """

    arrays: list
    loss: float
    rtol: float
    atol: float

    @property
    def max_rel_error(self) -> float:
        """Worst relative error over all arrays."""
        return max(a.max_rel_error for a in self.arrays)

    @property
    def max_abs_error(self) -> float:
        """Worst absolute error over all arrays."""
        return max(a.max_abs_error for a in self.arrays)

    @property
    def ok(self) -> bool:
        """True when every checked entry is within the tolerances."""
        return all(a.passed for a in self.arrays)

    def __str__(self) -> str:
        width = max([16, *(len(a.name) + 2 for a in self.arrays)])
        lines = [
            f"{'array':<{width}}{'shape':>12}{'checked':>9}{'max abs err':>14}"
            f"{'max rel err':>14}",
        ]
        for a in self.arrays:
            flag = "" if a.passed else "  <-- FAILS"
            lines.append(
                f"{a.name:<{width}}{str(a.shape):>12}{a.n_checked:>9}"
                f"{a.max_abs_error:>14.3e}{a.max_rel_error:>14.3e}{flag}"
            )
        verdict = "OK" if self.ok else "MISMATCH"
        lines.append(
            f"loss = {self.loss:.6g}; worst errors: absolute "
            f"{self.max_abs_error:.3e}, relative {self.max_rel_error:.3e}. An entry "
            f"fails when abs > {self.atol:g} + {self.rtol:g} * (|g| + |g_fd|): "
            f"{verdict}"
        )
        return "\n".join(lines)


def _objective(estimator, X, y, sample_weight):
    """The objective ``fit`` minimises for ``estimator``, its data and the point.

    A fitted estimator keeps its label encoding and its weights are the point;
    an unfitted one is cloned (so it is not modified) and its initial weights
    are drawn as ``fit`` would draw them. Everything is float64, without dropout.
    """
    fitted = hasattr(estimator, "coefs_")
    est = estimator if fitted else clone(estimator)
    params = est.get_params(deep=False)
    X, Y, sw, loss = est._training_problem(
        X, y, sample_weight, incremental=fitted, reset=not fitted, partial_fit=False
    )
    X = X.astype(np.float64)
    if Y.dtype.kind == "f":  # class indices stay integers
        Y = Y.astype(np.float64)
    if sw is not None:
        sw = sw.astype(np.float64)
    if fitted:
        model = FittedNetwork.from_estimator(estimator, loss)
        network = make_network(
            params, X.shape[1], model.network.layer_units[-1], loss, dropout=False
        )
        point = model.flat_params(np.float64)
    else:
        network = make_network(
            params, X.shape[1], est._n_outputs(Y), loss, dropout=False
        )
        rng = check_random_state(params["random_state"])
        point = initial_params(params, network, np.float64, rng)
    objective = Objective(network, make_penalty(params, network))
    return objective, X, Y, sw, point


# overflow in the objective is refused below (at the point) or shows in the report
@np.errstate(over="ignore", invalid="ignore", divide="ignore")
def check_gradients(
    estimator,
    X,
    y,
    sample_weight=None,
    *,
    eps=1e-6,
    rtol=1e-5,
    atol=1e-8,
    max_entries=200,
    random_state=0,
):
    """Compare an estimator's backprop gradient with central finite differences.

    The objective is the one ``fit`` minimises (loss, L2 and L1 penalties,
    sample and class weights), in float64 with dropout off, at the estimator's
    fitted weights or, if it is not fitted, at its initial weights.

    Parameters
    ----------
    estimator : BackpropClassifier or BackpropRegressor
        Fitted or not; it is not modified.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    sample_weight : array-like of shape (n_samples,), default=None
    eps : float, default=1e-6
        Finite-difference step.
    rtol : float, default=1e-5
        Relative tolerance: an entry fails when
        ``|g - g_fd| > atol + rtol (|g| + |g_fd|)``.
    atol : float, default=1e-8
        Absolute tolerance, above the finite differences' rounding noise
        (about ``1e-16 * loss / eps``).
    max_entries : int, default=200
        Entries checked per array at most (a random subset beyond that).
    random_state : int, default=0
        Picks the subset.

    Returns
    -------
    report : GradientReport
        Per array: entries checked, max absolute and relative error; ``str()``
        of it is a readable table and ``report.ok`` the verdict.

    Notes
    -----
    Entry ``j`` of the finite-difference gradient is
    ``(f(w + eps e_j) - f(w - eps e_j)) / (2 eps)``, with error ``O(eps^2)``.
    Kinks (ReLU at 0, absolute error at a zero residual) can give isolated
    large errors that are not bugs.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skmlp import BackpropClassifier, check_gradients
    >>> X, y = load_iris(return_X_y=True)
    >>> report = check_gradients(BackpropClassifier((5,), "tanh", alpha=0.1), X, y)
    >>> report.ok
    True
    """
    options = dict(eps=eps, rtol=rtol, atol=atol, max_entries=max_entries)
    validate_parameter_constraints(
        _CONSTRAINTS,
        {"estimator": estimator, "random_state": random_state, **options},
        caller_name="check_gradients",
    )
    # the hyperparameters, as fit validates them (this does not modify estimator)
    estimator._validate_params()
    objective, X, Y, sw, params = _objective(estimator, X, y, sample_weight)
    grad = np.empty_like(params)

    def f(p):
        return objective.value(p, X, Y, sw, grad)

    loss = f(params)
    analytic = grad.copy()
    if not (np.isfinite(loss) and np.isfinite(analytic).all()):
        raise ValueError(
            f"The objective is not finite at the checked weights (loss = {loss}): "
            f"X (largest |entry| {_largest_abs(X):.3g}), y or sample_weight is "
            "too large for them. Scale the features as for training (e.g. "
            "sklearn.preprocessing.StandardScaler)."
        )
    rng = check_random_state(random_state)
    network = objective.network
    arrays = []
    for name, segment in network.public_segments():
        sl, shape = segment.slice, segment.shape
        idx = np.arange(sl.start, sl.stop)
        if len(idx) > max_entries:
            idx = np.sort(rng.choice(idx, max_entries, replace=False))
        numeric = np.empty(len(idx))
        for k, j in enumerate(idx):
            p = params.copy()
            p[j] += eps
            up = f(p)
            p[j] -= 2 * eps
            numeric[k] = (up - f(p)) / (2 * eps)
        err = np.abs(analytic[idx] - numeric)
        scale = np.abs(analytic[idx]) + np.abs(numeric)
        rel = np.divide(err, scale, out=np.zeros_like(err), where=scale > 0)
        passed = bool(np.all(err <= atol + rtol * scale))
        arrays.append(
            ArrayReport(
                name, tuple(shape), len(idx), float(err.max()), float(rel.max()), passed
            )
        )
    return GradientReport(arrays=arrays, loss=float(loss), rtol=rtol, atol=atol)
