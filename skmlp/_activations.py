"""Hidden-layer activation functions, each with its derivative beside it.

An activation transforms a pre-activation buffer ``z`` into its output ``a`` in
place, and multiplies a back-propagated error ``delta`` in place by ``f'(z)``.
Every derivative here is written as a function of the output ``a`` so that the
forward pass need not keep ``z``.
"""

import numpy as np
from scipy.special import expit


class Activation:
    """Base class: a named element-wise function and its derivative.

    Subclasses implement :meth:`forward` and :meth:`backward`, both in place.
    """

    name = ""

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
        return np.maximum(z, 0, out=z)

    def backward(self, a, delta):
        # ``a > 0`` as a multiplier: no boolean fancy-indexing in the hot loop.
        delta *= a > 0
        return delta


ACTIVATIONS: dict[str, Activation] = {
    act.name: act for act in (Identity(), Logistic(), Tanh(), ReLU())
}


def get_activation(name: str) -> Activation:
    """Return the activation registered under ``name``."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"Unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}."
        ) from None
