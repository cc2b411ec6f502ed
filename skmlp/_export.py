"""A fitted estimator as a plain description of its inference computation.

:func:`describe_network` walks the layers of the estimator's
:class:`~skmlp._model.FittedNetwork` (the description predict reads, built
from the public fitted attributes) and returns a :class:`NetworkDescription`:
one affine map and activation per dense layer, batch normalization folded into
the affine maps, dropout left out, and the output head. Exporters write their
graphs from it and never look at the estimator again; nothing here imports an
export library.
"""

from dataclasses import dataclass

import numpy as np

from skmlp._layers import ActivationLayer, BatchNorm, Dense, Dropout

#: Hidden activations an exporter must write ('sigmoid' is read as 'logistic').
HIDDEN_ACTIVATIONS = (
    "identity",
    "logistic",
    "tanh",
    "relu",
    "softplus",
    "leaky_relu",
    "elu",
    "gelu",
    "silu",
)

#: Output heads: what turns the last affine map into predictions.
#: 'softmax' (multiclass probabilities), 'binary' (one logit, two probability
#: columns), 'multilabel' (one sigmoid per label), 'identity' and 'exp'
#: (regression with an identity or a log link).
HEADS = ("softmax", "binary", "multilabel", "identity", "exp")


@dataclass(frozen=True)
class DenseLayer:
    """One layer of inference: ``activation(x @ weights + bias)``.

    Attributes
    ----------
    weights : ndarray of shape (n_in, n_out), float64
        The weights, with any batch normalization folded in.
    bias : ndarray of shape (n_out,), float64
        The intercepts, with any batch normalization folded in.
    activation : str
        One of :data:`HIDDEN_ACTIVATIONS`; 'identity' for the output layer,
        whose link belongs to the head.
    """

    weights: np.ndarray
    bias: np.ndarray
    activation: str


@dataclass(frozen=True)
class NetworkDescription:
    """The inference computation of a fitted estimator.

    Attributes
    ----------
    layers : tuple of DenseLayer
        The layers in order; the last one is the output layer (raw outputs).
    head : str
        One of :data:`HEADS`.
    n_outputs : int
        Number of raw outputs (columns of the last layer).
    classes : ndarray or None
        ``classes_`` of a classifier, None for a regressor.
    """

    layers: tuple
    head: str
    n_outputs: int
    classes: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        """Number of input columns."""
        return self.layers[0].weights.shape[0]

    @property
    def n_probability_columns(self) -> int:
        """Columns of ``predict_proba`` (0 for a regressor)."""
        if self.head == "binary":
            return 2
        if self.head in ("softmax", "multilabel"):
            return self.n_outputs
        return 0


def fold_batch_norm(weights, bias, scale, offset, mean, var, epsilon):
    """Fold inference-mode batch normalization into the affine map before it.

    ``scale * (x @ W + b - mean) / sqrt(var + epsilon) + offset`` equals
    ``x @ W' + b'`` with ``s = scale / sqrt(var + epsilon)``, ``W' = W * s``
    (column-wise) and ``b' = (b - mean) * s + offset``.

    Parameters
    ----------
    weights : array-like of shape (n_in, n_out)
        Weights of the affine map.
    bias : array-like of shape (n_out,)
        Intercepts of the affine map.
    scale, offset : array-like of shape (n_out,)
        The batch normalization's learned gamma and beta.
    mean, var : array-like of shape (n_out,)
        Its running mean and variance.
    epsilon : float
        The constant added to the variance.

    Returns
    -------
    weights, bias : ndarray
        The folded weights and intercepts, in float64 whatever the inputs.
    """
    s = np.asarray(scale, dtype=np.float64) / np.sqrt(
        np.asarray(var, dtype=np.float64) + epsilon
    )
    folded_weights = np.asarray(weights, dtype=np.float64) * s
    folded_bias = (
        np.asarray(bias, dtype=np.float64) - np.asarray(mean, dtype=np.float64)
    ) * s + np.asarray(offset, dtype=np.float64)
    return folded_weights, folded_bias


def _head(link: str, n_outputs: int) -> str:
    if link == "softmax":
        return "softmax"
    if link in ("logistic", "sigmoid"):
        return "binary" if n_outputs == 1 else "multilabel"
    if link in ("identity", "exp"):
        return link
    raise ValueError(f"No export for the output activation {link!r}.")


def describe_network(estimator) -> NetworkDescription:
    """Describe what a fitted estimator computes at prediction time.

    Parameters
    ----------
    estimator : BackpropClassifier or BackpropRegressor
        A fitted estimator.

    Returns
    -------
    description : NetworkDescription
        The layers, with batch normalization folded into the affine maps
        (dropout is a training-time operation and does not appear), and the
        head.

    Raises
    ------
    ValueError
        If the estimator has an activation or output link without export, or
        is a classifier fitted on a single class.
    """
    model = estimator._fitted_network()
    layers = []  # [weights, bias, activation] per dense layer, BN folded in
    for layer, arrays in zip(model.network.layers, model.arrays, strict=True):
        if isinstance(layer, Dense):
            layers.append(
                [
                    np.asarray(arrays["coef"], dtype=np.float64),
                    np.asarray(arrays["intercept"], dtype=np.float64),
                    "identity",
                ]
            )
        elif isinstance(layer, BatchNorm):
            stats = (arrays[k] for k in ("scale", "offset", "mean", "var"))
            layers[-1][:2] = fold_batch_norm(*layers[-1][:2], *stats, layer.epsilon)
        elif isinstance(layer, ActivationLayer):
            name = layer.activation.name
            if name not in HIDDEN_ACTIVATIONS:
                raise ValueError(f"No export for the activation {name!r}.")
            layers[-1][2] = name
        elif not isinstance(layer, Dropout):  # dropout: training only
            raise ValueError(f"No export for the layer {layer!r}.")
    n_outputs = int(estimator.n_outputs_)
    head = _head(model.loss.link, n_outputs)
    classes = None
    if head in ("softmax", "binary", "multilabel"):
        classes = np.asarray(estimator.classes_)
        if len(classes) < 2:
            raise ValueError(
                "A classifier fitted on a single class cannot be exported: its "
                "predict_proba has two columns for one class."
            )
    described = tuple(DenseLayer(W, b, name) for W, b, name in layers)
    return NetworkDescription(described, head, n_outputs, classes)
