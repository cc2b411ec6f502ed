"""Weight initialisation schemes."""

import numpy as np


def glorot_uniform_sklearn(layer_units, activation: str, rng, dtype):
    """scikit-learn's Glorot-uniform initialisation, draw for draw.

    Weights and intercepts of each layer are drawn from ``U(-b, b)`` with
    ``b = sqrt(f / (fan_in + fan_out))``, ``f = 2`` for logistic hidden units and
    ``6`` otherwise; per layer the weights are drawn before the intercepts, so the
    same ``random_state`` gives the same network as ``MLPClassifier``.

    Parameters
    ----------
    layer_units : list of int
    activation : str
    rng : numpy.random.RandomState
    dtype : numpy dtype

    Returns
    -------
    coefs, intercepts : lists of ndarray
    """
    factor = 2.0 if activation == "logistic" else 6.0
    coefs, intercepts = [], []
    for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:], strict=True):
        bound = np.sqrt(factor / (fan_in + fan_out))
        coefs.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
        intercepts.append(rng.uniform(-bound, bound, fan_out).astype(dtype))
    return coefs, intercepts
