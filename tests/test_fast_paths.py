"""The speed work's shortcuts give the same numbers as the plain computations.

Each shortcut of the training step (class indices instead of one-hot targets,
one softmax shift per batch, blocked optimizer updates with the L2 gradient
folded in, chunked gathering of shuffled rows, ReLU against a zero array) is
compared here with the straightforward computation it replaces, on inputs
chosen to reach its edge cases (block boundaries, logits too spread for one
shift, non-contiguous arrays, float32).
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import skmlp._network
import skmlp._training
from skmlp import BackpropClassifier, BackpropRegressor, _aligned
from skmlp._activations import _MAX_ZEROS, ReLU
from skmlp._blocked import BLOCK, add_scaled, block_len, blocks
from skmlp._losses import SoftmaxLogLoss, softmax
from skmlp._optimizers import SGD, Adagrad, Adam, AdamW, RMSprop

# --------------------------------------------------------------------- softmax


def reference_log_softmax(z):
    """Row-wise ``log(softmax(z))`` in float64, written out here (not skmlp's).

    ``z_j - m - log(sum_i exp(z_i - m))`` with ``m`` each row's own maximum:
    the plain computation the fast paths' shared batch shift replaces.
    """
    z = np.asarray(z, dtype=np.float64)
    m = np.max(z, axis=1, keepdims=True)
    return z - m - np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))


def reference_softmax_loss(z, labels, sample_weight):
    """Row-max-shifted log-softmax, clipped as scikit-learn clips probabilities."""
    eps = np.finfo(z.dtype).eps
    log_p = reference_log_softmax(z)
    log_p = np.clip(log_p, np.log(eps), np.log1p(-eps))
    per = -log_p[np.arange(len(z)), labels]
    Y = np.eye(z.shape[1])[labels]
    grad = np.exp(reference_log_softmax(z)) - Y
    if sample_weight is None:
        return per.sum(), grad
    return sample_weight @ per, grad * sample_weight[:, None]


def logits(kind, dtype, n=37, k=6, seed=0):
    rng = np.random.RandomState(seed)
    z = rng.normal(scale=3.0, size=(n, k))
    if kind == "spread":  # one shift for the batch would underflow some rows
        z[::3] -= 2000.0 if dtype == np.float64 else 200.0
    if kind == "huge":  # exp(z) alone would overflow
        z += 5000.0 if dtype == np.float64 else 500.0
    return z.astype(dtype), rng.randint(k, size=n)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["plain", "spread", "huge"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("targets", ["labels", "one_hot", "soft"])
@pytest.mark.parametrize("scale", [1.0, 0.125])
def test_softmax_log_loss_matches_row_max_reference(
    dtype, kind, weighted, targets, scale
):
    """Value and ``scale * gradient`` as the row-max formula gives them."""
    z, labels = logits(kind, dtype)
    sw = np.random.RandomState(1).uniform(0.5, 2, len(z)) if weighted else None
    expected_value, expected_grad = reference_softmax_loss(z, labels, sw)
    one_hot = np.eye(z.shape[1], dtype=dtype)[labels]
    y = {"labels": labels, "one_hot": one_hot, "soft": one_hot}[targets]
    loss = SoftmaxLogLoss(one_hot=targets != "soft")
    grad = z.copy()  # aliased, as the network calls it
    value = loss.loss_and_gradient(grad, y, sw, grad, scale)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    atol = 10 * scale * np.finfo(dtype).eps
    assert np.isfinite(value) and np.isfinite(grad).all()
    assert_allclose(value, expected_value, rtol=rtol)
    assert_allclose(grad, scale * expected_grad, rtol=rtol, atol=atol)
    assert grad.dtype == dtype


def test_softmax_labels_on_non_contiguous_logits():
    z, labels = logits("plain", np.float64)
    wide = np.asfortranarray(z)
    grad = np.empty_like(wide)
    loss = SoftmaxLogLoss(one_hot=True)
    value = loss.loss_and_gradient(wide, labels, None, grad)
    expected_value, expected_grad = reference_softmax_loss(z, labels, None)
    assert_allclose(value, expected_value, rtol=1e-12)
    assert_allclose(grad, expected_grad, rtol=1e-12, atol=1e-15)


def test_nan_logits_still_give_a_nan_loss():
    z, labels = logits("plain", np.float64)
    z[3, 2] = np.nan
    with np.errstate(invalid="ignore"):
        value = SoftmaxLogLoss(one_hot=True).loss_and_gradient(z, labels, None, z)
    assert np.isnan(value)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["plain", "spread", "huge"])
@pytest.mark.parametrize("in_place", [False, True])
def test_softmax_matches_row_max_reference(dtype, kind, in_place):
    """One batch shift where safe, row maxima where not (``spread``)."""
    z, _ = logits(kind, dtype)
    expected = np.exp(reference_log_softmax(z))
    original = z.copy()
    p = softmax(z, out=z if in_place else None)
    assert p.dtype == dtype
    assert (p is z) == in_place
    if not in_place:
        assert_array_equal(z, original)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert_allclose(p, expected, rtol=rtol, atol=1e-300)
    assert_allclose(p.sum(axis=1), 1.0, rtol=rtol)


def test_softmax_nan_stays_in_its_row_and_empty_input():
    z, _ = logits("plain", np.float64)
    z[4, 1] = np.nan
    with np.errstate(invalid="ignore"):
        p = softmax(z)
    assert np.isnan(p[4]).all()
    rows = np.arange(len(z)) != 4
    assert_allclose(p[rows], np.exp(reference_log_softmax(z[rows])), rtol=1e-12)
    assert softmax(np.empty((0, 3))).shape == (0, 3)


# ------------------------------------------------------------------ optimizers
OPTIMIZERS = {
    "sgd": lambda: SGD(0.1, 0.9, True),
    "sgd-classic": lambda: SGD(0.1, 0.9, False),
    "adam": lambda: Adam(0.01, 0.9, 0.999, 1e-8),
    "adamw": lambda: AdamW(0.01, 0.9, 0.999, 1e-8, 0.1, 2 * BLOCK),
    "rmsprop": lambda: RMSprop(0.01, 0.9, 1e-8),
    "adagrad": lambda: Adagrad(0.01, 1e-8),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("n_blocks", [1, 3])
def test_folded_l2_equals_adding_it_to_the_gradient_first(name, dtype, n_blocks):
    """Across block boundaries, and in one block (the small networks' path).

    Bit for bit: the same operations in the same order.
    """
    rng = np.random.RandomState(0)
    size = block_len(dtype)
    if n_blocks == 1:
        n, n_l2, l2 = 1000, 777, 0.37
    else:
        n, n_l2, l2 = 2 * size + 123, size + 7, 0.37
    assert len(blocks(n, size)) == n_blocks
    opt = OPTIMIZERS[name]()
    p_fold = rng.normal(size=n).astype(dtype)
    p_plain = p_fold.copy()
    s_fold, s_plain = opt.init_state(p_fold), opt.init_state(p_plain)
    assert s_fold.arrays["scratch"].size == min(size, n)
    for _ in range(3):
        g = rng.normal(size=n).astype(dtype)
        g_plain = g.copy()
        g_plain[:n_l2] += p_plain[:n_l2] * dtype(l2)
        w = p_fold[:n_l2].astype(np.float64)
        opt.step(p_fold, g.copy(), s_fold, l2, n_l2)
        # the penalty's ||w||^2, measured block by block before the update
        assert s_fold.weights_sq == pytest.approx(w @ w, rel=1e-5)
        opt.step(p_plain, g_plain, s_plain)
    assert_array_equal(p_fold, p_plain)
    for key in s_plain.arrays:
        if key != "scratch":
            assert_array_equal(s_fold.arrays[key], s_plain.arrays[key])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_blocked_adam_equals_whole_vector_adam(dtype):
    """The blocked update is the textbook update (scikit-learn's formula)."""
    rng = np.random.RandomState(0)
    n = block_len(dtype) + 1000
    assert len(blocks(n, block_len(dtype))) == 2
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    p = rng.normal(size=n).astype(dtype)
    ref, m, v = p.astype(np.float64), np.zeros(n), np.zeros(n)
    opt = Adam(lr, b1, b2, eps)
    state = opt.init_state(p)
    for t in range(1, 6):
        g = rng.normal(size=n).astype(dtype)
        opt.step(p, g.copy(), state)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g.astype(np.float64) ** 2
        step = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        ref -= step * m / (np.sqrt(v) + eps)
    assert p.dtype == dtype
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert_allclose(p, ref, rtol=rtol, atol=rtol)


def test_add_scaled_stops_at_n():
    y, x = np.zeros(BLOCK + 10), np.ones(BLOCK + 10)
    add_scaled(y, x, 2.0, BLOCK + 3, np.empty(BLOCK))
    assert_array_equal(y[: BLOCK + 3], 2.0)
    assert_array_equal(y[BLOCK + 3 :], 0.0)


# ---------------------------------------------------------------------- gather
@pytest.mark.parametrize("Est", [BackpropClassifier, BackpropRegressor])
@pytest.mark.parametrize("weighted", [False, True])
def test_chunked_gather_gives_the_batch_by_batch_fit(Est, weighted, monkeypatch):
    """Gathering several mini-batches at once changes nothing in the fit."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(203, 5))
    y = (
        (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
        if Est is BackpropClassifier
        else X[:, 0]
    )
    sw = rng.uniform(0.5, 2, len(X)) if weighted else None
    params = dict(hidden_layer_sizes=(7,), batch_size=20, max_iter=3, random_state=0)

    def fit(gather_bytes):
        monkeypatch.setattr(skmlp._training, "GATHER_BYTES", gather_bytes)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Est(**params).fit(X, y, sample_weight=sw)

    one_batch, several = fit(1), fit(3 * 20 * 5 * 8 + 1)
    whole = fit(1 << 30)
    for other in (several, whole):
        assert_array_equal(other.loss_curve_, one_batch.loss_curve_)
        for a, b in zip(other.coefs_, one_batch.coefs_, strict=True):
            assert_array_equal(a, b)


# ------------------------------------------------------------------------ relu
@pytest.mark.parametrize("size", [10, _MAX_ZEROS + 1])
def test_relu_forward_small_and_large(size):
    z = np.random.RandomState(0).normal(size=(size, 1))
    expected = np.where(z > 0, z, 0.0)
    out = ReLU().forward(z.copy())
    assert_array_equal(out, expected)


# ------------------------------------------------------------------ prediction
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_prediction_in_row_blocks_equals_one_block(sparse, dtype, monkeypatch):
    import warnings

    import scipy.sparse as sp

    import skmlp._network

    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4)).astype(dtype)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = BackpropClassifier(hidden_layer_sizes=(7, 5), max_iter=5).fit(X, y)
    Xp = rng.normal(size=(1000, 4)).astype(dtype)
    if sparse:
        Xp = sp.csr_matrix(Xp)
    whole = est.predict_proba(Xp)  # 1000 rows: one block
    monkeypatch.setattr(skmlp._network, "PREDICT_BLOCK_ENTRIES", 7 * 64)
    blocked = est.predict_proba(Xp)  # blocks of 64 rows, the last one short
    assert blocked.dtype == whole.dtype == dtype
    assert_allclose(blocked, whole, rtol=1e-12 if dtype == np.float64 else 1e-6)
    assert_array_equal(est.predict(Xp), est.classes_[whole.argmax(axis=1)])


# ------------------------------------------------------------------- alignment
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32])
@pytest.mark.parametrize("shape", [0, 1, 7, (3, 5), (200, 100)])
def test_aligned_arrays(shape, dtype):
    a = _aligned.empty(shape, dtype)
    assert a.shape == np.empty(shape).shape and a.dtype == dtype
    assert a.flags.c_contiguous and a.flags.writeable
    assert _aligned.is_aligned(a)
    assert not _aligned.zeros(shape, dtype).any()
    src = np.arange(a.size, dtype=dtype).reshape(a.shape)
    c = _aligned.copy(src)
    assert _aligned.is_aligned(c) and c is not src
    assert_array_equal(c, src)


def test_ensure_copies_only_when_needed():
    a = _aligned.empty(100, np.float64)
    assert _aligned.ensure(a) is a
    off = a[1:]  # 8 bytes past a boundary
    assert not _aligned.is_aligned(off)
    b = _aligned.ensure(off)
    assert _aligned.is_aligned(b)
    assert_array_equal(b, off)
    strided = _aligned.empty((10, 10), np.float64).T
    assert _aligned.ensure(strided).flags.c_contiguous


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_training_arrays_are_aligned(solver):
    """Parameters, optimizer state and batch buffers, also after a state copy."""
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(60, 4)), rng.randint(3, size=60)
    est = BackpropClassifier(
        hidden_layer_sizes=(7,), solver=solver, batch_size=16, max_iter=2
    ).fit(X, y)
    state = est._fit_state
    for s in (state, state.copy()):
        assert _aligned.is_aligned(s.params)
        for a in s.optimizer_state.arrays.values():
            assert _aligned.is_aligned(a)
    seen = []
    network = skmlp._network.Network
    original = network.loss_and_grad

    def spy(self, params, X, Y, sw, grad, **kwargs):
        contexts = self._plan(params, grad, X.shape[0])
        buffers = [
            getattr(ctx, name)
            for _, ctx in contexts
            for name in ("out", "delta_in", "pre")
            if getattr(ctx, name, None) is not None
        ]
        assert len(buffers) >= 3  # two dense outputs and a delta at least
        seen.append([params, grad, X, *buffers])
        return original(self, params, X, Y, sw, grad, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(network, "loss_and_grad", spy)
        est.partial_fit(X, y)
    assert seen and all(_aligned.is_aligned(a) for arrays in seen for a in arrays)
