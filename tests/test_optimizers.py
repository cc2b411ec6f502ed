"""Each update rule of :mod:`skmlp._optimizers`, alone, on flat vectors.

Every optimizer is driven through the protocol the training loop uses::

    point = opt.lookahead(params, state)    # where the gradient is wanted
    grad_buffer[...] = gradient(point)
    grad_buffer = opt.step(params, grad_buffer, state)  # may hand back another array

and its iterates are compared, over several steps, with scikit-learn's
``SGDOptimizer``/``AdamOptimizer`` or with the update formulas written out
here in NumPy.
"""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

from skmlp import BackpropRegressor
from skmlp._objective import Objective
from skmlp._optimizers import NAG, SGD, Adagrad, Adam, AdamW, OptimizerState, RMSprop

N_PARAMS = 13
N_STEPS = 7


def gradient_sequence(n_steps=N_STEPS, n=N_PARAMS, seed=0):
    """Fixed gradients (some large, some tiny, some zero) for open-loop runs."""
    rng = np.random.RandomState(seed)
    grads = rng.randn(n_steps, n) * rng.choice([1e-3, 1.0, 30.0], size=(n_steps, n))
    grads[2, :3] = 0.0
    return grads


def initial_params(n=N_PARAMS, seed=1):
    return np.random.RandomState(seed).randn(n)


def run(optimizer, params, grads, *, state=None, on_step=None):
    """Apply ``grads`` one by one through the ``step`` protocol; return iterates."""
    params = params.copy()
    state = optimizer.init_state(params) if state is None else state
    buffer = np.empty_like(params)
    iterates = []
    for k, g in enumerate(grads):
        if on_step is not None:
            on_step(k, state)
        buffer[...] = g
        buffer = optimizer.step(params, buffer, state)
        iterates.append(params.copy())
    return iterates, state


def sklearn_iterates(sk_optimizer, params, grads, learning_rates=None):
    """Iterates of a scikit-learn optimizer fed the same gradients (one layer)."""
    params = [params.copy()]
    iterates = []
    for k, g in enumerate(grads):
        if learning_rates is not None:
            sk_optimizer.learning_rate = learning_rates[k]
        sk_optimizer.update_params(params, [g.copy()])
        iterates.append(params[0].copy())
    return iterates


# --------------------------------------------------------------------------- SGD
@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_sgd_matches_sklearn_sgd_optimizer(momentum, nesterov):
    w0, grads = initial_params(), gradient_sequence()
    ours, _ = run(SGD(0.05, momentum, nesterov), w0, grads)
    sk = SGDOptimizer([w0], 0.05, momentum=momentum, nesterov=nesterov)
    for k, (a, b) in enumerate(zip(ours, sklearn_iterates(sk, w0, grads), strict=True)):
        assert_allclose(a, b, rtol=1e-13, atol=1e-15, err_msg=f"step {k + 1}")


@pytest.mark.parametrize("nesterov", [True, False])
def test_sgd_follows_the_current_learning_rate_like_sklearn(nesterov):
    """Schedules set ``state.learning_rate`` between steps (sklearn: .learning_rate)."""
    w0, grads = initial_params(), gradient_sequence()
    rates = [0.1, 0.1, 0.02, 0.02, 0.3, 0.01, 0.05]

    def set_rate(k, state):
        state.learning_rate = rates[k]

    ours, _ = run(SGD(0.1, 0.9, nesterov), w0, grads, on_step=set_rate)
    sk = SGDOptimizer([w0], 0.1, momentum=0.9, nesterov=nesterov)
    expected = sklearn_iterates(sk, w0, grads, learning_rates=rates)
    assert_allclose(np.array(ours), np.array(expected), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("nesterov", [True, False])
def test_sgd_by_hand(nesterov):
    """``v <- mu v - eta g``; ``w <- w + v`` or ``w <- w + mu v - eta g``."""
    w0, grads = initial_params(), gradient_sequence()
    lr, mu = 0.03, 0.8
    ours, state = run(SGD(lr, mu, nesterov), w0, grads)
    w, v = w0.copy(), np.zeros_like(w0)
    for k, g in enumerate(grads):
        v = mu * v - lr * g
        w = w + (mu * v - lr * g if nesterov else v)
        assert_allclose(ours[k], w, rtol=1e-13, atol=1e-15)
    assert_allclose(state.arrays["velocity"], v, rtol=1e-13, atol=1e-15)
    assert state.t == len(grads)


# -------------------------------------------------------------------------- Adam
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.9), (0.0, 0.99), (0.99, 0.0)])
def test_adam_matches_sklearn_adam_optimizer(betas):
    """Params only: skmlp stores its moments scaled by 1/(1-beta)."""
    b1, b2 = betas
    w0, grads = initial_params(), gradient_sequence()
    ours, _ = run(Adam(0.01, b1, b2, 1e-8), w0, grads)
    sk = AdamOptimizer([w0], 0.01, b1, b2, 1e-8)
    for k, (a, b) in enumerate(zip(ours, sklearn_iterates(sk, w0, grads), strict=True)):
        assert_allclose(a, b, rtol=1e-12, atol=1e-15, err_msg=f"step {k + 1}")


def adam_by_hand(w0, grads, lrs, b1, b2, eps, decay=0.0, n_decayed=0):
    """sklearn's Adam (eps outside the bias correction), optionally AdamW's decay.

    ``lrs[k]`` is the step size in effect at step ``k + 1``; the decoupled decay
    ``w[:n] <- w[:n] (1 - lr * decay)`` comes first, then the Adam step.
    """
    w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    out = []
    for k, g in enumerate(grads):
        t, lr = k + 1, lrs[k]
        w[:n_decayed] = w[:n_decayed] * (1 - lr * decay)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        w = w - lr * math.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
        out.append(w.copy())
    return out


def test_adam_by_hand_with_a_changing_step_size():
    """The schedule's rate times the warm-up factor is the step size Adam uses."""
    w0, grads = initial_params(), gradient_sequence()
    rates = [0.01, 0.02, 0.02, 0.005, 0.1, 0.01, 0.03]
    scales = [0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0]

    def set_rate(k, state):
        state.learning_rate, state.lr_scale = rates[k], scales[k]

    ours, _ = run(Adam(0.01, 0.8, 0.95, 1e-7), w0, grads, on_step=set_rate)
    lrs = [r * s for r, s in zip(rates, scales, strict=True)]
    expected = adam_by_hand(w0, grads, lrs, 0.8, 0.95, 1e-7)
    assert_allclose(np.array(ours), np.array(expected), rtol=1e-12, atol=1e-15)


def test_adam_returned_buffer_never_aliases_the_state():
    """Writing the next gradient into the returned buffer must not corrupt m or v.

    After every step the returned buffer is filled with NaN (the loop writes
    the next gradient there): the moments and the weights must be untouched,
    and the iterates must be Adam's by hand (a returned buffer that the next
    step uses as scratch space would change them).
    """
    w0, grads = initial_params(), gradient_sequence()
    opt = Adam(0.01, 0.9, 0.999, 1e-8)
    params = w0.copy()
    state = opt.init_state(params)
    buffer = np.empty_like(params)
    iterates = []
    for g in grads:
        buffer[...] = g
        buffer = opt.step(params, buffer, state)
        kept = {n: a.copy() for n, a in state.arrays.items() if n != "scratch"}
        weights = params.copy()
        buffer.fill(np.nan)
        for name, arr in kept.items():
            assert_array_equal(state.arrays[name], arr, err_msg=name)
        assert_array_equal(params, weights)
        iterates.append(params.copy())
        for name, arr in state.arrays.items():
            if name != "scratch":
                assert not np.shares_memory(buffer, arr), name
        assert not np.shares_memory(buffer, params)
    expected = adam_by_hand(w0, grads, [0.01] * len(grads), 0.9, 0.999, 1e-8)
    assert_allclose(np.array(iterates), np.array(expected), rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------------- AdamW
@pytest.mark.parametrize("weight_decay", [0.0, 0.1, 2.0])
def test_adamw_decays_leading_weights_before_the_adam_step(weight_decay):
    w0, grads = initial_params(), gradient_sequence()
    n_decayed = 8
    rates = [0.01, 0.01, 0.05, 0.05, 0.002, 0.01, 0.01]
    scales = [0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]

    def set_rate(k, state):
        state.learning_rate, state.lr_scale = rates[k], scales[k]

    opt = AdamW(0.01, 0.9, 0.99, 1e-8, weight_decay, n_decayed)
    ours, _ = run(opt, w0, grads, on_step=set_rate)
    lrs = [r * s for r, s in zip(rates, scales, strict=True)]
    expected = adam_by_hand(w0, grads, lrs, 0.9, 0.99, 1e-8, weight_decay, n_decayed)
    assert_allclose(np.array(ours), np.array(expected), rtol=1e-12, atol=1e-15)


def test_adamw_intercepts_are_not_decayed():
    """With zero gradients only the first n_decayed entries move (shrink)."""
    w0 = initial_params()
    opt = AdamW(0.1, 0.9, 0.999, 1e-8, weight_decay=0.5, n_decayed=5)
    ours, _ = run(opt, w0, np.zeros((4, N_PARAMS)))
    assert_allclose(ours[-1][:5], w0[:5] * (1 - 0.1 * 0.5) ** 4, rtol=1e-14)
    assert_array_equal(ours[-1][5:], w0[5:])


def test_adamw_without_decay_is_adam():
    w0, grads = initial_params(), gradient_sequence()
    a, _ = run(AdamW(0.01, 0.9, 0.999, 1e-8, 0.0, N_PARAMS), w0, grads)
    b, _ = run(Adam(0.01, 0.9, 0.999, 1e-8), w0, grads)
    assert_array_equal(np.array(a), np.array(b))


def test_adamw_decay_is_not_l2_in_the_gradient():
    """Decoupled decay differs from adding ``lambda w`` to the gradient."""
    w0, grads = initial_params(), gradient_sequence()
    lam, lr = 0.5, 0.05
    decoupled, _ = run(AdamW(lr, 0.9, 0.999, 1e-8, lam, N_PARAMS), w0, grads)
    # Adam on g + lam w (coupled L2), driven in closed loop
    opt = Adam(lr, 0.9, 0.999, 1e-8)
    w = w0.copy()
    state = opt.init_state(w)
    buf = np.empty_like(w)
    for g in grads:
        buf[...] = g + lam * w
        buf = opt.step(w, buf, state)
    assert not np.allclose(decoupled[-1], w, rtol=1e-3)


# ----------------------------------------------------------------------- RMSprop
@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9, 0.99])
def test_rmsprop_by_hand(rho):
    """``v <- rho v + (1 - rho) g^2``; ``w <- w - eta g / (sqrt(v) + eps)``."""
    w0, grads = initial_params(), gradient_sequence()
    lr, eps = 0.01, 1e-6
    rates = [lr, lr, lr / 2, lr / 2, lr * 3, lr, lr]

    def set_rate(k, state):
        state.learning_rate = rates[k]

    ours, state = run(RMSprop(lr, rho, eps), w0, grads, on_step=set_rate)
    w, v = w0.copy(), np.zeros_like(w0)
    for k, g in enumerate(grads):
        v = rho * v + (1 - rho) * g * g
        w = w - rates[k] * g / (np.sqrt(v) + eps)
        assert_allclose(ours[k], w, rtol=1e-12, atol=1e-15, err_msg=f"step {k + 1}")
    assert_allclose(state.arrays["v"], v, rtol=1e-13)


# ----------------------------------------------------------------------- Adagrad
def test_adagrad_by_hand():
    """``G <- G + g^2``; ``w <- w - eta g / (sqrt(G) + eps)``."""
    w0, grads = initial_params(), gradient_sequence()
    lr, eps = 0.1, 1e-8
    scales = [0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0]

    def set_scale(k, state):
        state.lr_scale = scales[k]

    ours, state = run(Adagrad(lr, eps), w0, grads, on_step=set_scale)
    w, G = w0.copy(), np.zeros_like(w0)
    for k, g in enumerate(grads):
        G = G + g * g
        w = w - lr * scales[k] * g / (np.sqrt(G) + eps)
        assert_allclose(ours[k], w, rtol=1e-12, atol=1e-15, err_msg=f"step {k + 1}")
    assert_allclose(state.arrays["G"], G, rtol=1e-13)


def test_adagrad_first_step_is_sign_descent():
    """With G = g^2 after one step, every entry moves by ~lr (eps aside)."""
    w0, g = initial_params(), gradient_sequence()[:1]
    g[0, g[0] == 0] = 1.0
    ours, _ = run(Adagrad(0.1, 1e-12), w0, g)
    assert_allclose(ours[0] - w0, -0.1 * np.sign(g[0]), rtol=1e-7)


# --------------------------------------------------------------------------- NAG
def quadratic(n=6, seed=3):
    """A positive definite ``A`` (condition number ~50) and a start point."""
    rng = np.random.RandomState(seed)
    Q, _ = np.linalg.qr(rng.randn(n, n))
    A = Q @ np.diag(np.linspace(0.2, 10.0, n)) @ Q.T
    return A, rng.randn(n)


def nag_by_hand(A, x0, lr, n_steps):
    """FISTA-style NAG on ``f(w) = w^T A w / 2``: the (x_k) and (y_k) sequences."""
    xs, ys = [x0.copy()], []
    y, t = x0.copy(), 1.0
    for _ in range(n_steps):
        ys.append(y.copy())
        x = y - lr * (A @ y)  # x_k = y_k - lr grad(y_k)
        t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
        y = x + (t - 1) / t_next * (x - xs[-1])  # y_{k+1}
        xs.append(x)
        t = t_next
    return xs[1:], ys


def heavy_ball_by_hand(A, x0, lr, n_steps):
    """The classic mistake: NAG's momentum coefficients, the gradient at x_{k-1}.

    ``x_k = x_{k-1} + (t_{k-1} - 1) / t_k (x_{k-1} - x_{k-2}) - lr grad(x_{k-1})``.
    """
    xs = [x0.copy(), x0.copy()]  # x_{-1} = x_0: no momentum on the first step
    t = 1.0
    for k in range(n_steps):
        mu = 0.0
        if k:
            t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
            mu, t = (t - 1) / t_next, t_next
        xs.append(xs[-1] + mu * (xs[-1] - xs[-2]) - lr * (A @ xs[-1]))
    return xs[2:]


def run_nag(opt, A, x0, n_steps, gradient_at="lookahead"):
    """Drive ``opt`` through the loop's protocol; return iterates and query points."""
    params = x0.copy()
    state = opt.init_state(params)
    buffer = np.empty_like(params)
    iterates, queried = [], []
    for _ in range(n_steps):
        if gradient_at == "lookahead":
            point = opt.lookahead(params, state)
        else:  # the wrong NAG: the gradient at the current iterate x_k
            point = params
        queried.append(point.copy())
        buffer[...] = A @ point
        buffer = opt.step(params, buffer, state)
        iterates.append(params.copy())
    return iterates, queried


def assert_is_nag(iterates, queried, A, x0, lr):
    xs, ys = nag_by_hand(A, x0, lr, len(iterates))
    for k in range(len(iterates)):
        assert_allclose(queried[k], ys[k], rtol=1e-12, atol=1e-14, err_msg=f"y_{k + 1}")
        assert_allclose(
            iterates[k], xs[k], rtol=1e-12, atol=1e-14, err_msg=f"x_{k + 1}"
        )


@pytest.mark.parametrize("lr", [0.02, 0.09])
def test_nag_iterates_and_lookahead_points_by_hand(lr):
    """Params equal x_1..x_6 and the gradients are requested at y_1..y_6."""
    A, x0 = quadratic()
    iterates, queried = run_nag(NAG(lr), A, x0, 6)
    assert_is_nag(iterates, queried, A, x0, lr)
    # the momentum is really in play: y_k differs from x_{k-1} from k = 3 on
    xs, ys = nag_by_hand(A, x0, lr, 6)
    assert not np.allclose(ys[2], xs[1])
    assert_allclose(queried[2], ys[2], rtol=1e-12)


def test_nag_t_sequence():
    """``t_1 = 1``, ``t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2``.

    Checked three ways on the library's ``NAG.next_t``: ``t_2`` is the golden
    ratio, every step satisfies ``t_{k+1}^2 - t_{k+1} = t_k^2`` (the relation
    that defines the sequence), and the values equal the recursion written out.
    """
    state = NAG(0.1).init_state(np.zeros(3))
    assert state.extras["t"] == 1.0
    got, t = [1.0], 1.0
    for _ in range(6):
        t = NAG.next_t(t)
        got.append(t)
    assert_allclose(got[1], (1 + math.sqrt(5)) / 2, rtol=1e-15)
    for t_k, t_next in zip(got, got[1:], strict=False):
        assert_allclose(t_next * t_next - t_next, t_k * t_k, rtol=1e-14)
    t, expected = 1.0, [1.0]
    for _ in range(6):
        t = (1 + math.sqrt(1 + 4 * t * t)) / 2
        expected.append(t)
    assert_allclose(got, expected, rtol=1e-15)


def test_wrong_nag_with_gradient_at_x_is_detected():
    """Taking the gradient at x_k (heavy ball) gives other iterates: the check fails."""
    A, x0 = quadratic()
    lr = 0.09
    wrong, queried = run_nag(NAG(lr), A, x0, 6, gradient_at="params")
    with pytest.raises(AssertionError):
        assert_is_nag(wrong, queried, A, x0, lr)
    xs, _ = nag_by_hand(A, x0, lr, 6)
    assert np.max(np.abs(wrong[-1] - xs[-1])) > 1e-3
    # the wrong protocol is exactly heavy-ball momentum, which NAG is not
    hb = heavy_ball_by_hand(A, x0, lr, 6)
    assert_allclose(np.array(wrong), np.array(hb), rtol=1e-12, atol=1e-14)
    assert np.max(np.abs(hb[-1] - xs[-1])) > 1e-3


def test_nag_honours_the_step_size():
    """``x_k = y_k - step_size g``: the schedule's rate times warm-up factor."""
    A, x0 = quadratic()
    opt = NAG(0.05)
    params = x0.copy()
    state = opt.init_state(params)
    state.learning_rate, state.lr_scale = 0.08, 0.5
    buffer = np.empty_like(params)
    buffer[...] = A @ opt.lookahead(params, state)
    opt.step(params, buffer, state)
    assert_allclose(params, x0 - 0.04 * (A @ x0), rtol=1e-14)


@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_nag_momentum_sequence_continues_across_calls(how):
    """``t_k`` and the previous iterate carry over between fits.

    Two warm_start fits of 3 epochs, or 6 partial_fit calls, give exactly the
    weights and loss curve of one 6-epoch fit: the momentum coefficient of the
    first step of a later call is ``(t_k - 1) / t_{k+1}`` of the steps already
    taken, not 0 as a restarted sequence would have it.
    """
    rng = np.random.RandomState(0)
    X = rng.randn(30, 3)
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.randn(30)
    params = dict(
        hidden_layer_sizes=(5,),
        solver="nag",
        learning_rate_init=0.05,
        batch_size=10,
        tol=0.0,
        n_iter_no_change=1000,
        random_state=0,
    )
    with pytest.warns(Warning, match="Maximum iterations"):
        one = BackpropRegressor(max_iter=6, **params).fit(X, y)
    if how == "warm_start":
        est = BackpropRegressor(max_iter=3, warm_start=True, **params)
        for _ in range(2):
            with pytest.warns(Warning, match="Maximum iterations"):
                est.fit(X, y)
    else:
        est = BackpropRegressor(**params)
        for _ in range(6):
            est.partial_fit(X, y)
    assert est.loss_curve_ == one.loss_curve_
    ours, reference = est.coefs_ + est.intercepts_, one.coefs_ + one.intercepts_
    for a, b in zip(ours, reference, strict=True):
        assert_array_equal(a, b)


# --------------------------------------------------------------------- protocol
OPTIMIZERS = {
    "sgd": lambda: SGD(0.01, 0.9, True),
    "sgd_classical": lambda: SGD(0.01, 0.9, False),
    "adam": lambda: Adam(0.01, 0.9, 0.999, 1e-8),
    "adamw": lambda: AdamW(0.01, 0.9, 0.999, 1e-8, 0.1, 5),
    "rmsprop": lambda: RMSprop(0.01, 0.9, 1e-8),
    "adagrad": lambda: Adagrad(0.01, 1e-8),
    "nag": lambda: NAG(0.01),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_step_protocol(name):
    """In place, one count per step, a fresh state per run, a safe next buffer."""
    opt = OPTIMIZERS[name]()
    params = initial_params()
    original = params.copy()
    state = opt.init_state(params)
    assert isinstance(state, OptimizerState)
    assert state.t == 0 and state.step_size == 0.01
    state.lr_scale = 0.5
    assert state.step_size == 0.005
    copy = state.copy()
    buffer = np.empty_like(params)
    for k, g in enumerate(gradient_sequence()):
        point = opt.lookahead(params, state)
        assert point.shape == params.shape
        buffer[...] = g
        buffer = opt.step(params, buffer, state)
        assert state.t == k + 1
        assert buffer.shape == params.shape and buffer.dtype == params.dtype
        assert not np.shares_memory(buffer, params)
        for arr in state.arrays.values():
            if arr is not state.arrays.get("scratch"):
                assert not np.shares_memory(buffer, arr)
    assert not np.array_equal(params, original)
    assert copy.t == 0  # the copy is independent
    assert all(
        not np.shares_memory(a, b)
        for a, b in zip(copy.arrays.values(), state.arrays.values(), strict=True)
    )


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_float32_stays_float32_and_close_to_float64(name):
    w0, grads = initial_params(), gradient_sequence() * 0.1
    ours64, _ = run(OPTIMIZERS[name](), w0, grads)
    opt = OPTIMIZERS[name]()
    ours32, _ = run(opt, w0.astype(np.float32), grads.astype(np.float32))
    assert ours32[-1].dtype == np.float32
    assert_allclose(ours32[-1], ours64[-1], rtol=1e-4, atol=1e-5)


def test_training_loop_requests_nag_gradients_at_the_lookahead(monkeypatch):
    """In a real fit, every gradient is taken at y_k and the weights are x_k."""
    calls = []
    original = Objective.__call__

    def spy(self, params, X, Y, sw, grad, **kwargs):
        out = original(self, params, X, Y, sw, grad, **kwargs)
        calls.append((params.copy(), grad.copy()))
        return out

    monkeypatch.setattr(Objective, "__call__", spy)
    rng = np.random.RandomState(0)
    X = rng.randn(30, 3)
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.randn(30)
    lr, n_epochs = 0.05, 6
    est = BackpropRegressor(
        hidden_layer_sizes=(5,),
        solver="nag",
        learning_rate_init=lr,
        batch_size=30,
        max_iter=n_epochs,
        random_state=0,
    )
    with pytest.warns(Warning, match="Maximum iterations"):
        est.fit(X, y)
    assert len(calls) == n_epochs
    # hand recursion from the recorded gradients: x_k = y_k - lr g(y_k)
    x_prev, y_k, t = calls[0][0], calls[0][0], 1.0
    for k, (point, g) in enumerate(calls):
        assert_allclose(point, y_k, rtol=1e-12, atol=1e-14, err_msg=f"y_{k + 1}")
        x_k = y_k - lr * g
        t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
        y_k = x_k + (t - 1) / t_next * (x_k - x_prev)
        x_prev, t = x_k, t_next
    final = np.concatenate([a.ravel() for a in est.coefs_ + est.intercepts_])
    assert_allclose(final, x_prev, rtol=1e-12, atol=1e-14)
    # the momentum mattered: some y_k differs from the weights x_{k-1}
    assert not np.allclose(calls[3][0], calls[2][0] - lr * calls[2][1])


# ------------------------------------------------------- through the estimator
#: Non-default settings, so that each reaches its update rule or the test fails.
SOLVER_SETTINGS = {
    "sgd": {"momentum": 0.6, "nesterovs_momentum": False},
    "sgd-nesterov": {"momentum": 0.6, "nesterovs_momentum": True},
    "adam": {"beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-4},
    "adamw": {"beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-4, "weight_decay": 0.5},
    "rmsprop": {"rho": 0.7, "epsilon": 1e-4},
    "adagrad": {"epsilon": 1e-4},
    "nag": {},
}


class LinearMLP:
    """A one-hidden-layer MLP with identity activation, its gradient by hand.

    Parameters are one flat vector laid out as ``W1, W2, b1, b2`` (weights
    first, as L2 and AdamW's decay apply to them only). The objective is the
    regressor's: ``sum((out - y)^2) / (2 n) + alpha ||W||^2 / (2 n)``.
    """

    def __init__(self, X, y, n_hidden, alpha):
        self.X, self.y, self.alpha = X, y.reshape(-1, 1), alpha
        n_in = X.shape[1]
        self.shapes = [(n_in, n_hidden), (n_hidden, 1), (n_hidden,), (1,)]
        sizes = [math.prod(s) for s in self.shapes]
        self.bounds = np.cumsum([0, *sizes])
        self.n_coef = sizes[0] + sizes[1]

    def flatten(self, coefs, intercepts):
        return np.concatenate([a.ravel() for a in [*coefs, *intercepts]])

    def unflatten(self, p):
        return [
            p[a:b].reshape(s)
            for a, b, s in zip(self.bounds, self.bounds[1:], self.shapes, strict=False)
        ]

    def gradient(self, p):
        W1, W2, b1, b2 = self.unflatten(p)
        n = self.X.shape[0]
        H = self.X @ W1 + b1
        r = (H @ W2 + b2 - self.y) / n
        gH = r @ W2.T
        return np.concatenate(
            [
                (self.X.T @ gH + self.alpha / n * W1).ravel(),
                (H.T @ r + self.alpha / n * W2).ravel(),
                gH.sum(axis=0),
                r.sum(axis=0),
            ]
        )


def steps_by_hand(name, mlp, p0, lr, n_steps, s):
    """Iterates of full-batch steps of solver ``name`` with settings ``s``."""
    p, iterates = p0.copy(), []
    a, b = np.zeros_like(p), np.zeros_like(p)  # first/second moment or velocity
    x_prev, t_nag = p0.copy(), 1.0
    for t in range(1, n_steps + 1):
        if name == "nag":
            mu = 0.0
            if t > 1:
                t_next = (1 + math.sqrt(1 + 4 * t_nag * t_nag)) / 2
                mu, t_nag = (t_nag - 1) / t_next, t_next
            y = p + mu * (p - x_prev)
            x_prev, p = p, y - lr * mlp.gradient(y)
            iterates.append(p.copy())
            continue
        g = mlp.gradient(p)
        if name.startswith("sgd"):
            a = s["momentum"] * a - lr * g
            p = p + (s["momentum"] * a - lr * g if s["nesterovs_momentum"] else a)
        elif name in ("adam", "adamw"):
            if name == "adamw":
                p[: mlp.n_coef] *= 1 - lr * s["weight_decay"]
            b1, b2 = s["beta_1"], s["beta_2"]
            a = b1 * a + (1 - b1) * g
            b = b2 * b + (1 - b2) * g * g
            lr_t = lr * math.sqrt(1 - b2**t) / (1 - b1**t)  # bias correction
            p = p - lr_t * a / (np.sqrt(b) + s["epsilon"])
        elif name == "rmsprop":
            b = s["rho"] * b + (1 - s["rho"]) * g * g
            p = p - lr * g / (np.sqrt(b) + s["epsilon"])
        elif name == "adagrad":
            b = b + g * g
            p = p - lr * g / (np.sqrt(b) + s["epsilon"])
        iterates.append(p.copy())
    return iterates


@pytest.mark.parametrize("alpha", [0.0, 0.3])
@pytest.mark.parametrize("name", list(SOLVER_SETTINGS))
def test_first_full_batch_steps_of_every_solver_by_hand(name, alpha):
    """Each ``partial_fit`` over one full batch is one step of the update rule.

    Through the public estimator, for every stochastic solver: the weights
    after each of 4 steps equal the update formulas written out above (Adam's
    with its bias correction, AdamW's decay of the weights but not the
    intercepts, NAG's gradient at the look-ahead point) on an identity-
    activation network whose gradient is computed by hand. The initial weights
    are those of the same ``random_state`` after a step of 1e-300.
    """
    rng = np.random.RandomState(0)
    X = rng.randn(12, 3)
    y = X @ [1.0, -2.0, 0.5] + 0.3 * rng.randn(12)
    common = dict(
        hidden_layer_sizes=(4,),
        activation="identity",
        alpha=alpha,
        batch_size=12,
        random_state=0,
    )
    mlp = LinearMLP(X, y, 4, alpha)
    start = BackpropRegressor(
        solver="sgd", learning_rate_init=1e-300, momentum=0.0, **common
    ).partial_fit(X, y)
    p0 = mlp.flatten(start.coefs_, start.intercepts_)
    lr, settings = 0.05, SOLVER_SETTINGS[name]
    est = BackpropRegressor(
        solver=name.split("-")[0], learning_rate_init=lr, **settings, **common
    )
    expected = steps_by_hand(name, mlp, p0, lr, 4, settings)
    for k in range(4):
        est.partial_fit(X, y)
        got = mlp.flatten(est.coefs_, est.intercepts_)
        assert_allclose(got, expected[k], rtol=1e-10, atol=1e-13, err_msg=f"step {k}")
    assert not np.allclose(expected[-1], p0)
