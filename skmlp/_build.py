"""Builders: the parts of a fit, made from the estimator's parameters.

Each function takes ``params``, the estimator's ``get_params(deep=False)``
dict, and returns one component, as skorch's ``initialize_module`` /
``initialize_criterion`` / ``initialize_optimizer`` do: the network, its
initial parameters, the penalty, the optimizer, the schedule and the loop's
settings. ``fit`` and :func:`skmlp.check_gradients` build from the same
functions, so they cannot drift apart; nothing here touches an estimator.
"""

from numbers import Real

import numpy as np

from skmlp._activations import hidden_activations
from skmlp._initializers import initialize
from skmlp._network import Network
from skmlp._objective import Penalty
from skmlp._optimizers import is_stochastic, make_optimizer
from skmlp._schedules import make_schedule
from skmlp._training import StochasticConfig

__all__ = [
    "batch_norm_flags",
    "batch_size",
    "dropout_rates",
    "hidden_sizes",
    "initial_params",
    "make_network",
    "make_optimizer",
    "make_penalty",
    "make_schedule",
    "stochastic_config",
]


def hidden_sizes(params: dict) -> list:
    """Units of each hidden layer, from ``hidden_layer_sizes``."""
    sizes = params["hidden_layer_sizes"]
    if not hasattr(sizes, "__iter__"):
        sizes = [sizes]
    sizes = list(sizes)
    if not all(isinstance(s, Real) and s > 0 for s in sizes):
        raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
    if not np.isfinite(sizes).all():
        raise ValueError(f"hidden_layer_sizes must be finite, got {sizes}.")
    return [int(s) for s in sizes]


def dropout_rates(params: dict, n_hidden: int) -> list:
    """One dropout rate per hidden layer, from ``dropout``."""
    rates = params["dropout"]
    if isinstance(rates, Real):
        return [float(rates)] * n_hidden
    rates = list(rates)
    valid = all(isinstance(r, Real) and 0 <= r < 1 for r in rates)
    if len(rates) != n_hidden or not valid:
        raise ValueError(
            f"dropout must be a rate in [0, 1) or one such rate per hidden "
            f"layer ({n_hidden}), got {params['dropout']!r}."
        )
    return [float(r) for r in rates]


def batch_norm_flags(params: dict, n_hidden: int) -> list:
    """Per hidden layer, whether it has batch normalization (``batch_norm``)."""
    flags = params["batch_norm"]
    if isinstance(flags, bool | np.bool_):
        return [bool(flags)] * n_hidden
    flags = list(flags)
    if len(flags) != n_hidden or not all(isinstance(f, bool | np.bool_) for f in flags):
        raise ValueError(
            f"batch_norm must be a bool or one bool per hidden layer ({n_hidden}), "
            f"got {params['batch_norm']!r}."
        )
    return [bool(f) for f in flags]


def make_network(params: dict, n_in: int, n_out: int, loss, *, dropout=True):
    """The network of ``params``: dense layers, activations, dropout.

    Parameters
    ----------
    params : dict
        The estimator's parameters.
    n_in, n_out : int
        Input features and output units.
    loss : Loss
        The output loss (the estimator chooses it from the targets).
    dropout : bool, default=True
        Include the dropout layers. L-BFGS and the gradient checker, which
        need a deterministic objective, leave them out.
    """
    hidden = hidden_sizes(params)
    activations = hidden_activations(params["activation"], len(hidden))
    rates = dropout_rates(params, len(hidden))
    if not dropout or not is_stochastic(params["solver"]):
        rates = [0.0] * len(hidden)
    return Network.dense(
        [n_in, *hidden, n_out],
        activations,
        loss,
        rates,
        batch_norm_flags(params, len(hidden)),
        momentum=params["batch_norm_momentum"],
        epsilon=params["batch_norm_epsilon"],
    )


def _init_activation_names(params: dict, n_weight_layers: int) -> list:
    """Activation name governing each weight layer's initial scale."""
    activation = params["activation"]
    if isinstance(activation, str):
        return [activation] * n_weight_layers
    names = list(activation)
    return names + [names[-1] if names else "identity"]


def initial_params(params: dict, network: Network, dtype, rng) -> np.ndarray:
    """The flat vector of initial parameters (``weight_init``'s draws from ``rng``).

    Batch normalization starts as the identity (scales 1, offsets 0); the
    frozen intercept of a layer it follows is 0 (drawn, then zeroed, so that
    the other draws are those of the same network without it).
    """
    units = network.layer_units
    coefs, intercepts = initialize(
        params["weight_init"],
        units,
        _init_activation_names(params, len(units) - 1),
        rng,
        dtype,
        params["init_scale"],
    )
    flags = network.batch_norm
    for k, normed in enumerate(flags):
        if normed:
            intercepts[k] = np.zeros_like(intercepts[k])
    n = units[1:-1]
    scales = [np.ones(u, dtype) if f else None for u, f in zip(n, flags, strict=True)]
    offsets = [np.zeros(u, dtype) if f else None for u, f in zip(n, flags, strict=True)]
    arrays = network.arrays_from(coefs, intercepts, scale=scales, offset=offsets)
    return network.layout.pack(arrays, dtype)


def make_penalty(params: dict, network: Network) -> Penalty:
    """The L2 (``alpha``) and L1 (``alpha_l1``) penalty on the network's weights."""
    return Penalty(params["alpha"], params["alpha_l1"], network.layout.n_decayed)


def batch_size(params: dict, n_samples: int) -> int:
    """The mini-batch size in effect for ``n_samples`` rows."""
    size = params["batch_size"]
    if size == "auto":
        return min(200, n_samples)
    return int(np.clip(size, 1, n_samples))


def stochastic_config(params: dict, n_samples: int, incremental: bool):
    """Settings of the mini-batch loop for ``n_samples`` training rows."""
    n_hidden = len(hidden_sizes(params))
    return StochasticConfig(
        merge_single_tail=any(batch_norm_flags(params, n_hidden)),
        batch_size=batch_size(params, n_samples),
        max_iter=params["max_iter"],
        shuffle=params["shuffle"],
        tol=params["tol"],
        n_iter_no_change=params["n_iter_no_change"],
        verbose=bool(params["verbose"]),
        incremental=incremental,
        max_grad_norm=params["max_grad_norm"],
        warmup_epochs=params["warmup_epochs"],
    )
