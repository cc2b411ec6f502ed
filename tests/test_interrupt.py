"""Ctrl-C during a fit: it stops between two steps, and the model says so.

In-process tests raise SIGINT (``signal.raise_signal``) from inside a training
step at a chosen point, so that what a stop must leave behind can be checked
exactly; one test sends a real SIGINT to a subprocess in the middle of a fit.
"""

import json
import math
import signal
import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

import skmlp._interrupt
import skmlp._objective
import skmlp._training
from skmlp import BackpropClassifier, BackpropRegressor

pytestmark = pytest.mark.usefixtures("one_blas_thread")

X, y = load_iris(return_X_y=True)
X = StandardScaler().fit_transform(X)
N = len(y)
BATCH = 20  # 8 mini-batches per epoch, the last one of 10 rows
PER_EPOCH = math.ceil(N / BATCH)
PARAMS = dict(
    hidden_layer_sizes=(6,),
    batch_size=BATCH,
    learning_rate_init=0.01,
    n_iter_no_change=10**6,
    max_iter=20,
    random_state=0,
)


@pytest.fixture(autouse=True)
def python_sigint_handler(monkeypatch):
    """Python's default SIGINT handler, and no recent Ctrl-C."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    monkeypatch.setattr(skmlp._interrupt, "_last_request", -math.inf)
    yield
    signal.signal(signal.SIGINT, previous)


class Steps:
    """Spy on ``train_step``: records params and losses; Ctrl-C after some steps.

    ``sigint_after`` maps a step count to the number of SIGINTs raised right
    after that step, from inside it (as a Ctrl-C landing in the update would).
    """

    def __init__(self, monkeypatch, sigint_after=None):
        self.original = skmlp._training.train_step
        self.sigint_after = sigint_after or {}
        self.params, self.losses, self.rows = [], [], []
        monkeypatch.setattr(skmlp._training, "train_step", self)

    def __call__(self, objective, optimizer, state, batch, *args):
        loss, grad = self.original(objective, optimizer, state, batch, *args)
        self.params.append(state.params.copy())
        self.losses.append(loss)
        self.rows.append(batch[0].shape[0])
        for _ in range(self.sigint_after.get(len(self.params), 0)):
            signal.raise_signal(signal.SIGINT)
        return loss, grad


def flat(est):
    return np.concatenate([a.ravel() for a in est.coefs_ + est.intercepts_])


def fit_interrupted(est, *args, **kwargs):
    """Fit, expecting the interruption warning (and ignoring max_iter's)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(*args, **kwargs)
    messages = [str(w.message) for w in caught if w.category is UserWarning]
    assert any(m.startswith("Training interrupted by user") for m in messages)
    return est


# --------------------------------------------------------- between batches
@pytest.mark.parametrize("step", [3 * PER_EPOCH + 5, 1, 3 * PER_EPOCH])
def test_ctrl_c_stops_after_the_step_in_progress(monkeypatch, step):
    """Weights and optimizer state are those of the last completed step; the
    epoch it cut short counts, with the rows that ran, in every curve."""
    steps = Steps(monkeypatch, {step: 1})
    clf = fit_interrupted(BackpropClassifier(**PARAMS), X, y, X_val=X, y_val=y)
    assert len(steps.params) == step  # no step after the Ctrl-C
    assert_array_equal(flat(clf), steps.params[-1])
    assert clf._fit_state.optimizer_state.t == step
    epochs, rest = divmod(step, PER_EPOCH)
    assert clf.n_iter_ == epochs + (rest > 0)
    assert clf.t_ == epochs * N + rest * BATCH
    assert len(clf.loss_curve_) == len(clf.validation_scores_) == clf.n_iter_
    assert len(clf.validation_loss_curve_) == clf.n_iter_
    last = slice((clf.n_iter_ - 1) * PER_EPOCH, step)
    losses, rows = np.array(steps.losses[last]), np.array(steps.rows[last])
    assert clf.loss_curve_[-1] == pytest.approx((losses * rows).sum() / rows.sum())
    assert clf.validation_scores_[-1] == clf.score(X, y)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_callbacks_see_the_interrupted_epoch_as_the_published_model(monkeypatch):
    callback = pytest.importorskip("sklearn.callback", reason="scikit-learn < 1.9")
    from test_callbacks import Recorder

    Steps(monkeypatch, {2 * PER_EPOCH + 3: 1})
    rec, monitor = Recorder(), callback.ScoringMonitor(scoring="accuracy")
    clf = BackpropClassifier(**PARAMS).set_callbacks(rec, monitor)
    fit_interrupted(clf, X, y)
    assert clf.n_iter_ == 3
    assert len(rec.of("begin", 1)) == len(rec.of("end", 1)) == 3
    assert [c[0] for c in rec.calls][-2:] == ["end", "teardown"]  # the root's end
    last_model = rec.of("end", 1)[-1][5]["model"]
    assert_array_equal(flat(last_model), flat(clf))
    assert last_model.n_iter_ == clf.n_iter_
    log = [row for row in monitor.get_logs().data if row["task_name"] == "epoch"]
    assert log[-1]["accuracy"] == clf.score(X, y)


def test_ctrl_c_before_an_epochs_first_step_counts_no_epoch():
    """Pressed as an epoch begins (here: in a callback's begin hook), nothing
    of that epoch ran: it is not counted, and its task ends without a model."""
    pytest.importorskip("sklearn.callback", reason="scikit-learn < 1.9")
    from test_callbacks import Recorder

    class PressAtEpoch3(Recorder):
        def on_fit_task_begin(self, estimator, context, **kwargs):
            super().on_fit_task_begin(estimator, context, **kwargs)
            if context.task_name == "epoch" and context.task_id == 2:
                signal.raise_signal(signal.SIGINT)

    rec = PressAtEpoch3()
    clf = fit_interrupted(BackpropClassifier(**PARAMS).set_callbacks(rec), X, y)
    assert clf.n_iter_ == len(clf.loss_curve_) == 2
    assert clf.t_ == 2 * N
    assert clf._fit_state.optimizer_state.t == 2 * PER_EPOCH
    ends = rec.of("end", 1)
    assert len(rec.of("begin", 1)) == len(ends) == 3
    assert ends[-1][5]["model"] is None


def test_a_warm_start_continues_an_interrupted_fit(monkeypatch):
    """Interrupted at the end of epoch 3, then 2 more epochs: the same model
    as 5 epochs in one go; interrupted within an epoch, the counts go on."""
    Steps(monkeypatch, {3 * PER_EPOCH: 1})
    clf = fit_interrupted(BackpropClassifier(**PARAMS, warm_start=True), X, y)
    monkeypatch.undo()
    monkeypatch.setattr(skmlp._interrupt, "_last_request", -math.inf)
    clf.set_params(max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        five = BackpropClassifier(**{**PARAMS, "max_iter": 5}).fit(X, y)
    assert_array_equal(flat(clf), flat(five))
    assert clf.loss_curve_ == five.loss_curve_
    assert clf.t_ == five.t_

    Steps(monkeypatch, {PER_EPOCH + 2: 1})
    clf = fit_interrupted(BackpropClassifier(**PARAMS, warm_start=True), X, y)
    monkeypatch.undo()
    monkeypatch.setattr(skmlp._interrupt, "_last_request", -math.inf)
    before = (clf.t_, len(clf.loss_curve_), clf._fit_state.optimizer_state.t)
    clf.set_params(max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.t_ == before[0] + 2 * N
    assert len(clf.loss_curve_) == before[1] + 2
    assert clf._fit_state.optimizer_state.t == before[2] + 2 * PER_EPOCH


# ----------------------------------------------------------------- L-BFGS
def test_ctrl_c_in_lbfgs_keeps_the_last_accepted_iterate(monkeypatch):
    pytest.importorskip("sklearn.callback", reason="scikit-learn < 1.9")
    from test_callbacks import Recorder

    original, calls = skmlp._objective.Objective.value, []

    def value(self, *args):
        calls.append(None)
        if len(calls) == 6:  # within an iteration's line search
            signal.raise_signal(signal.SIGINT)
        return original(self, *args)

    monkeypatch.setattr(skmlp._objective.Objective, "value", value)
    rec = Recorder()
    reg = BackpropRegressor(hidden_layer_sizes=(6,), solver="lbfgs", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # SciPy's status 99
        fit_interrupted(reg.set_callbacks(rec), X, X[:, 0] - X[:, 1] ** 2)
    monkeypatch.undo()
    assert 0 < reg.n_iter_ < 10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        same = BackpropRegressor(
            hidden_layer_sizes=(6,),
            solver="lbfgs",
            random_state=0,
            max_iter=reg.n_iter_,
        ).fit(X, X[:, 0] - X[:, 1] ** 2)
    assert_array_equal(flat(reg), flat(same))
    assert reg.loss_ == same.loss_
    ends = rec.of("end", 1)
    assert len(ends) == reg.n_iter_  # no task after the stop
    assert_array_equal(flat(ends[-1][5]["model"]), flat(reg))


# ------------------------------------------------ a second Ctrl-C, no guard
def test_a_second_ctrl_c_interrupts_at_once_and_changes_nothing(monkeypatch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = BackpropClassifier(**{**PARAMS, "max_iter": 2}, warm_start=True)
        clf.fit(X, y)
    before = dict(vars(clf))
    before_params = clf._fit_state.params.copy()
    Steps(monkeypatch, {PER_EPOCH + 3: 2})
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert set(vars(clf)) == set(before)
    assert clf._fit_state is before["_fit_state"]
    assert_array_equal(clf._fit_state.params, before_params)
    assert clf.loss_curve_ == before["loss_curve_"]
    assert clf.n_iter_ == before["n_iter_"] == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_ctrl_c_soon_after_a_stopped_fit_interrupts_the_next_one_at_once(
    monkeypatch,
):
    """In a search, fit follows fit: a second press stops all of them."""
    Steps(monkeypatch, {3: 1, PER_EPOCH + 3: 1})
    clf = fit_interrupted(BackpropClassifier(**PARAMS), X, y)  # steps 1..3
    with pytest.raises(KeyboardInterrupt):
        BackpropClassifier(**PARAMS).fit(X, y)  # its step 3 is step 6 overall
    assert clf.n_iter_ == 1


def test_without_pythons_handler_or_off_the_main_thread_nothing_changes(
    monkeypatch,
):
    """An ignored SIGINT stays ignored; in a thread no handler can be set, and
    a KeyboardInterrupt raised there is caught as scikit-learn does."""
    seen = []

    def spy(objective, optimizer, state, batch, *args):
        seen.append(signal.getsignal(signal.SIGINT))
        if threading.current_thread() is not threading.main_thread():
            raise KeyboardInterrupt
        return original(objective, optimizer, state, batch, *args)

    original = skmlp._training.train_step
    monkeypatch.setattr(skmlp._training, "train_step", spy)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        BackpropClassifier(**{**PARAMS, "max_iter": 1}).fit(X, y)
    assert set(seen) == {signal.SIG_IGN}

    signal.signal(signal.SIGINT, signal.default_int_handler)
    clf, caught = BackpropClassifier(**PARAMS), []

    def in_thread():
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            clf.fit(X, y)
        caught.extend(str(w.message) for w in record)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert "Training interrupted by user." in caught
    assert seen[-1] is signal.default_int_handler
    assert clf.n_iter_ == 0  # the current behaviour, unchanged


# ------------------------------------------------------------ a real SIGINT
CHILD = """
import json, math, signal, sys, time, warnings
import numpy as np
import skmlp._interrupt, skmlp._training
from skmlp import BackpropClassifier
try:
    from sklearn.callback import ScoringMonitor  # scikit-learn >= 1.9
except ImportError:
    ScoringMonitor = None

rng = np.random.RandomState(0)
X = rng.randn(4000, 20)
y = (X[:, :3].sum(axis=1) > 0).astype(int)
params = dict(hidden_layer_sizes=(64,), batch_size=32, max_iter=2000, tol=0,
              n_iter_no_change=10**6, random_state=0)
original, done = skmlp._training.train_step, []


def wait_for_sigint(*args):
    # in the middle of epoch 3, inside a step: tell the parent, wait for its
    # SIGINT (the handler runs during the sleep), then finish the step
    result = original(*args)
    done.append(None)
    if len(done) == 2 * 125 + 40:
        print("training", flush=True)
        deadline = time.monotonic() + 20
        while skmlp._interrupt._last_request < 0 and time.monotonic() < deadline:
            time.sleep(0.01)
    return result


skmlp._training.train_step = wait_for_sigint
clf = BackpropClassifier(**params)
if ScoringMonitor is not None:
    monitor = ScoringMonitor(scoring="accuracy")
    clf.set_callbacks(monitor)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    clf.fit(X, y, X_val=X[:500], y_val=y[:500])
steps = clf._fit_state.optimizer_state.t

# the same fit, stopped by a Ctrl-C raised right after step `steps`
skmlp._interrupt._last_request = -math.inf
done.clear()
def stop_after_steps(*args):
    result = original(*args)
    done.append(None)
    if len(done) == steps:
        signal.raise_signal(signal.SIGINT)
    return result
skmlp._training.train_step = stop_after_steps
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    replay = BackpropClassifier(**params).fit(X, y, X_val=X[:500], y_val=y[:500])

flat = lambda est: np.concatenate([a.ravel() for a in est.coefs_ + est.intercepts_])
epochs = [] if ScoringMonitor is None else [
    r for r in monitor.get_logs().data if r["task_name"] == "epoch"]
print(json.dumps(dict(
    n_iter=clf.n_iter_, t=clf.t_, steps=steps, n=len(X), batch=32,
    curves=[len(clf.loss_curve_), len(clf.validation_scores_)],
    warnings=[str(w.message) for w in caught],
    same_as_replay=bool(np.array_equal(flat(clf), flat(replay))),
    finite=bool(np.isfinite(flat(clf)).all()),
    last_epoch_score=epochs[-1]["accuracy"] if epochs else None,
    score=clf.score(X, y), logged_epochs=len(epochs) if epochs else None,
)))
"""


def test_a_real_sigint_in_the_middle_of_a_fit():
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "training"
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 0, err
    result = json.loads(out)
    per_epoch = math.ceil(result["n"] / result["batch"])
    assert result["steps"] == 2 * 125 + 40  # stopped after the step it was in
    epochs, rest = divmod(result["steps"], per_epoch)
    assert result["n_iter"] == epochs + (rest > 0)
    assert result["t"] == epochs * result["n"] + rest * result["batch"]
    assert result["curves"] == [result["n_iter"]] * 2
    assert result["same_as_replay"] and result["finite"]
    if result["logged_epochs"] is not None:  # scikit-learn >= 1.9
        assert result["logged_epochs"] == result["n_iter"]
        assert result["last_epoch_score"] == result["score"]
    assert any(m.startswith("Training interrupted by user") for m in result["warnings"])
