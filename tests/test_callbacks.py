"""scikit-learn's callbacks (``set_callbacks``, scikit-learn >= 1.9) on skmlp's fits.

The task tree (a root per call, a leaf per epoch or L-BFGS iteration), what
the hooks receive (the user's labels, the training rows, only
``sample_weight`` as metadata, a model of each epoch that is the model a
shorter fit gives), stop requests, sharing through ``clone``, teardown after
a failed fit, and the work inside Pipeline and GridSearchCV(n_jobs=2).
"""

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import BackpropClassifier, BackpropRegressor

callback = pytest.importorskip(
    "sklearn.callback", reason="scikit-learn < 1.9 has no sklearn.callback"
)
ScoringMonitor = callback.ScoringMonitor

pytestmark = pytest.mark.usefixtures("one_blas_thread")

X, y = load_iris(return_X_y=True)
X = StandardScaler().fit_transform(X)
LABELS = np.array(["setosa", "versicolor", "virginica"])[y]
RNG = np.random.RandomState(0)
SW = RNG.uniform(0.5, 2.0, size=len(y))
Y_REG = X[:, :3] @ RNG.randn(3) + 0.1 * RNG.randn(len(y))
# no plateau handling: epochs are exactly max_iter unless something stops them
FAST = dict(
    hidden_layer_sizes=(6,),
    learning_rate_init=0.05,
    n_iter_no_change=10**6,
    random_state=0,
)


class Recorder:
    """A callback that records every hook call and can ask to stop.

    ``calls`` holds ``(hook, task_name, task_id, max_subtasks, depth, kwargs)``;
    ``stop_after`` makes ``on_fit_task_end`` return True at the end of that
    many epochs / L-BFGS iterations.
    """

    def __init__(self, stop_after=None):
        self.calls = []
        self.stop_after = stop_after

    def setup(self, estimator, context):
        self.calls.append(("setup", context.task_name, None, None, None, {}))

    def teardown(self, estimator, context):
        self.calls.append(("teardown", context.task_name, None, None, None, {}))

    def _record(self, hook, context, **kwargs):
        depth = 0
        parent = context.parent
        while parent is not None:
            depth, parent = depth + 1, parent.parent
        self.calls.append(
            (
                hook,
                context.task_name,
                context.task_id,
                context.max_subtasks,
                depth,
                kwargs,
            )
        )

    def on_fit_task_begin(
        self,
        estimator,
        context,
        *,
        X=None,
        y=None,
        metadata=None,
        fitted_estimator=None,
    ):
        self._record(
            "begin", context, X=X, y=y, metadata=metadata, model=fitted_estimator
        )

    def on_fit_task_end(
        self,
        estimator,
        context,
        *,
        X=None,
        y=None,
        metadata=None,
        fitted_estimator=None,
    ):
        self._record(
            "end", context, X=X, y=y, metadata=metadata, model=fitted_estimator
        )
        return (
            self.stop_after is not None
            and context.max_subtasks == 0
            and context.task_id == self.stop_after - 1
        )

    def of(self, hook, depth=None):
        return [c for c in self.calls if c[0] == hook and depth in (None, c[4])]


def fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def weights(est):
    return est.coefs_ + est.intercepts_


def assert_same_model(a, b):
    for p, q in zip(weights(a), weights(b), strict=True):
        assert_array_equal(p, q)
    for name in ("batch_norm_means_", "batch_norm_vars_", "batch_norm_scales_"):
        for p, q in zip(getattr(a, name), getattr(b, name), strict=True):
            assert (p is None and q is None) or np.array_equal(p, q), name
    assert a.n_iter_ == b.n_iter_


# ------------------------------------------------------------------ the tree
def test_both_estimators_have_set_callbacks():
    for cls in (BackpropClassifier, BackpropRegressor):
        est = cls()
        assert est.set_callbacks(Recorder()) is est


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_a_root_per_fit_and_a_leaf_per_epoch(solver):
    rec = Recorder()
    clf = fit(
        BackpropClassifier(**FAST, solver=solver, max_iter=4).set_callbacks(rec), X, y
    )
    assert [c[0] for c in rec.calls[:2]] == ["setup", "begin"]
    assert rec.calls[-1][0] == "teardown"
    (root_begin,), (root_end,) = rec.of("begin", 0), rec.of("end", 0)
    assert root_begin[1:4] == ("fit", 0, 4) and root_end[1:4] == ("fit", 0, 4)
    # one leaf per epoch, none per mini-batch (150 rows: 1 batch of 'auto'=150;
    # batch_size=10 below makes 15 per epoch)
    leaves = [(c[1], c[2], c[3]) for c in rec.of("end", 1)]
    assert leaves == [("epoch", i, 0) for i in range(clf.n_iter_)]
    assert len(rec.of("begin", 1)) == len(rec.of("end", 1)) == 4

    rec = Recorder()
    fit(BackpropClassifier(**FAST, batch_size=10, max_iter=3).set_callbacks(rec), X, y)
    assert len(rec.of("end", 1)) == 3


def test_partial_fit_is_a_root_with_one_epoch():
    rec = Recorder()
    clf = BackpropRegressor(**FAST).set_callbacks(rec)
    clf.partial_fit(X, Y_REG)
    clf.partial_fit(X, Y_REG)
    roots = [c[1:4] for c in rec.of("begin", 0)]
    assert roots == [("partial_fit", 0, 1)] * 2
    assert [c[1:4] for c in rec.of("end", 1)] == [("epoch", 0, 0)] * 2
    assert [c[0] for c in rec.calls].count("setup") == 2  # one run per call


def test_lbfgs_leaves_are_iterations_plus_the_one_scipy_never_ran():
    rec = Recorder()
    clf = fit(
        BackpropClassifier(**FAST, solver="lbfgs", max_iter=5).set_callbacks(rec), X, y
    )
    assert clf.n_iter_ == 5
    assert rec.of("begin", 0)[0][1:4] == ("fit", 0, 6)  # max_iter + 1
    ends = rec.of("end", 1)
    assert [c[1:3] for c in ends] == [("lbfgs-iter", i) for i in range(6)]
    assert all(c[5]["model"] is not None for c in ends[:5])
    assert ends[5][5] == dict(X=None, y=None, metadata=None, model=None)


# ---------------------------------------------------- what the hooks receive
@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "batch_norm"])
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_the_model_of_each_epoch_is_that_of_a_shorter_fit(kind, solver, batch_norm):
    """Each leaf's model equals a fit of that many epochs: copied weights (not
    views of the ones training goes on updating), the right iterate of L-BFGS,
    and everything predict needs (batch norm's running statistics: the full
    batch's at an L-BFGS iterate); ScoringMonitor's last epoch scores the final
    model."""
    cls, target, scoring = {
        "classifier": (BackpropClassifier, LABELS, "accuracy"),
        "regressor": (BackpropRegressor, Y_REG, "r2"),
    }[kind]
    # scoring=None (the estimator's score) fails in scikit-learn 1.9.1's
    # ScoringMonitor: its scorer returns a float where a dict is expected
    rec, monitor = Recorder(), ScoringMonitor(scoring=scoring)
    params = dict(FAST, solver=solver, batch_norm=batch_norm)
    est = fit(cls(**params, max_iter=5).set_callbacks(rec, monitor), X, target)
    models = [c[5]["model"] for c in rec.of("end", 1)][: est.n_iter_]
    assert len(models) == est.n_iter_ == 5
    for k, model in enumerate(models, start=1):
        shorter = fit(cls(**params, max_iter=k), X, target)
        assert_same_model(model, shorter)
        assert_array_equal(model.predict(X), shorter.predict(X))

    log = monitor.get_logs().data
    epochs = [row[scoring] for row in log if row["task_name"] != "fit"]
    assert len(epochs) == est.n_iter_
    assert epochs[-1] == est.score(X, target)
    (root,) = [row[scoring] for row in log if row["task_name"] == "fit"]
    assert root == est.score(X, target)


def test_hooks_get_the_users_labels_and_only_sample_weight():
    """The weights as given, not those the fit trains with (class_weight)."""
    rec, monitor = Recorder(), ScoringMonitor(scoring=["accuracy", "neg_log_loss"])
    clf = BackpropClassifier(**FAST, max_iter=3, class_weight={"setosa": 3})
    fit(clf.set_callbacks(rec, monitor), X, list(LABELS), sample_weight=list(SW))
    for call in rec.of("begin") + rec.of("end"):
        kwargs = call[5]
        assert kwargs["X"] is not None and kwargs["X"].shape == X.shape
        assert_array_equal(kwargs["y"], LABELS)
        assert list(kwargs["metadata"]) == ["sample_weight"]
        assert_array_equal(kwargs["metadata"]["sample_weight"], SW)
    rows = [row for row in monitor.get_logs().data if row["task_name"] == "epoch"]
    assert len(rows) == 3

    rec = Recorder()
    fit(BackpropClassifier(**FAST, max_iter=2).set_callbacks(rec), X, LABELS)
    assert all(c[5]["metadata"] is None for c in rec.of("end"))


def test_with_early_stopping_the_epochs_get_the_training_rows():
    rec, monitor = Recorder(), ScoringMonitor(scoring="accuracy")
    clf = BackpropClassifier(**FAST, max_iter=3, early_stopping=True)
    fit(clf.set_callbacks(rec, monitor), X, LABELS, sample_weight=SW)
    row_of = {w: i for i, w in enumerate(SW)}  # the weights tell the rows apart
    (root,), epochs = rec.of("end", 0), rec.of("end", 1)
    assert root[5]["X"].shape == X.shape
    for call in epochs:
        kwargs = call[5]
        assert kwargs["X"].shape[0] == len(X) - 15  # validation_fraction=0.1
        idx = [row_of[w] for w in kwargs["metadata"]["sample_weight"]]
        assert_array_equal(kwargs["X"], X[idx])
        assert_array_equal(kwargs["y"], LABELS[idx])
    # ScoringMonitor scores those rows, with their weights
    (model,) = [c[5]["model"] for c in epochs[-1:]]
    expected = model.score(
        epochs[-1][5]["X"], epochs[-1][5]["y"], sample_weight=SW[idx]
    )
    logged = [row for row in monitor.get_logs().data if row["task_name"] == "epoch"]
    assert logged[-1]["accuracy"] == expected


# ----------------------------------------------------------------- stopping
@pytest.mark.parametrize(
    "params",
    [
        dict(solver="adam"),
        # a plateau at epoch 3 (adaptive: the learning rate / 5, the count reset)
        dict(
            solver="sgd",
            learning_rate="adaptive",
            early_stopping=True,
            n_iter_no_change=1,
            tol=10.0,
        ),
        dict(solver="lbfgs"),
    ],
    ids=["adam", "sgd-adaptive-early-stopping", "lbfgs"],
)
def test_a_stop_request_ends_training_after_that_epoch(params):
    """After all of that epoch's bookkeeping: the same model and state as
    max_iter=3, so a warm start goes on alike."""
    est = BackpropClassifier(**{**FAST, **params, "max_iter": 10})
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a requested stop
        stopped = est.set_callbacks(Recorder(stop_after=3)).fit(X, y)
    assert stopped.n_iter_ == 3
    three = fit(BackpropClassifier(**{**FAST, **params, "max_iter": 3}), X, y)
    assert_same_model(stopped, three)
    names = ("loss_", "t_", "loss_curve_", "validation_scores_", "best_loss_")
    for name in names + ("_no_improvement_count",):
        assert getattr(stopped, name, None) == getattr(three, name, None), name
    opt = [est._fit_state.optimizer_state for est in (stopped, three)]
    assert getattr(opt[0], "learning_rate", None) == getattr(
        opt[1], "learning_rate", None
    )


def test_a_stop_request_in_partial_fit_changes_nothing():
    a = BackpropClassifier(**FAST).set_callbacks(Recorder(stop_after=1))
    b = BackpropClassifier(**FAST)
    for est in (a, b):
        est.partial_fit(X, y, classes=[0, 1, 2])
    assert_same_model(a, b)


# ------------------------------------------------------------ clone, search
def test_clone_shares_the_callbacks_and_a_search_logs_into_them():
    monitor = ScoringMonitor(scoring="accuracy")
    clf = BackpropClassifier(**FAST, max_iter=3).set_callbacks(monitor)
    assert clone(clf)._skl_callbacks[0] is monitor
    search = GridSearchCV(clf, {"alpha": [1e-4, 1e-2]}, cv=2)
    fit(search, X, y)
    (log,) = monitor.get_logs(select="all")  # one run: the search
    epochs = [row for row in log.data if row["task_name"] == "epoch"]
    assert len(epochs) == (2 * 2 + 1) * 3  # candidates x folds + refit, 3 epochs


def test_pipeline_and_grid_search_with_two_processes(capsys, monkeypatch):
    """ProgressBar on the search, ScoringMonitor on the network: its logs come
    back from loky's workers, one row per epoch of each fit."""
    pytest.importorskip("rich", reason="ProgressBar needs rich")
    monkeypatch.setenv("COLUMNS", "200")  # rich would cut long descriptions
    monitor = ScoringMonitor(scoring="accuracy")
    clf = BackpropClassifier(**FAST, max_iter=4).set_callbacks(monitor)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), clf),
        {"backpropclassifier__alpha": [1e-4, 1e-2]},
        cv=2,
        n_jobs=2,
    ).set_callbacks(callback.ProgressBar(max_propagation_depth=None))
    fit(search, X, y)
    (log,) = monitor.get_logs(select="all")
    epochs = [row for row in log.data if row["task_name"] == "epoch"]
    assert len(epochs) == (2 * 2 + 1) * 4
    paths = {row["task_id_path"][:-1] for row in epochs}
    assert len(paths) == 5  # 4 fits in the workers and the refit
    out = capsys.readouterr().out
    assert out.count("BackpropClassifier - fit") == 5
    assert "GridSearchCV - fit" in out


def test_a_progressbar_alone_draws_one_bar_per_fit(capsys, monkeypatch):
    pytest.importorskip("rich", reason="ProgressBar needs rich")
    monkeypatch.setenv("COLUMNS", "200")
    clf = BackpropRegressor(**FAST, batch_size=10, max_iter=3)
    fit(clf.set_callbacks(callback.ProgressBar()), X, Y_REG)
    out = capsys.readouterr().out
    assert out.count("BackpropRegressor - fit") == 1
    assert "100%" in out


# ---------------------------------------------------------------- teardown
def test_a_failed_fit_still_tears_the_callbacks_down():
    rec = Recorder()
    clf = BackpropClassifier(**FAST).set_callbacks(rec)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(bad, y)
    assert [c[0] for c in rec.calls] == ["setup", "teardown"]
    assert not hasattr(clf, "_callback_fit_ctx")


def run_python(code, timeout=60):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_failed_fit_with_a_progressbar_does_not_hang_the_interpreter():
    """The bar's thread is not a daemon: without teardown, exit waits forever."""
    pytest.importorskip("rich", reason="ProgressBar needs rich")
    result = run_python(
        """
        import numpy as np
        from sklearn.callback import ProgressBar
        from skmlp import BackpropClassifier
        X = np.random.RandomState(0).randn(20, 3)
        X[0, 0] = np.nan
        try:
            BackpropClassifier().set_callbacks(ProgressBar()).fit(X, [0, 1] * 10)
        except ValueError:
            print("failed as expected")
        """,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "failed as expected" in result.stdout


# ---------------------------------------------------------- costs, imports
def test_without_callbacks_a_fit_opens_no_context(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("no callback context without callbacks")

    monkeypatch.setattr(BackpropClassifier, "_init_callback_context", refuse)
    for solver in ("adam", "lbfgs"):
        fit(BackpropClassifier(**FAST, solver=solver, max_iter=2), X, y)


def test_progressbar_without_rich_raises_scikit_learns_error():
    result = run_python(
        """
        import sys
        sys.modules["rich"] = None  # as if it were not installed
        import skmlp
        from sklearn.callback import ProgressBar
        try:
            skmlp.BackpropClassifier().set_callbacks(ProgressBar())
        except ImportError as exc:
            print(type(exc).__name__, exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ImportError Progressbar requires rich."


def test_before_scikit_learn_1_9_there_is_no_callback_support():
    """Without sklearn.callback: no mixin, no set_callbacks, and fits work."""
    result = run_python(
        """
        import sklearn.callback, sklearn.model_selection, sklearn.pipeline
        del sklearn.callback.CallbackSupportMixin  # as in scikit-learn < 1.9
        import numpy as np
        from skmlp import BackpropClassifier, BackpropRegressor
        from skmlp._callbacks import AVAILABLE
        X = np.random.RandomState(0).randn(30, 3)
        for est, y in [(BackpropClassifier(max_iter=3), [0, 1, 2] * 10),
                       (BackpropRegressor(solver="lbfgs", max_iter=3), X[:, 0])]:
            assert not hasattr(est, "set_callbacks")
            est.fit(X, y)
        BackpropClassifier().partial_fit(X, [0, 1, 2] * 10, classes=[0, 1, 2])
        print(AVAILABLE, [c.__name__ for c in BackpropClassifier.__mro__][:4])
        """
    )
    assert result.returncode == 0, result.stderr
    assert "False" in result.stdout and "CallbackSupportMixin" not in result.stdout


def test_rich_is_the_optional_extra_progress():
    tomllib = pytest.importorskip("tomllib", reason="Python < 3.11")
    pyproject = Path(__file__).parents[1] / "pyproject.toml"
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    assert extras["progress"] == ["rich>=13"]
