"""The layers a network is a list of: dense maps, activations, dropout.

A layer is a stateless description (its sizes, which parameters it owns); the
arrays of one pass live in a :class:`Context` made for it: views of its
parameters and of their gradient in the flat vectors, buffers for the rows of
the batch, and what the forward pass saves for the backward pass. So the same
layer objects serve a mini-batch step, the row blocks of a prediction and the
validation set, each with contexts of their own.

Protocol, for a new layer type:

- ``params``: a tuple of :class:`ParamSpec`, the trainable arrays it owns;
- ``buffer_units(training)``: columns of each per-row buffer it wants
  (``{name: units}``), allocated by the network for a batch or row block;
- ``forward(ctx, x, mode)``: return the layer's output for input ``x``
  (``mode`` is a :class:`Mode`: training or inference), saving in ``ctx``
  what :meth:`backward` needs;
- ``backward(ctx, delta)``: given ``dL/d output``, write the gradients of its
  own parameters into ``ctx``'s gradient views and return ``dL/d input``
  (or None when nothing below needs it).

Everything NumPy-specific about speed (``out=`` buffers, BLAS calls) stays
inside ``forward``/``backward``.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from skmlp._activations import Activation


@dataclass(frozen=True)
class ParamSpec:
    """One trainable array of a layer.

    Attributes
    ----------
    name : str
        Its name within the layer ('coef', 'intercept', ...).
    shape : tuple of int
    decayed : bool
        Whether the penalties (``alpha``, ``alpha_l1``) and AdamW's weight
        decay apply to it: weights yes, intercepts no.
    """

    name: str
    shape: tuple
    decayed: bool


class Mode(NamedTuple):
    """What a forward pass is for.

    Attributes
    ----------
    training : bool
        Training (dropout masks drawn from ``rng``) or inference.
    rng : numpy.random.RandomState or None
        Source of dropout masks in training.
    sample_weight : ndarray of shape (n_samples,) or None
        The batch's sample weights, for layers whose training forward uses
        batch statistics.
    """

    training: bool = False
    rng: object = None
    sample_weight: object = None


#: The mode of predictions and validation.
INFERENCE = Mode()
#: The mode of a training pass whose layers read neither rng nor sample weights.
TRAINING = Mode(training=True)


class Context:
    """The arrays of one layer in one kind of pass (attributes set by the network).

    Each layer type has its own subclass, whose ``__slots__`` name its
    parameters, their gradients (``grad_<name>``), its buffers and what its
    forward saves; slots keep the attribute reads of the per-step loop cheap.
    """

    __slots__ = ("ones",)


def _dot(a, b, out=None):
    """``a @ b`` for dense or sparse ``a``, into ``out`` when dense."""
    if type(a) is not np.ndarray and sp.issparse(a):  # issparse costs ~1 us
        res = np.asarray(a @ b)
        if out is None:
            return res
        out[...] = res
        return out
    return np.matmul(a, b, out=out)


class Layer:
    """Base class: a layer without parameters or buffers (the identity)."""

    params: tuple = ()
    #: Its non-trainable arrays (:class:`BufferSpec`), e.g. running statistics.
    buffers: tuple = ()
    #: The :class:`Context` subclass of this layer type.
    Context = Context
    #: Whether its forward reads the mode's ``rng`` or ``sample_weight``.
    uses_mode = False

    def buffer_units(self, training: bool) -> dict:
        """Columns of each per-row buffer a pass needs (none here)."""
        return {}

    def forward(self, ctx: Context, x, mode: Mode):
        """The layer's output for ``x``."""
        return x

    def backward(self, ctx: Context, delta: np.ndarray):
        """``dL/d input`` from ``dL/d output`` (writing parameter gradients)."""
        return delta


class Dense(Layer):
    """The affine map ``z = x W + b``.

    Parameters
    ----------
    n_in, n_out : int
        Units in and out.
    first : bool
        Whether it reads the network's input, whose gradient nobody needs
        (its backward then returns None) and which may be sparse.
    frozen_intercept : bool
        Keep the intercept out of training (its gradient is 0): a batch
        normalization that follows subtracts the batch mean, so the
        intercept could not change the output.

    Notes
    -----
    Backward, with ``delta = dL/dz``: ``dW = x^T delta``, ``db = sum_rows
    delta`` (one GEMV against a vector of ones), ``dL/dx = delta W^T``.
    """

    class Context(Context):
        __slots__ = (
            "coef",
            "intercept",
            "grad_coef",
            "grad_intercept",
            "out",
            "delta_in",
            "x",
        )

    def __init__(
        self, n_in: int, n_out: int, *, first: bool = False, frozen_intercept=False
    ):
        self.n_in, self.n_out, self.first = int(n_in), int(n_out), first
        self.frozen_intercept = frozen_intercept
        self.params = (
            ParamSpec("coef", (self.n_in, self.n_out), decayed=True),
            ParamSpec("intercept", (self.n_out,), decayed=False),
        )

    def buffer_units(self, training):
        units = {"out": self.n_out}
        if training and not self.first:
            units["delta_in"] = self.n_in
        return units

    def forward(self, ctx, x, mode):
        if self.first:  # the input may be sparse
            out = _dot(x, ctx.coef, out=ctx.out)
        else:
            out = np.matmul(x, ctx.coef, out=ctx.out)
        out += ctx.intercept
        ctx.x = x
        return out

    def backward(self, ctx, delta):
        if self.frozen_intercept:
            ctx.grad_intercept[...] = 0
        else:
            np.dot(ctx.ones, delta, out=ctx.grad_intercept)  # column sums, one GEMV
        if self.first:
            _dot(ctx.x.T, delta, out=ctx.grad_coef)
            return None
        np.matmul(ctx.x.T, delta, out=ctx.grad_coef)
        return np.matmul(delta, ctx.coef.T, out=ctx.delta_in)

    def __repr__(self) -> str:
        return f"Dense({self.n_in}, {self.n_out})"


class ActivationLayer(Layer):
    """An element-wise hidden activation, in place on its input.

    Parameters
    ----------
    activation : Activation
        The function and its derivative (from :data:`skmlp._activations.ACTIVATIONS`).
    units : int
        Width of the layer.
    """

    class Context(Context):
        __slots__ = ("pre", "a")

    def __init__(self, activation: Activation, units: int):
        self.activation, self.units = activation, int(units)

    def buffer_units(self, training):
        # the derivative of GELU/SiLU needs z, which the forward overwrites
        return {"pre": self.units} if training and self.activation.needs_input else {}

    def forward(self, ctx, z, mode):
        if mode.training and self.activation.needs_input:
            np.copyto(ctx.pre, z)
        ctx.a = self.activation.forward(z)
        return ctx.a

    def backward(self, ctx, delta):
        if self.activation.needs_input:
            return self.activation.backward(ctx.a, delta, z=ctx.pre)
        return self.activation.backward(ctx.a, delta)

    def __repr__(self) -> str:
        return f"ActivationLayer({self.activation.name!r}, {self.units})"


class Dropout(Layer):
    """Inverted dropout of hidden units, in training only.

    Parameters
    ----------
    rate : float
        Probability of dropping a unit, in (0, 1). Kept units are scaled by
        ``1 / (1 - rate)``, so inference needs no change.
    """

    class Context(Context):
        __slots__ = ("mask",)

    uses_mode = True

    def __init__(self, rate: float):
        self.rate = float(rate)

    def forward(self, ctx, a, mode):
        if not mode.training:
            ctx.mask = None
            return a
        mask = (mode.rng.random_sample(a.shape) >= self.rate) / (1.0 - self.rate)
        ctx.mask = mask
        return a * mask.astype(a.dtype, copy=False)

    def backward(self, ctx, delta):
        if ctx.mask is not None:
            delta *= ctx.mask
        return delta

    def __repr__(self) -> str:
        return f"Dropout({self.rate})"


@dataclass(frozen=True)
class BufferSpec:
    """One non-trainable array of a layer (kept across fits, never trained).

    Attributes
    ----------
    name : str
    shape : tuple of int
    init : float
        Its initial value.
    """

    name: str
    shape: tuple
    init: float


class BatchNorm(Layer):
    """Batch normalization of a hidden layer's pre-activations.

    Parameters
    ----------
    units : int
        Width of the layer.
    momentum : float
        Weight of a batch's statistics in the running ones:
        ``running = (1 - momentum) running + momentum batch`` (PyTorch's
        convention).
    epsilon : float
        Added to the variance before its square root.

    Notes
    -----
    Training, per unit, with normalised sample weights ``w_i = s_i / S``
    (``1 / m`` without weights): ``mu = sum_i w_i z_i``, ``var = sum_i w_i
    (z_i - mu)^2`` (biased), ``xhat_i = (z_i - mu) / sqrt(var + eps)``,
    ``y_i = gamma xhat_i + beta``. Backward, from ``g_i = dL/dy_i``:
    ``dbeta = sum_i g_i``, ``dgamma = sum_i g_i xhat_i`` and
    ``dL/dz_i = gamma / sqrt(var + eps) (g_i - w_i (dbeta + xhat_i dgamma))``.
    Inference uses the running statistics: ``y = gamma (z - mean) /
    sqrt(var + eps) + beta``. The forward only records the batch's statistics
    (:meth:`batch_statistics`); the training loop folds them into the running
    ones after an accepted step, so a loss evaluation never moves them.
    """

    uses_mode = True

    class Context(Context):
        __slots__ = (
            "scale",
            "offset",
            "grad_scale",
            "grad_offset",
            "mean",
            "var",
            "xhat",
            "tmp",
            "inv_std",
            "weights",
            "batch_mean",
            "batch_var",
        )

    def __init__(self, units: int, momentum: float = 0.1, epsilon: float = 1e-5):
        self.units, self.momentum, self.epsilon = int(units), momentum, epsilon
        self.params = (
            ParamSpec("scale", (self.units,), decayed=False),
            ParamSpec("offset", (self.units,), decayed=False),
        )
        self.buffers = (
            BufferSpec("mean", (self.units,), 0.0),
            BufferSpec("var", (self.units,), 1.0),
        )

    def buffer_units(self, training):
        return {"xhat": self.units, "tmp": self.units} if training else {}

    def forward(self, ctx, z, mode):
        if not mode.training:  # an affine map per unit, from the running statistics
            s = ctx.scale / np.sqrt(ctx.var + self.epsilon)
            z *= s.astype(z.dtype, copy=False)
            z += (ctx.offset - ctx.mean * s).astype(z.dtype, copy=False)
            return z
        n = z.shape[0]
        sw = mode.sample_weight
        if sw is None:
            weights = None
            mean = np.dot(ctx.ones, z) / n
        else:
            weights = sw / sw.sum()
            mean = np.dot(weights, z)
        xhat = np.subtract(z, mean, out=ctx.xhat)
        sq = np.multiply(xhat, xhat, out=z)  # z is not needed any more
        var = np.dot(ctx.ones, sq) / n if weights is None else np.dot(weights, sq)
        inv_std = 1.0 / np.sqrt(var + self.epsilon)
        xhat *= inv_std
        ctx.inv_std, ctx.weights = inv_std, weights
        ctx.batch_mean, ctx.batch_var = mean, var
        np.multiply(xhat, ctx.scale, out=z)
        z += ctx.offset
        return z

    def backward(self, ctx, g):
        dbeta = np.dot(ctx.ones, g, out=ctx.grad_offset)
        gx = np.multiply(g, ctx.xhat, out=ctx.tmp)
        dgamma = np.dot(ctx.ones, gx, out=ctx.grad_scale)
        np.multiply(ctx.xhat, dgamma, out=gx)
        gx += dbeta
        if ctx.weights is None:
            gx *= 1.0 / g.shape[0]
        else:
            gx *= ctx.weights[:, None]
        g -= gx
        g *= ctx.scale * ctx.inv_std
        return g

    @staticmethod
    def batch_statistics(ctx):
        """The mean and (biased) variance of the last training batch, or None."""
        if ctx.batch_mean is None:
            return None
        return ctx.batch_mean, ctx.batch_var

    def __repr__(self) -> str:
        return f"BatchNorm({self.units})"
