"""Reference formulas shared by the test modules (plain NumPy, no skmlp)."""

import numpy as np
from scipy.special import erfc

#: Every hidden activation skmlp ships, written out independently of skmlp.
REFERENCE_ACTIVATIONS = {
    "identity": lambda z: z,
    "logistic": lambda z: 1 / (1 + np.exp(-z)),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0),
    "softplus": lambda z: np.log1p(np.exp(z)),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "elu": lambda z: np.where(z > 0, z, np.exp(np.minimum(z, 0)) - 1),
    # exact GELU: z Phi(z), Phi(z) = erfc(-z / sqrt 2) / 2 (no cancellation for z < 0)
    "gelu": lambda z: z * 0.5 * erfc(-z / np.sqrt(2)),
    "silu": lambda z: z / (1 + np.exp(-z)),
}
