"""LossCurveDisplay: the drawn lines are the estimator's curves, on the right axes.

Also: what it unwraps (pipelines, searches), what it refuses (L-BFGS, unfitted
estimators) and that matplotlib stays an optional, lazily imported dependency.
"""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skmlp import BackpropClassifier, BackpropRegressor, LossCurveDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X, y = load_iris(return_X_y=True)
X = StandardScaler().fit_transform(X)
X_train, y_train, X_val, y_val = X[::2], y[::2], X[1::2], y[1::2]
SMALL = dict(hidden_layer_sizes=(5,), max_iter=6, n_iter_no_change=50, random_state=0)


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Tiny problems run much faster on one BLAS thread."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def fitted(estimator, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X_train, y_train, **fit_params)


@pytest.fixture(scope="module")
def clf_val():
    """A classifier that recorded all three curves (X_val)."""
    return fitted(BackpropClassifier(**SMALL), X_val=X_val, y_val=y_val)


def assert_line(line, curve):
    """``line`` draws ``curve`` against the epochs 1, 2, ..."""
    assert_array_equal(line.get_xdata(), np.arange(1, len(curve) + 1))
    assert_array_equal(line.get_ydata(), curve)


def test_lines_are_the_estimators_curves(clf_val):
    display = LossCurveDisplay.from_estimator(clf_val)
    lines = display.lines_
    assert set(lines) == {"loss", "validation_loss", "validation_score"}
    assert_line(lines["loss"], clf_val.loss_curve_)
    assert_line(lines["validation_loss"], clf_val.validation_loss_curve_)
    assert_line(lines["validation_score"], clf_val.validation_scores_)
    # the losses on ax_, the score on its twin on the right
    assert lines["loss"].axes is display.ax_
    assert lines["validation_loss"].axes is display.ax_
    assert lines["validation_score"].axes is display.ax_score_
    assert display.ax_score_ is not display.ax_
    assert display.ax_score_.get_position().bounds == display.ax_.get_position().bounds
    assert display.figure_ is display.ax_.figure
    assert display.ax_.get_xlabel() == "epoch"
    assert display.ax_.get_ylabel() == "loss"
    assert display.ax_score_.get_ylabel() == "validation accuracy"
    # one legend, on ax_, for the lines of both axes
    legend = display.ax_.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        "training loss",
        "validation loss",
        "validation accuracy",
    ]
    # at the middle of the right side, not where "best" would put it
    display.figure_.canvas.draw()
    box, axes_box = legend.get_window_extent(), display.ax_.get_window_extent()
    assert axes_box.x1 - 20 < box.x1 < axes_box.x1
    assert abs((box.y0 + box.y1) - (axes_box.y0 + axes_box.y1)) < 2
    assert display.ax_score_.get_legend() is None
    styles = [lines[key].get_linestyle() for key in lines]
    assert styles == ["-", "--", "-."]


def test_regressor_score_is_r2():
    reg = fitted(
        BackpropRegressor(early_stopping=True, validation_fraction=0.2, **SMALL)
    )
    display = LossCurveDisplay.from_estimator(reg)
    assert display.score_name == "R^2"
    assert display.ax_score_.get_ylabel() == "validation R^2"
    assert_line(display.lines_["validation_score"], reg.validation_scores_)
    assert_line(display.lines_["validation_loss"], reg.validation_loss_curve_)


def test_no_score_axis_without_validation():
    clf = fitted(BackpropClassifier(**SMALL))
    assert clf.validation_scores_ is None
    display = LossCurveDisplay.from_estimator(clf)
    assert list(display.lines_) == ["loss"]
    assert_line(display.lines_["loss"], clf.loss_curve_)
    assert display.ax_score_ is None
    assert display.figure_.axes == [display.ax_]  # no twin was made


def test_warm_started_epochs_without_validation_are_nan():
    clf = fitted(BackpropClassifier(warm_start=True, **SMALL))
    clf.fit(X_train, y_train, X_val=X_val, y_val=y_val)
    display = LossCurveDisplay.from_estimator(clf)
    scores = display.lines_["validation_score"].get_ydata()
    assert len(scores) == len(clf.loss_curve_) == 12
    assert np.isnan(scores[:6]).all() and not np.isnan(scores[6:]).any()
    assert_line(display.lines_["validation_score"], clf.validation_scores_)


def test_ax_is_reused_and_models_overlay(clf_val):
    other = fitted(
        BackpropClassifier(**{**SMALL, "random_state": 1}), X_val=X_val, y_val=y_val
    )
    fig, ax = plt.subplots()
    n_figures = len(plt.get_fignums())
    first = LossCurveDisplay.from_estimator(clf_val, ax=ax, name="first")
    second = LossCurveDisplay.from_estimator(
        other, ax=ax, ax_score=first.ax_score_, name="second"
    )
    assert len(plt.get_fignums()) == n_figures
    assert first.ax_ is second.ax_ is ax
    assert first.figure_ is second.figure_ is fig
    assert second.ax_score_ is first.ax_score_
    assert len(fig.axes) == 2  # ax and one twin, shared by both displays
    assert len(ax.lines) == 4 and len(first.ax_score_.lines) == 2
    assert_line(second.lines_["loss"], other.loss_curve_)
    # one colour per model, the same for all its lines
    for display in (first, second):
        assert len({line.get_color() for line in display.lines_.values()}) == 1
    assert first.lines_["loss"].get_color() != second.lines_["loss"].get_color()
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(texts) == 6
    assert "second: validation accuracy" in texts


def test_ax_score_on_another_subplot(clf_val):
    _, (ax_loss, ax_acc) = plt.subplots(1, 2)
    display = LossCurveDisplay.from_estimator(
        clf_val,
        ax=ax_loss,
        ax_score=ax_acc,
        curves=["loss", "validation_score"],
        loss_kw={"label": "loss", "color": "k"},
    )
    assert display.ax_score_ is ax_acc
    assert ax_acc.get_xlabel() == "epoch"
    assert list(display.lines_) == ["loss", "validation_score"]
    assert display.lines_["validation_score"].axes is ax_acc
    assert display.lines_["validation_score"].get_color() == "k"  # follows loss
    assert [t.get_text() for t in ax_loss.get_legend().get_texts()] == ["loss"]
    assert [t.get_text() for t in ax_acc.get_legend().get_texts()] == [
        "validation accuracy"
    ]


def test_score_alone_goes_on_ax(clf_val):
    display = LossCurveDisplay.from_estimator(clf_val, curves="validation_score")
    assert list(display.lines_) == ["validation_score"]
    assert display.ax_score_ is display.ax_
    assert display.figure_.axes == [display.ax_]
    assert display.ax_.get_ylabel() == "validation accuracy"
    assert display.lines_["validation_score"].get_linestyle() == "-"  # alone


def test_curves_must_be_known_and_recorded():
    display = LossCurveDisplay(loss_curve=[1.0, 0.5])
    with pytest.raises(ValueError, match="not recorded"):
        display.plot(curves=["loss", "validation_score"])
    with pytest.raises(ValueError, match="curves must name"):
        display.plot(curves=["accuracy"])
    with pytest.raises(ValueError, match="curves must name"):
        display.plot(curves=[])


def test_constructed_display_names_and_kwargs():
    display = LossCurveDisplay(
        loss_curve=[3.0, 2.0, 1.0],
        validation_scores=[0.1, np.nan, 0.9],
        estimator_name="net",
        score_name="F1",
    )
    assert display.plot() is display
    assert_line(display.lines_["loss"], [3.0, 2.0, 1.0])
    assert_line(display.lines_["validation_score"], [0.1, np.nan, 0.9])
    assert display.ax_score_.get_ylabel() == "validation F1"
    ticks = display.ax_.get_xticks()
    assert_array_equal(ticks, np.round(ticks))  # no fractional epochs
    display.plot(name="other", score_name="AUC", validation_score_kw={"lw": 4})
    assert display.lines_["validation_score"].get_label() == "other: validation AUC"
    assert display.lines_["validation_score"].get_linewidth() == 4
    unnamed = LossCurveDisplay(loss_curve=[1.0]).plot()
    assert unnamed.lines_["loss"].get_label() == "training loss"


def test_pipeline_and_search_are_unwrapped():
    pipe = fitted(make_pipeline(StandardScaler(), BackpropClassifier(**SMALL)))
    display = LossCurveDisplay.from_estimator(pipe)
    assert_line(display.lines_["loss"], pipe[-1].loss_curve_)

    search = GridSearchCV(
        make_pipeline(StandardScaler(), BackpropClassifier(**SMALL)),
        {"backpropclassifier__learning_rate_init": [1e-4, 0.05]},
        cv=2,
    )
    fitted(search)
    display = LossCurveDisplay.from_estimator(search)
    best = search.best_estimator_[-1]
    assert best.learning_rate_init == 0.05  # the unwrapped one is the refitted best
    assert_line(display.lines_["loss"], best.loss_curve_)
    assert display.ax_score_ is None


def test_search_without_refit():
    search = fitted(
        GridSearchCV(BackpropClassifier(**SMALL), {"alpha": [1e-4]}, cv=2, refit=False)
    )
    with pytest.raises(ValueError, match="refit=False"):
        LossCurveDisplay.from_estimator(search)


def test_lbfgs_has_no_loss_curve():
    clf = fitted(BackpropClassifier(solver="lbfgs", **SMALL))
    with pytest.raises(ValueError, match="solver='lbfgs'"):
        LossCurveDisplay.from_estimator(clf)
    # a refit with L-BFGS drops the curve of an earlier stochastic fit (which
    # scikit-learn's MLP leaves behind), and the display still says why
    clf = fitted(BackpropClassifier(**SMALL))
    fitted(clf.set_params(solver="lbfgs"))
    assert not hasattr(clf, "loss_curve_")
    with pytest.raises(ValueError, match="solver='lbfgs'"):
        LossCurveDisplay.from_estimator(make_pipeline(clf))


def test_other_estimators():
    with pytest.raises(ValueError, match="no loss_curve_"):
        LossCurveDisplay.from_estimator(fitted(LogisticRegression()))
    # scikit-learn's MLP records a loss curve (no validation without early stopping)
    mlp = fitted(MLPClassifier(hidden_layer_sizes=(5,), max_iter=6, random_state=0))
    display = LossCurveDisplay.from_estimator(mlp)
    assert list(display.lines_) == ["loss"]
    assert_line(display.lines_["loss"], mlp.loss_curve_)


@pytest.mark.parametrize(
    "estimator",
    [
        BackpropClassifier(),
        make_pipeline(StandardScaler(), BackpropRegressor()),
        GridSearchCV(BackpropClassifier(), {"alpha": [1e-4]}),
    ],
    ids=["estimator", "pipeline", "search"],
)
def test_unfitted(estimator):
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(estimator)


def run_python(code):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_import_skmlp_does_not_import_matplotlib():
    result = run_python(
        """
        import sys
        import skmlp
        skmlp.LossCurveDisplay(loss_curve=[1.0])
        print(sorted(m for m in sys.modules if m.split(".")[0] == "matplotlib"))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_missing_matplotlib_import_error():
    result = run_python(
        """
        import sys
        sys.modules["matplotlib"] = None  # import matplotlib raises ImportError
        import skmlp
        from sklearn.datasets import load_iris
        X, y = load_iris(return_X_y=True)
        clf = skmlp.BackpropClassifier(max_iter=5, random_state=0).fit(X, y)
        for call in (
            skmlp.LossCurveDisplay(loss_curve=[1.0]).plot,
            lambda: skmlp.LossCurveDisplay.from_estimator(clf),
        ):
            try:
                call()
            except ImportError as e:
                print(e)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "LossCurveDisplay.plot requires matplotlib. You can install matplotlib "
        "with `pip install matplotlib`",
        "LossCurveDisplay.from_estimator requires matplotlib. You can install "
        "matplotlib with `pip install matplotlib`",
    ]
