"""Learning-rate schedules in closed form, alone and inside a real fit.

The unit tests evaluate each schedule of :mod:`skmlp._schedules` against its
formula written out here. The end-to-end tests spy on the training loop
(``skmlp._training.run_epoch``) and record the step size the optimizer state
holds at the start of every epoch, so they check what training actually used.
"""

import math
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

import skmlp._training
from skmlp import BackpropClassifier, BackpropRegressor
from skmlp._schedules import (
    EPOCH_SCHEDULES,
    SKLEARN_SCHEDULES,
    Adaptive,
    Constant,
    Cosine,
    Exponential,
    InvScaling,
    Step,
    make_schedule,
    warmup_factor,
)

LR0 = 0.1


# --------------------------------------------------------------- closed forms
@pytest.mark.parametrize("decay", [0.95, 0.92, 0.5])
def test_exponential_closed_form(decay):
    sched = Exponential(LR0, decay)
    got = [sched.epoch_start(123.0, e) for e in range(10)]
    assert_allclose(got, [LR0 * decay**e for e in range(10)], rtol=1e-15)
    assert got[0] == LR0  # epoch 0 runs at learning_rate_init
    # the current rate passed in is irrelevant: closed form, no compounding error
    assert_allclose(sched.epoch_start(got[8], 9), LR0 * decay**9, rtol=1e-15)
    assert sched.epoch_end(0.3, 1000) == 0.3


@pytest.mark.parametrize(
    ("decay", "step_size"), [(0.5, 3), (0.1, 1), (0.9, 10), (0.95, 4)]
)
def test_step_closed_form(decay, step_size):
    sched = Step(LR0, decay, step_size)
    got = [sched.epoch_start(0.0, e) for e in range(25)]
    expected = [LR0 * decay ** (e // step_size) for e in range(25)]
    assert_allclose(got, expected, rtol=1e-15)
    # piecewise constant with drops exactly at multiples of step_size
    drops = [e for e in range(1, 25) if got[e] != got[e - 1]]
    assert drops == list(range(step_size, 25, step_size))


def cosine(e, T, lr0=LR0, lr_min=0.0):
    """SGDR-style cosine: one cycle per T epochs, then a restart at lr0."""
    return lr_min + 0.5 * (lr0 - lr_min) * (1 + math.cos(math.pi * (e % T) / T))


@pytest.mark.parametrize("lr_min", [0.0, 0.01])
@pytest.mark.parametrize("n_epochs", [1, 4, 10, 200])
def test_cosine_closed_form_endpoints_and_midpoint(lr_min, n_epochs):
    sched = Cosine(LR0, lr_min, n_epochs)
    T = n_epochs
    assert_allclose(sched.epoch_start(0.0, 0), LR0, rtol=1e-15)
    # the last epoch of a cycle is one step short of lr_min (the limit e -> T):
    # (1 + cos(pi (T - 1) / T)) / 2 = sin^2(pi / (2 T)) ...
    assert_allclose(
        sched.epoch_start(0.0, T - 1),
        lr_min + (LR0 - lr_min) * math.sin(math.pi / (2 * T)) ** 2,
        rtol=1e-13,
    )
    if T == 200:  # ... which a long cycle nearly reaches
        assert_allclose(sched.epoch_start(0.0, T - 1), lr_min, atol=1e-5)
    # ... and at e = T the cycle restarts (a warm-started fit gets a fresh cycle)
    assert_allclose(sched.epoch_start(0.0, T), LR0, rtol=1e-15)
    assert_allclose(sched.epoch_start(0.0, 3 * T), LR0, rtol=1e-15)
    if T % 2 == 0:
        mid = (LR0 + lr_min) / 2
        assert_allclose(sched.epoch_start(0.0, T // 2), mid, rtol=1e-14)
        assert_allclose(sched.epoch_start(0.0, T + T // 2), mid, rtol=1e-14)
    got = [sched.epoch_start(0.0, e) for e in range(2 * T + 1)]
    expected = [cosine(e, T, lr_min=lr_min) for e in range(2 * T + 1)]
    assert_allclose(got, expected, rtol=1e-14, atol=1e-17)
    assert all(np.diff(got[:T]) <= 0)  # monotone decreasing within a cycle
    assert min(got) >= lr_min


def test_cosine_with_zero_epochs_does_not_divide_by_zero():
    sched = Cosine(LR0, 0.0, 0)
    assert math.isfinite(sched.epoch_start(0.0, 0))


@pytest.mark.parametrize("warmup_epochs", [1, 3, 5])
def test_warmup_factor(warmup_epochs):
    W = warmup_epochs
    got = [warmup_factor(e, W) for e in range(W + 5)]
    expected = [(e + 1) / W if e < W else 1.0 for e in range(W + 5)]
    assert_allclose(got, expected, rtol=1e-15)
    assert got[W - 1] == 1.0  # the last warm-up epoch is already at full rate
    assert all(0 < f <= 1 for f in got)


def test_no_warmup_is_factor_one():
    assert [warmup_factor(e, 0) for e in range(4)] == [1.0] * 4


@pytest.mark.parametrize("power_t", [0.5, 0.25, 1.0])
def test_invscaling_matches_sklearn_sgd_optimizer(power_t):
    """``eta = eta_0 / (t + 1) ** power_t`` at the end of each epoch, t = samples."""
    sched = InvScaling(LR0, power_t)
    sk = SGDOptimizer([np.zeros(2)], LR0, lr_schedule="invscaling", power_t=power_t)
    lr = LR0
    for t in (0, 1, 30, 60, 90, 1000):
        lr = sched.epoch_end(lr, t)
        sk.iteration_ends(t)
        assert_allclose(lr, LR0 / (t + 1) ** power_t, rtol=1e-15)
        assert lr == sk.learning_rate
    # invscaling changes nothing at the start of an epoch
    assert sched.epoch_start(0.123, 5) == 0.123


def test_adaptive_matches_sklearn_trigger_stopping():
    """Divide by 5 at each plateau; stop once the rate is <= 1e-6."""
    sched = Adaptive()
    sk = SGDOptimizer([np.zeros(2)], 1e-3, lr_schedule="adaptive")
    lr, ours_stops, sk_stops, rates = 1e-3, [], [], []
    for _ in range(8):
        lr, stop = sched.plateau(lr)
        ours_stops.append(stop)
        sk_stops.append(sk.trigger_stopping("", False))
        rates.append(lr)
        assert lr == sk.learning_rate
    assert ours_stops == sk_stops
    assert ours_stops.index(True) == 5  # 1e-3 / 5**5 = 3.2e-7 <= 1e-6
    assert_allclose(rates[:5], [1e-3 / 5**k for k in range(1, 6)], rtol=1e-15)
    assert sched.epoch_start(0.3, 4) == 0.3 and sched.epoch_end(0.3, 10) == 0.3


def test_constant_stops_at_plateau_and_never_changes_the_rate():
    sched = Constant()
    assert sched.epoch_start(0.3, 17) == 0.3
    assert sched.epoch_end(0.3, 1000) == 0.3
    assert sched.plateau(0.3) == (0.3, True)
    sk = SGDOptimizer([np.zeros(2)], 0.3, lr_schedule="constant")
    assert sk.trigger_stopping("", False) is True


@pytest.mark.parametrize("name", [*SKLEARN_SCHEDULES, *EPOCH_SCHEDULES])
def test_make_schedule_registry(name):
    expected = {
        "constant": Constant,
        "invscaling": InvScaling,
        "adaptive": Adaptive,
        "exponential": Exponential,
        "step": Step,
        "cosine": Cosine,
    }[name]
    sched = make_schedule(
        {
            "learning_rate": name,
            "solver": "sgd",
            "learning_rate_init": LR0,
            "power_t": 0.3,
            "lr_decay": 0.7,
            "lr_step_size": 4,
            "lr_min": 0.01,
            "max_iter": 20,
        }
    )
    assert type(sched) is expected
    if name == "exponential":
        assert_allclose(sched.epoch_start(0, 3), LR0 * 0.7**3)
    if name == "step":
        assert_allclose(sched.epoch_start(0, 9), LR0 * 0.7**2)
    if name == "cosine":
        assert_allclose(sched.epoch_start(0, 10), (LR0 + 0.01) / 2)
        assert_allclose(sched.epoch_start(0, 19), cosine(19, 20, lr_min=0.01))
        assert_allclose(sched.epoch_start(0, 20), LR0)  # restart
    if name == "invscaling":
        assert_allclose(sched.epoch_end(0, 99), LR0 / 100**0.3)


def test_registries_cover_the_documented_schedules():
    assert set(SKLEARN_SCHEDULES) == {"constant", "invscaling", "adaptive"}
    assert set(EPOCH_SCHEDULES) == {"exponential", "step", "cosine"}


# ------------------------------------------------------------------ end to end
@pytest.fixture
def step_sizes(monkeypatch):
    """Record (learning_rate, lr_scale, step_size) at the start of every epoch."""
    record = []
    original = skmlp._training.run_epoch

    def spy(objective, optimizer, state, X, Y, sw, cfg, *buffers):
        opt_state = state.optimizer_state
        record.append(
            (opt_state.learning_rate, opt_state.lr_scale, opt_state.step_size)
        )
        return original(objective, optimizer, state, X, Y, sw, cfg, *buffers)

    monkeypatch.setattr(skmlp._training, "run_epoch", spy)
    return record


def data(n=40, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 3)
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    return X, y


def fit_quietly(est, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **kwargs)


def used(record):
    return np.array([r[2] for r in record])


ALL_STOCHASTIC = ["sgd", "adam", "nag", "rmsprop", "adagrad", "adamw"]


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("decay", [0.95, 0.92, 0.5])
def test_fit_uses_exponential_decay(step_sizes, solver, decay):
    X, y = data()
    est = BackpropClassifier(
        hidden_layer_sizes=(4,),
        solver=solver,
        learning_rate="exponential",
        learning_rate_init=0.05,
        lr_decay=decay,
        max_iter=10,
        batch_size=20,
        random_state=0,
    )
    fit_quietly(est, X, y)
    assert est.n_iter_ == 10 and len(step_sizes) == 10
    assert_allclose(used(step_sizes), 0.05 * decay ** np.arange(10), rtol=1e-14)


@pytest.mark.parametrize("solver", ALL_STOCHASTIC)
@pytest.mark.parametrize(
    ("schedule", "formula"),
    [
        ("exponential", lambda e: 0.05 * 0.8**e),
        ("step", lambda e: 0.05 * 0.8 ** (e // 3)),
        ("cosine", lambda e: cosine(e, 8, lr0=0.05, lr_min=0.001)),
    ],
)
def test_closed_form_schedules_drive_every_stochastic_solver(
    step_sizes, solver, schedule, formula
):
    X, y = data()
    est = BackpropRegressor(
        hidden_layer_sizes=(4,),
        solver=solver,
        learning_rate=schedule,
        learning_rate_init=0.05,
        lr_decay=0.8,
        lr_step_size=3,
        lr_min=0.001,
        max_iter=8,
        batch_size=20,
        random_state=0,
    )
    fit_quietly(est, X, y.astype(float))
    assert est.n_iter_ == 8
    assert_allclose(used(step_sizes), [formula(e) for e in range(8)], rtol=1e-14)


@pytest.mark.parametrize("solver", ["sgd", "adam", "nag"])
@pytest.mark.parametrize("schedule", ["constant", "exponential"])
def test_warmup_scales_the_rate_linearly(step_sizes, solver, schedule):
    X, y = data()
    W, decay = 4, 0.9
    est = BackpropClassifier(
        hidden_layer_sizes=(4,),
        solver=solver,
        learning_rate=schedule,
        learning_rate_init=0.02,
        lr_decay=decay,
        warmup_epochs=W,
        max_iter=9,
        batch_size=20,
        random_state=0,
    )
    fit_quietly(est, X, y)
    e = np.arange(9)
    base = 0.02 * decay**e if schedule == "exponential" else np.full(9, 0.02)
    factor = np.minimum((e + 1) / W, 1.0)
    assert_allclose([r[1] for r in step_sizes], factor, rtol=1e-15)
    assert_allclose([r[0] for r in step_sizes], base, rtol=1e-14)
    assert_allclose(used(step_sizes), base * factor, rtol=1e-14)


def test_warmup_really_changes_the_updates():
    """The factor reaches the optimizer: a warm-up fit differs from a plain one."""
    X, y = data()
    params = dict(hidden_layer_sizes=(4,), max_iter=3, batch_size=20, random_state=0)
    a = fit_quietly(BackpropClassifier(**params), X, y)
    b = fit_quietly(BackpropClassifier(warmup_epochs=3, **params), X, y)
    c = fit_quietly(BackpropClassifier(warmup_epochs=1, **params), X, y)
    assert not np.allclose(a.coefs_[0], b.coefs_[0])
    # one warm-up epoch has factor (0 + 1) / 1 = 1: no change at all
    np.testing.assert_array_equal(a.coefs_[0], c.coefs_[0])


@pytest.mark.parametrize("solver", ["adam", "nag", "rmsprop", "adagrad", "adamw"])
@pytest.mark.parametrize("schedule", ["invscaling", "adaptive"])
def test_sklearn_schedules_are_ignored_by_non_sgd_solvers(step_sizes, solver, schedule):
    """As in scikit-learn, 'invscaling'/'adaptive' only drive solver='sgd'."""
    X, y = data()
    est = BackpropClassifier(
        hidden_layer_sizes=(4,),
        solver=solver,
        learning_rate=schedule,
        learning_rate_init=0.01,
        max_iter=8,
        batch_size=10,
        tol=10.0,  # no epoch improves: plateaus would divide an adaptive rate
        n_iter_no_change=1,
        random_state=0,
    )
    fit_quietly(est, X, y)
    assert_allclose(used(step_sizes), 0.01, rtol=0)
    assert est._fit_state.optimizer_state.learning_rate == 0.01
    # and it stopped at the first plateau, like sklearn's constant-rate Adam
    assert est.n_iter_ == 3


def test_adam_invscaling_fit_equals_sklearn():
    """Same weights as MLPClassifier(solver='adam', learning_rate='invscaling')."""
    X, y = data()
    params = dict(
        hidden_layer_sizes=(4,),
        solver="adam",
        learning_rate="invscaling",
        power_t=0.9,
        learning_rate_init=0.01,
        max_iter=6,
        batch_size=10,
        random_state=0,
    )
    ours = fit_quietly(BackpropClassifier(**params), X, y)
    sk = fit_quietly(MLPClassifier(**params), X, y)
    plain = fit_quietly(
        BackpropClassifier(**{**params, "learning_rate": "constant"}), X, y
    )
    for a, b, c in zip(ours.coefs_, sk.coefs_, plain.coefs_, strict=True):
        assert_allclose(a, b, rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(a, c)


def test_sgd_invscaling_uses_samples_seen(step_sizes):
    X, y = data()
    est = BackpropClassifier(
        hidden_layer_sizes=(4,),
        solver="sgd",
        learning_rate="invscaling",
        learning_rate_init=0.5,
        power_t=0.5,
        max_iter=6,
        batch_size=10,
        random_state=0,
    )
    fit_quietly(est, X, y)
    t = 40 * np.arange(6)  # samples seen before each epoch
    expected = np.where(t == 0, 0.5, 0.5 / (t + 1.0) ** 0.5)
    assert_allclose(used(step_sizes), expected, rtol=1e-14)


def test_sgd_adaptive_divides_by_five_at_plateaus_like_sklearn(step_sizes):
    """tol so large that no epoch improves: a plateau every n_iter_no_change + 1."""
    X, y = data()
    params = dict(
        hidden_layer_sizes=(4,),
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=1e-3,
        max_iter=100,
        batch_size=20,
        tol=1e3,
        n_iter_no_change=2,
        random_state=0,
    )
    ours = fit_quietly(BackpropClassifier(**params), X, y)
    sk = fit_quietly(MLPClassifier(**params), X, y)
    # epoch 1 sets best_loss; then a plateau after every 3 non-improving epochs
    expected = [1e-3] * 4
    for k in range(1, 6):
        expected += [1e-3 / 5**k] * 3
    assert_allclose(used(step_sizes), expected, rtol=1e-14)
    assert ours.n_iter_ == sk.n_iter_ == len(expected)
    assert_allclose(
        ours._fit_state.optimizer_state.learning_rate,
        sk._optimizer.learning_rate,
        rtol=1e-15,
    )


@pytest.mark.parametrize("schedule", ["exponential", "step", "cosine"])
def test_closed_form_schedules_count_epochs_across_warm_starts(step_sizes, schedule):
    """Two warm fits of 4 epochs use the rates of epochs 0..7 of one schedule."""
    X, y = data()
    params = dict(
        hidden_layer_sizes=(4,),
        learning_rate=schedule,
        learning_rate_init=0.05,
        lr_decay=0.7,
        lr_step_size=2,
        max_iter=4,
        batch_size=20,
        random_state=0,
    )
    est = BackpropClassifier(warm_start=True, **params)
    fit_quietly(est, X, y)
    fit_quietly(est, X, y)
    sched = make_schedule(
        {
            "learning_rate": schedule,
            "solver": "adam",
            "learning_rate_init": 0.05,
            "lr_decay": 0.7,
            "lr_step_size": 2,
            "lr_min": 0.0,
            "max_iter": 4,
        }
    )
    assert_allclose(
        used(step_sizes), [sched.epoch_start(0, e) for e in range(8)], rtol=1e-14
    )


@pytest.mark.parametrize("schedule", ["exponential", "cosine"])
def test_decayed_rate_changes_the_fit(schedule):
    """The schedule reaches the weights: a decayed fit differs from a constant one."""
    X, y = data()
    params = dict(hidden_layer_sizes=(4,), max_iter=5, batch_size=20, random_state=0)
    a = fit_quietly(BackpropClassifier(**params), X, y)
    b = fit_quietly(
        BackpropClassifier(learning_rate=schedule, lr_decay=0.5, **params), X, y
    )
    assert not np.allclose(a.coefs_[0], b.coefs_[0])


def test_partial_fit_calls_advance_the_closed_form_schedules(step_sizes):
    """Each partial_fit call is one epoch of the schedule."""
    X, y = data()
    est = BackpropClassifier(
        hidden_layer_sizes=(4,),
        learning_rate="exponential",
        learning_rate_init=0.05,
        lr_decay=0.5,
        warmup_epochs=2,
        random_state=0,
    )
    est.partial_fit(X, y, classes=[0, 1])
    for _ in range(3):
        est.partial_fit(X, y)
    factor = np.array([0.5, 1.0, 1.0, 1.0])
    assert_allclose(used(step_sizes), 0.05 * 0.5 ** np.arange(4) * factor, rtol=1e-14)


def test_turning_warmup_off_restores_the_full_rate(step_sizes):
    """warm_start after set_params(warmup_epochs=0): the warm-up factor must go.

    Bug: ``fit_stochastic`` only sets ``lr_scale`` while ``warmup_epochs > 0``,
    so the factor of the last warm-up epoch (here 2/5) stays in the kept
    optimizer state and scales every later step.
    """
    X, y = data()
    est = BackpropClassifier(
        hidden_layer_sizes=(4,),
        learning_rate_init=0.01,
        warmup_epochs=5,
        max_iter=2,
        warm_start=True,
        random_state=0,
    )
    fit_quietly(est, X, y)
    assert_allclose(used(step_sizes), [0.002, 0.004], rtol=1e-14)
    step_sizes.clear()
    fit_quietly(est.set_params(warmup_epochs=0), X, y)
    assert_allclose(used(step_sizes), [0.01, 0.01], rtol=1e-14)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_switching_to_a_constant_rate_uses_learning_rate_init(step_sizes, solver):
    """After set_params(learning_rate="constant") a warm fit uses learning_rate_init.

    Bug: the kept optimizer state still holds the decayed rate of the previous
    'exponential' fit (0.01 * 0.5**3), and ``Constant`` keeps whatever rate it
    is given, so the "constant" rate is 8x smaller than learning_rate_init.
    """
    X, y = data()
    est = BackpropClassifier(
        hidden_layer_sizes=(4,),
        solver=solver,
        learning_rate="exponential",
        lr_decay=0.5,
        learning_rate_init=0.01,
        max_iter=4,
        warm_start=True,
        random_state=0,
    )
    fit_quietly(est, X, y)
    step_sizes.clear()
    fit_quietly(est.set_params(learning_rate="constant"), X, y)
    assert_allclose(used(step_sizes), 0.01, rtol=1e-14)
