"""Weight initialisation schemes.

Every scheme returns ``(coefs, intercepts)`` for the given layer sizes. The
default, ``'sklearn'``, reproduces scikit-learn's draws exactly; the others
draw weights only and start intercepts at zero.
"""

import functools

import numpy as np

from skmlp._registry import Registry


def glorot_uniform_sklearn(layer_units, activations, rng, dtype, scale=None):
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
    scale : ignored
        For the common signature of :data:`INITIALIZERS`.
    """
    coefs, intercepts = [], []
    pairs = zip(layer_units[:-1], layer_units[1:], activations, strict=True)
    for fan_in, fan_out, act in pairs:
        factor = 2.0 if act in ("logistic", "sigmoid") else 6.0
        bound = np.sqrt(factor / (fan_in + fan_out))
        coefs.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
        intercepts.append(rng.uniform(-bound, bound, fan_out).astype(dtype))
    return coefs, intercepts


def _variance(family: str):
    """Weight variance of a Glorot, He or LeCun scheme, from the layer's fans."""
    return {
        "glorot": lambda fan_in, fan_out: 2.0 / (fan_in + fan_out),
        "he": lambda fan_in, fan_out: 2.0 / fan_in,
        "lecun": lambda fan_in, fan_out: 1.0 / fan_in,
    }[family]


def _draw_normal(variance, fan_in, fan_out, rng, scale):
    return rng.normal(0.0, np.sqrt(variance(fan_in, fan_out)), (fan_in, fan_out))


def _draw_uniform(variance, fan_in, fan_out, rng, scale):
    bound = np.sqrt(3.0 * variance(fan_in, fan_out))  # U(-b, b) has variance b^2/3
    return rng.uniform(-bound, bound, (fan_in, fan_out))


def _draw_scaled_normal(fan_in, fan_out, rng, scale):
    return rng.normal(0.0, scale, (fan_in, fan_out))


def _zero_intercepts(draw):
    """A scheme drawing each weight matrix with ``draw``; intercepts start at 0."""

    def scheme(layer_units, activations, rng, dtype, scale=0.01):
        coefs, intercepts = [], []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:], strict=True):
            coefs.append(draw(fan_in, fan_out, rng, scale).astype(dtype))
            intercepts.append(np.zeros(fan_out, dtype=dtype))
        return coefs, intercepts

    return scheme


#: Initialisation schemes by name (the ``weight_init`` parameter). Each is a
#: function ``(layer_units, activations, rng, dtype, scale) -> (coefs,
#: intercepts)``.
INITIALIZERS = Registry("weight initialisation")
INITIALIZERS.register("sklearn", glorot_uniform_sklearn)
for _family in ("glorot", "he", "lecun"):
    for _kind, _draw in (("uniform", _draw_uniform), ("normal", _draw_normal)):
        INITIALIZERS.register(
            f"{_family}_{_kind}",
            _zero_intercepts(functools.partial(_draw, _variance(_family))),
        )
INITIALIZERS.register("normal", _zero_intercepts(_draw_scaled_normal))


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
    scheme = INITIALIZERS.resolve(name)
    return scheme(layer_units, activations, rng, dtype, scale)
