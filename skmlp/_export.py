"""A fitted estimator as a plain description of its inference computation.

:func:`describe_network` reads only public fitted attributes (``coefs_``,
``intercepts_``, ``activation``, ``out_activation_``, ``n_outputs_``,
``classes_`` and, when present, the batch-normalization statistics) and returns
a :class:`NetworkDescription`: one affine map and activation per layer, batch
normalization folded into the affine maps, and the output head. Exporters
write their graphs from it and never look at the estimator again; nothing
here imports an export library.
"""

from dataclasses import dataclass

import numpy as np

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


def _hidden_activation_names(activation, n_hidden: int) -> list:
    names = [activation] * n_hidden if isinstance(activation, str) else list(activation)
    if len(names) != n_hidden:
        raise ValueError(
            f"activation has {len(names)} entries for {n_hidden} hidden layers."
        )
    names = ["logistic" if name == "sigmoid" else name for name in names]
    unknown = sorted(set(names) - set(HIDDEN_ACTIVATIONS))
    if unknown:
        raise ValueError(f"No export for the activation(s) {unknown}.")
    return names


def _batch_norm(estimator, n_hidden: int) -> list:
    """(scale, offset, mean, var) per hidden layer, or None where there is none."""
    scales = getattr(estimator, "batch_norm_scales_", None)
    if scales is None:
        return [None] * n_hidden
    offsets = estimator.batch_norm_offsets_
    means = estimator.batch_norm_means_
    variances = estimator.batch_norm_vars_
    if not len(scales) == len(offsets) == len(means) == len(variances) == n_hidden:
        raise ValueError(
            "batch_norm_scales_, batch_norm_offsets_, batch_norm_means_ and "
            f"batch_norm_vars_ must each have one entry per hidden layer ({n_hidden})."
        )
    return [
        None if scale is None else (scale, offset, mean, var)
        for scale, offset, mean, var in zip(
            scales, offsets, means, variances, strict=True
        )
    ]


def _head(estimator) -> str:
    link = estimator.out_activation_
    if link == "softmax":
        return "softmax"
    if link in ("logistic", "sigmoid"):
        return "binary" if estimator.n_outputs_ == 1 else "multilabel"
    if link in ("identity", "exp"):
        return link
    raise ValueError(f"No export for the output activation {link!r}.")


def describe_network(estimator) -> NetworkDescription:
    """Describe what a fitted estimator computes at prediction time.

    Parameters
    ----------
    estimator : BackpropClassifier or BackpropRegressor
        A fitted estimator (scikit-learn's ``MLPClassifier`` and
        ``MLPRegressor`` have the same public attributes and work too).

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
    coefs, intercepts = estimator.coefs_, estimator.intercepts_
    n_hidden = len(coefs) - 1
    names = _hidden_activation_names(estimator.activation, n_hidden) + ["identity"]
    batch_norm = _batch_norm(estimator, n_hidden) + [None]
    epsilon = getattr(estimator, "batch_norm_epsilon", None)
    if epsilon is None and any(bn is not None for bn in batch_norm):
        raise ValueError("Batch normalization statistics without batch_norm_epsilon.")
    layers = []
    for W, b, name, bn in zip(coefs, intercepts, names, batch_norm, strict=True):
        if bn is None:
            W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
        else:
            W, b = fold_batch_norm(W, b, *bn, epsilon)
        layers.append(DenseLayer(W, b, name))
    head = _head(estimator)
    classes = None
    if head in ("softmax", "binary", "multilabel"):
        classes = np.asarray(estimator.classes_)
        if len(classes) < 2:
            raise ValueError(
                "A classifier fitted on a single class cannot be exported: its "
                "predict_proba has two columns for one class."
            )
    return NetworkDescription(tuple(layers), head, int(estimator.n_outputs_), classes)
