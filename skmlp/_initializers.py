"""Weight initialisation schemes.

Every scheme returns ``(coefs, intercepts)`` for the given layer sizes. The
default, ``'sklearn'``, reproduces scikit-learn's draws exactly; the others
draw weights only and start intercepts at zero.
"""

import numpy as np

INITIALIZERS = (
    "sklearn",
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_uniform",
    "lecun_normal",
    "normal",
)


def glorot_uniform_sklearn(layer_units, activations, rng, dtype):
    """scikit-learn's Glorot-uniform initialisation, draw for draw.

    Weights and intercepts of each layer are drawn from ``U(-b, b)`` with
    ``b = sqrt(f / (fan_in + fan_out))``, ``f = 2`` for logistic units and ``6``
    otherwise; per layer the weights are drawn before the intercepts, so the
    same ``random_state`` gives the same network as ``MLPClassifier``.

    Parameters
    ----------
    layer_units : list of int
    activations : list of str
        Name of the activation whose factor applies to each layer (one per
        weight layer; scikit-learn uses the hidden activation for all).
    rng : numpy.random.RandomState
    dtype : numpy dtype
    """
    coefs, intercepts = [], []
    pairs = zip(layer_units[:-1], layer_units[1:], activations, strict=True)
    for fan_in, fan_out, act in pairs:
        factor = 2.0 if act in ("logistic", "sigmoid") else 6.0
        bound = np.sqrt(factor / (fan_in + fan_out))
        coefs.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
        intercepts.append(rng.uniform(-bound, bound, fan_out).astype(dtype))
    return coefs, intercepts


def _weight_draw(name: str, fan_in: int, fan_out: int, rng, scale: float):
    """One weight matrix of scheme ``name``."""
    shape = (fan_in, fan_out)
    family, _, kind = name.rpartition("_")
    if name == "normal":
        return rng.normal(0.0, scale, shape)
    variance = {
        "glorot": 2.0 / (fan_in + fan_out),
        "he": 2.0 / fan_in,
        "lecun": 1.0 / fan_in,
    }[family]
    if kind == "normal":
        return rng.normal(0.0, np.sqrt(variance), shape)
    bound = np.sqrt(3.0 * variance)  # U(-b, b) has variance b^2 / 3
    return rng.uniform(-bound, bound, shape)


def initialize(name, layer_units, activations, rng, dtype, scale=0.01):
    """Initial weights and intercepts of scheme ``name``.

    Parameters
    ----------
    name : str
        One of :data:`INITIALIZERS`. Glorot: ``Var = 2 / (fan_in + fan_out)``;
        He: ``2 / fan_in``; LeCun: ``1 / fan_in`` (the Gaussian "scaled by
        ``1/sqrt(n)``" initialisation); each in uniform and normal form.
        'normal' draws ``N(0, scale^2)``.
    layer_units : list of int
    activations : list of str
        Activation name per weight layer (used by 'sklearn').
    rng : numpy.random.RandomState
    dtype : numpy dtype
    scale : float, default=0.01
        Standard deviation of 'normal'.
    """
    if name == "sklearn":
        return glorot_uniform_sklearn(layer_units, activations, rng, dtype)
    coefs, intercepts = [], []
    for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:], strict=True):
        coefs.append(_weight_draw(name, fan_in, fan_out, rng, scale).astype(dtype))
        intercepts.append(np.zeros(fan_out, dtype=dtype))
    return coefs, intercepts
