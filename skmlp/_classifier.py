"""BackpropClassifier: label encoding, probabilities and class predictions."""

import numpy as np
from scipy.special import expit
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from skmlp._base import BaseBackprop
from skmlp._losses import (
    SigmoidLogLoss,
    SoftmaxLogLoss,
    log_expit,
    log_softmax,
    softmax,
)


class BackpropClassifier(ClassifierMixin, BaseBackprop):
    """Multilayer perceptron classifier trained by backpropagation.

    A drop-in replacement for :class:`sklearn.neural_network.MLPClassifier`:
    the same parameters, defaults, fitted attributes, errors and warnings, and
    for the same ``random_state`` the same initial weights and mini-batch order.
    It differs where scikit-learn is wrong: ``warm_start`` keeps the optimizer
    state, ``predict_log_proba`` is computed in log space, divergence stops
    training at once and never leaves NaN weights behind, and a failed ``fit``
    leaves a fitted model unchanged.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.
    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        Activation function of the hidden layers.
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        The weight optimizer: L-BFGS-B from SciPy, stochastic gradient descent
        with (Nesterov) momentum, or Adam.
    alpha : float, default=0.0001
        Strength of the L2 penalty ``alpha / 2 * ||W||^2``, divided by the sum of
        sample weights of each (mini-)batch, as in scikit-learn.
    batch_size : int or 'auto', default='auto'
        Mini-batch size of the stochastic solvers; 'auto' is
        ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Learning-rate schedule of ``solver='sgd'``.
    learning_rate_init : float, default=0.001
        Initial learning rate of the stochastic solvers.
    power_t : float, default=0.5
        Exponent of the 'invscaling' schedule.
    max_iter : int, default=200
        Maximum number of epochs (stochastic solvers) or iterations (L-BFGS).
    shuffle : bool, default=True
        Whether to shuffle samples in each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and the early-stopping split.
    tol : float, default=1e-4
        Tolerance of the stopping criterion.
    verbose : bool, default=False
        Whether to print progress messages.
    warm_start : bool, default=False
        Continue from the previous solution, optimizer state included.
    momentum : float, default=0.9
        Momentum of ``solver='sgd'``.
    nesterovs_momentum : bool, default=True
        Whether ``solver='sgd'`` uses Nesterov's momentum.
    early_stopping : bool, default=False
        Stop when the score on a stratified validation split stops improving,
        and keep the best weights.
    validation_fraction : float, default=0.1
        Fraction of the training data held out for early stopping.
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's moment decay rates.
    epsilon : float, default=1e-8
        Adam's numerical-stability constant.
    n_iter_no_change : int, default=10
        Epochs without ``tol`` improvement before stopping.
    max_fun : int, default=15000
        Maximum number of loss evaluations of ``solver='lbfgs'``.

    Attributes
    ----------
    classes_ : ndarray or list of ndarray of shape (n_classes,)
        Class labels.
    loss_ : float
        Loss of the last epoch (stochastic solvers) or at the solution (L-BFGS).
    best_loss_ : float or None
        Lowest training loss seen (None with early stopping).
    loss_curve_ : list of float
        Training loss per epoch (stochastic solvers).
    validation_scores_ : list of float or None
        Validation accuracy per epoch with early stopping.
    best_validation_score_ : float or None
        Best validation accuracy with early stopping.
    t_ : int
        Number of training samples seen by the solver.
    coefs_ : list of ndarray
        Weight matrices, ``coefs_[i]`` of shape (units of layer i, units of layer i+1).
    intercepts_ : list of ndarray
        Bias vectors.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when ``X`` had string column names.
    n_iter_ : int
        Number of epochs (iterations) run by the last call.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of output units.
    out_activation_ : str
        Output link: 'logistic' (binary, multilabel) or 'softmax'.

    See Also
    --------
    BackpropRegressor : The regressor.
    sklearn.neural_network.MLPClassifier : The estimator this one replaces.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skmlp import BackpropClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> clf = make_pipeline(
    ...     StandardScaler(), BackpropClassifier(max_iter=500, random_state=0)
    ... ).fit(X_train, y_train)
    >>> clf.predict_proba(X_test[:1]).shape
    (1, 3)
    >>> round(clf.score(X_test, y_test), 2)
    0.97
    """

    def __init__(
        self,
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
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            loss="log_loss",
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
        )

    # ----------------------------------------------------------------- fitting
    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        Y = self._label_binarizer.transform(y).astype(X.dtype)
        return X, Y

    def _make_loss(self, Y):
        if self._label_binarizer.y_type_ == "multiclass":
            return SoftmaxLogLoss()
        return SigmoidLogLoss()

    def _stratify_validation(self, Y):
        return self._label_binarizer.y_type_ != "multilabel-indicator"

    def _score_params(self, network, params, X, Y, sample_weight):
        raw = network.forward(params, X)
        if not np.isfinite(raw).all():
            return np.nan
        y_pred = self._decode(network.loss.predict(raw))
        y_true = self._decode(Y)
        return accuracy_score(y_true, y_pred, sample_weight=sample_weight)

    def _decode(self, scores):
        if scores.shape[1] == 1:
            scores = scores.ravel()
        return self._label_binarizer.inverse_transform(scores)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with a single epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.
        classes : array of shape (n_classes,), default=None
            Classes across all calls to partial_fit; required on the first call.

        Returns
        -------
        self : object
            The updated estimator.
        """

        def first_call_setup():
            if _check_partial_fit_first_call(self, classes):
                target = y if type_of_target(y).startswith("multilabel") else classes
                self._label_binarizer = LabelBinarizer().fit(target)

        return self._fit(
            X, y, sample_weight=sample_weight, incremental=True, setup=first_call_setup
        )

    # -------------------------------------------------------------- prediction
    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The predicted classes.
        """
        check_is_fitted(self)
        return self._decode(self._proba(self._forward_raw(X)))

    def _proba(self, raw):
        if self.out_activation_ == "softmax":
            return softmax(raw)
        return expit(raw, out=raw)

    def predict_proba(self, X):
        """Probability estimates.

        Probabilities lie strictly between 0 and 1: they are clipped to
        ``[tiny, 1 - epsneg]`` of their dtype (at most ``1.2e-16`` away from the
        unclipped value in float64), so that their logarithm is always finite.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            Probability of each class, in the order of ``classes_``.
        """
        check_is_fitted(self)
        raw = self._forward_raw(X)
        if self.out_activation_ == "logistic" and self.n_outputs_ == 1:
            # expit(-z) rather than 1 - expit(z): no cancellation near p = 1
            proba = np.hstack([expit(-raw), expit(raw)])
        else:
            proba = self._proba(raw)
        info = np.finfo(proba.dtype)
        return np.clip(proba, info.tiny, 1 - info.epsneg, out=proba)

    def predict_log_proba(self, X):
        """Log of probability estimates, computed in log space.

        Unlike scikit-learn's ``log(predict_proba(X))`` this never gives
        ``-inf``: log-probabilities come from log-softmax / log-sigmoid of the
        raw outputs and are floored at ``log(tiny)`` of their dtype (about -708
        in float64), the logarithm of the smallest probability
        :meth:`predict_proba` reports, so that the two always agree.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
            Log-probability of each class, in the order of ``classes_``.
        """
        check_is_fitted(self)
        raw = self._forward_raw(X)
        if self.out_activation_ == "softmax":
            log_proba = log_softmax(raw)
        elif self.n_outputs_ == 1:
            log_proba = np.hstack([log_expit(-raw), log_expit(raw)])
        else:
            log_proba = log_expit(raw)
        floor = np.log(np.finfo(log_proba.dtype).tiny)
        return np.maximum(log_proba, floor, out=log_proba)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
