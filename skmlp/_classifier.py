"""BackpropClassifier: label encoding, probabilities and class predictions."""

from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import check_is_fitted, column_or_1d

from skmlp._base import BaseBackprop, _check_weights, _store_params, _validate_data
from skmlp._docs import SHARED_ATTRIBUTES, SHARED_PARAMETERS
from skmlp._losses import (
    CLASSIFICATION_LOSSES,
    SigmoidLogLoss,
    SoftmaxLogLoss,
    clip_log_probabilities,
    clip_probabilities,
)


class BackpropClassifier(ClassifierMixin, BaseBackprop):
    __doc__ = f"""Multilayer perceptron classifier trained by backpropagation.

    A drop-in replacement for :class:`sklearn.neural_network.MLPClassifier`:
    the same parameters, defaults, fitted attributes, errors and warnings, and
    for the same ``random_state`` the same initial weights and mini-batch order.
    It differs where scikit-learn is wrong: ``warm_start`` keeps the optimizer
    state, ``predict_log_proba`` stays finite when saturated, divergence stops
    training at once and never leaves NaN weights behind, and a failed ``fit``
    leaves a fitted model unchanged. Beyond scikit-learn it offers more
    activations (per layer), optimizers, schedules, dropout, L1, gradient
    clipping, initialisers, ``class_weight``, label smoothing and a validation
    set of your own; every default keeps scikit-learn's behaviour.

    Parameters
    ----------
    {SHARED_PARAMETERS}
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes, multiplied into ``sample_weight``; 'balanced'
        uses ``n_samples / (n_classes * np.bincount(y))``. Binary and multiclass
        targets only; not with ``partial_fit``.
    label_smoothing : float, default=0.0
        Train against ``(1 - eps) y + eps / K`` instead of the one-hot ``y``
        (``K`` classes, or 2 per output with sigmoid outputs).

    Attributes
    ----------
    classes_ : ndarray or list of ndarray of shape (n_classes,)
        Class labels.
    {SHARED_ATTRIBUTES}
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

    #: scikit-learn's MLPClassifier has this attribute (not a parameter)
    loss = "log_loss"

    _parameter_constraints: dict = {
        **BaseBackprop._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
    }

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
        class_weight=None,
        label_smoothing=0.0,
    ):
        _store_params(self, locals())

    # ----------------------------------------------------------------- fitting
    def _validate_input(self, X, y, incremental, reset):
        X, y = _validate_data(
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
        _check_label_types(y, "y")
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            self._check_target_kind(y, "y")
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
        return X, self._encode(y, X.dtype)

    def _encode(self, y, dtype):
        """Targets as the loss takes them.

        Class indices for a multiclass softmax without label smoothing (a
        tenth of the memory of one-hot rows for ten classes, and nothing to
        gather per mini-batch but the indices); otherwise one-hot / indicator
        rows, label-smoothed if asked.
        """
        if self._is_multiclass() and not self.label_smoothing:
            return _class_indices(self.classes_, np.asarray(y))
        Y = self._label_binarizer.transform(y).astype(dtype)
        eps = self.label_smoothing
        if eps:
            k = Y.shape[1] if Y.shape[1] > 1 and self._is_multiclass() else 2
            Y *= 1 - eps
            Y += eps / k
        return Y

    def _check_target_kind(self, y, name):
        """Refuse labels for an indicator-row model and the reverse.

        The fitted LabelBinarizer would encode them without complaint, and
        wrongly: labels ``[0, 1, 0]`` as one-hot rows for a model of three
        indicator columns.
        """
        fitted = self._label_binarizer.y_type_
        if np.ndim(y) == 1 and not fitted.startswith("multilabel"):
            return  # 1-D labels are never indicator rows (type_of_target: ~1 ms)
        kind = type_of_target(y)
        if kind.startswith("multilabel") != fitted.startswith("multilabel"):
            raise ValueError(
                f"{name} is a {kind!r} target, but the model was fitted on "
                f"{fitted!r} targets."
            )

    def _is_multiclass(self) -> bool:
        return self._label_binarizer.y_type_ == "multiclass"

    def _validate_validation_set(self, X_val, y_val, sample_weight_val):
        if X_val is not None and y_val is not None:
            _check_label_types(y_val, "y_val")
            if sp.issparse(y_val) and not type_of_target(y_val).startswith("multi"):
                raise TypeError(  # as fit says of such a y
                    "Sparse data was passed for y_val, but dense data is required. "
                    "Use '.toarray()' to convert to a dense numpy array."
                )
            labels = unique_labels(y_val if sp.issparse(y_val) else np.asarray(y_val))
            if len(np.setdiff1d(labels, self.classes_)):
                raise ValueError(
                    f"y_val has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y_val' has {labels}."
                )
        return super()._validate_validation_set(X_val, y_val, sample_weight_val)

    def _validate_val_input(self, X_val, y_val):
        X_val = _validate_data(
            self,
            X_val,
            name="X_val",
            accept_sparse=["csr", "csc"],
            dtype=(np.float64, np.float32),
            reset=False,
        )
        self._check_target_kind(y_val, "y_val")
        return X_val, self._encode(y_val, X_val.dtype)

    def _training_sample_weight(self, y, sample_weight, partial_fit, dtype):
        if self.class_weight is None:
            return sample_weight
        if partial_fit:
            raise ValueError(
                "class_weight is not supported by partial_fit: the class frequencies "
                "of one batch are not those of the data. Pass per-sample weights "
                "through sample_weight instead."
            )
        if not self._is_multiclass() and self._label_binarizer.y_type_ != "binary":
            raise ValueError(
                "class_weight supports binary and multiclass targets, not "
                f"{self._label_binarizer.y_type_!r}."
            )
        if isinstance(self.class_weight, dict):
            bad = {
                label: weight
                for label, weight in self.class_weight.items()
                if not (isinstance(weight, Real) and 0 <= weight < np.inf)
            }
            if bad:
                raise ValueError(
                    "class_weight must give each class a finite, non-negative "
                    f"weight; got {bad!r}."
                )
        weights = compute_sample_weight(self.class_weight, column_or_1d(y))
        if sample_weight is None:
            weights = weights.astype(dtype, copy=False)
        else:
            weights = sample_weight * weights
        if not weights.any():  # as scikit-learn refuses all-zero sample weights
            raise ValueError("class_weight gives every sample of y a weight of 0.")
        return weights

    def _n_outputs(self, Y) -> int:
        return len(self.classes_) if Y.ndim == 1 else Y.shape[1]

    def _make_loss(self, Y):
        if self._is_multiclass():
            return SoftmaxLogLoss(one_hot=not self.label_smoothing)
        return SigmoidLogLoss()

    def _fitted_loss(self):
        return CLASSIFICATION_LOSSES.resolve(self.out_activation_)()

    def _stratify_labels(self, Y):
        """Each row's class: booleans for binary targets (scikit-learn's), labels
        for multiclass ones; multilabel indicator rows are not classes."""
        kind = self._label_binarizer.y_type_
        if kind == "binary":
            # one boolean column, as scikit-learn stratifies (label-smoothed
            # targets too): its split errors name the class 'True' likewise
            return Y > 0.5
        if kind == "multiclass":
            return self.classes_[Y if Y.ndim == 1 else Y.argmax(axis=1)]
        return None

    def _score_predictions(self, pred, Y, sample_weight):
        y_pred = self._decode(pred)
        y_true = self._decode(Y)
        return accuracy_score(y_true, y_pred, sample_weight=sample_weight)

    def _decode(self, scores):
        if scores.ndim == 1:  # class indices (see _encode)
            return self.classes_[scores]
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
            if classes is not None:
                if np.ndim(classes) != 1 or not len(classes):
                    raise ValueError(
                        "classes must be a non-empty 1-D array-like of class "
                        f"labels, got {classes!r}."
                    )
                _check_label_types(np.asarray(classes), "classes")
            if _check_partial_fit_first_call(self, classes):
                _check_label_types(y, "y")  # type_of_target reads it first
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
        raw = self._forward_raw(X)
        with np.errstate(over="ignore", under="ignore"):
            return self._decode(self._fitted_loss().predict(raw))

    def _class_logits(self, X):
        """Raw outputs with one column per class: ``[-z, z]`` for binary targets.

        A single sigmoid output ``z`` is the log-odds of the positive class, so
        the negative class has ``sigmoid(-z)`` (no cancellation near 1, unlike
        ``1 - sigmoid(z)``).
        """
        raw = self._forward_raw(X)
        if self.n_outputs_ == 1 and self.out_activation_ == "logistic":
            return np.hstack([-raw, raw])
        return raw

    def decision_function(self, X):
        """Raw network outputs (logits), before the output link.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The log-odds of the positive class for binary targets, else one
            column per class (softmax logits) or label (log-odds).
        """
        check_is_fitted(self)
        raw = self._forward_raw(X)
        return raw.ravel() if raw.shape[1] == 1 else raw

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
        logits = self._class_logits(X)
        with np.errstate(over="ignore", under="ignore"):
            return clip_probabilities(self._fitted_loss().predict(logits))

    def predict_log_proba(self, X):
        """Log of probability estimates, finite even where the network saturates.

        Unlike scikit-learn's ``log(predict_proba(X))`` this never gives
        ``-inf``: probabilities below 1/2 are taken in log space, as
        log-softmax / log-sigmoid of the raw outputs, and floored at
        ``log(tiny)`` of their dtype (about -708 in float64), the logarithm of
        the smallest probability :meth:`predict_proba` reports. Probabilities
        of 1/2 and more get the logarithm of :meth:`predict_proba`'s value
        (within ``1.2e-16`` of 0 near certainty, where a probability's own
        rounding dominates), so that ``predict_log_proba(X)`` and
        ``log(predict_proba(X))`` agree everywhere to rounding.

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
        logits = self._class_logits(X)
        loss = self._fitted_loss()
        with np.errstate(divide="ignore", over="ignore", under="ignore"):
            log_proba = loss.log_predict(logits)
            likely = log_proba >= _LOG_HALF
            if likely.any():
                proba = clip_probabilities(loss.predict(logits))
                log_proba[likely] = np.log(proba[likely])
        return clip_log_probabilities(log_proba)

    def score(self, X, y, sample_weight=None):
        """Return the mean accuracy on the given test data and labels.

        As :meth:`sklearn.base.ClassifierMixin.score` (subset accuracy for
        multilabel targets), after the label checks of :meth:`fit` on ``y``
        and scikit-learn's checks of ``sample_weight``; weights whose sum
        overflows float64 raise a ValueError.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True labels for ``X``.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            Mean accuracy of ``self.predict(X)`` with respect to ``y``.
        """
        _check_label_types(y, "y")
        if sample_weight is not None:  # accuracy_score would sum them unchecked
            sample_weight = _check_weights(sample_weight, X)
        y_pred = self.predict(X)
        with np.errstate(over="ignore", invalid="ignore"):
            score = accuracy_score(y, y_pred, sample_weight=sample_weight)
        if not np.isfinite(score):
            raise ValueError(
                f"The accuracy overflowed ({score}): the sum of sample_weight "
                "exceeds float64."
            )
        return score

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


_LOG_HALF = float(np.log(0.5))


def _check_label_types(y, name: str) -> None:
    """A clear error for labels that scikit-learn's label checks cannot take.

    NumPy cannot sort labels that mix strings and numbers, or that are neither
    (None, tuples, ...); without this check the user sees its ``TypeError:
    '<' not supported between instances of 'str' and 'int'``. Float labels
    must be finite and within the int64 range: scikit-learn casts them to
    int64 to tell classes from continuous targets, with a RuntimeWarning for
    those that are not.
    """
    y = y.data if sp.issparse(y) else np.asarray(y)
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError(
                f"Input {name} contains NaN or infinity: class labels must be finite."
            )
        largest = float(np.abs(y).max()) if y.size else 0.0  # float16 too
        if largest >= 2.0**63:
            raise ValueError(
                f"Unknown label type: the float labels of {name} reach "
                f"{largest:.3g}, beyond the int64 range of class labels."
            )
        return
    if y.dtype != object:
        return
    values = y.ravel().tolist()
    kinds = {_label_kind(v) for v in values}
    if len(kinds) > 1 or "other" in kinds:
        types = sorted({type(v).__name__ for v in values})
        if kinds == {"str", "number"}:  # scikit-learn's message
            raise ValueError(
                "Mix of label input types (string and number); got "
                f"{name} with labels of types {types}."
            )
        raise ValueError(
            f"Unknown label type: {name} has labels of types {types}; class "
            "labels must be all strings or all numbers."
        )


def _label_kind(value) -> str:
    """'str', 'bytes', 'number' (booleans too) or 'other', for label checks."""
    if isinstance(value, str | bytes):
        return type(value).__name__
    return "number" if isinstance(value, Real) else "other"


def _class_indices(classes: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Index of each label of ``y`` in the sorted ``classes`` (all present)."""
    y = y.ravel()
    if y.dtype.kind in "biufUS" and classes.dtype.kind in "biufUS":
        return np.searchsorted(classes, y).astype(np.intp, copy=False)
    index = {c: i for i, c in enumerate(classes.tolist())}
    return np.fromiter((index[v] for v in y.tolist()), dtype=np.intp, count=len(y))
