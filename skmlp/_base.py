"""The estimator shared by the classifier and the regressor.

``fit``/``partial_fit`` validate and encode, hand a :class:`FitState` to a loop
in :mod:`skmlp._training`, and publish fitted attributes only once the loop has
returned. Any exception restores the estimator's ``__dict__`` as it was, so a
failed call loses nothing.
"""

import copy
import warnings
from abc import ABC, abstractmethod
from decimal import Decimal
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, is_classifier
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_non_negative,
    validate_data,
)

from skmlp._activations import ACTIVATIONS, hidden_activations
from skmlp._build import (
    batch_norm_flags,
    batch_size,
    dropout_rates,
    hidden_sizes,
    initial_params,
    make_network,
    make_penalty,
    stochastic_config,
)
from skmlp._callbacks import CallbackSupport, open_run
from skmlp._initializers import INITIALIZERS
from skmlp._interrupt import graceful_interrupt
from skmlp._losses import Loss
from skmlp._model import FittedNetwork
from skmlp._network import Network
from skmlp._objective import Objective
from skmlp._optimizers import SOLVERS, is_stochastic, make_optimizer
from skmlp._schedules import SCHEDULES, make_schedule
from skmlp._threads import blas_threads_for
from skmlp._training import FitState, Validation, fit_lbfgs, fit_stochastic

#: Parameter names per estimator class (see BaseBackprop._get_param_names).
_PARAM_NAMES: dict = {}

#: Fitted attributes that only stochastic solvers (which run epochs) set.
_EPOCH_ATTRIBUTES = (
    "loss_curve_",
    "best_loss_",
    "validation_scores_",
    "best_validation_score_",
    "validation_loss_curve_",
    "_no_improvement_count",
)


def _batch_norm_attributes(network, params, buffers, copy) -> dict:
    """``batch_norm_scales_`` & co: per hidden layer an array, or None without BN."""
    n_hidden = len(network.layer_units) - 2
    attrs = {
        name: [None] * n_hidden
        for name in (
            "batch_norm_scales_",
            "batch_norm_offsets_",
            "batch_norm_means_",
            "batch_norm_vars_",
        )
    }
    for public, segment in network.public_segments():
        name, k = public[:-1].split("[")
        if name in attrs:
            attrs[name][int(k)] = params[segment.slice]
    for _, _, key in network.buffer_names():
        name, k = key[:-1].split("[")
        value = buffers[key]
        attrs[name][int(k)] = value.copy() if copy else value
    return attrs


def _check_batch_norm_rows(n_samples: int, sample_weight, batch_size) -> None:
    """Batch statistics need two rows: refuse one-row fits and batches.

    Rows of zero weight do not count: they are removed rows to the statistics.
    ``batch_size`` is None for L-BFGS, which ignores it (full-batch statistics).
    """
    weighted = sample_weight is not None
    n = int(np.count_nonzero(sample_weight)) if weighted else n_samples
    if n < 2:
        what = "sample of positive weight" if weighted else "sample"
        raise ValueError(
            f"Batch normalization needs more than 1 {what} to compute batch "
            f"statistics; got {n} (n_samples = {n_samples}). Fit on more "
            "samples, or set batch_norm=False."
        )
    if batch_size == 1:
        raise ValueError(
            "Batch normalization (batch_norm=True) needs mini-batches of more "
            "than 1 sample; got batch_size=1."
        )


def _copy_list(values):
    """A copy of a list, or None."""
    return None if values is None else list(values)


def _largest_abs(X) -> float:
    """The largest absolute entry of a dense or sparse ``X``."""
    data = X.data if hasattr(X, "tocsr") else X
    return float(np.abs(data).max()) if data.size else 0.0


_FLOAT64_MAX = float(np.finfo(np.float64).max)


def _check_object_numbers(X, name: str) -> None:
    """A clear error for object-dtype features (or targets) that cannot become floats.

    scikit-learn converts them with NumPy, whose errors name neither the
    array nor the entry: ``float() argument must be a string or a real
    number, not 'NoneType'``, or an OverflowError for an integer beyond
    float64. Strings are left to that conversion (numeric ones are accepted).
    """
    if not (isinstance(X, np.ndarray) and X.dtype == object):
        return
    for value in X.flat:
        if isinstance(value, str | bytes | Decimal):
            continue
        if not isinstance(value, Real):
            # the wording of NumPy's error, which scikit-learn's checks expect
            raise TypeError(
                f"{name} holds a value of type {type(value).__name__}, which is "
                "not a number: a float() argument must be a string or a real "
                "number."
            )
        if abs(value) > _FLOAT64_MAX:
            raise ValueError(
                f"{name} holds an integer of {len(str(abs(value)))} digits, beyond "
                "the range of float64."
            )


def _validate_data(estimator, X, *args, name="X", **kwargs):
    """scikit-learn's ``validate_data``, with clear errors for odd features.

    Object arrays are checked by :func:`_check_object_numbers` first. Data
    holding both +inf and -inf still gets validate_data's "contains
    infinity" error, but not the RuntimeWarning its fast finiteness check (a
    sum, NaN for such data) gives on the way.
    """
    _check_object_numbers(X, name)
    with np.errstate(invalid="ignore"):
        return validate_data(estimator, X, *args, **kwargs)


def _check_weights(sample_weight, X, **kwargs):
    """scikit-learn's ``_check_sample_weight``, without the RuntimeWarning its
    finiteness check gives for weights with both +inf and -inf (as
    :func:`_validate_data`).

    All-zero weights are refused with scikit-learn 1.9's error on every
    version (1.6 accepts them, and then a loss or a score divides by their
    zero sum).
    """
    with np.errstate(invalid="ignore"):
        checked = _check_sample_weight(sample_weight, X, **kwargs)
    if sample_weight is not None and checked.size and not np.any(checked):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return checked


def _validation_weights(sample_weight_val, X_val):
    """``_check_sample_weight`` for ``sample_weight_val``, with errors naming it."""
    if not isinstance(sample_weight_val, Real):
        with np.errstate(invalid="ignore"):  # as _check_weights
            sample_weight_val = check_array(
                sample_weight_val,
                ensure_2d=False,
                dtype=X_val.dtype,
                input_name="sample_weight_val",
            )
        if sample_weight_val.shape != (X_val.shape[0],):
            raise ValueError(
                f"sample_weight_val has shape {sample_weight_val.shape}; expected "
                f"({X_val.shape[0]},), one weight per row of X_val."
            )
        check_non_negative(sample_weight_val, "sample_weight_val")
    return _check_weights(
        sample_weight_val, X_val, dtype=X_val.dtype, ensure_non_negative=True
    )


def _store_params(estimator, values: dict) -> None:
    """Set each constructor argument in ``values`` (an ``__init__``'s ``locals()``)."""
    for name, value in values.items():
        if name != "self":
            setattr(estimator, name, value)


class BaseBackprop(CallbackSupport, BaseEstimator, ABC):
    """Base class of :class:`BackpropClassifier` and :class:`BackpropRegressor`.

    Not for direct use.
    """

    @classmethod
    def _get_param_names(cls):
        """scikit-learn's parameter names, read from ``__init__`` once per class.

        scikit-learn inspects the signature on every ``get_params`` call
        (0.6 ms for these ~45 parameters), which ``fit``, ``partial_fit``,
        ``clone`` and every search call.
        """
        names = _PARAM_NAMES.get(cls)
        if names is None:
            names = _PARAM_NAMES[cls] = tuple(super()._get_param_names())
        return list(names)

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [ACTIVATIONS.constraint(), list, tuple],
        "solver": [SOLVERS.constraint()],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [SCHEDULES.constraint()],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "lr_decay": [Interval(Real, 0, 1, closed="right")],
        "lr_step_size": [Interval(Integral, 1, None, closed="left")],
        "lr_min": [Interval(Real, 0, None, closed="left")],
        "warmup_epochs": [Interval(Integral, 0, None, closed="left")],
        "rho": [Interval(Real, 0, 1, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "alpha_l1": [Interval(Real, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left"), list, tuple],
        "max_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
        "weight_init": [INITIALIZERS.constraint()],
        "init_scale": [Interval(Real, 0, None, closed="neither")],
        "early_stopping_metric": [StrOptions({"score", "loss"})],
        "batch_norm": ["boolean", list, tuple],
        "batch_norm_momentum": [Interval(Real, 0, 1, closed="right")],
        "batch_norm_epsilon": [Interval(Real, 0, None, closed="neither")],
    }

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _validate_input(self, X, y, incremental, reset):
        """Validate ``X, y``; return ``X`` and the encoded target ``Y``.

        ``Y`` is 2-D, except class indices (1-D) for a multiclass softmax.
        """

    def _n_outputs(self, Y) -> int:
        """Units of the output layer for the encoded targets ``Y``."""
        return Y.shape[1]

    def _stochastic_batch_size(self):
        """``batch_size`` for a stochastic solver; None for L-BFGS, which ignores it."""
        return self.batch_size if is_stochastic(self.solver) else None

    @abstractmethod
    def _make_loss(self, Y) -> Loss:
        """The loss (with its output link) for encoded targets ``Y``."""

    @abstractmethod
    def _fitted_loss(self) -> Loss:
        """The output loss of the fitted model (for its link)."""

    @abstractmethod
    def _score_predictions(self, pred, Y, sample_weight) -> float:
        """Accuracy or R^2 of linked outputs (probabilities, means) against ``Y``."""

    def _training_sample_weight(self, y, sample_weight, partial_fit, dtype):
        """Sample weights to train with (the classifier folds in class_weight)."""
        return sample_weight

    def _training_problem(
        self, X, y, sample_weight, *, incremental, reset, partial_fit
    ):
        """Validated ``X``, encoded targets, training weights and the loss.

        What ``fit`` and :func:`skmlp.check_gradients` train or differentiate
        on. ``incremental`` keeps the fitted label encoding, ``reset`` resets
        the recorded features, ``partial_fit`` refuses class-frequency weights.
        """
        X, Y = self._validate_input(X, y, incremental, reset=reset)
        if sample_weight is not None:
            sample_weight = _check_weights(
                sample_weight, X, dtype=X.dtype, ensure_non_negative=True
            )
        sample_weight = self._training_sample_weight(
            y, sample_weight, partial_fit, X.dtype
        )
        return X, Y, sample_weight, self._make_loss(Y)

    def _validate_val_input(self, X_val, y_val):
        """Validate ``X_val`` against the fitted features; encode ``y_val``."""
        return self._validate_input(X_val, y_val, incremental=True, reset=False)

    def _validate_validation_set(self, X_val, y_val, sample_weight_val):
        """Validate a user-given validation set like the training data.

        Its errors name ``X_val``, ``y_val`` or ``sample_weight_val``: the
        training data's checks would blame ``X``, ``y`` or ``sample_weight``.
        """
        if (X_val is None) != (y_val is None):
            raise ValueError("X_val and y_val must be given together.")
        if X_val is None:
            if sample_weight_val is not None:
                raise ValueError("sample_weight_val was given without X_val, y_val.")
            return None
        if not is_stochastic(self.solver):
            raise ValueError(
                "X_val, y_val record per-epoch validation curves and drive early "
                f"stopping of the stochastic solvers; solver={self.solver!r} has "
                "no epochs."
            )
        _check_object_numbers(X_val, "X_val")
        if not is_classifier(self):  # class labels may be any objects
            _check_object_numbers(y_val, "y_val")
        # checked copies, for errors that name them; the originals go on to
        # _validate_val_input, which checks a DataFrame's feature names
        with np.errstate(invalid="ignore"):  # as _validate_data
            X_checked = check_array(
                X_val,
                accept_sparse=["csr", "csc"],
                dtype=(np.float64, np.float32),
                input_name="X_val",
            )
            y_checked = check_array(
                y_val,
                accept_sparse="csr" if is_classifier(self) else False,
                ensure_2d=False,
                dtype=None,
                input_name="y_val",
            )
        n_val, n_features = X_checked.shape
        if n_features != self.n_features_in_:
            raise ValueError(
                f"X_val has {n_features} features, but X has {self.n_features_in_}."
            )
        if y_checked.shape[0] != n_val:
            raise ValueError(
                f"X_val has {n_val} samples, but y_val has {y_checked.shape[0]}."
            )
        X_val, Y_val = self._validate_val_input(X_val, y_val)
        if sample_weight_val is not None:
            sample_weight_val = _validation_weights(sample_weight_val, X_val)
        return X_val, Y_val, sample_weight_val

    # ------------------------------------------------------------- fit plumbing
    def _fit(self, X, y, sample_weight=None, incremental=False, setup=None, val=None):
        """Fit, restoring the estimator exactly as it was if anything fails.

        ``setup``, if given, runs first inside the same guard (the classifier's
        first ``partial_fit`` call sets ``classes_`` there); ``val`` is the
        ``(X_val, y_val, sample_weight_val)`` triple of :meth:`fit`.
        """
        # callbacks first: the restore below must keep their root context, or
        # their teardown is skipped (a ProgressBar's thread would never end)
        run = open_run(self, incremental=incremental)
        saved = dict(self.__dict__)
        try:
            if setup is not None:
                setup()
            return self._fit_unguarded(X, y, sample_weight, incremental, val, run)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _fit_unguarded(self, X, y, sample_weight, incremental, val, run=None):
        params = self.get_params(deep=False)
        hidden = hidden_sizes(params)  # the architecture's errors come first
        hidden_activations(params["activation"], len(hidden))
        dropout_rates(params, len(hidden))
        batch_norm = any(batch_norm_flags(params, len(hidden)))
        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental
        )
        given_weight = sample_weight  # what callbacks' scorers take
        X, Y, sample_weight, loss = self._training_problem(
            X,
            y,
            sample_weight,
            incremental=incremental,
            reset=first_pass,
            partial_fit=incremental,
        )
        val = self._validate_validation_set(*val) if val else None
        if batch_norm:
            _check_batch_norm_rows(
                X.shape[0], sample_weight, self._stochastic_batch_size()
            )
        if run is not None:
            run.begin(X, y, given_weight)
        network = make_network(params, X.shape[1], self._n_outputs(Y), loss)
        state = self._start_state(params, network, X.dtype, first_pass, val is not None)
        objective = Objective(network, make_penalty(params, network))

        # overflow on the way to divergence is detected and reported by the
        # training loops themselves, with its likely cause
        stochastic = is_stochastic(self.solver)
        rows = batch_size(params, X.shape[0]) if stochastic else X.shape[0]
        with (
            np.errstate(over="ignore", invalid="ignore", divide="ignore"),
            blas_threads_for(network.largest_product(rows)),
        ):
            if stochastic:
                state = self._fit_stochastic(
                    params, objective, state, X, Y, sample_weight, incremental, val, run
                )
            else:
                with graceful_interrupt() as interrupt:
                    state = fit_lbfgs(
                        objective,
                        state,
                        X,
                        Y,
                        sample_weight,
                        max_iter=self.max_iter,
                        max_fun=self.max_fun,
                        tol=self.tol,
                        hooks=None if run is None else run.iterations(network, X),
                        interrupt=interrupt,
                    )
        self._publish(state, network)
        if run is not None:
            run.end()
        return self

    def _start_state(self, params, network: Network, dtype, first_pass, has_val):
        """A fresh state, or a private copy of the kept one to continue from."""
        if first_pass:
            rng = check_random_state(self.random_state)
            state = FitState(
                params=initial_params(params, network, dtype, rng),
                rng=rng,
                buffers=network.initial_buffers(dtype),
            )
        else:
            fitted_units = [self.coefs_[0].shape[0]] + [
                b.size for b in self.intercepts_
            ]
            if fitted_units != network.layer_units:
                raise ValueError(
                    f"warm_start and partial_fit continue from the fitted network, "
                    f"whose layer sizes {fitted_units} differ from the requested "
                    f"{network.layer_units} (hidden_layer_sizes="
                    f"{self.hidden_layer_sizes!r}). Fit with warm_start=False to "
                    "start over."
                )
            fitted_norm = [s is not None for s in self.batch_norm_scales_]
            if fitted_norm != network.batch_norm:
                raise ValueError(
                    "warm_start and partial_fit continue from the fitted network, "
                    f"whose batch normalization per hidden layer {fitted_norm} "
                    f"differs from the requested {network.batch_norm} (batch_norm="
                    f"{self.batch_norm!r}). Fit with warm_start=False to start over."
                )
            state = self._kept_state().copy()
            # continue from the fitted attributes as they are now (users may
            # edit them)
            model = FittedNetwork.with_network(self, network)
            state.params = model.flat_params(dtype)
            state.buffers = model.buffers(dtype)
        if is_stochastic(self.solver):
            if (self.early_stopping or has_val) and state.validation_scores is None:
                # NaN for earlier warm-started epochs keeps the curves aligned
                # with loss_curve_
                done = [np.nan] * len(state.loss_curve)
                state.validation_scores, state.validation_losses = done, list(done)
                state.best_validation_score = -np.inf
                state.best_validation_loss = np.inf
            if self.early_stopping:
                state.best_loss = None
            elif state.best_loss is None:
                state.best_loss = np.inf
        return state

    def _optimizer_state(self, params, optimizer, state: FitState):
        """The kept optimizer state if it fits these settings, else a fresh one.

        A kept state whose schedule was changed (``set_params(learning_rate=...)``
        between warm fits) keeps its moments but restarts from
        ``learning_rate_init``.
        """
        kept = state.optimizer_state
        key = optimizer.state_key(params, state.params)
        if kept is None or kept.key != key:
            kept = optimizer.init_state(state.params)
            kept.key = key
        if kept.schedule not in (None, self.learning_rate):
            kept.learning_rate = self.learning_rate_init
        kept.schedule = self.learning_rate
        return kept

    def _warn_batch_size(self, n_samples: int) -> None:
        """scikit-learn's warning when ``batch_size`` exceeds the sample count."""
        if self.batch_size != "auto" and self.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is "
                "going to be clipped",
                stacklevel=4,
            )

    def _fit_stochastic(
        self, params, objective, state, X, Y, sample_weight, incremental, val, run
    ):
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        network = objective.network
        optimizer = make_optimizer(params, network.layout)
        state.optimizer_state = self._optimizer_state(params, optimizer, state)

        validation, rows = None, None
        if val is not None:
            validation = self._validation(network, *val)
        elif self.early_stopping:
            X, Y, sample_weight, val, rows = self._split_validation(
                state, X, Y, sample_weight
            )
            validation = self._validation(network, *val)
        self._warn_batch_size(X.shape[0])
        cfg = stochastic_config(params, X.shape[0], incremental)
        hooks = None if run is None else run.iterations(network, X, rows)
        with graceful_interrupt() as interrupt:
            return fit_stochastic(
                objective,
                optimizer,
                make_schedule(params),
                state,
                X,
                Y,
                sample_weight,
                cfg,
                validation,
                hooks,
                interrupt,
            )

    def _split_validation(self, state, X, Y, sample_weight):
        """scikit-learn's (stratified) validation split, drawn from the fit's RNG.

        Also returns the indices of the training rows (for callbacks' hooks).
        """
        # binary and multiclass targets are stratified (scikit-learn stratifies
        # binary only); multilabel indicator rows are not classes
        stratify = self._stratify_labels(Y)
        arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
        split = train_test_split(
            *arrays,
            np.arange(X.shape[0]),  # the same split: it depends on n_samples only
            random_state=state.rng,
            test_size=self.validation_fraction,
            stratify=stratify,
        )
        X_train, X_val, Y_train, Y_val = split[:4]
        sw_train, sw_val = split[4:6] if sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
        if state.buffers:  # batch normalization trains on what is left
            _check_batch_norm_rows(
                X_train.shape[0], sw_train, self._stochastic_batch_size()
            )
        return X_train, Y_train, sw_train, (X_val, Y_val, sw_val), split[-2]

    def _validation(self, network, X_val, Y_val, sw_val) -> Validation:
        """Per-epoch (score, data loss) on held-out data."""
        n_outputs = network.layer_units[-1]
        if self._n_outputs(Y_val) != n_outputs:
            raise ValueError(
                f"y_val has {self._n_outputs(Y_val)} output(s), but y has {n_outputs}."
            )
        sw_sum = X_val.shape[0] if sw_val is None else float(sw_val.sum())

        def evaluate(params, buffers):
            raw = network.forward(params, X_val, buffers)
            if not np.isfinite(raw).all():
                return np.nan, np.nan
            grad = np.empty_like(raw)
            loss = network.loss.loss_and_gradient(raw, Y_val, sw_val, grad) / sw_sum
            pred = network.loss.predict(raw.copy())
            return self._score_predictions(pred, Y_val, sw_val), loss

        return Validation(
            evaluate=evaluate,
            early_stopping=self.early_stopping,
            monitor=self.early_stopping_metric,
        )

    def _stratify_labels(self, Y):
        """Labels to stratify the early-stopping split by, or None."""
        return None

    def _publish(self, state: FitState, network: Network) -> None:
        """Set every fitted attribute from a finished state."""
        self._fit_state = state
        attrs = self._fitted_attributes(state, network, copy=False)
        for name, value in attrs.items():
            setattr(self, name, value)
        if not is_stochastic(self.solver):
            # curves of an earlier stochastic fit would describe another model
            for name in _EPOCH_ATTRIBUTES:
                self.__dict__.pop(name, None)

    def _fitted_attributes(self, state: FitState, network: Network, copy=True):
        """The fitted attributes a model trained to ``state`` has, by name.

        What :meth:`_publish` sets at the end of a fit (``copy=False``: the
        published arrays are views of the kept parameters), and what a model of
        an intermediate state (a callback's view of one epoch) needs: copies,
        since training goes on updating ``state.params`` in place.
        """
        params = state.params.copy() if copy else state.params
        coefs, intercepts = network.unpack(params)
        attrs = {
            "coefs_": coefs,
            "intercepts_": intercepts,
            "n_layers_": len(network.layer_units),
            "n_outputs_": network.layer_units[-1],
            "out_activation_": network.loss.link,
            "n_iter_": state.n_iter,
            "t_": state.t,
            "loss_": state.loss,
            **_batch_norm_attributes(network, params, state.buffers, copy),
        }
        if is_stochastic(self.solver):
            attrs.update(
                loss_curve_=list(state.loss_curve),
                best_loss_=state.best_loss,
                validation_scores_=_copy_list(state.validation_scores),
                best_validation_score_=state.best_validation_score,
                validation_loss_curve_=_copy_list(state.validation_losses),
                _no_improvement_count=state.no_improvement_count,
            )
        return attrs

    # --------------------------------------------------------------- prediction
    def _fitted_network(self) -> FittedNetwork:
        """The fitted model, described from the public fitted attributes."""
        return FittedNetwork.from_estimator(self, self._fitted_loss())

    def _forward_raw(self, X, check_input=True):
        """Raw network output for ``X`` with the fitted weights.

        Raises a ValueError when the output is not finite: the input is beyond
        what the fitted weights can map without overflow.
        """
        if check_input:
            X = _validate_data(
                self,
                X,
                accept_sparse=["csr", "csc"],
                dtype=(np.float64, np.float32),
                reset=False,
            )
        with np.errstate(over="ignore", invalid="ignore"):
            raw = self._fitted_network().raw(X)
        if not np.isfinite(raw).all():
            rows = int((~np.isfinite(raw)).any(axis=1).sum())
            raise ValueError(
                f"The network's output overflowed for {rows} of {raw.shape[0]} "
                f"row(s): their features are too large for the fitted weights "
                f"(largest |X| entry: {_largest_abs(X):.3g}). Scale the features "
                "as for training (e.g. sklearn.preprocessing.StandardScaler)."
            )
        return raw

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X,
        y,
        sample_weight=None,
        *,
        X_val=None,
        y_val=None,
        sample_weight_val=None,
    ):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values (class labels in classification, real numbers in
            regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.
        X_val : {array-like, sparse matrix} of shape (n_val, n_features), default=None
            A validation set of your own (stochastic solvers). Its score and loss
            are recorded every epoch in ``validation_scores_`` and
            ``validation_loss_curve_``; with ``early_stopping=True`` it replaces
            the internal ``validation_fraction`` split.
        y_val : array-like of shape (n_val,) or (n_val, n_outputs), default=None
            Targets of ``X_val``.
        sample_weight_val : array-like of shape (n_val,), default=None
            Sample weights of ``X_val``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        val = (X_val, y_val, sample_weight_val)
        return self._fit(X, y, sample_weight=sample_weight, incremental=False, val=val)

    def _check_solver(self):
        if not is_stochastic(self.solver):
            raise AttributeError(
                "partial_fit is only available for stochastic optimizers. "
                f"{self.solver} is not stochastic."
            )
        return True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------- persistence
    def __getstate__(self):
        """The estimator's state for pickle and skops: a copy, plain throughout.

        The kept training state (``_fit_state``, which ``warm_start`` and
        ``partial_fit`` continue from) is stored as
        :meth:`FitState.to_dict <skmlp._training.FitState.to_dict>`: dicts,
        lists, builtins and arrays, so that ``skops.io.get_untrusted_types``
        lists the estimator's own class and nothing else. The live
        ``__dict__`` is never modified (in Python 3.11+
        ``object.__getstate__`` returns the live dict itself).
        """
        state = dict(super().__getstate__())
        fit_state = state.get("_fit_state")
        if isinstance(fit_state, FitState):
            state["_fit_state"] = fit_state.to_dict()
        return state

    def __deepcopy__(self, memo):
        """A deep copy of every attribute as it is, not a pickle round trip.

        Without this, :func:`copy.deepcopy` would go through
        :meth:`__getstate__`, which describes the optimizer's scratch block by
        its length instead of copying it.
        """
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new

    def __setstate__(self, state):
        """Restore what :meth:`__getstate__` returned (or an older pickle's state).

        The training state is rebuilt as a :class:`~skmlp._training.FitState`
        with aligned arrays; a ``_fit_state`` that is already an object (a
        pickle written before the dict form) is kept as it is.
        """
        state = dict(state)
        fit_state = state.get("_fit_state")
        if isinstance(fit_state, dict):
            state["_fit_state"] = FitState.from_dict(fit_state)
        super().__setstate__(state)

    def _kept_state(self) -> FitState:
        """The training state ``warm_start`` and ``partial_fit`` continue from."""
        state = getattr(self, "_fit_state", None)
        if state is None:
            raise ValueError(
                f"This {type(self).__name__} has no training state to continue "
                "from: it is a predict-only copy (skmlp.lean_copy), which keeps "
                "the weights but not the optimizer state, random state and "
                "counters that warm_start and partial_fit resume. Fit it with "
                "warm_start=False to train from scratch, or continue the full "
                "model it was made from."
            )
        return state
