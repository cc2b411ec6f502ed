"""Backprop gradients against finite differences, objectives against references.

Every hidden activation in ``ACTIVATIONS`` is crossed with every output case
(binary, multiclass, multilabel and every regression loss, with each of its
parameter settings, with one and three outputs), with and without sample
weights and with and without an L2 penalty. Per-layer activation lists, the L1
penalty and dropout (with fixed masks) are checked separately.

Finite differences use the fourth-order central stencil
``(8 (f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))) / 12h`` with ``h = 1e-3``: its
truncation error (``~h^4``) and round-off (``~eps |f| / h``) are both ~1e-12, so
the analytic gradient must match element-wise to a relative 1e-6 plus an
absolute 1e-9 (see ``RTOL, ATOL``), which the plain two-point stencil at
``h = 1e-6`` (round-off ~1e-10 absolute) could not guarantee.
Parameters are re-drawn until no kink is near: no hidden pre-activation near 0
(ReLU, leaky ReLU, ELU), no residual ``z - y`` near 0 (absolute error, quantile)
or ``|z - y|`` near ``delta`` (Huber), no weight near 0 (L1); every stencil point
is checked to stay on the same side of every kink.
"""

import functools
import zlib

import numpy as np
import pytest
import scipy.sparse as sp
from _reference import REFERENCE_ACTIVATIONS
from conftest import dense_network, objective_value

from skmlp._activations import ACTIVATIONS
from skmlp._losses import (
    REGRESSION_LOSSES,
    AbsoluteError,
    Huber,
    Poisson,
    Quantile,
    SigmoidLogLoss,
    SoftmaxLogLoss,
    SquaredError,
)

N_SAMPLES = 12
N_FEATURES = 5
HIDDEN = (4, 3)
PARAM_STD = 0.5
FD_STEP = 1e-3
FD_OFFSETS = (-2, -1, 1, 2)
KINK_MARGIN = 0.02  # > the largest shift of a kinked quantity any stencil point causes
# Element-wise tolerance |g - g_num| <= ATOL + RTOL (|g| + |g_num|).
# RTOL = 1e-6 is far above the stencil's truncation error (~h^4 = 1e-12 relative
# to the gradient's scale) yet catches one entry off by a relative 1e-5.
# ATOL covers round-off, which does not shrink with the entry: each objective
# value carries a relative rounding error of at most ~1e-14 (sums of a few
# dozen terms), amplified by (8 + 8 + 1 + 1) / (12 h) = 1.5e3, so the numerical
# gradient carries an absolute noise of ~1e-11 |f|, with |f| <~ 10 here; observed
# noise on exactly-zero gradients (e.g. an absolute-error intercept with as many
# positive as negative residuals, analytic 0.0 vs numerical -6.7e-13) is ~1e-12.
# 1e-9 clears that by a wide margin (over the whole matrix the worst entry uses
# ~0.2% of its tolerance) and is still 1e4 times smaller than a 1% error on an
# entry of size 1e-3; it governs only entries smaller than ATOL / RTOL = 1e-3.
RTOL, ATOL = 1e-6, 1e-9
EPS64 = np.finfo(np.float64).eps


# --------------------------------------------------------------------------
# targets and independent reference implementations


def _indicator_targets(rng, n, k):
    return rng.integers(0, 2, (n, k)).astype(np.float64)


def _one_hot_targets(rng, n, k):
    return np.eye(k)[rng.integers(0, k, n)]


def _smoothed_targets(rng, n, k, eps=0.1):
    """Label-smoothed one-hot rows: rows sum to one but are not one-hot."""
    return (1 - eps) * _one_hot_targets(rng, n, k) + eps / k


def _real_targets(rng, n, k):
    return rng.normal(size=(n, k))


def _count_targets(rng, n, k):
    """Non-negative targets with zeros (valid for Poisson-like losses)."""
    return rng.poisson(1.5, (n, k)).astype(np.float64)


_REGRESSION_TARGETS = {
    "squared_error": _real_targets,
    "poisson": _count_targets,
    "absolute_error": _real_targets,
    "huber": _real_targets,
    "quantile": _real_targets,
}
# every parameter setting of a parametrised regression loss gets its own cases
LOSS_PARAMETERS = {
    "huber": [{"delta": 1.0}, {"delta": 0.5}],
    "quantile": [{"quantile": 0.5}, {"quantile": 0.8}],
}

# case name -> (loss class, loss parameters, n_outputs, target generator)
OUTPUT_CASES = {
    "binary": (SigmoidLogLoss, {}, 1, _indicator_targets),
    "multiclass": (SoftmaxLogLoss, {}, 4, _one_hot_targets),
    "multiclass-smoothed": (SoftmaxLogLoss, {}, 4, _smoothed_targets),
    "multilabel": (SigmoidLogLoss, {}, 3, _indicator_targets),
}
for _name, _cls in REGRESSION_LOSSES.items():
    for _params in LOSS_PARAMETERS.get(_name, [{}]):
        _label = _name + "".join(f"({v:g})" for v in _params.values())
        for _k in (1, 3):
            OUTPUT_CASES[f"{_label}-{_k}out"] = (
                _cls,
                _params,
                _k,
                _REGRESSION_TARGETS.get(_name, _count_targets),
            )

# the registry's aliases ('sigmoid') are the same objects: cross each once
ACTIVATION_NAMES = sorted(name for name, act in ACTIVATIONS.items() if act.name == name)
CASE_NAMES = list(OUTPUT_CASES)
KINKED_CASES = [
    c for c in CASE_NAMES if OUTPUT_CASES[c][0] in (AbsoluteError, Huber, Quantile)
]


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


def _ref_absolute_error(z, y):
    return np.abs(z - y).sum(axis=1)


def _ref_huber(z, y, delta=1.0):
    r = np.abs(z - y)
    return np.where(r <= delta, 0.5 * r**2, delta * r - 0.5 * delta**2).sum(axis=1)


def _ref_quantile(z, y, quantile=0.5):
    r = y - z  # pinball: q r above the prediction, (q - 1) r below it
    return np.maximum(quantile * r, (quantile - 1) * r).sum(axis=1)


REFERENCE_LOSSES = {
    SquaredError: _ref_squared_error,
    Poisson: _ref_poisson,
    SoftmaxLogLoss: _ref_softmax_log_loss,
    SigmoidLogLoss: _ref_sigmoid_log_loss,
    AbsoluteError: _ref_absolute_error,
    Huber: _ref_huber,
    Quantile: _ref_quantile,
}


def _ref_loss_kinks(loss_cls, params, z, y):
    """Quantities whose sign change is a kink of the loss (none for smooth ones)."""
    if loss_cls in (AbsoluteError, Quantile):
        return [z - y]
    if loss_cls is Huber:
        return [np.abs(z - y) - params.get("delta", 1.0)]
    return []


def _reference_loss(loss_cls, params):
    try:
        ref = REFERENCE_LOSSES[loss_cls]
    except KeyError:
        pytest.fail(f"add a reference implementation for {loss_cls.__name__}")
    return functools.partial(ref, **params)


def _reference_activation(name):
    try:
        return REFERENCE_ACTIVATIONS[name]
    except KeyError:
        pytest.fail(f"add a reference implementation for activation {name!r}")


def _id(activation):
    """Test id of one activation name or a per-layer tuple of them."""
    return activation if isinstance(activation, str) else "-".join(activation)


def _layer_names(activation):
    """One activation name per hidden layer, from one name or a sequence."""
    if isinstance(activation, str):
        return [activation] * len(HIDDEN)
    assert len(activation) == len(HIDDEN)
    return list(activation)


def _ref_unpack(flat, units, batch_norm=None):
    """Split ``flat`` as documented: all weights in layer order, then intercepts,
    then the batch norms' scales, then their offsets (for ``batch_norm`` flags)."""
    shapes = list(zip(units[:-1], units[1:], strict=True))
    normed = [u for u, f in zip(units[1:-1], batch_norm or [], strict=False) if f]
    coefs, intercepts, pos = [], [], 0
    for fan_in, fan_out in shapes:
        coefs.append(flat[pos : pos + fan_in * fan_out].reshape(fan_in, fan_out))
        pos += fan_in * fan_out
    for _, fan_out in shapes:
        intercepts.append(flat[pos : pos + fan_out])
        pos += fan_out
    scales, offsets = [], []
    for out in (scales, offsets):
        for u in normed:
            out.append(flat[pos : pos + u])
            pos += u
    assert pos == flat.size
    if batch_norm is None:
        return coefs, intercepts
    return coefs, intercepts, scales, offsets


def ref_batch_norm(z, gamma, beta, sw=None, eps=1e-5):
    """Training-mode batch normalization with weighted, biased batch statistics."""
    w = np.full(len(z), 1 / len(z)) if sw is None else sw / sw.sum()
    mu = w @ z
    var = w @ (z - mu) ** 2
    return gamma * (z - mu) / np.sqrt(var + eps) + beta


def _ref_forward(params, X, units, activation, batch_norm=None, sw=None):
    """Return the hidden pre-activations and the raw output.

    ``activation`` is one name for every hidden layer or one name per layer;
    ``batch_norm`` flags the hidden layers normalised (with the batch's
    statistics weighted by ``sw``).
    """
    if batch_norm is None:
        coefs, intercepts = _ref_unpack(params, units)
        scales = offsets = []
        flags = [False] * len(HIDDEN)
    else:
        coefs, intercepts, scales, offsets = _ref_unpack(params, units, batch_norm)
        flags = batch_norm
    scales, offsets = iter(scales), iter(offsets)
    a, pre = np.asarray(X, dtype=np.float64), []
    names = _layer_names(activation)
    for W, b, name, f in zip(coefs[:-1], intercepts[:-1], names, flags, strict=True):
        z = a @ W + b
        if f:
            z = ref_batch_norm(z, next(scales), next(offsets), sw)
        pre.append(z)
        a = _reference_activation(name)(z)
    return pre, a @ coefs[-1] + intercepts[-1]


# --------------------------------------------------------------------------
# problems and the finite-difference checker


class Problem:
    """A network, its data and parameters, with objective helpers.

    Parameters
    ----------
    activation : str or tuple of str
        One activation for every hidden layer, or one per hidden layer.
    case : str
        Key of ``OUTPUT_CASES``.
    weighted : bool
        Draw sample weights (two of them zero).
    alpha, alpha_l1 : float
        L2 and L1 penalties. With ``alpha_l1 > 0`` no weight is drawn near 0.
    dropout : list of float, optional
        Dropout rates; the objective then uses the masks of a RandomState
        seeded with ``dropout_seed``, re-seeded for every evaluation.
    """

    def __init__(
        self,
        activation,
        case,
        weighted,
        alpha,
        n=N_SAMPLES,
        seed=0,
        *,
        alpha_l1=0.0,
        dropout=None,
        dropout_seed=0,
        batch_norm=None,
    ):
        loss_cls, loss_params, n_out, targets = OUTPUT_CASES[case]
        tag = f"{activation}|{case}|{weighted}|{seed}"
        if batch_norm:
            tag += f"|bn={batch_norm}"
        if alpha_l1:
            tag += f"|l1={alpha_l1}"
        rng = np.random.default_rng(zlib.crc32(tag.encode()))
        self.activation, self.alpha, self.alpha_l1 = activation, alpha, alpha_l1
        self.loss_cls, self.loss_params = loss_cls, loss_params
        self.units = [N_FEATURES, *HIDDEN, n_out]
        self.acts = (
            ACTIVATIONS[activation]
            if isinstance(activation, str)
            else [ACTIVATIONS[name] for name in activation]
        )
        self.batch_norm = batch_norm
        # batch statistics make the objective more curved: a smaller stencil
        # keeps the truncation error (~h^4) far below the tolerance
        self.fd_step = FD_STEP if not batch_norm else FD_STEP / 4
        self.network = dense_network(
            self.units,
            self.acts,
            loss_cls(**loss_params),
            dropout=dropout,
            batch_norm=batch_norm,
        )
        self.layout = self.network.layout
        self.dropout_seed = dropout_seed if dropout is not None else None
        self.X = rng.normal(size=(n, N_FEATURES))
        self.Y = targets(rng, n, n_out)
        self.sw = None
        if weighted:
            self.sw = rng.uniform(0.2, 3.0, n)
            self.sw[[1, n // 2]] = 0.0
        for _ in range(1000):
            self.params = rng.normal(scale=PARAM_STD, size=self.layout.n_params)
            pre = self.preactivations(self.params)
            kinks = self.kinks(self.params)
            clear = all(np.abs(k).min() > KINK_MARGIN for k in kinks)
            alive = all((z > 0).any(axis=0).all() for z in pre)
            # a kinked loss has entries on both sides of each of its kinks
            both_sides = all((k > 0).any() and (k < 0).any() for k in kinks[len(pre) :])
            if clear and alive and both_sides:
                break
        else:  # pragma: no cover
            raise RuntimeError("could not draw parameters away from kinks")

    def _ref_forward(self, params):
        return _ref_forward(
            params, self.X, self.units, self.activation, self.batch_norm, self.sw
        )

    def preactivations(self, params):
        return self._ref_forward(params)[0]

    def kinks(self, params):
        """Every quantity whose sign must not change between stencil points.

        Hidden pre-activations (ReLU-like kinks at 0; harmless for smooth
        activations), then the loss's kinks (residuals), then, with L1, the
        weights.
        """
        pre, z = self._ref_forward(params)
        out = [*pre, *_ref_loss_kinks(self.loss_cls, self.loss_params, z, self.Y)]
        if self.alpha_l1:
            out.append(params[: self.layout.n_coef])
        return out

    def rng(self):
        """A freshly seeded dropout RNG (same masks every call), or None."""
        if self.dropout_seed is None:
            return None
        return np.random.RandomState(self.dropout_seed)

    def value_and_grad(
        self, params=None, X=None, Y=None, sw="same", alpha=None, alpha_l1=None
    ):
        params = self.params if params is None else params
        sw = self.sw if isinstance(sw, str) else sw
        grad = np.full_like(params, np.nan)
        value = objective_value(
            self.network,
            params,
            self.X if X is None else X,
            self.Y if Y is None else Y,
            sw,
            self.alpha if alpha is None else alpha,
            grad,
            alpha_l1=self.alpha_l1 if alpha_l1 is None else alpha_l1,
            rng=self.rng(),
        )
        return value, grad

    def objective(self, params):
        return self.value_and_grad(params)[0]

    def reference_objective(self, params):
        coefs = _ref_unpack(params, self.units, self.batch_norm)[0]
        _, z = self._ref_forward(params)
        per_sample = _reference_loss(self.loss_cls, self.loss_params)(z, self.Y)
        s = np.ones(len(self.X)) if self.sw is None else self.sw
        penalty = 0.5 * self.alpha * sum(float((W**2).sum()) for W in coefs)
        penalty += self.alpha_l1 * sum(float(np.abs(W).sum()) for W in coefs)
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
    """Element-wise ``|g - g_num| / (|g| + |g_num|)`` (0 where both are 0)."""
    err = np.abs(grad - num)
    scale = np.abs(grad) + np.abs(num)
    return np.divide(err, scale, out=np.zeros_like(err), where=scale > 0)


def assert_gradient_close(grad, num, rtol=RTOL, atol=ATOL):
    """Fail unless ``|grad - num| <= atol + rtol (|grad| + |num|)`` everywhere.

    Returns the worst relative error among entries where the relative
    tolerance governs (``|g| + |g_num| >= atol / rtol``).
    """
    assert np.all(np.isfinite(grad)), "non-finite analytic gradient"
    err = np.abs(grad - num)
    scale = np.abs(grad) + np.abs(num)
    allowed = atol + rtol * scale
    worst = int(np.argmax(err / allowed))
    rel = relative_error(grad, num)
    assert err[worst] <= allowed[worst], (
        f"max relative error {rel[worst]:.3e} at parameter {worst}: "
        f"analytic {grad[worst]!r}, numerical {num[worst]!r}, "
        f"|diff| {err[worst]:.3e} > {allowed[worst]:.3e} allowed"
    )
    significant = scale >= atol / rtol
    return float(rel[significant].max()) if significant.any() else 0.0


def check_problem(problem):
    """Compare the analytic gradient of ``problem`` with finite differences."""
    _, grad = problem.value_and_grad()
    num = numerical_gradient(
        problem.objective, problem.params, h=problem.fd_step, pattern=problem.kinks
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


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", CASE_NAMES)
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_batch_norm_gradient_matches_finite_differences(activation, case, weighted):
    """With batch normalization in both hidden layers (training-mode batch
    statistics, weighted by the sample weights), the objective equals the
    reference and every gradient (scales and offsets included) matches."""
    problem = Problem(activation, case, weighted, 0.3, batch_norm=[True, True])
    value, _ = problem.value_and_grad()
    np.testing.assert_allclose(
        value, problem.reference_objective(problem.params), rtol=1e-12, atol=0
    )
    check_problem(problem)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("flags", [[True, False], [False, True]], ids=str)
@pytest.mark.parametrize(
    "case", ["multiclass", "binary", "squared_error-3out", "huber(0.5)-1out"]
)
@pytest.mark.parametrize("activation", ["relu", ("tanh", "gelu")], ids=_id)
def test_batch_norm_in_one_layer_gradient(activation, case, flags, weighted):
    problem = Problem(activation, case, weighted, 0.3, batch_norm=flags)
    value, _ = problem.value_and_grad()
    np.testing.assert_allclose(
        value, problem.reference_objective(problem.params), rtol=1e-12, atol=0
    )
    check_problem(problem)


def test_checker_detects_a_wrong_batch_norm_backward(monkeypatch):
    """A batch-norm input gradient off by 1% is caught."""
    from skmlp._layers import BatchNorm

    problem = Problem("tanh", "multiclass", True, 0.3, batch_norm=[True, True])
    right = BatchNorm.backward

    def wrong(self, ctx, g):
        out = right(self, ctx, g)
        out *= 1.01
        return out

    monkeypatch.setattr(BatchNorm, "backward", wrong)
    with pytest.raises(AssertionError, match="max relative error"):
        check_problem(problem)


def test_every_registered_activation_and_loss_is_covered():
    """New registry entries join the matrix, and each needs a reference."""
    assert set(ACTIVATIONS) <= set(REFERENCE_ACTIVATIONS)
    assert set(ACTIVATION_NAMES) == {act.name for act in ACTIVATIONS.values()}
    covered = {OUTPUT_CASES[c][0] for c in CASE_NAMES}
    assert set(REGRESSION_LOSSES.values()) <= covered <= set(REFERENCE_LOSSES)


def test_sigmoid_is_logistic():
    """'sigmoid' is an alias: the very same activation object as 'logistic'."""
    assert ACTIVATIONS["sigmoid"] is ACTIVATIONS["logistic"]
    z = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(
        ACTIVATIONS["sigmoid"].forward(z.copy()),
        REFERENCE_ACTIVATIONS["sigmoid"](z),
        rtol=1e-14,
    )


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_forward_and_derivative(name):
    """Forward matches the reference; backward matches its finite differences.

    Covers large and tiny inputs, and both signs, away from 0 (kinks).
    """
    act = ACTIVATIONS[name]
    ref = REFERENCE_ACTIVATIONS[name]
    z = np.concatenate([-np.geomspace(8, 0.01, 25), np.geomspace(0.01, 8, 25)])
    a = act.forward(z.copy())
    np.testing.assert_allclose(a, ref(z), rtol=1e-13, atol=1e-16)
    h = 1e-4
    num = (8 * (ref(z + h) - ref(z - h)) - (ref(z + 2 * h) - ref(z - 2 * h))) / (12 * h)
    delta = np.ones_like(z)
    if act.needs_input:
        deriv = act.backward(a, delta, z=z.copy())
    else:
        deriv = act.backward(a, delta)
    assert deriv is delta  # in place
    np.testing.assert_allclose(deriv, num, rtol=1e-8, atol=1e-11)


# one case per loss class and parameter setting (three outputs), plus the
# label-smoothed softmax targets
LOSS_CASES = [c for c in CASE_NAMES if c != "binary" and not c.endswith("-1out")]


@pytest.mark.parametrize("case", LOSS_CASES)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_loss_gradient_wrt_raw_output(case, weighted):
    """Each loss's ``dL/dz`` matches finite differences, also written in place."""
    loss_cls, params, _, targets = OUTPUT_CASES[case]
    rng = np.random.default_rng(zlib.crc32(f"{case}{weighted}".encode()))
    n, k = 7, 4 if loss_cls is SoftmaxLogLoss else 3
    y = targets(rng, n, k)
    for _ in range(1000):  # no residual near a kink of the loss
        z = rng.normal(scale=1.5, size=(n, k))
        kinks = _ref_loss_kinks(loss_cls, params, z, y)
        if all(np.abs(a).min() > KINK_MARGIN for a in kinks) and all(
            (a > 0).any() and (a < 0).any() for a in kinks
        ):
            break
    else:  # pragma: no cover
        raise RuntimeError("could not draw outputs away from kinks")
    sw = rng.uniform(0.0, 2.0, n) if weighted else None
    loss = loss_cls(**params)

    def f(flat):
        return loss.loss_and_gradient(flat.reshape(n, k), y, sw, np.empty((n, k)))

    def pattern(flat):
        return _ref_loss_kinks(loss_cls, params, flat.reshape(n, k), y)

    grad = np.empty((n, k))
    z_before = z.copy()
    value = loss.loss_and_gradient(z, y, sw, grad)
    np.testing.assert_array_equal(z, z_before)
    s = np.ones(n) if sw is None else sw
    expected = s @ _reference_loss(loss_cls, params)(z, y)
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    num = numerical_gradient(f, z.ravel(), pattern=pattern)
    assert_gradient_close(grad.ravel(), num)

    aliased = z.copy()  # the network passes its output buffer as ``grad``
    assert loss.loss_and_gradient(aliased, y, sw, aliased) == value
    np.testing.assert_array_equal(aliased, grad)

    # ``scale`` multiplies the gradient only (the network passes 1 / total weight)
    scaled = z.copy()
    assert loss.loss_and_gradient(scaled, y, sw, scaled, 0.125) == value
    np.testing.assert_allclose(scaled, 0.125 * grad, rtol=1e-12, atol=1e-16)


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
    act = ACTIVATIONS[activation]
    assert all(a is act for a in problem.network.activations)
    right = act.backward

    def wrong(a, delta, **kwargs):  # GELU and SiLU also get ``z=``
        right(a, delta, **kwargs)
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

    def wrong(z, y, sample_weight, grad, scale=1.0):
        value = right(z, y, sample_weight, grad, scale)
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


def test_kink_guard_catches_a_crossing():
    """A stencil that crosses a kink is refused rather than compared."""
    problem = Problem("relu", "absolute_error-1out", False, 0.0)
    pre = problem.preactivations(problem.params)[0]
    i, j = np.unravel_index(np.argmin(np.abs(pre)), pre.shape)
    # move the intercept of the unit nearest its kink to within one step of it
    params = problem.params.copy()
    params[problem.layout.named("intercept")[0].slice.start + j] -= pre[i, j] - 1e-3
    with pytest.raises(AssertionError, match="stencil crossed a kink"):
        numerical_gradient(problem.objective, params, pattern=problem.kinks)


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
    value = objective_value(problem.network, p32, X32, Y32, sw32, 0.3, grad)
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


# --------------------------------------------------------------------------
# one activation per hidden layer

LAYERWISE = [
    ("tanh", "gelu"),
    ("gelu", "tanh"),
    ("relu", "silu"),
    ("silu", "leaky_relu"),
    ("elu", "softplus"),
    ("sigmoid", "identity"),
]
LAYERWISE_CASES = ["multiclass", "binary", "huber(0.5)-3out", "quantile(0.8)-1out"]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", LAYERWISE_CASES)
@pytest.mark.parametrize("activations", LAYERWISE, ids="-".join)
def test_layerwise_activations_gradient(activations, case, weighted):
    """A list of activations, one per hidden layer: objective and gradient."""
    problem = Problem(activations, case, weighted, 0.3)
    assert [a.name for a in problem.network.activations] == [
        ACTIVATIONS[name].name for name in activations
    ]
    value, _ = problem.value_and_grad()
    # the reference applies activations[i] to hidden layer i, so a swapped or
    # broadcast list would not match
    np.testing.assert_allclose(
        value, problem.reference_objective(problem.params), rtol=1e-12, atol=0
    )
    check_problem(problem)


def test_layerwise_order_matters_and_repeated_list_equals_single():
    """Swapping the per-layer list changes the model; ``[a, a]`` is ``a``."""
    swapped = Problem(("tanh", "gelu"), "multiclass", True, 0.3)
    params = swapped.params
    other = dense_network(
        swapped.units, [ACTIVATIONS["gelu"], ACTIVATIONS["tanh"]], SoftmaxLogLoss()
    )
    grad = np.empty_like(params)
    args = (params, swapped.X, swapped.Y, swapped.sw, 0.3, grad)
    assert objective_value(other, *args) != swapped.objective(params)

    single = Problem("gelu", "multiclass", True, 0.3)
    listed = dense_network(single.units, [ACTIVATIONS["gelu"]] * 2, SoftmaxLogLoss())
    value, grad = single.value_and_grad()
    grad2 = np.empty_like(grad)
    value2 = objective_value(
        listed, single.params, single.X, single.Y, single.sw, 0.3, grad2
    )
    assert value2 == value
    np.testing.assert_array_equal(grad2, grad)


@pytest.mark.parametrize("layer", [0, 1])
def test_checker_detects_wrong_derivative_in_one_layer(layer, monkeypatch):
    """A 1% error in one layer's activation derivative is caught."""
    names = ("tanh", "gelu")
    problem = Problem(names, "multiclass", True, 0.3)
    act = ACTIVATIONS[names[layer]]
    right = act.backward

    def wrong(a, delta, **kwargs):
        right(a, delta, **kwargs)
        delta *= 1.01
        return delta

    monkeypatch.setattr(act, "backward", wrong)
    with pytest.raises(AssertionError, match="max relative error"):
        check_problem(problem)


# --------------------------------------------------------------------------
# the L1 penalty


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(
    "case", ["multiclass", "binary", "squared_error-3out", "quantile(0.8)-3out"]
)
@pytest.mark.parametrize(
    "activation", ["tanh", "relu", "gelu", ("elu", "silu")], ids=_id
)
@pytest.mark.parametrize("alpha", [0.0, 0.3], ids=["alpha0", "alpha0.3"])
def test_l1_gradient_matches_finite_differences(activation, case, weighted, alpha):
    """With ``alpha_l1 > 0`` (weights drawn away from 0) the gradient still matches.

    The L1 term adds ``alpha_l1 sign(W) / S`` to the weights' gradient and
    nothing to the intercepts'.
    """
    alpha_l1 = 0.2
    problem = Problem(activation, case, weighted, alpha, alpha_l1=alpha_l1)
    n_coef = problem.layout.n_coef
    assert np.abs(problem.params[:n_coef]).min() > KINK_MARGIN
    value, grad = problem.value_and_grad()
    np.testing.assert_allclose(
        value, problem.reference_objective(problem.params), rtol=1e-12, atol=0
    )
    check_problem(problem)

    _, grad_no_l1 = problem.value_and_grad(alpha_l1=0.0)
    s = len(problem.X) if problem.sw is None else problem.sw.sum()
    expected = np.zeros_like(grad)
    expected[:n_coef] = alpha_l1 * np.sign(problem.params[:n_coef]) / s
    np.testing.assert_allclose(grad - grad_no_l1, expected, rtol=1e-9, atol=1e-15)


def test_checker_detects_wrong_l1_scale():
    """An L1 gradient off by 1% (here: a penalty 1% stronger) is caught."""
    problem = Problem("tanh", "multiclass", True, 0.3, alpha_l1=0.2)
    _, grad = problem.value_and_grad()
    num = numerical_gradient(problem.objective, problem.params, pattern=problem.kinks)
    assert_gradient_close(grad, num)
    _, grad_no_l1 = problem.value_and_grad(alpha_l1=0.0)
    wrong = grad_no_l1 + 1.01 * (grad - grad_no_l1)
    with pytest.raises(AssertionError, match="max relative error"):
        assert_gradient_close(wrong, num)


# --------------------------------------------------------------------------
# dropout

DROPOUT = [0.5, 0.3]


@pytest.mark.parametrize(
    ("alpha", "alpha_l1"), [(0.0, 0.0), (0.3, 0.1)], ids=["plain", "penalised"]
)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(
    "case", ["multiclass", "multilabel", "squared_error-3out", "poisson-1out"]
)
@pytest.mark.parametrize(
    "activation",
    ["tanh", "gelu", "softplus", ("silu", "logistic"), ("relu", "tanh")],
    ids=_id,
)
def test_dropout_gradient_matches_finite_differences(
    activation, case, weighted, alpha, alpha_l1
):
    """With fixed masks the dropout objective's gradient matches its differences.

    Every evaluation gets a RandomState seeded identically, so every point of
    the stencil sees the same masks. The masks move the second hidden layer's
    pre-activations in ways this test does not know, so only smooth functions
    follow the first hidden layer (whose kinks are still guarded).
    """
    problem = Problem(
        activation,
        case,
        weighted,
        alpha,
        alpha_l1=alpha_l1,
        dropout=DROPOUT,
        dropout_seed=7,
    )
    params = problem.params
    value, grad = problem.value_and_grad()
    again, grad_again = problem.value_and_grad()
    assert again == value  # same seed, same masks
    np.testing.assert_array_equal(grad_again, grad)
    # the masks are applied: not the objective without dropout
    plain_grad = np.empty_like(grad)
    args = (params, problem.X, problem.Y, problem.sw, alpha, plain_grad)
    no_dropout = dense_network(problem.units, problem.acts, problem.network.loss)
    plain = objective_value(no_dropout, *args, alpha_l1=alpha_l1)
    assert abs(value - plain) > 1e-6 * abs(plain)

    def pattern(p):  # first-layer pre-activations do not depend on masks
        kinks = problem.kinks(p)
        return kinks[:1] + (kinks[-1:] if alpha_l1 else [])  # weights last

    num = numerical_gradient(problem.objective, params, pattern=pattern)
    assert_gradient_close(grad, num)


@pytest.mark.parametrize("case", ["multiclass", "squared_error-3out", "huber(1)-1out"])
def test_dropout_is_off_in_inference_and_at_rate_zero(case):
    """Inference (prediction, validation) or zero rates: exactly no dropout."""
    plain = Problem("relu", case, True, 0.3, alpha_l1=0.1)
    loss = plain.network.loss
    dropped = dense_network(plain.units, ACTIVATIONS["relu"], loss, dropout=DROPOUT)
    zero = dense_network(plain.units, ACTIVATIONS["relu"], loss, dropout=[0.0, 0.0])
    value, grad = plain.value_and_grad()

    def run(net, rng):
        g = np.full_like(grad, np.nan)
        v = objective_value(
            net, plain.params, plain.X, plain.Y, plain.sw, 0.3, g, alpha_l1=0.1, rng=rng
        )
        return v, g

    v, g = run(zero, np.random.RandomState(0))
    assert v == value
    np.testing.assert_array_equal(g, grad)
    # with a generator the masks change the objective, and differ between seeds
    v0, _ = run(dropped, np.random.RandomState(0))
    v1, _ = run(dropped, np.random.RandomState(1))
    assert len({value, v0, v1}) == 3
    np.testing.assert_array_equal(
        dropped.forward(plain.params, plain.X),
        plain.network.forward(plain.params, plain.X),
    )


def test_dropout_is_inverted():
    """Kept units are scaled by ``1 / (1 - rate)``: unbiased in expectation.

    With identity activations and squared error the output-intercept gradient
    ``mean(z - y)`` is linear in each layer's mask, so its average over many
    seeds must be the no-dropout value; without the rescaling it would be far
    off (the hidden contributions shrink by ``0.5 * 0.7``).
    """
    problem = Problem("identity", "squared_error-1out", False, 0.0)
    net = dense_network(
        problem.units, ACTIVATIONS["identity"], SquaredError(), dropout=DROPOUT
    )
    _, grad = problem.value_and_grad()
    b_out = problem.layout.named("intercept")[-1].slice.start
    g = np.empty_like(grad)
    draws = []
    for seed in range(2000):
        rng = np.random.RandomState(seed)
        objective_value(
            net, problem.params, problem.X, problem.Y, None, 0.0, g, rng=rng
        )
        draws.append(g[b_out])
    draws = np.array(draws)
    stderr = draws.std() / np.sqrt(len(draws))
    assert abs(draws.mean() - grad[b_out]) < 4 * stderr
