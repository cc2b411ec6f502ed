"""The pure backpropagation core: parameter layout, forward and backward passes.

All parameters live in one flat vector: every layer's weight matrix first (in
layer order), then every intercept, the same order as scikit-learn's ``_pack``.
Weights and intercepts are reshaped *views* into it, so an optimizer updates
the whole network with a few whole-vector operations, L-BFGS needs no packing,
and a checkpoint is one copy. Nothing here knows about estimators.
"""

import contextlib
import functools

import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from skmlp import _aligned
from skmlp._blocked import add_scaled, block_len, block_scratch
from skmlp._losses import Loss


class Layout:
    """Where each layer's weights and intercepts sit in the flat vector.

    Parameters
    ----------
    layer_units : sequence of int
        Units per layer, input and output layers included.
    """

    def __init__(self, layer_units):
        self.layer_units = [int(u) for u in layer_units]
        pairs = list(zip(self.layer_units[:-1], self.layer_units[1:], strict=True))
        self.coef_shapes = pairs
        self.coef_slices, self.intercept_slices = [], []
        start = 0
        for fan_in, fan_out in pairs:
            self.coef_slices.append(slice(start, start + fan_in * fan_out))
            start += fan_in * fan_out
        self.n_coef = start
        for _, fan_out in pairs:
            self.intercept_slices.append(slice(start, start + fan_out))
            start += fan_out
        self.n_params = start

    @property
    def n_layers(self) -> int:
        """Number of weight layers (``n_layers_ - 1`` in scikit-learn terms)."""
        return len(self.coef_shapes)

    def unpack(self, flat: np.ndarray):
        """Return lists of weight and intercept views into ``flat``."""
        coefs = [
            flat[s].reshape(shape)
            for s, shape in zip(self.coef_slices, self.coef_shapes, strict=True)
        ]
        intercepts = [flat[s] for s in self.intercept_slices]
        return coefs, intercepts

    def pack(self, coefs, intercepts, dtype) -> np.ndarray:
        """Copy weight and intercept arrays into a new flat vector."""
        flat = _aligned.empty(self.n_params, dtype)
        views_c, views_i = self.unpack(flat)
        for view, src in zip(
            views_c + views_i, list(coefs) + list(intercepts), strict=True
        ):
            if np.shape(src) != view.shape:
                raise ValueError(
                    f"Parameter array of shape {np.shape(src)} does not match the "
                    f"network layout, which expects {view.shape}."
                )
            view[...] = src
        return flat


#: Largest per-batch matrix product (multiply-adds) still run on one BLAS thread.
#: Below it, waking BLAS worker threads costs more than it saves: on a busy
#: machine threaded small products were 5-20x slower. The digits benchmark
#: (200 x 64 x 100 = 1.28M) is below it: its bare GEMMs take 0.53 s on one
#: thread and 0.43 s on two, but whole fits took the same median time either
#: way (1.36 vs 1.37 s over 6 interleaved runs) and varied more on two.
SINGLE_THREAD_MACS = 4_000_000


def blas_threads_for(layout: Layout, batch_size: int):
    """A context that runs small networks' products on one BLAS thread.

    Returns a limit of the BLAS libraries to one thread when the largest
    ``batch x fan_in x fan_out`` product is under :data:`SINGLE_THREAD_MACS`,
    else a no-op context (BLAS keeps its own threading).
    """
    largest = max(fan_in * fan_out for fan_in, fan_out in layout.coef_shapes)
    if batch_size * largest < SINGLE_THREAD_MACS:
        return blas_controller().limit(limits=1, user_api="blas")
    return contextlib.nullcontext()


@functools.lru_cache(maxsize=1)
def blas_controller() -> ThreadpoolController:
    """The process's BLAS and OpenMP libraries, found once.

    ``threadpoolctl.threadpool_limits`` scans the loaded libraries again on
    every call (about 1 ms and 400 KiB of temporaries here); a kept controller
    limits them in 0.08 ms. skmlp's ``__init__`` creates it at import, after
    NumPy's and SciPy's BLAS are loaded.
    """
    return ThreadpoolController()


def _dot(a, b, out=None):
    """``a @ b`` for dense or sparse ``a``, into ``out`` when dense."""
    if type(a) is not np.ndarray and sp.issparse(a):  # issparse costs ~1 us
        res = np.asarray(a @ b)
        if out is None:
            return res
        out[...] = res
        return out
    return np.matmul(a, b, out=out)


#: Hidden-layer entries per row block of a prediction (256 KiB in float32,
#: 512 KiB in float64): the activations of a block stay in cache between
#: layers, and a prediction's working memory does not grow with its rows.
PREDICT_BLOCK_ENTRIES = 1 << 16


def forward_layers(coefs, intercepts, X, activations) -> np.ndarray:
    """Raw (pre-link) output of the layers ``coefs``/``intercepts`` for ``X``.

    ``activations`` holds one :class:`Activation` per hidden layer. Rows are
    processed in blocks (see :data:`PREDICT_BLOCK_ENTRIES`) into buffers
    reused from block to block; only the output is as long as ``X``.
    """
    n = X.shape[0]
    widest = max(W.shape[1] for W in coefs[:-1]) if len(coefs) > 1 else 1
    rows = max(64, PREDICT_BLOCK_ENTRIES // widest)
    if n <= rows:
        return _forward_block(coefs, intercepts, X, activations, None)
    dtype = np.result_type(X.dtype, coefs[0].dtype)
    out = np.empty((n, coefs[-1].shape[1]), dtype=dtype)
    hidden = [np.empty((rows, W.shape[1]), dtype=dtype) for W in coefs[:-1]]
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        m = stop - start
        buffers = [h[:m] for h in hidden] + [out[start:stop]]
        _forward_block(coefs, intercepts, X[start:stop], activations, buffers)
    return out


def _forward_block(coefs, intercepts, X, activations, buffers):
    """Forward pass of the rows ``X``, into ``buffers`` (one per layer) if given."""
    a = X
    for i, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
        a = _dot(a, W, out=None if buffers is None else buffers[i])
        a += b
        if i < len(activations):
            activations[i].forward(a)
    return a


class Network:
    """A multilayer perceptron as a function of a flat parameter vector.

    Parameters
    ----------
    layout : Layout
        The parameter layout.
    activations : Activation or list of Activation
        One activation for every hidden layer, or one per hidden layer.
    loss : Loss
        Output loss; owns the output link.
    dropout : list of float, optional
        Dropout rate per hidden layer, applied in :meth:`loss_and_grad` when it
        is given a random generator (inverted dropout: kept units are scaled by
        ``1 / (1 - rate)``, so nothing changes at prediction time).
    """

    def __init__(self, layout: Layout, activations, loss: Loss, dropout=None):
        self.layout = layout
        if not isinstance(activations, list | tuple):
            activations = [activations] * (layout.n_layers - 1)
        self.activations = list(activations)
        self.loss = loss
        self.dropout = list(dropout) if dropout is not None else []
        self._buffers: dict = {}
        self._view_cache: dict = {}
        self._plans: dict = {}
        self._scratch_buf = None  # one block, for the L2 gradient

    def _batch_buffers(self, n: int, dtype):
        """Per-layer activation, pre-activation and delta buffers for ``n`` rows.

        Buffers are allocated for the largest batch seen; a shorter batch (the
        last one of an epoch) gets views of their first ``n`` rows, which are
        contiguous too.
        """
        dtype = np.dtype(dtype)
        full = self._buffers.get(dtype)
        if full is None or full[0] < n:
            self._buffers.clear()
            self._plans.clear()  # they hold views of the old buffers
            units = self.layout.layer_units[1:]
            acts = [_aligned.empty((n, u), dtype) for u in units]
            deltas = [_aligned.empty((n, u), dtype) for u in units[:-1]]
            pre = [
                _aligned.empty((n, u), dtype) if act.needs_input else None
                for u, act in zip(units, self.activations, strict=False)
            ]
            ones = np.ones(n, dtype=dtype)  # intercept gradients as one GEMV
            full = self._buffers[dtype] = (n, (acts, deltas, pre, ones))
        rows, bufs = full
        if n == rows:
            return bufs
        acts, deltas, pre, ones = bufs
        return (
            [a[:n] for a in acts],
            [d[:n] for d in deltas],
            [None if p is None else p[:n] for p in pre],
            ones[:n],
        )

    def _views(self, flat: np.ndarray):
        """Per-layer views of ``flat``, cached for the arrays a fit reuses."""
        cached = self._view_cache.get(id(flat))
        if cached is None or cached[0] is not flat:
            if len(self._view_cache) >= 4:
                self._view_cache.clear()
            cached = self._view_cache[id(flat)] = (flat, *self.layout.unpack(flat))
        return cached[1], cached[2]

    def _plan(self, params: np.ndarray, grad: np.ndarray, n: int) -> tuple:
        """Views of ``params`` and ``grad`` and the buffers for ``n`` rows, cached.

        A fit calls :meth:`loss_and_grad` with the same parameter and gradient
        arrays and at most two batch lengths (the last batch may be shorter),
        so everything a step needs besides the data is looked up once per
        (parameters, gradient, rows), not rebuilt from the layout every step.
        """
        key = (id(params), id(grad), n)
        plan = self._plans.get(key)
        if plan is None or plan[0] is not params or plan[1] is not grad:
            if len(self._plans) >= 8:
                self._plans.clear()
            coefs, intercepts = self._views(params)
            g_coefs, g_intercepts = self._views(grad)
            buffers = self._batch_buffers(n, params.dtype)
            plan = (params, grad, coefs, intercepts, g_coefs, g_intercepts, *buffers)
            self._plans[key] = plan
        return plan

    def _add_l2_gradient(self, g_w: np.ndarray, w: np.ndarray, scale: float):
        """``g_w += scale * w``, block by block through a reused scratch block."""
        buf = self._scratch_buf
        size = min(block_len(w.dtype), w.size)
        if buf is None or buf.dtype != w.dtype or buf.size < size:
            buf = self._scratch_buf = block_scratch(w)
        add_scaled(g_w, w, scale, w.size, buf)

    def forward(self, params: np.ndarray, X) -> np.ndarray:
        """Return the raw (pre-link) output for ``X``; allocates fresh arrays."""
        coefs, intercepts = self._views(params)
        return forward_layers(coefs, intercepts, X, self.activations)

    def loss_and_grad(
        self,
        params,
        X,
        Y,
        sample_weight,
        alpha: float,
        grad: np.ndarray,
        *,
        alpha_l1: float = 0.0,
        rng=None,
        fold_l2: bool = False,
    ) -> float:
        """Return the regularised mean loss and write its gradient into ``grad``.

        Parameters
        ----------
        params : ndarray of shape (n_params,)
            Flat parameter vector.
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Y : ndarray of shape (n_samples, n_outputs) or (n_samples,)
            Targets as the loss takes them (class indices for a one-hot
            softmax log loss).
        sample_weight : ndarray of shape (n_samples,) or None
        alpha : float
            L2 penalty strength (scikit-learn scaling).
        grad : ndarray of shape (n_params,)
            Receives the gradient.
        alpha_l1 : float, default=0.0
            L1 penalty strength, scaled like ``alpha``.
        rng : numpy.random.RandomState, optional
            Source of dropout masks; without it dropout is off.
        fold_l2 : bool, default=False
            When True, the L2 penalty is left out of both the returned value
            and ``grad``: the caller folds its gradient ``alpha / S * w`` into
            the optimizer step and adds its value ``alpha / 2 * ||w||^2 / S``
            from the sum of squares the step takes on the way (two passes over
            the weights fewer).

        Notes
        -----
        With ``S = sum_i s_i`` (``n_samples`` without weights) the objective is
        ``(sum_i s_i L_i + alpha/2 ||W||_2^2 + alpha_l1 ||W||_1) / S``, the L2 part
        being scikit-learn's definition. Intercepts are not penalised.
        """
        n = X.shape[0]
        plan = self._plan(params, grad, n)
        _, _, coefs, intercepts, g_coefs, g_intercepts, acts, deltas, pre, ones = plan
        last = len(coefs) - 1
        sw_sum = n if sample_weight is None else float(sample_weight.sum())
        if sw_sum == 0:  # a mini-batch whose samples all weigh zero teaches nothing
            grad[...] = 0
            return 0.0

        inputs = [X]  # what each layer multiplies: activations after dropout
        masks = [None] * last
        dropout = self.dropout if rng is not None else ()
        for i in range(last + 1):
            out = acts[i]
            if i:
                np.matmul(inputs[i], coefs[i], out=out)
            else:
                _dot(X, coefs[0], out=out)
            out += intercepts[i]
            if i == last:
                break
            if pre[i] is not None:
                np.copyto(pre[i], out)
            self.activations[i].forward(out)
            if dropout and dropout[i]:
                rate = dropout[i]
                masks[i] = (rng.random_sample(out.shape) >= rate) / (1.0 - rate)
                out = out * masks[i].astype(out.dtype, copy=False)
            inputs.append(out)

        # the output buffer becomes the output delta: the raw output is not needed
        # after; scaling it by 1/S here scales every gradient below for free
        delta = acts[last]
        data_loss = self.loss.loss_and_gradient(
            delta, Y, sample_weight, delta, 1.0 / sw_sum
        )

        for i in range(last, -1, -1):
            if i:
                np.matmul(inputs[i].T, delta, out=g_coefs[i])
            else:
                _dot(X.T, delta, out=g_coefs[0])
            np.dot(ones, delta, out=g_intercepts[i])  # column sums, one GEMV
            if i:
                prev = np.matmul(delta, coefs[i].T, out=deltas[i - 1])
                if masks[i - 1] is not None:
                    prev *= masks[i - 1]
                act = self.activations[i - 1]
                if act.needs_input:
                    act.backward(acts[i - 1], prev, z=pre[i - 1])
                else:
                    act.backward(acts[i - 1], prev)
                delta = prev

        penalty = 0.0
        if (alpha and not fold_l2) or alpha_l1:
            n_coef = self.layout.n_coef
            w = params[:n_coef]
            if alpha and not fold_l2:
                penalty += 0.5 * alpha * float(np.dot(w, w))
                self._add_l2_gradient(grad[:n_coef], w, alpha / sw_sum)
            if alpha_l1:
                penalty += alpha_l1 * float(np.abs(w).sum())
                grad[:n_coef] += (alpha_l1 / sw_sum) * np.sign(w)
        return (data_loss + penalty) / sw_sum
