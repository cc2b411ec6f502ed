"""The estimator shared by the classifier and the regressor.

``fit``/``partial_fit`` validate and encode, hand a :class:`FitState` to a loop
in :mod:`skmlp._training`, and publish fitted attributes only once the loop has
returned. Any exception restores the estimator's ``__dict__`` as it was, so a
failed call loses nothing.
"""

import warnings
from abc import ABC, abstractmethod
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import _check_sample_weight, validate_data

from skmlp._activations import ACTIVATIONS, hidden_activations
from skmlp._initializers import INITIALIZERS, initialize
from skmlp._losses import Loss
from skmlp._network import Layout, Network, blas_threads_for, forward_layers
from skmlp._optimizers import NAG, SGD, Adagrad, Adam, AdamW, RMSprop
from skmlp._schedules import EPOCH_SCHEDULES, Constant, make_schedule
from skmlp._training import (
    FitState,
    StochasticConfig,
    Validation,
    fit_lbfgs,
    fit_stochastic,
)

STOCHASTIC_SOLVERS = ("sgd", "adam", "nag", "rmsprop", "adagrad", "adamw")


class BaseBackprop(BaseEstimator, ABC):
    """Base class of :class:`BackpropClassifier` and :class:`BackpropRegressor`.

    Not for direct use.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS)), list, tuple],
        "solver": [StrOptions({"lbfgs", *STOCHASTIC_SOLVERS})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [
            StrOptions({"constant", "invscaling", "adaptive", *EPOCH_SCHEDULES})
        ],
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
        "weight_init": [StrOptions(set(INITIALIZERS))],
        "init_scale": [Interval(Real, 0, None, closed="neither")],
        "early_stopping_metric": [StrOptions({"score", "loss"})],
    }

    @abstractmethod
    def __init__(
        self,
        hidden_layer_sizes,
        activation,
        solver,
        alpha,
        batch_size,
        learning_rate,
        learning_rate_init,
        power_t,
        max_iter,
        loss,
        shuffle,
        random_state,
        tol,
        verbose,
        warm_start,
        momentum,
        nesterovs_momentum,
        early_stopping,
        validation_fraction,
        beta_1,
        beta_2,
        epsilon,
        n_iter_no_change,
        max_fun,
        lr_decay,
        lr_step_size,
        lr_min,
        warmup_epochs,
        rho,
        weight_decay,
        alpha_l1,
        dropout,
        max_grad_norm,
        weight_init,
        init_scale,
        early_stopping_metric,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.loss = loss
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.lr_decay = lr_decay
        self.lr_step_size = lr_step_size
        self.lr_min = lr_min
        self.warmup_epochs = warmup_epochs
        self.rho = rho
        self.weight_decay = weight_decay
        self.alpha_l1 = alpha_l1
        self.dropout = dropout
        self.max_grad_norm = max_grad_norm
        self.weight_init = weight_init
        self.init_scale = init_scale
        self.early_stopping_metric = early_stopping_metric

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _validate_input(self, X, y, incremental, reset):
        """Validate ``X, y``; return ``X`` and the encoded target ``Y``.

        ``Y`` is 2-D, except class indices (1-D) for a multiclass softmax.
        """

    def _n_outputs(self, Y) -> int:
        """Units of the output layer for the encoded targets ``Y``."""
        return Y.shape[1]

    @abstractmethod
    def _make_loss(self, Y) -> Loss:
        """The loss (with its output link) for encoded targets ``Y``."""

    @abstractmethod
    def _score_predictions(self, pred, Y, sample_weight) -> float:
        """Accuracy or R^2 of linked outputs (probabilities, means) against ``Y``."""

    def _training_sample_weight(self, y, sample_weight, incremental, dtype):
        """Sample weights to train with (the classifier folds in class_weight)."""
        return sample_weight

    def _validate_val_input(self, X_val, y_val):
        """Validate ``X_val`` against the fitted features; encode ``y_val``."""
        return self._validate_input(X_val, y_val, incremental=True, reset=False)

    def _validate_validation_set(self, X_val, y_val, sample_weight_val):
        """Validate a user-given validation set like the training data."""
        if (X_val is None) != (y_val is None):
            raise ValueError("X_val and y_val must be given together.")
        if X_val is None:
            if sample_weight_val is not None:
                raise ValueError("sample_weight_val was given without X_val, y_val.")
            return None
        if self.solver not in STOCHASTIC_SOLVERS:
            raise ValueError(
                "X_val, y_val record per-epoch validation curves and drive early "
                f"stopping of the stochastic solvers; solver={self.solver!r} has "
                "no epochs."
            )
        X_val, Y_val = self._validate_val_input(X_val, y_val)
        if sample_weight_val is not None:
            sample_weight_val = _check_sample_weight(
                sample_weight_val, X_val, dtype=X_val.dtype, ensure_non_negative=True
            )
        return X_val, Y_val, sample_weight_val

    # ------------------------------------------------------------- fit plumbing
    def _hidden_layer_sizes(self) -> list:
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        if np.any(np.array(sizes) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(s) for s in sizes]

    def _fit(self, X, y, sample_weight=None, incremental=False, setup=None, val=None):
        """Fit, restoring the estimator exactly as it was if anything fails.

        ``setup``, if given, runs first inside the same guard (the classifier's
        first ``partial_fit`` call sets ``classes_`` there); ``val`` is the
        ``(X_val, y_val, sample_weight_val)`` triple of :meth:`fit`.
        """
        saved = dict(self.__dict__)
        try:
            if setup is not None:
                setup()
            return self._fit_unguarded(X, y, sample_weight, incremental, val)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _fit_unguarded(self, X, y, sample_weight, incremental, val):
        hidden = self._hidden_layer_sizes()
        activations = hidden_activations(self.activation, len(hidden))
        dropout = self._dropout_rates(len(hidden))
        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental
        )
        X, Y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=X.dtype, ensure_non_negative=True
            )
        sample_weight = self._training_sample_weight(
            y, sample_weight, incremental, X.dtype
        )
        val = self._validate_validation_set(*val) if val else None
        layout = Layout([X.shape[1], *hidden, self._n_outputs(Y)])
        loss = self._make_loss(Y)
        network = Network(layout, activations, loss, dropout)
        state = self._start_state(layout, X.dtype, first_pass, val is not None)

        # overflow on the way to divergence is detected and reported by the
        # training loops themselves, with its likely cause
        batch = X.shape[0] if self.solver == "lbfgs" else self._batch_size(X.shape[0])
        with (
            np.errstate(over="ignore", invalid="ignore", divide="ignore"),
            blas_threads_for(layout, batch),
        ):
            if self.solver in STOCHASTIC_SOLVERS:
                state = self._fit_stochastic(
                    network, state, X, Y, sample_weight, incremental, val
                )
            else:
                state = fit_lbfgs(
                    network,
                    state,
                    X,
                    Y,
                    sample_weight,
                    alpha=self.alpha,
                    max_iter=self.max_iter,
                    max_fun=self.max_fun,
                    tol=self.tol,
                    alpha_l1=self.alpha_l1,
                )
        self._publish(state, layout, loss)
        return self

    def _dropout_rates(self, n_hidden: int) -> list:
        """One dropout rate per hidden layer."""
        rates = self.dropout
        if isinstance(rates, Real):
            return [float(rates)] * n_hidden
        rates = [float(r) for r in rates]
        if len(rates) != n_hidden or not all(0 <= r < 1 for r in rates):
            raise ValueError(
                f"dropout must be a rate in [0, 1) or one such rate per hidden "
                f"layer ({n_hidden}), got {self.dropout!r}."
            )
        return rates

    def _init_activation_names(self, n_weight_layers: int) -> list:
        """Activation name governing each weight layer's initial scale."""
        if isinstance(self.activation, str):
            return [self.activation] * n_weight_layers
        names = list(self.activation)
        return names + [names[-1] if names else "identity"]

    def _start_state(self, layout: Layout, dtype, first_pass, has_val) -> FitState:
        """A fresh state, or a private copy of the kept one to continue from."""
        if first_pass:
            rng = check_random_state(self.random_state)
            coefs, intercepts = initialize(
                self.weight_init,
                layout.layer_units,
                self._init_activation_names(layout.n_layers),
                rng,
                dtype,
                self.init_scale,
            )
            state = FitState(params=layout.pack(coefs, intercepts, dtype), rng=rng)
        else:
            fitted_units = [self.coefs_[0].shape[0]] + [
                b.size for b in self.intercepts_
            ]
            if fitted_units != layout.layer_units:
                raise ValueError(
                    f"warm_start and partial_fit continue from the fitted network, "
                    f"whose layer sizes {fitted_units} differ from the requested "
                    f"{layout.layer_units} (hidden_layer_sizes="
                    f"{self.hidden_layer_sizes!r}). Fit with warm_start=False to "
                    "start over."
                )
            state = self._fit_state.copy()
            # continue from coefs_/intercepts_ as they are now (users may edit them)
            state.params = layout.pack(self.coefs_, self.intercepts_, dtype)
        if self.solver in STOCHASTIC_SOLVERS:
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

    def _optimizer(self, layout: Layout):
        lr, eps = self.learning_rate_init, self.epsilon
        if self.solver == "sgd":
            return SGD(lr, self.momentum, self.nesterovs_momentum)
        if self.solver == "nag":
            return NAG(lr)
        if self.solver == "rmsprop":
            return RMSprop(lr, self.rho, eps)
        if self.solver == "adagrad":
            return Adagrad(lr, eps)
        if self.solver == "adamw":
            return AdamW(
                lr, self.beta_1, self.beta_2, eps, self.weight_decay, layout.n_coef
            )
        return Adam(lr, self.beta_1, self.beta_2, eps)

    def _optimizer_state(self, optimizer, state: FitState):
        """The kept optimizer state if it fits these settings, else a fresh one.

        A kept state whose schedule was changed (``set_params(learning_rate=...)``
        between warm fits) keeps its moments but restarts from
        ``learning_rate_init``.
        """
        kept = state.optimizer_state
        key = (
            self.solver,
            self.learning_rate_init,
            self.beta_1,
            self.beta_2,
            state.params.shape,
            state.params.dtype,
        )
        if kept is None or getattr(kept, "key", None) != key:
            kept = optimizer.init_state(state.params)
            kept.key = key
        if getattr(kept, "schedule", self.learning_rate) != self.learning_rate:
            kept.learning_rate = self.learning_rate_init
        kept.schedule = self.learning_rate
        return kept

    def _batch_size(self, n_samples: int, warn: bool = False) -> int:
        """The mini-batch size in effect; ``warn`` on clipping (once per fit)."""
        if self.batch_size == "auto":
            return min(200, n_samples)
        if warn and self.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is "
                "going to be clipped",
                stacklevel=4,
            )
        return int(np.clip(self.batch_size, 1, n_samples))

    def _schedule(self):
        """scikit-learn's schedules drive SGD only; the closed-form ones, all."""
        if self.solver != "sgd" and self.learning_rate not in EPOCH_SCHEDULES:
            return Constant()
        return make_schedule(
            self.learning_rate,
            self.learning_rate_init,
            power_t=self.power_t,
            decay=self.lr_decay,
            step_size=self.lr_step_size,
            lr_min=self.lr_min,
            n_epochs=self.max_iter,
        )

    def _fit_stochastic(self, network, state, X, Y, sample_weight, incremental, val):
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        optimizer = self._optimizer(network.layout)
        state.optimizer_state = self._optimizer_state(optimizer, state)

        validation = None
        if val is not None:
            validation = self._validation(network, *val)
        elif self.early_stopping:
            X, Y, sample_weight, val = self._split_validation(
                state, X, Y, sample_weight
            )
            validation = self._validation(network, *val)
        cfg = StochasticConfig(
            alpha=self.alpha,
            batch_size=self._batch_size(X.shape[0], warn=True),
            max_iter=self.max_iter,
            shuffle=self.shuffle,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            verbose=bool(self.verbose),
            incremental=incremental,
            alpha_l1=self.alpha_l1,
            dropout=any(network.dropout),
            max_grad_norm=self.max_grad_norm,
            warmup_epochs=self.warmup_epochs,
        )
        return fit_stochastic(
            network,
            optimizer,
            self._schedule(),
            state,
            X,
            Y,
            sample_weight,
            cfg,
            validation,
        )

    def _split_validation(self, state, X, Y, sample_weight):
        """scikit-learn's (stratified) validation split, drawn from the fit's RNG."""
        # binary and multiclass targets are stratified (scikit-learn stratifies
        # binary only); multilabel indicator rows are not classes
        stratify = Y if self._stratify_validation(Y) else None
        arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
        split = train_test_split(
            *arrays,
            random_state=state.rng,
            test_size=self.validation_fraction,
            stratify=stratify,
        )
        X_train, X_val, Y_train, Y_val = split[:4]
        sw_train, sw_val = split[4:] if sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
        return X_train, Y_train, sw_train, (X_val, Y_val, sw_val)

    def _validation(self, network, X_val, Y_val, sw_val) -> Validation:
        """Per-epoch (score, data loss) on held-out data."""
        sw_sum = X_val.shape[0] if sw_val is None else float(sw_val.sum())

        def evaluate(params):
            raw = network.forward(params, X_val)
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

    def _stratify_validation(self, Y) -> bool:
        return False

    def _publish(self, state: FitState, layout: Layout, loss: Loss) -> None:
        """Set every fitted attribute from a finished state."""
        self._fit_state = state
        self.coefs_, self.intercepts_ = layout.unpack(state.params)
        self.n_layers_ = len(layout.layer_units)
        self.n_outputs_ = layout.layer_units[-1]
        self.out_activation_ = loss.link
        self.n_iter_ = state.n_iter
        self.t_ = state.t
        self.loss_ = state.loss
        if self.solver in STOCHASTIC_SOLVERS:
            self.loss_curve_ = list(state.loss_curve)
            self.best_loss_ = state.best_loss
            self.validation_scores_ = (
                None
                if state.validation_scores is None
                else list(state.validation_scores)
            )
            self.best_validation_score_ = state.best_validation_score
            self.validation_loss_curve_ = (
                None
                if state.validation_losses is None
                else list(state.validation_losses)
            )
            self._no_improvement_count = state.no_improvement_count

    # --------------------------------------------------------------- prediction
    def _forward_raw(self, X, check_input=True):
        """Raw network output for ``X`` with the fitted weights."""
        if check_input:
            X = validate_data(
                self,
                X,
                accept_sparse=["csr", "csc"],
                dtype=(np.float64, np.float32),
                reset=False,
            )
        activations = hidden_activations(self.activation, len(self.coefs_) - 1)
        return forward_layers(self.coefs_, self.intercepts_, X, activations)

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
        if self.solver not in STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for stochastic optimizers. "
                f"{self.solver} is not stochastic."
            )
        return True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
