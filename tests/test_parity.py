"""Drop-in parity: what scikit-learn's own tests and users expect at the edges.

Each test reproduces a rough edge found on main at 670217f: probabilities and
log-probabilities that disagree, error messages that differ from
scikit-learn's, raw NumPy errors for bad labels, and RuntimeWarnings escaping
prediction on extreme inputs.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from skmlp import BackpropClassifier, BackpropRegressor

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def _fit_quietly(est, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **kwargs)


# ------------------------------------------------ log-probabilities agree
@pytest.mark.parametrize("random_state", range(4))
def test_multilabel_log_proba_is_log_of_proba(random_state):
    """scikit-learn's MLP test: ``predict_log_proba == log(predict_proba)``.

    The lbfgs fit saturates many labels, where probabilities are clipped at
    ``1 - epsneg`` and rounded in steps of 1.1e-16; log-probabilities must
    follow them there, yet stay finite where ``log`` of a clipped
    probability would not be needed.
    """
    X, y = make_multilabel_classification(n_samples=50, random_state=0)
    clf = BackpropClassifier(
        solver="lbfgs", hidden_layer_sizes=30, random_state=random_state
    )
    _fit_quietly(clf, X, y)
    proba, log_proba = clf.predict_proba(X), clf.predict_log_proba(X)
    assert (proba >= 1 - 1e-12).any()  # saturated labels are in play
    assert np.isfinite(log_proba).all()
    np.testing.assert_allclose(log_proba, np.log(proba), rtol=1e-7)


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_log_proba_agrees_with_proba_and_stays_finite_when_saturated(kind):
    n_classes = 2 if kind == "binary" else 3
    X, y = make_classification(
        120, 5, n_informative=4, n_redundant=0, n_classes=n_classes, random_state=0
    )
    clf = _fit_quietly(BackpropClassifier((8,), solver="lbfgs", random_state=0), X, y)
    np.testing.assert_allclose(
        clf.predict_log_proba(X), np.log(clf.predict_proba(X)), rtol=1e-7
    )
    # far outside the data the network saturates: probabilities hit the clip
    # bounds, their logarithms stay finite (scikit-learn's give -inf)
    far = 1e4 * X[:5]
    log_proba = clf.predict_log_proba(far)
    assert np.isfinite(log_proba).all()
    assert log_proba.min() < -700
    np.testing.assert_allclose(log_proba, np.log(clf.predict_proba(far)), rtol=1e-7)
    # ... and log-probabilities are the closed-form ones of the raw outputs
    raw = clf.decision_function(far)
    logits = np.column_stack([-raw, raw]) if kind == "binary" else raw
    if kind == "binary":
        exact = -np.logaddexp(0, -logits)  # log sigmoid
    else:
        exact = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    info = np.finfo(np.float64)  # the clip bounds of predict_proba, in log space
    bounds = np.log(info.tiny), np.log1p(-info.epsneg)
    np.testing.assert_allclose(log_proba, np.clip(exact, *bounds), rtol=1e-12)


# ------------------------------------------------ scikit-learn's messages
def test_early_stopping_split_error_names_the_class_as_scikit_learn_does():
    X, y = [[1, 2], [2, 3], [3, 4], [4, 5]], [0, 0, 0, 1]
    with pytest.raises(ValueError) as ours:
        BackpropClassifier(early_stopping=True).fit(X, y)
    with pytest.raises(ValueError) as theirs:
        MLPClassifier(early_stopping=True).fit(X, y)
    assert str(ours.value) == str(theirs.value)
    if "members are:" in str(theirs.value):  # scikit-learn >= 1.7 names them
        assert "['True']" in str(ours.value)


def test_multiclass_split_error_names_the_user_label():
    """The split's error is the one of stratifying by the user's labels."""
    X = np.arange(20.0).reshape(10, 2)
    y = np.array(["a"] * 5 + ["b"] * 4 + ["rare"])
    with pytest.raises(ValueError) as ours:
        BackpropClassifier(early_stopping=True).fit(X, y)
    with pytest.raises(ValueError) as direct:
        train_test_split(X, y, stratify=y, test_size=0.1, random_state=0)
    assert str(ours.value) == str(direct.value)
    if "members are:" in str(direct.value):  # scikit-learn >= 1.7 names them
        assert "['rare']" in str(ours.value)


MIXED = np.array([1, "a", 2] * 10, dtype=object)
MIXED_MESSAGE = r"Mix of label input types \(string and number\)"


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_mixed_label_types_get_scikit_learns_error(method):
    X = np.random.RandomState(0).randn(30, 3)
    clf = BackpropClassifier(max_iter=5)
    kwargs = {"classes": np.array(["1", "2", "a"])} if method == "partial_fit" else {}
    with pytest.raises(ValueError, match=MIXED_MESSAGE):
        getattr(clf, method)(X, MIXED, **kwargs)
    assert not hasattr(clf, "classes_")  # nothing was left behind


def test_mixed_types_in_classes_and_y_val_get_the_same_error():
    X = np.random.RandomState(0).randn(30, 3)
    y = np.array([1, 2, 3] * 10)
    with pytest.raises(ValueError, match=MIXED_MESSAGE + ".*classes"):
        BackpropClassifier().partial_fit(X, y, classes=np.array([1, "a"], dtype=object))
    with pytest.raises(ValueError, match=MIXED_MESSAGE + ".*y_val"):
        BackpropClassifier(max_iter=2).fit(X, y, X_val=X, y_val=MIXED)


# ------------------------------------------------ extreme inputs
def _saturating_classifier():
    """A fitted classifier whose raw outputs span most of float64's range."""
    X, y = make_classification(200, 5, n_classes=3, n_informative=3, random_state=0)
    clf = _fit_quietly(BackpropClassifier((5,), max_iter=5, random_state=0), X, y)
    clf.intercepts_[-1][...] = [1e308, -1e308, 0.0]
    return clf, X


@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "predict_log_proba", "decision_function"]
)
def test_prediction_on_extreme_outputs_gives_no_runtime_warning(method):
    """A span of logits that overflows a subtraction used to leak a warning."""
    clf, X = _saturating_classifier()
    X = X.copy()
    X[:, 0] = 1e308  # the original report: one huge column
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = getattr(clf, method)(X)
    assert np.isfinite(out).all() if out.dtype.kind == "f" else True
    if method == "predict_proba":
        np.testing.assert_allclose(out[:, 0], 1.0)


def test_score_on_extreme_inputs_gives_no_runtime_warning():
    clf, X = _saturating_classifier()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert clf.score(X, clf.predict(X)) == 1.0


@pytest.mark.parametrize("Est", [BackpropClassifier, BackpropRegressor])
def test_overflowing_network_raises_a_clear_error(Est):
    """Outputs that overflow to inf or NaN are refused, never returned."""
    X, y = make_classification(60, 4, random_state=0)
    est = _fit_quietly(
        Est(hidden_layer_sizes=(4,), activation="tanh", max_iter=3, random_state=0),
        X,
        y,
    )
    est.coefs_[-1][...] = 1e308  # the output layer overflows for any input
    for method in ("predict", "decision_function", "predict_proba", "score"):
        if not hasattr(est, method):
            continue
        args = (X, y) if method == "score" else (X,)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(ValueError, match="overflowed for .* row.*Scale the"):
                getattr(est, method)(*args)


def test_poisson_link_overflow_raises_a_clear_error():
    rng = np.random.RandomState(0)
    X, y = rng.randn(40, 3), rng.poisson(2.0, 40)
    reg = _fit_quietly(
        BackpropRegressor(hidden_layer_sizes=(4,), loss="poisson", max_iter=3), X, y
    )
    reg.intercepts_[-1][...] = 800.0  # exp(800) is beyond float64
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="Predictions overflow float64.*'exp'"):
            reg.predict(X)


# ------------------------------------------------ refits across solvers
def test_lbfgs_refit_drops_the_curves_of_an_earlier_stochastic_fit():
    """The epoch curves of an Adam fit do not describe a later L-BFGS model."""
    X, y = make_classification(60, 4, random_state=0)
    clf = _fit_quietly(BackpropClassifier((4,), max_iter=3, early_stopping=True), X, y)
    assert clf.loss_curve_ and clf.validation_scores_
    clf.set_params(solver="lbfgs", early_stopping=False)
    _fit_quietly(clf, X, y)
    for name in (
        "loss_curve_",
        "best_loss_",
        "validation_scores_",
        "validation_loss_curve_",
        "best_validation_score_",
    ):
        assert not hasattr(clf, name), name
