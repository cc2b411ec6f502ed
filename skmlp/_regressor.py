"""BackpropRegressor: continuous targets and their prediction."""

from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import Interval
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _num_samples, check_is_fitted, column_or_1d

from skmlp._base import (
    BaseBackprop,
    _check_object_numbers,
    _check_weights,
    _store_params,
    _validate_data,
)
from skmlp._docs import SHARED_ATTRIBUTES, SHARED_PARAMETERS
from skmlp._losses import REGRESSION_LOSSES
from skmlp._registry import build


class BackpropRegressor(RegressorMixin, BaseBackprop):
    __doc__ = f"""Multilayer perceptron regressor trained by backpropagation.

    A drop-in replacement for :class:`sklearn.neural_network.MLPRegressor`:
    the same parameters, defaults, fitted attributes, errors and warnings, and
    for the same ``random_state`` the same initial weights and mini-batch order.
    It differs where scikit-learn is wrong: ``warm_start`` keeps the optimizer
    state, the multi-output L-BFGS objective matches its gradient (the reported
    squared-error loss is summed over outputs), divergence stops training at
    once, and a failed ``fit`` leaves a fitted model unchanged. Beyond
    scikit-learn it offers robust losses, more activations (per layer),
    optimizers, schedules, dropout, L1, gradient clipping, initialisers and a
    validation set of your own; every default keeps scikit-learn's behaviour.

    Parameters
    ----------
    loss : {{'squared_error', 'poisson', 'absolute_error', 'huber', 'quantile'}}, \
default='squared_error'
        The loss: half squared error; Poisson deviance with a log link (needs
        ``y >= 0``); absolute error; Huber with threshold ``huber_delta``; or
        the pinball loss of ``quantile``.
    {SHARED_PARAMETERS}
    huber_delta : float, default=1.0
        Residual size where ``loss='huber'`` turns from quadratic to linear.
    quantile : float, default=0.5
        Quantile estimated by ``loss='quantile'``.

    Attributes
    ----------
    {SHARED_ATTRIBUTES}
    out_activation_ : str
        Output link: 'identity' or 'exp' (Poisson).

    See Also
    --------
    BackpropClassifier : The classifier.
    sklearn.neural_network.MLPRegressor : The estimator this one replaces.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from skmlp import BackpropRegressor
    >>> X, y = make_regression(n_samples=200, n_features=5, noise=0.1, random_state=0)
    >>> reg = BackpropRegressor(solver="lbfgs", max_iter=500, random_state=0).fit(X, y)
    >>> reg.predict(X[:2]).shape
    (2,)
    >>> reg.score(X, y) > 0.99
    True
    """

    _parameter_constraints: dict = {
        **BaseBackprop._parameter_constraints,
        "loss": [REGRESSION_LOSSES.constraint()],
        "huber_delta": [Interval(Real, 0, None, closed="neither")],
        "quantile": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        lr_decay=0.95,
        lr_step_size=10,
        lr_min=0.0,
        warmup_epochs=0,
        rho=0.9,
        weight_decay=0.01,
        alpha_l1=0.0,
        dropout=0.0,
        max_grad_norm=None,
        weight_init="sklearn",
        init_scale=0.01,
        early_stopping_metric="score",
        batch_norm=False,
        batch_norm_momentum=0.1,
        batch_norm_epsilon=1e-5,
        huber_delta=1.0,
        quantile=0.5,
    ):
        _store_params(self, locals())

    def _validate_input(self, X, y, incremental, reset):
        if sp.issparse(y):  # validate_data accepts it; NumPy cannot convert it
            raise TypeError(
                "Sparse data was passed for y, but dense data is required. Use "
                "'.toarray()' to convert to a dense numpy array."
            )
        _check_object_numbers(y, "y")  # validate_data casts it with NumPy
        X, y = _validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        Y = np.asarray(y, dtype=X.dtype).reshape(y.shape[0], -1)
        if self.loss == "poisson" and (Y < 0).any():
            raise ValueError(
                "Some value(s) of y are negative which is not allowed for Poisson "
                "regression."
            )
        return X, Y

    def _make_loss(self, Y):
        return build(REGRESSION_LOSSES.resolve(self.loss), self.get_params(deep=False))

    def _fitted_loss(self):
        return self._make_loss(None)

    def _score_predictions(self, pred, Y, sample_weight):
        if not np.isfinite(pred).all():
            return np.nan
        return r2_score(Y, pred, sample_weight=sample_weight)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with a single epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def score(self, X, y, sample_weight=None):
        """Return the coefficient of determination R^2 of the prediction.

        As :meth:`sklearn.base.RegressorMixin.score`, except that residuals
        whose squares overflow float64 raise a ValueError (as outputs that
        overflow do in :meth:`predict`) instead of a RuntimeWarning and an
        infinite score.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True values for ``X``.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            R^2 of ``self.predict(X)`` with respect to ``y`` (NaN, with
            scikit-learn's warning, for fewer than two samples).
        """
        _check_object_numbers(y, "y")  # r2_score casts it with NumPy
        if sample_weight is not None:  # r2_score (1.6) would divide by a zero sum
            sample_weight = _check_weights(sample_weight, X)
        y_pred = self.predict(X)
        with np.errstate(over="ignore", invalid="ignore"):
            score = r2_score(y, y_pred, sample_weight=sample_weight)
        if not np.isfinite(score) and _num_samples(y_pred) >= 2:
            raise ValueError(
                f"The R^2 score overflowed ({score}): the (weighted) squared "
                "differences of y from the predictions for X (or from its mean) "
                "exceed float64. Scale the features and targets as for training "
                "(e.g. sklearn.preprocessing.StandardScaler)."
            )
        return score

    def predict(self, X):
        """Predict using the multilayer perceptron.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted values.
        """
        check_is_fitted(self)
        pred = self._fitted_loss().predict(self._forward_raw(X))
        if not np.isfinite(pred).all():  # the exp link of 'poisson' overflowed
            raise ValueError(
                f"Predictions overflow {pred.dtype} for "
                f"{int((~np.isfinite(pred)).any(axis=1).sum())} row(s): the "
                f"{self.out_activation_!r} link of a raw output above "
                f"{np.log(np.finfo(pred.dtype).max):.0f}. Scale the features as "
                "for training (e.g. sklearn.preprocessing.StandardScaler)."
            )
        return pred.ravel() if pred.shape[1] == 1 else pred
