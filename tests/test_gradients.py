"""Backprop gradients against finite differences, objectives against references.

Every hidden activation in ``ACTIVATIONS`` is crossed with every output case
(binary, multiclass, multilabel and every regression loss with one and three
outputs), with and without sample weights and with and without an L2 penalty.

Finite differences use the fourth-order central stencil
``(8 (f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))) / 12h`` with ``h = 1e-3``: its
truncation error (``~h^4``) and round-off (``~eps/h``) are both ~1e-12, so the
element-wise relative error stays below 1e-6 even for small gradient entries,
which the plain two-point stencil at ``h = 1e-6`` (round-off ~1e-10 absolute)
cannot guarantee. Parameters are re-drawn until no hidden pre-activation lies
near a kink, and every stencil point is checked to stay on the same side of 0.
"""

import zlib

import numpy as np
import pytest
import scipy.sparse as sp

from skmlp._activations import ACTIVATIONS
from skmlp._losses import (
    REGRESSION_LOSSES,
    Poisson,
    SigmoidLogLoss,
    SoftmaxLogLoss,
    SquaredError,
)
from skmlp._network import Layout, Network

N_SAMPLES = 12
N_FEATURES = 5
HIDDEN = (4, 3)
PARAM_STD = 0.5
FD_STEP = 1e-3
FD_OFFSETS = (-2, -1, 1, 2)
KINK_MARGIN = 0.02  # > the largest pre-activation shift any stencil point causes
MAX_REL_ERR = 1e-6
RTOL, ATOL = 1e-6, 1e-9
EPS64 = np.finfo(np.float64).eps


# --------------------------------------------------------------------------
# targets and independent reference implementations


def _indicator_targets(rng, n, k):
    return rng.integers(0, 2, (n, k)).astype(np.float64)


def _one_hot_targets(rng, n, k):
    return np.eye(k)[rng.integers(0, k, n)]


def _real_targets(rng, n, k):
    return rng.normal(size=(n, k))


def _count_targets(rng, n, k):
    """Non-negative targets with zeros (valid for Poisson-like losses)."""
    return rng.poisson(1.5, (n, k)).astype(np.float64)


_REGRESSION_TARGETS = {"squared_error": _real_targets, "poisson": _count_targets}

OUTPUT_CASES = {
    "binary": (SigmoidLogLoss, 1, _indicator_targets),
    "multiclass": (SoftmaxLogLoss, 4, _one_hot_targets),
    "multilabel": (SigmoidLogLoss, 3, _indicator_targets),
}
for _name, _cls in REGRESSION_LOSSES.items():
    for _k in (1, 3):
        OUTPUT_CASES[f"{_name}-{_k}out"] = (
            _cls,
            _k,
            _REGRESSION_TARGETS.get(_name, _count_targets),
        )

ACTIVATION_NAMES = sorted(ACTIVATIONS)
CASE_NAMES = list(OUTPUT_CASES)


def _ref_squared_error(z, y):
    return 0.5 * ((z - y) ** 2).sum(axis=1)


def _ref_poisson(z, y):
    mu = np.exp(z)
    y_log_y_mu = np.zeros_like(y)
    pos = y > 0
    y_log_y_mu[pos] = y[pos] * np.log(y[pos] / mu[pos])
    return (y_log_y_mu - y + mu).sum(axis=1)


def _ref_softmax_log_loss(z, y):
    e = np.exp(z)
    p = np.clip(e / e.sum(axis=1, keepdims=True), EPS64, 1 - EPS64)
    return -(y * np.log(p)).sum(axis=1)


def _ref_sigmoid_log_loss(z, y):
    p = np.clip(1 / (1 + np.exp(-z)), EPS64, 1 - EPS64)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum(axis=1)


REFERENCE_LOSSES = {
    SquaredError: _ref_squared_error,
    Poisson: _ref_poisson,
    SoftmaxLogLoss: _ref_softmax_log_loss,
    SigmoidLogLoss: _ref_sigmoid_log_loss,
}

REFERENCE_ACTIVATIONS = {
    "identity": lambda z: z,
    "logistic": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0),
}


def _reference_loss(loss):
    try:
        return REFERENCE_LOSSES[type(loss)]
    except KeyError:
        pytest.fail(f"add a reference implementation for {type(loss).__name__}")


def _reference_activation(name):
    """Plain formula; a newly registered activation falls back to its own forward."""
    if name in REFERENCE_ACTIVATIONS:
        return REFERENCE_ACTIVATIONS[name]
    return lambda z: ACTIVATIONS[name].forward(np.array(z, dtype=np.float64))


def _ref_unpack(flat, units):
    """Split ``flat`` as documented: all weights in layer order, then intercepts."""
    shapes = list(zip(units[:-1], units[1:], strict=True))
    coefs, intercepts, pos = [], [], 0
    for fan_in, fan_out in shapes:
        coefs.append(flat[pos : pos + fan_in * fan_out].reshape(fan_in, fan_out))
        pos += fan_in * fan_out
    for _, fan_out in shapes:
        intercepts.append(flat[pos : pos + fan_out])
        pos += fan_out
    assert pos == flat.size
    return coefs, intercepts


def _ref_forward(params, X, units, activation):
    """Return the hidden pre-activations and the raw output."""
    f = _reference_activation(activation)
    coefs, intercepts = _ref_unpack(params, units)
    a, pre = np.asarray(X, dtype=np.float64), []
    for W, b in zip(coefs[:-1], intercepts[:-1], strict=True):
        z = a @ W + b
        pre.append(z)
        a = f(z)
    return pre, a @ coefs[-1] + intercepts[-1]


# --------------------------------------------------------------------------
# problems and the finite-difference checker


class Problem:
    """A network, its data and parameters, with objective helpers."""

    def __init__(self, activation, case, weighted, alpha, n=N_SAMPLES, seed=0):
        loss_cls, n_out, targets = OUTPUT_CASES[case]
        rng = np.random.default_rng(
            zlib.crc32(f"{activation}|{case}|{weighted}|{seed}".encode())
        )
        self.activation, self.alpha = activation, alpha
        self.units = [N_FEATURES, *HIDDEN, n_out]
        self.layout = Layout(self.units)
        self.network = Network(self.layout, ACTIVATIONS[activation], loss_cls())
        self.X = rng.normal(size=(n, N_FEATURES))
        self.Y = targets(rng, n, n_out)
        self.sw = None
        if weighted:
            self.sw = rng.uniform(0.2, 3.0, n)
            self.sw[[1, n // 2]] = 0.0
        for _ in range(1000):
            self.params = rng.normal(scale=PARAM_STD, size=self.layout.n_params)
            pre = self.preactivations(self.params)
            clear = all(np.abs(z).min() > KINK_MARGIN for z in pre)
            alive = all((z > 0).any(axis=0).all() for z in pre)
            if clear and alive:
                break
        else:  # pragma: no cover
            raise RuntimeError("could not draw parameters away from kinks")

    def preactivations(self, params):
        return _ref_forward(params, self.X, self.units, self.activation)[0]

    def value_and_grad(self, params=None, X=None, Y=None, sw="same", alpha=None):
        params = self.params if params is None else params
        sw = self.sw if isinstance(sw, str) else sw
        grad = np.full_like(params, np.nan)
        value = self.network.loss_and_grad(
            params,
            self.X if X is None else X,
            self.Y if Y is None else Y,
            sw,
            self.alpha if alpha is None else alpha,
            grad,
        )
        return value, grad

    def objective(self, params):
        return self.value_and_grad(params)[0]

    def reference_objective(self, params):
        coefs, _ = _ref_unpack(params, self.units)
        _, z = _ref_forward(params, self.X, self.units, self.activation)
        per_sample = _reference_loss(self.network.loss)(z, self.Y)
        s = np.ones(len(self.X)) if self.sw is None else self.sw
        penalty = 0.5 * self.alpha * sum(float((W**2).sum()) for W in coefs)
        return (float(s @ per_sample) + penalty) / s.sum()


def numerical_gradient(f, params, h=FD_STEP, pattern=None):
    """Fourth-order central differences of ``f`` at ``params``.

    ``pattern(params)`` (optional) returns arrays whose signs must be the same
    at the outermost stencil points as at ``params``: no kink may be crossed.
    """
    base = None if pattern is None else [np.signbit(a) for a in pattern(params)]
    num = np.empty_like(params)
    for j in range(params.size):
        vals = {}
        for m in FD_OFFSETS:
            q = params.copy()
            q[j] += m * h
            if base is not None and abs(m) == 2:
                signs = [np.signbit(a) for a in pattern(q)]
                assert all(map(np.array_equal, base, signs)), "stencil crossed a kink"
            vals[m] = f(q)
        num[j] = (8 * (vals[1] - vals[-1]) - (vals[2] - vals[-2])) / (12 * h)
    return num


def relative_error(grad, num):
    """Element-wise ``|g - g_num| / max(|g| + |g_num|, 1e-8)``."""
    return np.abs(grad - num) / np.maximum(np.abs(grad) + np.abs(num), 1e-8)


def assert_gradient_close(grad, num):
    """Fail unless ``grad`` matches the numerical gradient ``num``."""
    assert np.all(np.isfinite(grad)), "non-finite analytic gradient"
    rel = relative_error(grad, num)
    worst = int(np.argmax(rel))
    assert rel[worst] < MAX_REL_ERR, (
        f"max relative error {rel[worst]:.3e} at parameter {worst}: "
        f"analytic {grad[worst]!r}, numerical {num[worst]!r}"
    )
    assert np.allclose(grad, num, rtol=RTOL, atol=ATOL)
    return float(rel.max())


def check_problem(problem):
    """Compare the analytic gradient of ``problem`` with finite differences."""
    _, grad = problem.value_and_grad()
    num = numerical_gradient(
        problem.objective, problem.params, pattern=problem.preactivations
    )
    return assert_gradient_close(grad, num)


# --------------------------------------------------------------------------
# the matrix


@pytest.mark.parametrize("alpha", [0.0, 0.3], ids=["alpha0", "alpha0.3"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", CASE_NAMES)
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_gradient_matches_finite_differences(activation, case, weighted, alpha):
    """Every parameter's gradient matches fourth-order central differences."""
    problem = Problem(activation, case, weighted, alpha)
    inputs = [a.copy() for a in (problem.params, problem.X, problem.Y)]
    check_problem(problem)
    arrays = (problem.params, problem.X, problem.Y)
    for before, after in zip(inputs, arrays, strict=True):
        np.testing.assert_array_equal(before, after)  # inputs are not modified


@pytest.mark.parametrize("alpha", [0.0, 0.3], ids=["alpha0", "alpha0.3"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", CASE_NAMES)
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_objective_matches_reference(activation, case, weighted, alpha):
    """Objective and raw output equal plain-NumPy re-implementations."""
    problem = Problem(activation, case, weighted, alpha)
    value, _ = problem.value_and_grad()
    assert isinstance(value, float)
    np.testing.assert_allclose(
        value, problem.reference_objective(problem.params), rtol=1e-12, atol=0
    )
    _, z = _ref_forward(problem.params, problem.X, problem.units, activation)
    raw = problem.network.forward(problem.params, problem.X)
    np.testing.assert_allclose(raw, z, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("loss_cls", list(REFERENCE_LOSSES), ids=lambda c: c.__name__)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_loss_gradient_wrt_raw_output(loss_cls, weighted):
    """Each loss's ``dL/dz`` matches finite differences, also written in place."""
    rng = np.random.default_rng(zlib.crc32(f"{loss_cls.__name__}{weighted}".encode()))
    n, k = 7, 3
    z = rng.normal(scale=1.5, size=(n, k))
    targets = {
        SoftmaxLogLoss: _one_hot_targets,
        SigmoidLogLoss: _indicator_targets,
        Poisson: _count_targets,
    }.get(loss_cls, _real_targets)
    y = targets(rng, n, k)
    sw = rng.uniform(0.0, 2.0, n) if weighted else None
    loss = loss_cls()

    def f(flat):
        return loss.loss_and_gradient(flat.reshape(n, k), y, sw, np.empty((n, k)))

    grad = np.empty((n, k))
    z_before = z.copy()
    value = loss.loss_and_gradient(z, y, sw, grad)
    np.testing.assert_array_equal(z, z_before)
    s = np.ones(n) if sw is None else sw
    np.testing.assert_allclose(value, s @ REFERENCE_LOSSES[loss_cls](z, y), rtol=1e-12)
    assert_gradient_close(grad.ravel(), numerical_gradient(f, z.ravel()))

    aliased = z.copy()  # the network passes its output buffer as ``grad``
    assert loss.loss_and_gradient(aliased, y, sw, aliased) == value
    np.testing.assert_array_equal(aliased, grad)


@pytest.mark.parametrize(
    "loss_cls", [SoftmaxLogLoss, SigmoidLogLoss], ids=lambda c: c.__name__
)
def test_log_loss_values_at_extreme_logits(loss_cls):
    """Saturated logits give the clipped-probability log loss, finite."""
    z = np.array([[40.0, -40.0, 0.5], [-40.0, 40.0, -0.5], [3.0, -2.0, 40.0]])
    y = np.eye(3)[[1, 1, 0]]
    value = loss_cls().loss_and_gradient(z, y, None, np.empty_like(z))
    expected = REFERENCE_LOSSES[loss_cls](z, y).sum()
    assert np.isfinite(value)
    np.testing.assert_allclose(value, expected, rtol=1e-12)


# --------------------------------------------------------------------------
# the checker can fail


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_checker_detects_wrong_activation_derivative(activation, monkeypatch):
    """A derivative off by 1% is caught."""
    problem = Problem(activation, "multiclass", True, 0.3)
    act = problem.network.activation
    right = act.backward

    def wrong(a, delta):
        right(a, delta)
        delta *= 1.01
        return delta

    monkeypatch.setattr(act, "backward", wrong)
    with pytest.raises(AssertionError, match="max relative error"):
        check_problem(problem)


@pytest.mark.parametrize("case", CASE_NAMES)
def test_checker_detects_wrong_loss_gradient(case, monkeypatch):
    """An output gradient off by 1% is caught."""
    problem = Problem("tanh", case, False, 0.0)
    loss = problem.network.loss
    right = loss.loss_and_gradient

    def wrong(z, y, sample_weight, grad):
        value = right(z, y, sample_weight, grad)
        grad *= 1.01
        return value

    monkeypatch.setattr(loss, "loss_and_gradient", wrong)
    with pytest.raises(AssertionError, match="max relative error"):
        check_problem(problem)


def test_checker_detects_one_slightly_wrong_entry():
    """A single entry off by 1e-5 (relative) is caught."""
    problem = Problem("tanh", "squared_error-3out", True, 0.3)
    _, grad = problem.value_and_grad()
    num = numerical_gradient(problem.objective, problem.params)
    assert_gradient_close(grad, num)
    grad[int(np.argmax(np.abs(grad)))] *= 1 + 1e-5
    with pytest.raises(AssertionError, match="max relative error"):
        assert_gradient_close(grad, num)


# --------------------------------------------------------------------------
# input variants and sample weights


@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix", "csr_array"])
@pytest.mark.parametrize("case", CASE_NAMES)
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_sparse_input_matches_dense(activation, case, fmt):
    """Sparse ``X`` gives the dense objective and gradient."""
    problem = Problem(activation, case, True, 0.3)
    X = problem.X.copy()
    X[np.abs(X) < 0.8] = 0.0  # roughly half the entries
    X_sparse = getattr(sp, fmt)(X)
    dense_value, dense_grad = problem.value_and_grad(X=X)
    sparse_value, sparse_grad = problem.value_and_grad(X=X_sparse)
    np.testing.assert_allclose(sparse_value, dense_value, rtol=1e-12)
    np.testing.assert_allclose(sparse_grad, dense_grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", CASE_NAMES)
def test_float32_gives_float32_gradient(case, weighted):
    """float32 parameters and data give a float32 gradient and output."""
    problem = Problem("tanh", case, weighted, 0.3)
    p32 = problem.params.astype(np.float32)
    X32, Y32 = problem.X.astype(np.float32), problem.Y.astype(np.float32)
    sw32 = None if problem.sw is None else problem.sw.astype(np.float32)
    grad = np.full_like(p32, np.nan)
    value = problem.network.loss_and_grad(p32, X32, Y32, sw32, 0.3, grad)
    assert grad.dtype == np.float32
    assert problem.network.forward(p32, X32).dtype == np.float32
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    value64, grad64 = problem.value_and_grad()
    np.testing.assert_allclose(value, value64, rtol=1e-4)
    np.testing.assert_allclose(grad, grad64, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("alpha", [0.0, 0.3], ids=["alpha0", "alpha0.3"])
@pytest.mark.parametrize("case", CASE_NAMES)
def test_sample_weight_scale_invariance(case, alpha):
    """Scaling all weights (and ``alpha``, which is divided by their sum) is a no-op.

    With ``alpha > 0`` the penalty is divided by ``sum(s)`` (scikit-learn's
    definition), so ``alpha`` must scale with the weights for invariance.
    """
    problem = Problem("relu", case, True, alpha)
    value, grad = problem.value_and_grad()
    c = 7.3
    scaled_value, scaled_grad = problem.value_and_grad(
        sw=c * problem.sw, alpha=c * alpha
    )
    np.testing.assert_allclose(scaled_value, value, rtol=1e-12)
    np.testing.assert_allclose(scaled_grad, grad, rtol=1e-10, atol=1e-15)

    none_value, none_grad = problem.value_and_grad(sw=None)
    ones_value, ones_grad = problem.value_and_grad(sw=np.ones(len(problem.X)))
    np.testing.assert_allclose(ones_value, none_value, rtol=1e-12)
    np.testing.assert_allclose(ones_grad, none_grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("alpha", [0.0, 0.3], ids=["alpha0", "alpha0.3"])
@pytest.mark.parametrize("case", CASE_NAMES)
def test_integer_weights_equal_repeated_rows(case, alpha):
    """Integer weights give the objective and gradient of repeated rows."""
    problem = Problem("logistic", case, False, alpha)
    n = len(problem.X)
    counts = np.random.default_rng(n).integers(0, 4, n)
    counts[[0, 3]] = [0, 3]
    value, grad = problem.value_and_grad(sw=counts.astype(np.float64))
    rep_value, rep_grad = problem.value_and_grad(
        X=np.repeat(problem.X, counts, axis=0),
        Y=np.repeat(problem.Y, counts, axis=0),
        sw=None,
    )
    np.testing.assert_allclose(value, rep_value, rtol=1e-12)
    np.testing.assert_allclose(grad, rep_grad, rtol=1e-10, atol=1e-15)


def test_all_zero_weights_give_zero():
    """A batch whose weights are all zero has zero objective and gradient."""
    problem = Problem("tanh", "multiclass", True, 0.3)
    value, grad = problem.value_and_grad(sw=np.zeros(len(problem.X)))
    assert value == 0.0
    np.testing.assert_array_equal(grad, 0.0)


def test_buffer_reuse_across_batch_sizes():
    """Alternating batch sizes (reused buffers) does not change results."""
    problem = Problem("relu", "multilabel", True, 0.3)
    first = problem.value_and_grad()
    for stop in (7, 5, 7, len(problem.X)):
        problem.value_and_grad(X=problem.X[:stop], Y=problem.Y[:stop], sw=None)
    again = problem.value_and_grad()
    assert again[0] == first[0]
    np.testing.assert_array_equal(again[1], first[1])
