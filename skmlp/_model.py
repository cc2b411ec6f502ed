"""The fitted network, described from an estimator's public fitted attributes.

Prediction, per-epoch validation, :func:`skmlp.check_gradients` and export all
read a fitted model through :class:`FittedNetwork`: the layers the estimator's
parameters call for, the arrays in ``coefs_`` / ``intercepts_`` (as they are
now: users may edit them), and the loss that owns the output link. It is built
on demand, so it never goes stale.
"""

import numpy as np

from skmlp._build import make_network


class FittedNetwork:
    """A fitted estimator's network: layers, their arrays and the output loss.

    Parameters
    ----------
    network : Network
        The layers (inference only: no dropout) and the loss.
    arrays : list of dict
        Each layer's parameter arrays (see :meth:`Layout.views
        <skmlp._network.Layout.views>`).
    """

    def __init__(self, network, arrays):
        self.network, self.arrays = network, arrays

    @classmethod
    def from_estimator(cls, estimator, loss) -> "FittedNetwork":
        """The network of a fitted ``estimator``, whose output loss is ``loss``."""
        params = estimator.get_params(deep=False)
        coefs, intercepts = estimator.coefs_, estimator.intercepts_
        scales = getattr(estimator, "batch_norm_scales_", None)
        if scales is not None:  # the fitted layers, whatever set_params did since
            params["batch_norm"] = [scale is not None for scale in scales]
        network = make_network(
            params, coefs[0].shape[0], coefs[-1].shape[1], loss, dropout=False
        )
        if network.layer_units != [coefs[0].shape[0]] + [b.size for b in intercepts]:
            raise ValueError(
                "coefs_ and intercepts_ do not match hidden_layer_sizes="
                f"{params['hidden_layer_sizes']!r}; refit the estimator."
            )
        return cls.with_network(estimator, network)

    @classmethod
    def with_network(cls, estimator, network) -> "FittedNetwork":
        """The fitted attributes of ``estimator`` laid out for ``network``.

        ``network`` must have the fitted layer sizes (its dropout does not
        matter: only the parameters and buffers are read). Warm starts use it
        with the training network, to skip building a second one.
        """
        coefs, intercepts = estimator.coefs_, estimator.intercepts_
        n_hidden = len(coefs) - 1
        named = {
            name: getattr(estimator, attr, None) or [None] * n_hidden
            for name, attr in (
                ("scale", "batch_norm_scales_"),
                ("offset", "batch_norm_offsets_"),
                ("mean", "batch_norm_means_"),
                ("var", "batch_norm_vars_"),
            )
        }
        return cls(network, network.arrays_from(coefs, intercepts, **named))

    @property
    def loss(self):
        """The output loss, which owns the link."""
        return self.network.loss

    def raw(self, X) -> np.ndarray:
        """Raw (pre-link) outputs for ``X``, a new array."""
        return self.network.infer(self.arrays, X)

    def predict(self, X) -> np.ndarray:
        """Linked outputs for ``X``: probabilities or means."""
        return self.loss.predict(self.raw(X))

    def flat_params(self, dtype) -> np.ndarray:
        """The parameters as one flat vector of ``dtype`` (a copy)."""
        return self.network.layout.pack(self.arrays, dtype)

    def buffers(self, dtype) -> dict:
        """The non-trainable arrays (running statistics) by key, copies of ``dtype``."""
        return {
            key: np.array(self.arrays[i][name], dtype=dtype)
            for i, name, key in self.network.buffer_names()
        }
