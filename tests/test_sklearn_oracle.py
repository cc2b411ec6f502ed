"""scikit-learn as the oracle: skmlp must compute what MLPClassifier/MLPRegressor do.

Same ``random_state`` means the same initial weights and the same shuffling
draws, so single updates, single epochs and short full fits are compared
weight for weight with scikit-learn 1.9, as are predictions of identical
weights, fitted attribute names, parameters and defaults, and error and
warning messages. On an older scikit-learn (1.6 is the oldest supported), a test
compares with what that version does, or skips what it cannot do
(``tests/_versions.py``).
"""

import copy
import inspect
import re
import warnings

import conftest
import numpy as np
import pytest
from _versions import (
    LBFGS_WARNING_NAMES_ITERATIONS,
    MLP_CHECKS_VALIDATION_SIZE,
    MLP_REGRESSOR_HAS_LOSS,
    MLP_TAGS_SPARSE,
    needs_mlp_regressor_loss,
    needs_mlp_sample_weight,
)
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils._param_validation import InvalidParameterError

from skmlp import BackpropClassifier, BackpropRegressor

N_SAMPLES, N_FEATURES, N_CLASSES = 24, 4, 3
KINDS = ["binary", "multiclass", "multilabel", "regression", "poisson"]
#: KINDS for parametrize: poisson needs MLPRegressor(loss="poisson")
KIND_PARAMS = [
    pytest.param(k, marks=needs_mlp_regressor_loss) if k == "poisson" else k
    for k in KINDS
]
PAIRS = {
    BackpropClassifier: MLPClassifier,
    BackpropRegressor: MLPRegressor,
}


pytestmark = pytest.mark.usefixtures("one_blas_thread")


def make_data(kind, n_samples=N_SAMPLES, seed=0):
    """A tiny, well-conditioned data set of the given kind."""
    return conftest.make_data(kind, n_samples, N_FEATURES, seed)


def estimators(kind, **params):
    """(scikit-learn estimator, skmlp estimator) with the same parameters."""
    if kind in ("regression", "poisson"):
        if kind == "poisson":
            params["loss"] = "poisson"
        return MLPRegressor(**params), BackpropRegressor(**params)
    return MLPClassifier(**params), BackpropClassifier(**params)


def partial_fit_kwargs(kind):
    if kind in ("regression", "poisson"):
        return {}
    return {"classes": np.arange(2 if kind == "binary" else N_CLASSES)}


def sample_weights(n_samples=N_SAMPLES, seed=1):
    return np.random.RandomState(seed).uniform(0.2, 3.0, n_samples)


def sk_sample_weight(sw):
    """``sample_weight=sw`` for scikit-learn, left out when unweighted (scikit-learn
    < 1.7 has no such argument; skmlp is always passed it, None included)."""
    return {} if sw is None else {"sample_weight": sw}


def assert_same_weights(sk, ours, rtol=1e-10, atol=1e-12):
    assert len(sk.coefs_) == len(ours.coefs_)
    for name in ("coefs_", "intercepts_"):
        for a, b in zip(getattr(sk, name), getattr(ours, name), strict=True):
            assert a.shape == b.shape
            assert a.dtype == b.dtype
            assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=name)


def public_fitted_attributes(est):
    """Public fitted attributes. skmlp must have every one scikit-learn has
    (extra ones, for options scikit-learn lacks, are allowed)."""
    return {a for a in vars(est) if a.endswith("_") and not a.startswith("_")}


def error_message(func):
    """The message of the exception ``func()`` raises (and its type)."""
    with pytest.raises(Exception) as info:  # noqa: B017 - any type; checked by callers
        func()
    return type(info.value), str(info.value)


def captured_warnings(func, category):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        func()
    return [str(w.message) for w in record if issubclass(w.category, category)]


# --------------------------------------------------------------------------- steps
SGD_VARIANTS = {
    "plain": {"momentum": 0.0},
    "momentum": {"momentum": 0.9, "nesterovs_momentum": False},
    "nesterov": {"momentum": 0.9, "nesterovs_momentum": True},
}
WEIGHTING = {
    "unweighted": (False, 0.0),
    "weighted+alpha": (True, 0.5),
}
WEIGHTING_PARAMS = [
    "unweighted",
    pytest.param("weighted+alpha", marks=needs_mlp_sample_weight),
]
#: weighted=False/True for parametrize: True needs scikit-learn's sample_weight
WEIGHTED_PARAMS = [False, pytest.param(True, marks=needs_mlp_sample_weight)]


@pytest.mark.parametrize("weighting", WEIGHTING_PARAMS)
@pytest.mark.parametrize("variant", [*SGD_VARIANTS, "adam"])
@pytest.mark.parametrize("kind", KIND_PARAMS)
def test_one_full_batch_step_matches_sklearn(kind, variant, weighting):
    """One partial_fit over a single full batch is one optimizer step: same weights."""
    X, y = make_data(kind)
    weighted, alpha = WEIGHTING[weighting]
    sw = sample_weights() if weighted else None
    if variant == "adam":
        opt = {"solver": "adam", "learning_rate_init": 0.05}
    else:
        opt = {"solver": "sgd", "learning_rate_init": 0.1, **SGD_VARIANTS[variant]}
    sk, ours = estimators(
        kind,
        hidden_layer_sizes=(5, 3),
        activation="tanh",
        alpha=alpha,
        batch_size=N_SAMPLES,
        shuffle=False,
        random_state=0,
        **opt,
    )
    kw = partial_fit_kwargs(kind)
    sk.partial_fit(X, y, **sk_sample_weight(sw), **kw)
    ours.partial_fit(X, y, sample_weight=sw, **kw)
    assert_same_weights(sk, ours)
    assert_allclose(ours.loss_, sk.loss_, rtol=1e-12)
    assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-12)
    assert ours.n_iter_ == sk.n_iter_ == 1
    assert ours.t_ == sk.t_ == N_SAMPLES


@pytest.mark.parametrize("weighting", WEIGHTING_PARAMS)
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("kind", KIND_PARAMS)
def test_one_shuffled_minibatch_epoch_matches_sklearn(kind, solver, weighting):
    """One partial_fit epoch with shuffled mini-batches (short last batch)."""
    X, y = make_data(kind)
    weighted, alpha = WEIGHTING[weighting]
    sw = sample_weights() if weighted else None
    lr = 0.1 if solver == "sgd" else 0.02
    sk, ours = estimators(
        kind,
        hidden_layer_sizes=(6,),
        activation="relu",
        solver=solver,
        learning_rate_init=lr,
        alpha=alpha,
        batch_size=7,
        shuffle=True,
        random_state=3,
    )
    kw = partial_fit_kwargs(kind)
    sk.partial_fit(X, y, **sk_sample_weight(sw), **kw)
    ours.partial_fit(X, y, sample_weight=sw, **kw)
    assert_same_weights(sk, ours)
    assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-12)


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_initial_weights_match_sklearn(activation):
    """Same random_state -> the same Glorot initialisation (factor 2 for logistic)."""
    X, y = make_data("multiclass")
    sk, ours = estimators(
        "multiclass",
        hidden_layer_sizes=(7, 5),
        activation=activation,
        solver="sgd",
        learning_rate_init=1e-300,  # a step too small to move any weight
        momentum=0.0,
        random_state=11,
    )
    sk.partial_fit(X, y, classes=[0, 1, 2])
    ours.partial_fit(X, y, classes=[0, 1, 2])
    for a, b in zip(
        sk.coefs_ + sk.intercepts_, ours.coefs_ + ours.intercepts_, strict=True
    ):
        assert_array_equal(b, a)


# ---------------------------------------------------------------------- full fits
@pytest.mark.parametrize("weighted", WEIGHTED_PARAMS)
@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel", "regression"])
def test_full_fit_matches_sklearn(kind, solver, weighted):
    """20 epochs of fit: same weights, loss curve, n_iter_, t_, best_loss_.

    skmlp computes the log-loss in log space and updates one flat vector, so
    steps differ from scikit-learn's in the last bits; on these small, well
    scaled problems 20 epochs do not amplify that beyond rtol 1e-10.
    """
    X, y = make_data(kind, n_samples=40)
    sw = sample_weights(40) if weighted else None
    sk, ours = estimators(
        kind,
        hidden_layer_sizes=(8,),
        solver=solver,
        learning_rate_init=0.01,
        alpha=1e-3,
        batch_size=10,
        max_iter=20,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X, y, **sk_sample_weight(sw))
        ours.fit(X, y, sample_weight=sw)
    assert ours.n_iter_ == sk.n_iter_ == 20
    assert ours.t_ == sk.t_
    assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-10)
    assert_allclose(ours.best_loss_, sk.best_loss_, rtol=1e-10)
    assert_same_weights(sk, ours, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_unshuffled_minibatch_epochs_match_sklearn(kind, solver):
    """``shuffle=False``: every epoch visits the mini-batches in row order.

    Mini-batches of 5 rows (the last one short) over 4 epochs, compared with
    scikit-learn, whose unshuffled epochs slice the rows in order. Shuffled
    batches (``shuffle`` ignored) would give other weights and loss curve.
    """
    X, y = make_data(kind)
    sk, ours = estimators(
        kind,
        hidden_layer_sizes=(6,),
        solver=solver,
        learning_rate_init=0.05 if solver == "sgd" else 0.02,
        batch_size=5,
        shuffle=False,
        max_iter=4,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X, y)
        ours.fit(X, y)
    assert ours.n_iter_ == sk.n_iter_ == 4
    assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-12)
    assert_same_weights(sk, ours)


@pytest.mark.parametrize("learning_rate", ["constant", "invscaling", "adaptive"])
def test_sgd_schedules_and_stopping_match_sklearn(learning_rate):
    """Learning-rate schedules and the n_iter_no_change stop behave as in sklearn."""
    X, y = make_data("regression", n_samples=40)
    sk, ours = estimators(
        "regression",
        hidden_layer_sizes=(6,),
        solver="sgd",
        learning_rate=learning_rate,
        learning_rate_init=0.05,
        batch_size=10,
        max_iter=60,
        tol=1e-2,
        n_iter_no_change=2,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X, y)
        ours.fit(X, y)
    assert ours.n_iter_ == sk.n_iter_
    assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-10)
    assert_same_weights(sk, ours, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["binary", "regression"])
def test_early_stopping_fit_matches_sklearn(kind):
    """Same validation split (stratified for binary), scores and best weights."""
    X, y = make_data(kind, n_samples=50)
    sk, ours = estimators(
        kind,
        hidden_layer_sizes=(8,),
        learning_rate_init=0.02,
        batch_size=10,
        max_iter=25,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=5,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X, y)
        ours.fit(X, y)
    assert ours.n_iter_ == sk.n_iter_
    assert ours.best_loss_ is None and sk.best_loss_ is None
    assert_allclose(ours.validation_scores_, sk.validation_scores_, rtol=1e-10)
    assert_allclose(ours.best_validation_score_, sk.best_validation_score_)
    assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-10)
    assert_same_weights(sk, ours, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("weighted", WEIGHTED_PARAMS)
@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_single_output_lbfgs_matches_sklearn(kind, weighted):
    """L-BFGS minimises the same objective with the same gradient: same solution.

    (For multi-output regression scikit-learn's objective and gradient disagree;
    see tests/test_beyond_sklearn.py.) rtol 1e-8, not 1e-10: L-BFGS's line
    searches can turn last-bit differences of the objective into slightly
    different iterates.
    """
    X, y = make_data(kind, n_samples=40)
    sw = sample_weights(40) if weighted else None
    sk, ours = estimators(
        kind,
        hidden_layer_sizes=(5,),
        activation="tanh",
        solver="lbfgs",
        alpha=1e-2,
        max_iter=30,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X, y, **sk_sample_weight(sw))
        ours.fit(X, y, sample_weight=sw)
    assert ours.n_iter_ == sk.n_iter_
    assert_allclose(ours.loss_, sk.loss_, rtol=1e-10)
    assert_same_weights(sk, ours, rtol=1e-8, atol=1e-10)


def test_one_partial_fit_after_fit_continues_like_sklearn():
    """After fit, one partial_fit epoch continues from the same weights."""
    X, y = make_data("multiclass", n_samples=30)
    sk, ours = estimators(
        "multiclass",
        hidden_layer_sizes=(6,),
        solver="sgd",
        learning_rate_init=0.05,
        batch_size=30,
        shuffle=False,
        max_iter=3,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X, y)
        ours.fit(X, y)
    sk.partial_fit(X, y)
    ours.partial_fit(X, y)
    assert_same_weights(sk, ours)
    assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-12)


def edit_weights(est, how):
    """Change fitted weights as a user may: in place, or by new arrays."""
    if how == "in_place":
        est.coefs_[0] *= -0.5
        est.intercepts_[-1] += 0.25
    else:
        est.coefs_ = [-0.5 * c for c in est.coefs_]
        est.intercepts_[-1] = est.intercepts_[-1] + 0.25


#: How training continues after an edit, and with which optimizer. A warm_start
#: fit only matches scikit-learn with a stateless optimizer: scikit-learn starts
#: a new one at every fit, skmlp keeps its state.
CONTINUATIONS = {
    "partial_fit-sgd": ("partial_fit", {"solver": "sgd", "momentum": 0.9}),
    "partial_fit-adam": ("partial_fit", {"solver": "adam"}),
    "warm_start-sgd": ("warm_start", {"solver": "sgd", "momentum": 0.0}),
}


@pytest.mark.parametrize("edit", ["in_place", "replaced"])
@pytest.mark.parametrize("continuation", list(CONTINUATIONS))
@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_training_continues_from_edited_weights_like_sklearn(kind, continuation, edit):
    """warm_start and partial_fit continue from ``coefs_``/``intercepts_`` as
    they are now, edited by the user, as scikit-learn (which trains those very
    arrays) does.

    Pins down ``_start_state``'s "continue from coefs_/intercepts_ as they are
    now (users may edit them)": continuing from the weights kept inside the
    estimator instead would ignore edits made by assigning new arrays.
    """
    call, optimizer = CONTINUATIONS[continuation]
    X, y = make_data(kind)
    sk, ours = estimators(
        kind,
        hidden_layer_sizes=(5,),
        learning_rate_init=0.02,
        batch_size=N_SAMPLES,
        shuffle=False,
        max_iter=3,
        tol=0.0,
        warm_start=call == "warm_start",
        random_state=0,
        **optimizer,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for est in (sk, ours):
            est.fit(X, y)
            edit_weights(est, edit)
            if call == "partial_fit":
                est.partial_fit(X, y)
            else:
                est.fit(X, y)
    assert_same_weights(sk, ours)
    assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-12)


@pytest.mark.parametrize("call", ["partial_fit", "warm_start"])
@pytest.mark.parametrize("solver", ["sgd", "adam", "rmsprop", "adagrad", "adamw"])
def test_every_solver_continues_from_edited_weights(solver, call):
    """The same for skmlp's own solvers, without scikit-learn: with a step size
    too small to move any weight (1e-300), the weights after the next warm fit or
    partial_fit are exactly the edited ones, not the weights before the edit.

    Not for NAG: its look-ahead point adds momentum along the edit itself
    (edited weights minus the previous iterate).
    """
    X, y = make_data("regression")
    est = BackpropRegressor(
        hidden_layer_sizes=(5,),
        solver=solver,
        learning_rate_init=1e-300,
        max_iter=2,
        warm_start=call == "warm_start",
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
        for how in ("replaced", "in_place"):
            edit_weights(est, how)
            edited = [a.copy() for a in est.coefs_ + est.intercepts_]
            if call == "partial_fit":
                est.partial_fit(X, y)
            else:
                est.fit(X, y)
            for a, b in zip(est.coefs_ + est.intercepts_, edited, strict=True):
                assert_array_equal(a, b, err_msg=how)


# -------------------------------------------------------------------- prediction
@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel", "regression"])
def test_predictions_of_the_same_weights_match_sklearn(kind):
    """Copy sklearn's fitted weights into a fitted skmlp model: same outputs."""
    X, y = make_data(kind)
    X_test = np.random.RandomState(5).randn(15, N_FEATURES) * 3
    params = {
        "hidden_layer_sizes": (6, 4),
        "activation": "logistic",
        "solver": "lbfgs",
        "max_iter": 50,
    }
    sk, ours = estimators(kind, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X, y)
        # different weights on purpose, then overwritten by sklearn's
        ours.set_params(random_state=1).fit(X, y)
    ours.coefs_ = [c.copy() for c in sk.coefs_]
    ours.intercepts_ = [b.copy() for b in sk.intercepts_]

    assert_array_equal(ours.predict(X_test), sk.predict(X_test))
    if kind == "regression":
        assert_allclose(ours.predict(X_test), sk.predict(X_test), rtol=1e-12)
        return
    assert_array_equal(ours.classes_, sk.classes_)
    proba = sk.predict_proba(X_test)
    assert_allclose(ours.predict_proba(X_test), proba, rtol=1e-12, atol=1e-15)
    finite = proba > 0
    assert finite.all()  # no saturation at these weights: log is finite everywhere
    # log(p) of a p that rounded near 1 is only accurate to ~eps in absolute terms
    assert_allclose(
        ours.predict_log_proba(X_test)[finite],
        np.log(proba[finite]),
        rtol=1e-10,
        atol=4 * np.finfo(float).eps,
    )
    assert_allclose(ours.score(X_test, ours.predict(X_test)), 1.0)


# --------------------------------------------------------- attributes and params
@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_same_fitted_attribute_names(kind, solver, early_stopping):
    X, y = make_data(kind, n_samples=40)
    sk, ours = estimators(
        kind,
        hidden_layer_sizes=(4,),
        solver=solver,
        early_stopping=early_stopping,
        max_iter=3,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X, y)
        ours.fit(X, y)
    assert public_fitted_attributes(sk) <= public_fitted_attributes(ours)
    if solver != "lbfgs":
        assert ours.best_loss_ == sk.best_loss_ or (
            ours.best_loss_ is not None and np.isclose(ours.best_loss_, sk.best_loss_)
        )
        assert (ours.validation_scores_ is None) == (sk.validation_scores_ is None)
        assert (ours.best_validation_score_ is None) == (
            sk.best_validation_score_ is None
        )
    for name in ("n_layers_", "n_outputs_", "out_activation_", "n_features_in_"):
        assert getattr(ours, name) == getattr(sk, name), name


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("kind", ["multiclass", "multilabel", "regression"])
def test_same_fitted_attributes_after_partial_fit(kind, solver):
    X, y = make_data(kind)
    sk, ours = estimators(kind, hidden_layer_sizes=(4,), solver=solver, random_state=0)
    for est in (sk, ours):
        est.partial_fit(X, y, **partial_fit_kwargs(kind))
        est.partial_fit(X, y)
    assert public_fitted_attributes(sk) <= public_fitted_attributes(ours)
    assert ours.n_iter_ == sk.n_iter_ == 1
    assert ours.t_ == sk.t_ == 2 * N_SAMPLES
    assert len(ours.loss_curve_) == len(sk.loss_curve_) == 2
    if kind != "regression":
        assert_array_equal(ours.classes_, sk.classes_)


@pytest.mark.parametrize("Ours", [BackpropClassifier, BackpropRegressor])
def test_same_signature_params_and_defaults(Ours):
    """Every scikit-learn parameter, in the same order, kind and default.

    Positional parameters must be identical, so positional calls mean the same;
    any extra parameter skmlp adds must be keyword-only.

    skmlp has scikit-learn 1.7's signature: before 1.7, MLPRegressor has no
    ``loss``, which 1.7 put first, so ``BackpropRegressor((10,))`` there means
    ``loss=(10,)``, not ``hidden_layer_sizes=(10,)``.
    """
    theirs = inspect.signature(PAIRS[Ours]).parameters
    ours = inspect.signature(Ours).parameters
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    their_positional = [n for n, p in theirs.items() if p.kind == positional]
    newer = set()  # parameters skmlp has from a newer scikit-learn
    if Ours is BackpropRegressor and not MLP_REGRESSOR_HAS_LOSS:
        assert "loss" not in theirs
        newer = {"loss"}
        their_positional = ["loss", *their_positional]
        assert ours["loss"].default == "squared_error"
    assert [n for n in ours if n in theirs] == list(theirs)
    assert [n for n, p in ours.items() if p.kind == positional] == their_positional
    for name, p in theirs.items():
        assert ours[name].kind == p.kind, name
        assert ours[name].default == p.default, name
    for name in set(ours) - set(theirs) - newer:
        assert ours[name].kind == inspect.Parameter.KEYWORD_ONLY, name
    our_params, sk_params = Ours().get_params(), PAIRS[Ours]().get_params()
    assert {k: our_params[k] for k in sk_params} == sk_params


@pytest.mark.parametrize("kind", ["multiclass", "multilabel", "regression"])
def test_same_tags(kind):
    sk, ours = estimators(kind)
    sk_tags, our_tags = sk.__sklearn_tags__(), ours.__sklearn_tags__()
    assert our_tags.estimator_type == sk_tags.estimator_type
    # both accept sparse X; scikit-learn 1.6.0 alone does not say so in its tags
    assert our_tags.input_tags.sparse
    assert sk_tags.input_tags.sparse == MLP_TAGS_SPARSE
    assert (our_tags.classifier_tags is None) == (sk_tags.classifier_tags is None)
    if sk_tags.classifier_tags is not None:
        assert our_tags.classifier_tags.multi_label
        assert sk_tags.classifier_tags.multi_label


# ------------------------------------------------------------------------ errors
SET_IN_MESSAGE = re.compile(r"\{([^{}]*)\}")


def _printed_sets(msg):
    return [set(m.split(", ")) for m in SET_IN_MESSAGE.findall(msg)]


def same_error(Ours, make_call):
    """Both classes raise the same type and message (class names aside).

    For an InvalidParameterError the printed option sets (``a str among
    {...}``) are compared as sets, since their order depends on string hashing,
    and skmlp's constraints may accept more than scikit-learn's, never less.
    """
    Theirs = PAIRS[Ours]
    sk_type, sk_msg = error_message(lambda: make_call(Theirs))
    our_type, our_msg = error_message(lambda: make_call(Ours))
    assert our_type is sk_type
    our_msg = our_msg.replace(Ours.__name__, Theirs.__name__)
    if sk_type is not InvalidParameterError:
        assert our_msg == sk_msg
        return sk_msg
    # "The 'p' parameter of C must be <constraints>. Got v instead.": skmlp may
    # list more accepted values (a superset of the options), never fewer
    head, _, tail = sk_msg.partition(" must be ")
    assert our_msg.startswith(head + " must be ")
    assert our_msg.endswith(tail[tail.rindex(". Got ") :])
    ours_sets, sk_sets = _printed_sets(our_msg), _printed_sets(sk_msg)
    assert len(ours_sets) == len(sk_sets)
    for ours, theirs in zip(ours_sets, sk_sets, strict=True):
        assert theirs <= ours
    if not sk_sets:
        assert our_msg == sk_msg
    return sk_msg


@pytest.mark.parametrize("sizes", [[0], [-1], [3, 0], (2, -3)])
@pytest.mark.parametrize("Ours", [BackpropClassifier, BackpropRegressor])
def test_hidden_layer_sizes_must_be_positive(Ours, sizes):
    X, y = make_data("binary")
    msg = same_error(Ours, lambda Est: Est(hidden_layer_sizes=sizes).fit(X, y))
    assert "hidden_layer_sizes must be > 0" in msg
    with pytest.raises(ValueError, match="hidden_layer_sizes must be > 0"):
        Ours(hidden_layer_sizes=sizes).fit(X, y)


@pytest.mark.parametrize(
    "params",
    [
        {"hidden_layer_sizes": 0},
        {"solver": "not-a-solver"},
        {"activation": "not-an-activation"},
        {"alpha": -1.0},
        {"learning_rate_init": 0.0},
        {"max_iter": 0},
        {"momentum": 1.5},
        {"beta_1": 1.0},
        {"validation_fraction": 1.0},
        {"batch_size": 0},
        {"n_iter_no_change": 0},
    ],
)
@pytest.mark.parametrize("Ours", [BackpropClassifier, BackpropRegressor])
def test_invalid_params_same_errors(Ours, params):
    X, y = make_data("binary")
    same_error(Ours, lambda Est: Est(**params).fit(X, y))


def test_invalid_regression_loss_same_error():
    X, y = make_data("regression")
    if MLP_REGRESSOR_HAS_LOSS:
        same_error(BackpropRegressor, lambda Est: Est(loss="not-a-loss").fit(X, y))
        return
    # scikit-learn < 1.7 has no loss parameter at all
    with pytest.raises(TypeError, match="unexpected keyword argument 'loss'"):
        MLPRegressor(loss="not-a-loss")
    with pytest.raises(
        InvalidParameterError,
        match="^The 'loss' parameter of BackpropRegressor must be a str among",
    ):
        BackpropRegressor(loss="not-a-loss").fit(X, y)


@pytest.mark.parametrize("Ours", [BackpropClassifier, BackpropRegressor])
def test_partial_fit_unavailable_for_lbfgs(Ours):
    """hasattr(est, 'partial_fit') is False for lbfgs, for BOTH estimators.

    scikit-learn gets this right for the classifier only: MLPRegressor's
    ``available_if(lambda est: est._check_solver)`` never calls the check.
    """
    est = Ours(solver="lbfgs")
    assert not hasattr(est, "partial_fit")
    with pytest.raises(AttributeError) as info:
        est.partial_fit  # noqa: B018
    cause = str(info.value.__cause__)
    assert "partial_fit is only available for stochastic optimizers" in cause
    assert cause == (
        "partial_fit is only available for stochastic optimizers. "
        "lbfgs is not stochastic."
    )
    for solver in ("sgd", "adam"):
        assert hasattr(Ours(solver=solver), "partial_fit")

    # scikit-learn: the classifier agrees, the regressor has the bug we fix
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    with pytest.raises(AttributeError) as info:
        MLPClassifier(solver="lbfgs").partial_fit  # noqa: B018
    assert str(info.value.__cause__) == cause
    assert hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")


def test_partial_fit_needs_classes_on_first_call():
    X, y = make_data("multiclass")
    msg = same_error(BackpropClassifier, lambda Est: Est().partial_fit(X, y))
    assert msg == "classes must be passed on the first call to partial_fit."


def test_warm_start_with_different_classes():
    X, y = make_data("multiclass")
    keep = y < 2

    def call(Est):
        est = Est(hidden_layer_sizes=(3,), max_iter=2, warm_start=True, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
            est.fit(X[keep], y[keep])

    msg = same_error(BackpropClassifier, call)
    assert msg.startswith("warm_start can only be used where `y` has the same classes")


def test_partial_fit_with_unseen_classes():
    X, y = make_data("multiclass")

    def call(Est):
        est = Est(hidden_layer_sizes=(3,), random_state=0)
        est.partial_fit(X, y % 2, classes=[0, 1])
        est.partial_fit(X, y)

    msg = same_error(BackpropClassifier, call)
    assert msg.startswith("`y` has classes not in `self.classes_`.")


@pytest.mark.parametrize("Ours", [BackpropClassifier, BackpropRegressor])
def test_partial_fit_rejects_early_stopping(Ours):
    kind = "binary" if Ours is BackpropClassifier else "regression"
    X, y = make_data(kind)
    kw = partial_fit_kwargs(kind)
    msg = same_error(Ours, lambda Est: Est(early_stopping=True).partial_fit(X, y, **kw))
    assert msg == "partial_fit does not support early_stopping=True"
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        Ours(early_stopping=True).partial_fit(X, y, **kw)


@pytest.mark.parametrize("kind", ["multilabel", "regression"])
def test_validation_set_too_small(kind):
    X, y = make_data(kind, n_samples=10)
    Ours = BackpropRegressor if kind == "regression" else BackpropClassifier
    params = {"early_stopping": True, "validation_fraction": 0.1}
    if MLP_CHECKS_VALIDATION_SIZE:
        msg = same_error(Ours, lambda Est: Est(**params).fit(X, y))
        assert msg.startswith("The validation set is too small.")
        return
    # scikit-learn < 1.7 early-stops on a one-sample validation set; skmlp raises
    # scikit-learn 1.7's error
    with pytest.raises(ValueError, match="^The validation set is too small."):
        Ours(**params).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        PAIRS[Ours](**params).fit(X, y)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("Ours", [BackpropClassifier, BackpropRegressor])
def test_stochastic_max_iter_convergence_warning(Ours, solver):
    X, y = make_data("binary" if Ours is BackpropClassifier else "regression")
    params = {"hidden_layer_sizes": (3,), "solver": solver, "max_iter": 3}
    theirs = captured_warnings(
        lambda: PAIRS[Ours](**params).fit(X, y), ConvergenceWarning
    )
    assert theirs == [
        "Stochastic Optimizer: Maximum iterations (3) reached and the optimization "
        "hasn't converged yet."
    ]
    with pytest.warns(ConvergenceWarning, match=re.escape(theirs[0])):
        Ours(**params).fit(X, y)


@pytest.mark.parametrize("limit", ["max_iter", "max_fun"])
@pytest.mark.parametrize("Ours", [BackpropClassifier, BackpropRegressor])
def test_lbfgs_convergence_warning(Ours, limit):
    X, y = make_data("binary" if Ours is BackpropClassifier else "regression")
    params = {"hidden_layer_sizes": (3,), "solver": "lbfgs", limit: 2}
    sk = PAIRS[Ours](random_state=0, **params)
    theirs = captured_warnings(lambda: sk.fit(X, y), ConvergenceWarning)
    ours = captured_warnings(
        lambda: Ours(random_state=0, **params).fit(X, y), ConvergenceWarning
    )
    assert len(theirs) == 1
    if LBFGS_WARNING_NAMES_ITERATIONS:
        assert theirs[0].startswith("lbfgs failed to converge after")
        assert ours == theirs
    else:
        # skmlp words it as scikit-learn >= 1.7 does, which names the iterations;
        # the outcome (status, SciPy's message) must be scikit-learn's
        assert len(ours) == 1
        assert ours[0].startswith(
            f"lbfgs failed to converge after {sk.n_iter_} iteration(s) (status="
        )
        assert LBFGS_OUTCOME.match(ours[0]).groups() == (
            LBFGS_OUTCOME.match(theirs[0]).groups()
        )
    # unseeded: the iteration count in the message may differ from the above
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge after"):
        Ours(**params).fit(X, y)


#: status and SciPy's message in an L-BFGS warning of any scikit-learn >= 1.6
#: (before 1.7 without the iteration count and with a full stop after the message)
LBFGS_OUTCOME = re.compile(
    r"lbfgs failed to converge (?:after \d+ iteration\(s\) )?"
    r"\(status=(\d+)\):\n(.*?)\.?\n"
)


@pytest.mark.parametrize("Ours", [BackpropClassifier, BackpropRegressor])
def test_batch_size_clipping_warning(Ours):
    X, y = make_data("binary" if Ours is BackpropClassifier else "regression")
    params = {"hidden_layer_sizes": (3,), "batch_size": 1000, "max_iter": 2}
    theirs = captured_warnings(lambda: PAIRS[Ours](**params).fit(X, y), UserWarning)
    ours = captured_warnings(lambda: Ours(**params).fit(X, y), UserWarning)
    assert theirs[0].startswith("Got `batch_size` less than 1 or larger than")
    assert ours[0] == theirs[0]


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_warm_start_after_changing_optimizer_settings(solver):
    """A warm-start refit after set_params of optimizer settings works, as in sklearn.

    scikit-learn builds a new optimizer for every fit; skmlp keeps the old
    optimizer state, which must not break when the settings change (here SGD
    gains Nesterov momentum, which needs an array the old state lacks).
    """
    X, y = make_data("multiclass")
    first = {"nesterovs_momentum": False, "beta_1": 0.8}
    second = {"nesterovs_momentum": True, "beta_1": 0.9}
    for Est in (MLPClassifier, BackpropClassifier):
        est = Est(
            hidden_layer_sizes=(4,),
            solver=solver,
            max_iter=2,
            warm_start=True,
            random_state=0,
            **first,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
            est.set_params(**second).fit(X, y)
        assert all(np.isfinite(c).all() for c in est.coefs_)
        assert len(est.loss_curve_) == 4


def _max_abs_diff(a, b):
    return max(
        float(np.abs(p - q).max())
        for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True)
    )


@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_changing_adam_betas_between_partial_fits(kind):
    """After set_params(beta_1=..., beta_2=...) between partial_fit calls, Adam
    either continues with its true moments and the new betas, restarts, or (like
    scikit-learn, which keeps its optimizer object) ignores the change.

    Full batches without shuffling, so scikit-learn's per-call re-seeding does
    not matter and all three references are exact.
    """
    X, y = make_data(kind)
    params = {
        "hidden_layer_sizes": (5,),
        "solver": "adam",
        "learning_rate_init": 0.01,
        "batch_size": N_SAMPLES,
        "shuffle": False,
        "random_state": 0,
    }
    kw = partial_fit_kwargs(kind)
    sk, ours = estimators(kind, **params)
    for _ in range(3):
        sk.partial_fit(X, y, **kw)
        ours.partial_fit(X, y, **kw)
    assert _max_abs_diff(sk, ours) < 1e-12
    new_betas = {"beta_1": 0.5, "beta_2": 0.5}

    ignored = copy.deepcopy(sk)  # scikit-learn: the kept optimizer keeps old betas
    continued = copy.deepcopy(sk)  # true moments, new betas
    continued.set_params(**new_betas)
    continued._optimizer.beta_1 = continued._optimizer.beta_2 = 0.5
    restarted = copy.deepcopy(sk)  # fresh moments, new betas
    restarted.set_params(**new_betas)
    del restarted._optimizer
    ours.set_params(**new_betas)
    for _ in range(2):
        for est in (ignored, continued, restarted, ours):
            est.partial_fit(X, y)
    diffs = {
        name: _max_abs_diff(ref, ours)
        for name, ref in [
            ("ignored", ignored),
            ("continued", continued),
            ("restarted", restarted),
        ]
    }
    assert min(diffs.values()) < 1e-12, diffs
