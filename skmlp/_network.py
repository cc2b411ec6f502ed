"""The pure backpropagation core: a list of layers over one flat parameter vector.

All parameters live in one flat vector, cut into named segments (see
:class:`Layout`): every penalised segment first (the weight matrices, in layer
order), then the others (intercepts, ...), so for a dense network the order is
scikit-learn's ``_pack``. Layers see reshaped *views* of their segments, so an
optimizer updates the whole network with a few whole-vector operations, L-BFGS
needs no packing, and a checkpoint is one copy. Nothing here knows about
estimators.
"""

from dataclasses import dataclass

import numpy as np

from skmlp import _aligned
from skmlp._layers import (
    INFERENCE,
    TRAINING,
    ActivationLayer,
    BatchNorm,
    Dense,
    Dropout,
    Mode,
)
from skmlp._losses import Loss
from skmlp._threads import UNTHREADED_MACS, blas_threads_for, single_thread_rows


@dataclass(frozen=True)
class Segment:
    """Where one parameter array of one layer sits in the flat vector.

    Attributes
    ----------
    layer : int
        Index of the layer in the network's list.
    name : str
        The array's name in that layer ('coef', 'intercept', ...).
    shape : tuple of int
    decayed : bool
        Whether the penalties apply (see :class:`skmlp._layers.ParamSpec`).
    slice : slice
        Its entries in the flat vector.
    """

    layer: int
    name: str
    shape: tuple
    decayed: bool
    slice: slice


class Layout:
    """The flat vector's segments: penalised ones first, then the rest.

    Parameters
    ----------
    layers : sequence of Layer
        The network's layers; each contributes its ``params``.

    Attributes
    ----------
    segments : list of Segment
        In vector order: every decayed segment in layer order, then the
        undecayed ones grouped by name (all intercepts, then any other kind) in
        layer order.
    n_decayed : int
        Entries of the decayed segments, the leading part of the vector that
        ``alpha``, ``alpha_l1`` and AdamW's decay apply to.
    n_params : int
        Length of the vector.
    """

    def __init__(self, layers):
        specs = [(i, spec) for i, layer in enumerate(layers) for spec in layer.params]
        decayed = [(i, s) for i, s in specs if s.decayed]
        rest = [(i, s) for i, s in specs if not s.decayed]
        names = list(dict.fromkeys(s.name for _, s in rest))
        ordered = decayed + sorted(rest, key=lambda e: names.index(e[1].name))
        self.segments, start = [], 0
        for i, spec in ordered:
            size = int(np.prod(spec.shape))
            self.segments.append(
                Segment(
                    i, spec.name, spec.shape, spec.decayed, slice(start, start + size)
                )
            )
            start += size
        self.n_decayed = sum(
            s.slice.stop - s.slice.start for s in self.segments if s.decayed
        )
        self.n_params = start
        self.n_layers = len(layers)

    @property
    def n_coef(self) -> int:
        """Alias of :attr:`n_decayed` (the weights of a dense network)."""
        return self.n_decayed

    def named(self, name: str) -> list:
        """The segments called ``name``, in layer order."""
        return [s for s in self.segments if s.name == name]

    def views(self, flat: np.ndarray) -> list:
        """Per layer, a dict of its parameter arrays as views into ``flat``."""
        out = [{} for _ in range(self.n_layers)]
        for s in self.segments:
            out[s.layer][s.name] = flat[s.slice].reshape(s.shape)
        return out

    def pack(self, arrays, dtype) -> np.ndarray:
        """A new flat vector holding per-layer arrays (shaped as :meth:`views`)."""
        flat = _aligned.empty(self.n_params, dtype)
        for s in self.segments:
            src = arrays[s.layer][s.name]
            if np.shape(src) != s.shape:
                raise ValueError(
                    f"Parameter array of shape {np.shape(src)} does not match the "
                    f"network layout, which expects {s.shape}."
                )
            flat[s.slice].reshape(s.shape)[...] = src
        return flat


#: The fitted attribute each kind of parameter segment or buffer is published in.
PUBLIC_NAMES = {
    "coef": "coefs_",
    "intercept": "intercepts_",
    "scale": "batch_norm_scales_",
    "offset": "batch_norm_offsets_",
    "mean": "batch_norm_means_",
    "var": "batch_norm_vars_",
}

#: Hidden-layer entries per row block of a prediction (256 KiB in float32,
#: 512 KiB in float64): the activations of a block stay in cache between
#: layers, and a prediction's working memory does not grow with its rows.
PREDICT_BLOCK_ENTRIES = 1 << 16


class Network:
    """A multilayer perceptron as a function of a flat parameter vector.

    Parameters
    ----------
    layers : list of Layer
        Applied in order; the last one's output is the raw (pre-link) output.
    loss : Loss
        Output loss; owns the output link.
    """

    def __init__(self, layers, loss: Loss):
        self.layers = list(layers)
        self.loss = loss
        self.layout = Layout(self.layers)
        self._uses_mode = any(layer.uses_mode for layer in self.layers)
        self._has_buffers = any(layer.buffers for layer in self.layers)
        keys = {(i, name): key for i, name, key in self.buffer_names()}
        #: (layer index, running-mean key, running-variance key) per batch norm
        self._statistics_keys = [
            (i, keys[i, "mean"], keys[i, "var"])
            for i, layer in enumerate(self.layers)
            if isinstance(layer, BatchNorm)
        ]
        self._last_contexts = None
        self._workspaces: dict = {}
        self._view_cache: dict = {}
        self._plans: dict = {}

    @classmethod
    def dense(
        cls,
        layer_units,
        activations,
        loss: Loss,
        dropout=None,
        batch_norm=None,
        *,
        momentum: float = 0.1,
        epsilon: float = 1e-5,
    ):
        """The MLP: ``Dense [-> BatchNorm] -> activation [-> Dropout]`` per layer.

        Parameters
        ----------
        layer_units : sequence of int
            Units per layer, input and output included.
        activations : Activation or list of Activation
            One for every hidden layer, or one per hidden layer.
        loss : Loss
        dropout : list of float, optional
            Dropout rate per hidden layer (0 for none).
        batch_norm : list of bool, optional
            Whether each hidden layer normalises its pre-activations (the
            intercept of such a layer is frozen at 0: see :class:`Dense`).
        momentum, epsilon : float
            Settings of every :class:`BatchNorm` layer.
        """
        units = [int(u) for u in layer_units]
        n_hidden = len(units) - 2
        if not isinstance(activations, list | tuple):
            activations = [activations] * n_hidden
        rates = list(dropout) if dropout is not None else [0.0] * n_hidden
        norms = list(batch_norm) if batch_norm is not None else [False] * n_hidden
        layers = []
        for i, (fan_in, fan_out) in enumerate(zip(units[:-1], units[1:], strict=True)):
            normed = i < n_hidden and norms[i]
            layers.append(Dense(fan_in, fan_out, first=i == 0, frozen_intercept=normed))
            if i < n_hidden:
                if normed:
                    layers.append(BatchNorm(fan_out, momentum, epsilon))
                layers.append(ActivationLayer(activations[i], fan_out))
                if rates[i]:
                    layers.append(Dropout(rates[i]))
        return cls(layers, loss)

    # ------------------------------------------------------------- structure
    @property
    def dense_layers(self) -> list:
        """The :class:`Dense` layers, in order."""
        return [layer for layer in self.layers if isinstance(layer, Dense)]

    @property
    def layer_units(self) -> list:
        """Units of the input, each hidden layer and the output."""
        dense = self.dense_layers
        return [dense[0].n_in] + [d.n_out for d in dense]

    @property
    def activations(self) -> list:
        """The hidden activations, one per hidden layer."""
        return [
            layer.activation
            for layer in self.layers
            if isinstance(layer, ActivationLayer)
        ]

    def public_segments(self) -> list:
        """``(public name, segment)`` per segment, in vector order.

        The name is the fitted attribute and index the array is published as:
        ``coefs_[k]``, ``intercepts_[k]``, ... with ``k`` the hidden layer (the
        ``k``-th dense layer and the layers that follow it).
        """
        owner = self._hidden_index()
        return [
            (f"{PUBLIC_NAMES[s.name]}[{owner[s.layer]}]", s)
            for s in self.layout.segments
        ]

    def _hidden_index(self) -> list:
        """Per layer, the index of the dense layer it belongs to (or follows)."""
        owner, k = [], -1
        for layer in self.layers:
            k += isinstance(layer, Dense)
            owner.append(k)
        return owner

    # ------------------------------------------------ non-trainable buffers
    @property
    def batch_norm(self) -> list:
        """Per hidden layer, whether it has batch normalization."""
        flags = [False] * (len(self.dense_layers) - 1)
        for k, layer in zip(self._hidden_index(), self.layers, strict=True):
            if isinstance(layer, BatchNorm):
                flags[k] = True
        return flags

    def buffer_names(self) -> list:
        """``(layer index, buffer name, public key)`` of every buffer."""
        owner = self._hidden_index()
        return [
            (i, spec.name, f"{PUBLIC_NAMES[spec.name]}[{owner[i]}]")
            for i, layer in enumerate(self.layers)
            for spec in layer.buffers
        ]

    def initial_buffers(self, dtype) -> dict:
        """Fresh non-trainable arrays by public key (running mean 0, variance 1)."""
        specs = {
            (i, spec.name): spec
            for i, layer in enumerate(self.layers)
            for spec in layer.buffers
        }
        return {
            key: np.full(specs[i, name].shape, specs[i, name].init, dtype=dtype)
            for i, name, key in self.buffer_names()
        }

    def with_buffers(self, arrays, buffers) -> list:
        """Per-layer ``arrays`` with each layer's buffers added from ``buffers``."""
        if not self._has_buffers:
            return arrays
        arrays = [dict(a) for a in arrays]
        for i, name, key in self.buffer_names():
            arrays[i][name] = buffers[key]
        return arrays

    def fold_statistics(self, buffers: dict, *, replace: bool = False) -> None:
        """Fold the last training pass's batch statistics into ``buffers``.

        ``running = (1 - momentum) running + momentum batch`` per batch-norm
        layer, in place; with ``replace``, ``running = batch`` (L-BFGS's
        full-batch statistics at its solution). The training loop calls it
        after each accepted step only, so loss evaluations (line searches,
        the gradient checker) never move the running statistics.
        """
        contexts = self._last_contexts
        if contexts is None:
            return
        for i, mean_key, var_key in self._statistics_keys:
            layer, ctx = contexts[i]
            stats = layer.batch_statistics(ctx)
            if stats is None:
                continue
            pairs = zip((buffers[mean_key], buffers[var_key]), stats, strict=True)
            for running, batch in pairs:
                if replace:
                    running[...] = batch
                else:
                    running *= 1 - layer.momentum
                    running += layer.momentum * batch
            ctx.batch_mean = ctx.batch_var = None
        self._last_contexts = None

    def largest_product(self, rows: int) -> int:
        """Multiply-adds of the largest matrix product for ``rows`` rows."""
        return rows * max(d.n_in * d.n_out for d in self.dense_layers)

    def unpack(self, flat: np.ndarray):
        """Lists of the dense layers' weight and intercept views into ``flat``."""
        views = self.layout.views(flat)
        idx = [i for i, layer in enumerate(self.layers) if isinstance(layer, Dense)]
        return [views[i]["coef"] for i in idx], [views[i]["intercept"] for i in idx]

    def pack(self, coefs, intercepts, dtype) -> np.ndarray:
        """A new flat vector from the dense layers' weights and intercepts."""
        return self.layout.pack(self.arrays_from(coefs, intercepts), dtype)

    def arrays_from(self, coefs, intercepts, **named_lists) -> list:
        """Per-layer parameter dicts from per-dense-layer lists of arrays.

        ``named_lists`` gives further per-dense-layer lists by parameter name,
        for parameters owned by the layers that follow each dense layer.
        """
        arrays = [{} for _ in self.layers]
        k = -1
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Dense):
                k += 1
                arrays[i] = {"coef": coefs[k], "intercept": intercepts[k]}
            for spec in (*layer.params, *layer.buffers):
                if spec.name in named_lists:
                    arrays[i][spec.name] = named_lists[spec.name][k]
        if k + 1 != len(coefs) or len(intercepts) != len(coefs):
            raise ValueError(
                f"Expected {k + 1} weight matrices and intercept vectors, got "
                f"{len(coefs)} and {len(intercepts)}."
            )
        return arrays

    # ---------------------------------------------------------- buffers, plans
    def _workspace(self, n: int, dtype, training: bool) -> list:
        """Per-layer buffers (a dict each) for ``n`` rows, plus a row of ones.

        Buffers are allocated for the largest ``n`` seen; fewer rows (the last
        batch of an epoch, the last block of a prediction) get views of their
        first ``n`` rows, which are contiguous too.
        """
        key = (np.dtype(dtype), training)
        full = self._workspaces.get(key)
        if full is None or full[0] < n:
            self._plans.clear()  # they hold views of the old buffers
            bufs = [
                {
                    name: _aligned.empty((n, units), dtype)
                    for name, units in layer.buffer_units(training).items()
                }
                for layer in self.layers
            ]
            ones = np.ones(n, dtype=dtype)  # intercept gradients as one GEMV
            full = self._workspaces[key] = (n, bufs, ones)
        rows, bufs, ones = full
        if n == rows:
            return bufs, ones
        return [{k: v[:n] for k, v in b.items()} for b in bufs], ones[:n]

    def _views(self, flat: np.ndarray) -> list:
        """Per-layer views of ``flat``, cached for the arrays a fit reuses."""
        cached = self._view_cache.get(id(flat))
        if cached is None or cached[0] is not flat:
            if len(self._view_cache) >= 4:
                self._view_cache.clear()
            cached = self._view_cache[id(flat)] = (flat, self.layout.views(flat))
        return cached[1]

    def _contexts(self, arrays, buffers, ones, grads=None) -> list:
        """One :class:`Context` per layer: its parameters, gradients and buffers."""
        contexts = []
        for i, layer in enumerate(self.layers):
            ctx = layer.Context()
            values = {**buffers[i], **arrays[i], "ones": ones}
            if grads is not None:
                values.update({f"grad_{k}": v for k, v in grads[i].items()})
            for name, value in values.items():
                setattr(ctx, name, value)
            contexts.append((layer, ctx))
        return contexts

    def _plan(self, params: np.ndarray, grad: np.ndarray, n: int) -> list:
        """Layer contexts bound to ``params``, ``grad`` and ``n`` rows, cached.

        A fit calls :meth:`loss_and_grad` with the same parameter and gradient
        arrays and at most two batch lengths (the last batch may be shorter),
        so everything a step needs besides the data is looked up once per
        (parameters, gradient, rows), not rebuilt every step.
        """
        key = (id(params), id(grad), n)
        plan = self._plans.get(key)
        if plan is None or plan[0] is not params or plan[1] is not grad:
            if len(self._plans) >= 8:
                self._plans.clear()
            buffers, ones = self._workspace(n, params.dtype, training=True)
            contexts = self._contexts(
                self._views(params), buffers, ones, self._views(grad)
            )
            plan = self._plans[key] = (params, grad, contexts)
        return plan[2]

    # ----------------------------------------------------------------- passes
    def forward(self, params: np.ndarray, X, buffers=None) -> np.ndarray:
        """Raw (pre-link) inference output for ``X`` at the flat ``params``.

        ``buffers`` holds the non-trainable arrays (running statistics) by
        public key, for the networks that have them.
        """
        return self.infer(self.with_buffers(self._views(params), buffers), X)

    def infer(self, arrays, X) -> np.ndarray:
        """Raw (pre-link) inference output for ``X`` with per-layer ``arrays``.

        ``arrays`` holds each layer's parameters (a dict per layer, as
        :meth:`Layout.views` gives). Rows are processed in blocks (see
        :data:`PREDICT_BLOCK_ENTRIES`) through buffers reused from block to
        block; only the output is as long as ``X``.
        """
        n, rows = X.shape[0], self.block_rows()
        with blas_threads_for(
            self.largest_product(min(n, rows)), floor=UNTHREADED_MACS
        ):
            return self._infer_blocks(arrays, X, rows)

    def block_rows(self) -> int:
        """Rows per block of an inference pass.

        About :data:`PREDICT_BLOCK_ENTRIES` hidden entries, at least 64 rows,
        and, where that leaves 64 rows or more, few enough that each block's
        largest product stays on one BLAS thread, the policy the training
        steps follow (:func:`skmlp._threads.blas_threads_for`).
        """
        dense = self.dense_layers
        widest = max((d.n_out for d in dense[:-1]), default=1)
        rows = max(64, PREDICT_BLOCK_ENTRIES // widest)
        single = single_thread_rows(self.largest_product(1))
        return min(rows, single) if single >= 64 else rows

    def _infer_blocks(self, arrays, X, rows: int) -> np.ndarray:
        n = X.shape[0]
        dense = self.dense_layers
        if n <= rows:  # one block: every layer allocates its output
            nobufs = [{"out": None} if "out" in b else {} for b in self._no_buffers()]
            contexts = self._contexts(arrays, nobufs, None)
            return self._forward(contexts, X, INFERENCE)
        dtype = np.result_type(X.dtype, arrays[0]["coef"].dtype)
        out = np.empty((n, dense[-1].n_out), dtype=dtype)
        last = max(i for i, layer in enumerate(self.layers) if isinstance(layer, Dense))
        contexts = None
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            if contexts is None or stop - start < rows:  # the first, the last block
                buffers, ones = self._workspace(stop - start, dtype, training=False)
                contexts = self._contexts(arrays, buffers, ones)
            contexts[last][1].out = out[start:stop]
            self._forward(contexts, X[start:stop], INFERENCE)
        return out

    def _no_buffers(self) -> list:
        return [layer.buffer_units(False) for layer in self.layers]

    @staticmethod
    def _forward(contexts, X, mode: Mode):
        x = X
        for layer, ctx in contexts:
            x = layer.forward(ctx, x, mode)
        return x

    def loss_and_grad(self, params, X, Y, sample_weight, grad, *, rng=None):
        """Training pass: the weighted data loss, and its gradient into ``grad``.

        Parameters
        ----------
        params : ndarray of shape (n_params,)
            Flat parameter vector.
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Y : ndarray of shape (n_samples, n_outputs) or (n_samples,)
            Targets as the loss takes them (class indices for a one-hot
            softmax log loss).
        sample_weight : ndarray of shape (n_samples,) or None
        grad : ndarray of shape (n_params,)
            Receives the gradient of ``loss / weight`` (the weighted mean).
        rng : numpy.random.RandomState, optional
            Source of the dropout layers' masks.

        Returns
        -------
        loss : float
            The weighted sum of per-sample losses ``sum_i s_i L_i``.
        weight : float
            ``S = sum_i s_i`` (``n_samples`` without weights). When it is 0,
            so are ``loss`` and ``grad``.
        """
        n = X.shape[0]
        weight = n if sample_weight is None else float(sample_weight.sum())
        if weight == 0:  # a mini-batch whose samples all weigh zero teaches nothing
            grad[...] = 0
            return 0.0, 0.0
        contexts = self._plan(params, grad, n)
        if self._uses_mode:
            mode = Mode(training=True, rng=rng, sample_weight=sample_weight)
        else:
            mode = TRAINING
        out = X
        for layer, ctx in contexts:
            out = layer.forward(ctx, out, mode)
        # the output buffer becomes the output delta (the raw output is not
        # needed after); scaling it by 1/S here scales every gradient below
        loss = self.loss.loss_and_gradient(out, Y, sample_weight, out, 1.0 / weight)
        delta = out
        for layer, ctx in reversed(contexts):
            delta = layer.backward(ctx, delta)
            if delta is None:
                break
        if self._has_buffers:
            self._last_contexts = contexts  # their batch statistics, for the loop
        return loss, weight
