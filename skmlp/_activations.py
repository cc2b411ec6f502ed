"""Hidden-layer activation functions, each with its derivative beside it.

An activation transforms a pre-activation buffer ``z`` into its output ``a`` in
place, and multiplies a back-propagated error ``delta`` in place by ``f'(z)``.
Derivatives are written as functions of the output ``a`` where possible, so
that the forward pass need not keep ``z``; activations that cannot (GELU, SiLU)
set ``needs_input`` and receive ``z`` as well.
"""

import numpy as np
from scipy.special import expit, ndtr

from skmlp._registry import Registry

#: Largest array (entries) given a same-shape zero operand; larger ones use a
#: scalar 0 (NumPy's maximum against a broadcast scalar is ~4x slower, but a
#: prediction over many rows must not allocate a zero array as large as itself).
_MAX_ZEROS = 1 << 18
_ZEROS: dict = {}


def _zeros_for(z: np.ndarray):
    """Read-only zeros shaped like ``z`` (cached), or 0 for large ``z``.

    One array per (row length, dtype) is kept, as many rows as the most asked
    for; fewer rows are a view of its first ones.
    """
    if z.size > _MAX_ZEROS or z.ndim != 2:
        return 0
    rows, cols = z.shape
    key = (cols, z.dtype)
    zeros = _ZEROS.get(key)
    if zeros is None or zeros.shape[0] < rows:
        if len(_ZEROS) >= 8:
            _ZEROS.clear()
        zeros = np.zeros(z.shape, dtype=z.dtype)
        zeros.flags.writeable = False
        _ZEROS[key] = zeros
    return zeros[:rows]


class Activation:
    """Base class: a named element-wise function and its derivative.

    Subclasses implement :meth:`forward` and :meth:`backward`, both in place.
    """

    name = ""
    #: True when the derivative needs the pre-activation ``z`` (passed to backward)
    needs_input = False

    def forward(self, z: np.ndarray) -> np.ndarray:
        """Overwrite ``z`` with ``f(z)`` and return it."""
        raise NotImplementedError

    def backward(self, a: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """Multiply ``delta`` in place by ``f'(z)``, given the output ``a = f(z)``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Identity(Activation):
    """``f(z) = z``, ``f'(z) = 1``."""

    name = "identity"

    def forward(self, z):
        return z

    def backward(self, a, delta):
        return delta


class Logistic(Activation):
    """``f(z) = 1 / (1 + exp(-z))``, ``f'(z) = a (1 - a)``.

    ``scipy.special.expit`` never overflows.
    """

    name = "logistic"

    def forward(self, z):
        return expit(z, out=z)

    def backward(self, a, delta):
        delta *= a
        delta *= 1 - a
        return delta


class Tanh(Activation):
    """``f(z) = tanh(z)``, ``f'(z) = 1 - a**2``."""

    name = "tanh"

    def forward(self, z):
        return np.tanh(z, out=z)

    def backward(self, a, delta):
        delta *= 1 - a * a
        return delta


class ReLU(Activation):
    """``f(z) = max(z, 0)``, ``f'(z) = 1 if a > 0 else 0``."""

    name = "relu"

    def forward(self, z):
        return np.maximum(z, _zeros_for(z), out=z)

    def backward(self, a, delta):
        # ``a > 0`` as a multiplier: no boolean fancy-indexing in the hot loop.
        delta *= a > 0
        return delta


class Softplus(Activation):
    """``f(z) = log(1 + exp(z))``, ``f'(z) = sigmoid(z) = 1 - exp(-a)``.

    Computed as ``logaddexp(0, z)``: no overflow for large ``z``.
    """

    name = "softplus"

    def forward(self, z):
        return np.logaddexp(0, z, out=z)

    def backward(self, a, delta):
        delta *= -np.expm1(-a)
        return delta


class LeakyReLU(Activation):
    """``f(z) = z if z > 0 else 0.01 z``, ``f'(z) = 1 if a > 0 else 0.01``."""

    name = "leaky_relu"
    slope = 0.01

    def forward(self, z):
        return np.maximum(z, self.slope * z, out=z)

    def backward(self, a, delta):
        delta *= np.where(a > 0, 1.0, self.slope).astype(delta.dtype, copy=False)
        return delta


class ELU(Activation):
    """``f(z) = z if z > 0 else exp(z) - 1``, ``f'(z) = 1 if a > 0 else a + 1``."""

    name = "elu"

    def forward(self, z):
        neg = np.expm1(np.minimum(z, 0))
        np.maximum(z, 0, out=z)
        z += neg
        return z

    def backward(self, a, delta):
        delta *= np.where(a > 0, 1, a + 1)
        return delta


class SiLU(Activation):
    """``f(z) = z sigmoid(z)`` (swish), ``f'(z) = s + z s (1 - s)``, ``s = sigmoid(z)``.

    Its derivative is not a function of the output, so the network keeps ``z``.
    """

    name = "silu"
    needs_input = True

    def forward(self, z):
        z *= expit(z)
        return z

    def backward(self, a, delta, z=None):
        s = expit(z)
        delta *= s * (1 + z * (1 - s))
        return delta


class GELU(Activation):
    """Exact GELU, ``f(z) = z Phi(z)`` with ``Phi`` the standard normal CDF.

    ``f'(z) = Phi(z) + z phi(z)``; the network keeps ``z``.
    """

    name = "gelu"
    needs_input = True

    def forward(self, z):
        z *= ndtr(z)
        return z

    def backward(self, a, delta, z=None):
        delta *= ndtr(z) + z * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
        return delta


#: Hidden activations by name; 'sigmoid' is an alias of 'logistic'.
ACTIVATIONS = Registry("activation")
for _act in (
    Identity(),
    Logistic(),
    Tanh(),
    ReLU(),
    Softplus(),
    LeakyReLU(),
    ELU(),
    GELU(),
    SiLU(),
):
    ACTIVATIONS.register(
        _act.name, _act, aliases=("sigmoid",) if _act.name == "logistic" else ()
    )


def get_activation(name: str) -> Activation:
    """Return the activation registered under ``name`` ('sigmoid' is 'logistic')."""
    return ACTIVATIONS.resolve(name)


def hidden_activations(activation, n_hidden: int) -> list[Activation]:
    """One activation per hidden layer from a name or a list of names.

    Parameters
    ----------
    activation : str or sequence of str
        One name for every hidden layer, or one name per hidden layer.
    n_hidden : int
        Number of hidden layers.
    """
    if isinstance(activation, str):
        return [get_activation(activation)] * n_hidden
    names = list(activation)
    if len(names) != n_hidden:
        raise ValueError(
            f"activation has {len(names)} entries but there are {n_hidden} hidden "
            "layers: give one name, or one name per hidden layer."
        )
    return [get_activation(name) for name in names]
