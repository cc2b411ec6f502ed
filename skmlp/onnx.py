"""ONNX export of skmlp's estimators, through skl2onnx.

Importing this module registers a shape calculator and a converter for both
estimators with skl2onnx (the classifier's parser is skl2onnx's own, which
handles the ``zipmap`` and ``output_class_labels`` options), so that
``skl2onnx.to_onnx`` converts them, alone or inside a ``Pipeline`` or
``ColumnTransformer``; :func:`to_onnx` is the one-call shortcut. It needs the
``onnx`` extra: ``pip install "skmlp[onnx]"``.

The graph is written from :func:`skmlp._export.describe_network`, a plain
description of the fitted network (batch normalization folded into the
weights), never from skl2onnx's MLP converter. It is a float32 graph for float
input and a float64 graph for double input; onnxruntime's CPU provider has no
double kernel for Softplus, LeakyRelu, Elu, Erf or Gelu, so double graphs
write those from elementary operators.
"""

import math
from functools import cache

import numpy as np

try:
    import onnx
    from skl2onnx import to_onnx as _skl2onnx_to_onnx
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
        guess_proto_type,
    )
    from skl2onnx.common.utils import (
        check_input_and_output_numbers,
        check_input_and_output_types,
    )
    from skl2onnx.common.utils_classifier import get_label_classes
except ImportError as exc:  # pragma: no cover - exercised in a subprocess
    package = exc.name or "skl2onnx"
    raise ImportError(
        f"skmlp.onnx needs the package {package!r}, missing or too old "
        f'({exc}): pip install "skmlp[onnx]"'
    ) from exc

from skmlp._classifier import BackpropClassifier
from skmlp._export import describe_network
from skmlp._regressor import BackpropRegressor

__all__ = ["to_onnx"]

TensorProto = onnx.TensorProto
INT64 = TensorProto.INT64

#: The lowest ONNX opset written: from 11 on Clip takes its bounds as inputs
#: (before, as float32 attributes, which cannot hold float64's tiny).
MIN_OPSET = 11

CLASSIFIER_OPTIONS = {
    "zipmap": [True, False, "columns"],
    "output_class_labels": [False, True],
    "nocl": [True, False],
}


def to_onnx(model, X=None, **kwargs):
    """Convert a fitted estimator or pipeline to an ONNX model.

    A shortcut for :func:`skl2onnx.to_onnx` once this module has registered
    skmlp's estimators; every keyword is passed on.

    Parameters
    ----------
    model : estimator
        A fitted :class:`~skmlp.BackpropClassifier`,
        :class:`~skmlp.BackpropRegressor`, or a scikit-learn pipeline or
        column transformer that contains them.
    X : array-like or DataFrame, default=None
        A few input rows: their dtype picks the graph's input type (float32
        gives a float graph, float64 a double graph) and, for a DataFrame, one
        input per column. Give ``initial_types`` instead to name the inputs.
    **kwargs
        Passed to :func:`skl2onnx.to_onnx`, e.g. ``target_opset`` (an int) or
        ``options``: ``{id(clf): {"zipmap": False}}`` (or keyed by the class)
        returns the probabilities as one tensor instead of a list of
        dictionaries, ``{"zipmap": "columns"}`` as one output per class.

    Returns
    -------
    onx : onnx.ModelProto
        The ONNX model. A classifier's outputs are ``label`` and
        ``probabilities``, a regressor's ``variable`` of shape
        ``(n_samples, n_outputs)``.

    Notes
    -----
    ZipMap, the operator behind the default ``zipmap=True``, takes float
    tensors only: a double graph needs ``zipmap=False`` or ``'columns'``;
    asking for ZipMap there raises.

    Examples
    --------
    >>> import numpy as np
    >>> from skmlp import BackpropClassifier
    >>> from skmlp.onnx import to_onnx
    >>> X = np.random.RandomState(0).randn(40, 3).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(int)
    >>> clf = BackpropClassifier(
    ...     hidden_layer_sizes=(5,), solver="lbfgs", random_state=0
    ... ).fit(X, y)
    >>> onx = to_onnx(clf, X[:1], options={id(clf): {"zipmap": False}})
    >>> [output.name for output in onx.graph.output]
    ['label', 'probabilities']
    """
    return _skl2onnx_to_onnx(model, X, **kwargs)


# ------------------------------------------------------------------ the graph
class _Graph:
    """Writes nodes and constants of one float dtype into a skl2onnx container."""

    def __init__(self, scope, container, dtype):
        self.scope = scope
        self.container = container
        self.dtype = np.dtype(dtype)
        self.double = self.dtype == np.float64
        self.proto = TensorProto.DOUBLE if self.double else TensorProto.FLOAT
        self.opset = container.target_opset_any_domain("")
        if self.opset < MIN_OPSET:
            raise RuntimeError(
                f"skmlp's ONNX export needs target_opset >= {MIN_OPSET}, "
                f"got {self.opset}."
            )

    def constant(self, value, name="c", dtype=None) -> str:
        """An initializer holding ``value`` (the graph's dtype unless given)."""
        array = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        out = self.scope.get_unique_variable_name(name)
        if array.dtype.kind in "OUS":
            content = [str(v).encode("utf-8") for v in array.ravel()]
            self.container.add_initializer(
                out, TensorProto.STRING, list(array.shape), content
            )
        else:
            tensor = onnx.numpy_helper.from_array(np.ascontiguousarray(array), out)
            self.container.add_initializer(
                out, tensor.data_type, list(array.shape), tensor
            )
        return out

    def op(self, op_type, *inputs, out=None, **attrs) -> str:
        """Add one node; return the name of its (single) output."""
        if out is None:
            out = self.scope.get_unique_variable_name(op_type.lower())
        self.container.add_node(
            op_type,
            list(inputs),
            out,
            name=self.scope.get_unique_operator_name(op_type),
            **attrs,
        )
        return out

    def clip(self, x, low, high, out=None) -> str:
        """``Clip(x, low, high)`` with the bounds in the graph's dtype.

        onnxruntime has no double kernel for Clip-11: ``Max(Min(x, high), low)``
        there.
        """
        low, high = self.constant(low), self.constant(high)
        if self.double and self.opset < 12:
            return self.op("Max", self.op("Min", x, high), low, out=out)
        return self.op("Clip", x, low, high, out=out)


# ---------------------------------------------------------------- activations
def _identity(g, x):
    return x


def _logistic(g, x):
    return g.op("Sigmoid", x)


def _tanh(g, x):
    return g.op("Tanh", x)


def _relu(g, x):
    return g.op("Relu", x)


def _softplus(g, x):
    """``log(1 + exp(x))``; double: ``Relu(x) + Log(1 + Exp(-Abs(x)))``."""
    if not g.double:
        return g.op("Softplus", x)
    tail = g.op("Exp", g.op("Neg", g.op("Abs", x)))
    return g.op("Add", g.op("Relu", x), g.op("Log", g.op("Add", tail, g.constant(1))))


def _leaky_relu(g, x):
    """``max(x, 0.01 x)``: LeakyRelu, or its definition in double."""
    if not g.double:
        return g.op("LeakyRelu", x, alpha=0.01)
    return g.op("Max", x, g.op("Mul", x, g.constant(0.01)))


def _elu(g, x):
    """``x if x > 0 else exp(x) - 1``; double: ``Relu(x) + (Exp(Min(x, 0)) - 1)``."""
    if not g.double:
        return g.op("Elu", x, alpha=1.0)
    negative = g.op("Sub", g.op("Exp", g.op("Min", x, g.constant(0))), g.constant(1))
    return g.op("Add", g.op("Relu", x), negative)


def _gelu(g, x):
    """Exact GELU ``x Phi(x)``: Gelu (opset 20), Erf in float, a table in double."""
    if g.double:
        return g.op("Mul", x, _normal_cdf_double(g, x))
    if g.opset >= 20:
        return g.op("Gelu", x)  # approximate="none": the erf form
    erf = g.op("Erf", g.op("Mul", x, g.constant(1 / math.sqrt(2))))
    half_x = g.op("Mul", x, g.constant(0.5))
    return g.op("Mul", half_x, g.op("Add", erf, g.constant(1)))


def _silu(g, x):
    """``x sigmoid(x)``: ``Mul(x, Sigmoid(x))``; double: ``x / (1 + Exp(-x))``.

    onnxruntime's optimizer fuses ``Mul(x, Sigmoid(x))`` into
    com.microsoft's QuickGelu, which has no double CPU kernel before the fix
    of onnxruntime issue 32421 (1.17 fails to load the graph), hence the
    division in double. Swish (opset 24) would be one node, but skl2onnx 1.20
    writes opsets up to 22 only.
    """
    if g.double:
        return g.op("Div", x, g.op("Add", g.op("Exp", g.op("Neg", x)), g.constant(1)))
    return g.op("Mul", x, g.op("Sigmoid", x))


ACTIVATION_WRITERS = {
    "identity": _identity,
    "logistic": _logistic,
    "tanh": _tanh,
    "relu": _relu,
    "softplus": _softplus,
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "gelu": _gelu,
    "silu": _silu,
}

# The upper normal tail Q(u) = 1 - Phi(u) on [0, CDF_CUTOFF) as Taylor
# polynomials of degree CDF_DEGREE about the centres of intervals CDF_STEP wide.
CDF_STEP = 0.25
CDF_DEGREE = 12
CDF_CUTOFF = 10.0  # Q(10) = 7.6e-24: above, Q is taken as 0


@cache
def normal_tail_table() -> np.ndarray:
    """Taylor coefficients of ``Q(u) = 1 - Phi(u)``, one row per interval.

    Row ``k`` holds ``Q^(n)(c) / n!`` for ``n = 0..CDF_DEGREE`` about
    ``c = (k + 1/2) CDF_STEP``, from ``Q(c) = ndtr(-c)`` and
    ``Q^(n)(c) = (-1)^n He_{n-1}(c) phi(c)`` (``He`` the probabilists' Hermite
    polynomials, ``phi`` the normal density). With ``|u - c| <= 1/8`` the
    truncation error is below ``max |He_12 phi| / 13! / 8^13 = 1.2e-18``;
    evaluated in double precision, the polynomials were measured within
    8.4e-17 of ``Q`` (40-digit mpmath) on 25,000 points of ``[0, 10]``.
    """
    from scipy.special import ndtr

    centres = (np.arange(round(CDF_CUTOFF / CDF_STEP)) + 0.5) * CDF_STEP
    density = np.exp(-0.5 * centres**2) / math.sqrt(2 * math.pi)
    hermite = [np.ones_like(centres), centres]  # He_0, He_1
    for m in range(1, CDF_DEGREE - 1):
        hermite.append(centres * hermite[m] - m * hermite[m - 1])
    table = np.empty((len(centres), CDF_DEGREE + 1))
    table[:, 0] = ndtr(-centres)
    for n in range(1, CDF_DEGREE + 1):
        table[:, n] = (-1) ** n * hermite[n - 1] * density / math.factorial(n)
    return table


def _normal_cdf_double(g, x):
    """``Phi(x)`` in float64 from :func:`normal_tail_table` (ORT has no double Erf).

    ``u = |x|``; ``k = floor(u / CDF_STEP)`` picks the interval, whose
    coefficients are gathered per element and summed by Horner's rule in
    ``u - c_k``; ``Phi(x) = Q(u)`` for ``x < 0``, else ``1 - Q(u)``. NaN falls
    in the last interval (a valid index) and stays NaN through ``x * Phi(x)``.
    """
    table = normal_tail_table()
    u = g.op("Abs", x)
    inside = g.op("Less", u, g.constant(CDF_CUTOFF))
    u = g.op("Where", inside, u, g.constant(CDF_CUTOFF - CDF_STEP / 2))
    k = g.op("Floor", g.op("Mul", u, g.constant(1 / CDF_STEP)))
    centre = g.op("Mul", g.op("Add", k, g.constant(0.5)), g.constant(CDF_STEP))
    s = g.op("Sub", u, centre)
    k = g.op("Cast", k, to=INT64)
    q = g.op("Gather", g.constant(table[:, -1], "cdf_coef"), k)
    for n in range(CDF_DEGREE - 1, -1, -1):
        coef = g.op("Gather", g.constant(table[:, n], "cdf_coef"), k)
        q = g.op("Add", g.op("Mul", q, s), coef)
    q = g.op("Where", inside, q, g.constant(0))
    negative = g.op("Less", x, g.constant(0))
    return g.op("Where", negative, q, g.op("Sub", g.constant(1), q))


def _forward(g, x, description, out=None) -> str:
    """The raw network output: per layer MatMul + Add, then the activation."""
    last = len(description.layers) - 1
    for i, layer in enumerate(description.layers):
        x = g.op("MatMul", x, g.constant(layer.weights, "coefficient"))
        x = g.op(
            "Add",
            x,
            g.constant(layer.bias, "intercepts"),
            out=out if i == last else None,
        )
        x = ACTIVATION_WRITERS[layer.activation](g, x)
    return x


# -------------------------------------------------------------- the converters
def _graph_dtype(operator):
    """float64 for a double input, float32 for anything else."""
    if guess_proto_type(operator.inputs[0].type) == TensorProto.DOUBLE:
        return np.float64
    return np.float32


def _tensor_type(dtype, shape):
    return (DoubleTensorType if dtype == np.float64 else FloatTensorType)(shape)


def _graph_input(g, operator) -> str:
    """The input, cast to the graph's dtype if it is not in it."""
    name = operator.inputs[0].full_name
    if guess_proto_type(operator.inputs[0].type) == g.proto:
        return name
    return g.op("Cast", name, to=g.proto)


def _label_values(classes) -> np.ndarray:
    """Class labels as the graph holds them: strings, or int64 for the rest.

    Booleans become 0/1 and integral floats integers, as in skl2onnx (ZipMap
    keys are int64 or strings).
    """
    classes = np.asarray(classes)
    if classes.dtype.kind in "US" or (
        classes.dtype.kind == "O" and all(isinstance(c, str) for c in classes)
    ):
        return classes.astype(str).astype(object)
    if classes.dtype.kind in "biu":
        return classes.astype(np.int64)
    if classes.dtype.kind == "f" and np.array_equal(classes, np.round(classes)):
        return classes.astype(np.int64)
    raise ValueError(
        "Class labels must be strings, booleans, integers or integral floats to "
        f"be exported to ONNX, got {classes!r}."
    )


def _classifier_shape(operator):
    """Declare ``label`` ([N] or [N, n_labels]) and ``probabilities``."""
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=2)
    check_input_and_output_types(
        operator, good_input_types=[FloatTensorType, DoubleTensorType, Int64TensorType]
    )
    description = describe_network(operator.raw_operator)
    n = operator.inputs[0].get_first_dimension()
    classes = get_label_classes(operator.scope_inst, operator.raw_operator)
    labels = _label_values(classes)
    if description.head == "multilabel":
        operator.outputs[0].type = Int64TensorType([n, description.n_outputs])
    elif labels.dtype == object:
        operator.outputs[0].type = StringTensorType([n])
    else:
        operator.outputs[0].type = Int64TensorType([n])
    operator.outputs[1].type = _tensor_type(
        _graph_dtype(operator), [n, description.n_probability_columns]
    )


def _regressor_shape(operator):
    """Declare ``variable`` of shape [N, n_outputs]."""
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    check_input_and_output_types(
        operator, good_input_types=[FloatTensorType, DoubleTensorType, Int64TensorType]
    )
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = _tensor_type(
        _graph_dtype(operator), [n, int(operator.raw_operator.n_outputs_)]
    )


def _check_zipmap(g, container, estimator):
    zipmap = container.get_options(estimator, dict(zipmap=True))["zipmap"]
    if g.double and zipmap is True:
        raise RuntimeError(
            "ZipMap takes float tensors only and this graph is double (float64 "
            "input): pass options={id(estimator): {'zipmap': False}} (or "
            "'columns'), or convert with float32 input."
        )


def _clip_probabilities(g, proba, out):
    """predict_proba's clip to ``[tiny, 1 - epsneg]`` of the graph's dtype."""
    info = np.finfo(g.dtype)
    return g.clip(proba, info.tiny, 1 - info.epsneg, out=out)


def _sigmoids(g, z):
    """``(sigmoid(-z), sigmoid(z))``, each accurate relative to its size.

    onnxruntime's Sigmoid is accurate only in absolute terms (it returns 0
    from -37 on in double and from -18 in float32, where ``expit`` gives
    8.5e-17 and 1.5e-8), so the heads write it from ``e = Exp(-|z|)``: the
    larger probability is ``1 / (1 + e)``, the smaller ``e / (1 + e)``.
    """
    e = g.op("Exp", g.op("Neg", g.op("Abs", z)))
    large = g.op("Reciprocal", g.op("Add", e, g.constant(1)))
    small = g.op("Mul", e, large)
    negative_z = g.op("Less", z, g.constant(0))
    return (
        g.op("Where", negative_z, large, small),
        g.op("Where", negative_z, small, large),
    )


def _softmax_head(g, raw, classes, label_out, proba_out):
    proba = g.op("Softmax", raw, axis=1)
    _clip_probabilities(g, proba, proba_out)
    # the first largest probability, as numpy's argmax
    index = g.op("ArgMax", proba, axis=1, keepdims=0)
    g.op("Gather", g.constant(classes, "classes", classes.dtype), index, out=label_out)


def _binary_head(g, raw, classes, label_out, proba_out):
    # sigmoid(-z) rather than 1 - sigmoid(z), as predict_proba
    negative, positive = _sigmoids(g, raw)
    _clip_probabilities(g, g.op("Concat", negative, positive, axis=1), proba_out)
    # LabelBinarizer's rule: the positive class where p > 0.5 (p unclipped)
    index = g.op("Cast", g.op("Greater", positive, g.constant(0.5)), to=INT64)
    index = g.op("Reshape", index, g.constant([-1], "shape", np.int64))
    g.op("Gather", g.constant(classes, "classes", classes.dtype), index, out=label_out)


def _multilabel_head(g, raw, classes, label_out, proba_out):
    _, proba = _sigmoids(g, raw)
    _clip_probabilities(g, proba, proba_out)
    # LabelBinarizer's rule: a label is on where p > 0.5 (p unclipped)
    g.op("Cast", g.op("Greater", proba, g.constant(0.5)), to=INT64, out=label_out)


HEAD_WRITERS = {
    "softmax": _softmax_head,
    "binary": _binary_head,
    "multilabel": _multilabel_head,
}


def _convert_classifier(scope, operator, container):
    """Write the classifier: forward pass, probabilities, labels."""
    estimator = operator.raw_operator
    description = describe_network(estimator)
    g = _Graph(scope, container, _graph_dtype(operator))
    _check_zipmap(g, container, estimator)
    raw = _forward(g, _graph_input(g, operator), description)
    HEAD_WRITERS[description.head](
        g,
        raw,
        _label_values(get_label_classes(scope, estimator)),
        operator.outputs[0].full_name,
        operator.outputs[1].full_name,
    )


def _convert_regressor(scope, operator, container):
    """Write the regressor: forward pass and output link, shape [N, n_outputs]."""
    description = describe_network(operator.raw_operator)
    g = _Graph(scope, container, _graph_dtype(operator))
    out = operator.outputs[0].full_name
    x = _graph_input(g, operator)
    if description.head == "exp":
        g.op("Exp", _forward(g, x, description), out=out)
    else:
        _forward(g, x, description, out=out)


def _register():
    update_registered_converter(
        BackpropClassifier,
        "SkmlpBackpropClassifier",
        _classifier_shape,
        _convert_classifier,
        options=CLASSIFIER_OPTIONS,  # zipmap: skl2onnx's classifier parser
    )
    update_registered_converter(
        BackpropRegressor,
        "SkmlpBackpropRegressor",
        _regressor_shape,
        _convert_regressor,
    )


_register()
