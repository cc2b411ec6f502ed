"""ONNX export (skmlp.onnx): onnxruntime against predict and predict_proba.

Every hidden activation is run under every output head in a float32 graph
(float32 input) and a double graph (float64 input); probabilities must agree
to 1e-5 and 1e-10 and labels exactly. The fitted models are small but not
saturated (checked), and one saturated case tests predict_proba's clip.
"""

import copy
import functools
import json
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest

ort = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")

from onnx.defs import onnx_opset_version  # noqa: E402
from scipy.special import ndtr  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

import skmlp.onnx  # noqa: E402
from skmlp import BackpropClassifier, BackpropRegressor  # noqa: E402
from skmlp._activations import ACTIVATIONS as ACTIVATION_REGISTRY  # noqa: E402
from skmlp._export import (  # noqa: E402
    HIDDEN_ACTIVATIONS,
    describe_network,
    fold_batch_norm,
)

#: every registered hidden activation (aliases such as 'sigmoid' once)
ACTIVATIONS = sorted(
    name for name, act in ACTIVATION_REGISTRY.items() if act.name == name
)
CLASSIFIER_HEADS = ["softmax", "binary", "multilabel"]
REGRESSOR_HEADS = ["identity", "identity-3", "exp"]
DTYPES = [np.float32, np.float64]
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}
#: ops onnxruntime's CPU provider cannot run in double
NO_DOUBLE_KERNEL = {"Softplus", "LeakyRelu", "Elu", "Erf", "Gelu"}
N_SAMPLES, N_FEATURES = 120, 5


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def make_data(head, seed=0):
    """Inputs of scale 2 (pre-activations well into every nonlinearity)."""
    rng = np.random.RandomState(seed)
    X = 2 * rng.randn(N_SAMPLES, N_FEATURES)
    w = rng.randn(N_FEATURES, 3)
    if head == "softmax":
        y = np.argmax(X @ w + rng.randn(N_SAMPLES, 3), axis=1)
    elif head == "binary":
        y = (X @ w[:, 0] + rng.randn(N_SAMPLES) > 0).astype(int)
    elif head == "multilabel":
        y = (X @ w + 2 * rng.randn(N_SAMPLES, 3) > 0).astype(int)
    elif head == "identity":
        y = X @ w[:, 0] + 0.1 * rng.randn(N_SAMPLES)
    elif head == "identity-3":
        y = X @ w + 0.1 * rng.randn(N_SAMPLES, 3)
    elif head == "exp":
        y = rng.poisson(np.exp(0.3 * X @ w[:, 0]))
    else:
        raise ValueError(head)
    return X, y


@functools.cache
def fitted(activation, head, hidden=(7, 5), batch_norm=False):
    X, y = make_data(head)
    params = dict(
        hidden_layer_sizes=hidden,
        activation=activation,
        learning_rate_init=0.02,
        max_iter=40,
        random_state=0,
        batch_norm=batch_norm,
    )
    if head in CLASSIFIER_HEADS:
        estimator = BackpropClassifier(**params)
    else:
        loss = "poisson" if head == "exp" else "squared_error"
        estimator = BackpropRegressor(loss, **params)
    return _fit(estimator, X, y), X


def convert(model, X, **options):
    """The ONNX model of ``model`` for ``X``'s dtype and its session."""
    est = model[-1] if hasattr(model, "steps") else model
    if isinstance(est, BackpropClassifier):
        options.setdefault("zipmap", False)
    options = {id(est): options} if options else None
    onx = skmlp.onnx.to_onnx(model, X[:1], options=options)
    return onx, session_of(onx)


def session_of(onx):
    """An onnxruntime CPU session on one thread (the tests' arrays are small)."""
    settings = ort.SessionOptions()
    settings.intra_op_num_threads = settings.inter_op_num_threads = 1
    return ort.InferenceSession(
        onx.SerializeToString(), settings, providers=["CPUExecutionProvider"]
    )


def run(session, X):
    return session.run(None, {session.get_inputs()[0].name: X})


def op_types(onx):
    return {node.op_type for node in onx.graph.node}


def assert_informative(estimator, X, reference):
    """The comparison means something: nonlinear zones hit, outputs spread."""
    z = X @ estimator.coefs_[0] + estimator.intercepts_[0]
    assert z.min() < -2 and z.max() > 2
    spread = reference.std(axis=0).max()
    assert spread > 0.05 * max(1.0, np.abs(reference).max())
    if isinstance(estimator, BackpropClassifier):
        # no entry near the clip, many far from it
        assert 1e-20 < reference.min() and reference.max() < 1 - 1e-15
        assert ((reference > 0.01) & (reference < 0.99)).mean() > 0.3


def measure(estimator, X, dtype):
    """(ONNX outputs, reference outputs) for ``X`` in ``dtype``."""
    X = X.astype(dtype)
    onx, session = convert(estimator, X)
    if dtype == np.float64:
        assert not op_types(onx) & NO_DOUBLE_KERNEL
    outputs = run(session, X)
    if isinstance(estimator, BackpropClassifier):
        return onx, outputs, (estimator.predict(X), estimator.predict_proba(X))
    reference = estimator.predict(X).reshape(len(X), -1)
    return onx, outputs, (reference,)


def test_every_registered_activation_is_exported():
    """A new activation in the registry needs an ONNX writer (and joins the matrix)."""
    assert set(HIDDEN_ACTIVATIONS) == set(ACTIVATIONS)


@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "batch_norm"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("head", CLASSIFIER_HEADS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_classifier_matches_predict_proba(activation, head, dtype, batch_norm):
    clf, X = fitted(activation, head, batch_norm=batch_norm)
    onx, (label, proba), (ref_label, ref_proba) = measure(clf, X, dtype)
    assert_informative(clf, X, ref_proba)
    assert proba.dtype == dtype and proba.shape == ref_proba.shape
    assert np.abs(proba - ref_proba).max() <= TOLERANCE[dtype]
    assert label.dtype == np.int64 and label.shape == ref_label.shape
    np.testing.assert_array_equal(label, ref_label)


@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "batch_norm"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("head", REGRESSOR_HEADS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_regressor_matches_predict(activation, head, dtype, batch_norm):
    reg, X = fitted(activation, head, batch_norm=batch_norm)
    onx, (variable,), (reference,) = measure(reg, X, dtype)
    assert_informative(reg, X, reference)
    assert [output.name for output in onx.graph.output] == ["variable"]
    # (n, n_outputs), not reshaped to one column as skl2onnx's MLP converter does
    assert variable.dtype == dtype and variable.shape == reference.shape
    scale = max(1.0, np.abs(reference).max())
    assert np.abs(variable - reference).max() <= TOLERANCE[dtype] * scale


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_activation_per_layer(dtype):
    names = ["gelu", "elu", "softplus"]
    clf, X = fitted(tuple(names), "softmax", hidden=(6, 6, 5))
    onx, (label, proba), (ref_label, ref_proba) = measure(clf, X, dtype)
    assert np.abs(proba - ref_proba).max() <= TOLERANCE[dtype]
    np.testing.assert_array_equal(label, ref_label)
    if dtype == np.float32:
        assert {"Gelu", "Elu", "Softplus"} <= op_types(onx)


def _relabel(head, labels):
    X, y = make_data(head)
    return X, np.asarray(labels)[y]


@pytest.mark.parametrize(
    "head, labels",
    [
        ("softmax", ["ant", "bee", "cat"]),
        ("binary", ["no", "yes"]),
        ("binary", [False, True]),
        ("softmax", [-4, 3, 10]),
        ("binary", [2, 7]),
        ("softmax", [1.0, 2.0, 5.0]),
    ],
)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_class_labels(head, labels, dtype):
    X, y = _relabel(head, labels)
    clf = BackpropClassifier((6,), learning_rate_init=0.01, max_iter=40, random_state=0)
    clf = _fit(clf, X, y)
    X = X.astype(dtype)
    _, session = convert(clf, X)
    label, proba = run(session, X)
    expected = clf.predict(X)
    assert len(set(expected)) > 1
    if expected.dtype.kind in "US":
        assert label.dtype == object  # onnxruntime's strings
    else:  # booleans as 0/1 and integral floats as integers, as in skl2onnx
        assert label.dtype == np.int64
        label = label.astype(expected.dtype)
    np.testing.assert_array_equal(label, expected)
    assert np.abs(proba - clf.predict_proba(X)).max() <= TOLERANCE[dtype]


def test_non_integral_float_labels_raise():
    # scikit-learn refuses to fit them ("Unknown label type"); a defensive check
    with pytest.raises(ValueError, match="integral floats"):
        skmlp.onnx._label_values(np.array([0.5, 1.5]))


def test_single_class_raises():
    X, _ = make_data("binary")
    clf = _fit(BackpropClassifier((4,), max_iter=5), X, np.zeros(len(X), int))
    with pytest.raises(ValueError, match="single class"):
        convert(clf, X.astype(np.float32))


@pytest.mark.parametrize("head", CLASSIFIER_HEADS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_saturated_probabilities_are_clipped(head, dtype):
    """Inputs up to 1e3 times larger: probabilities reach predict_proba's clip.

    In a model fitted in ``dtype``, skmlp clips in ``dtype`` as the graph does:
    the clipped entries agree exactly, the others relatively (so that the
    tiny probability sigmoid(-z) is told apart from 1 - sigmoid(z)).
    """
    X, y = make_data(head)
    X = X.astype(dtype)
    clf = _fit(BackpropClassifier((7, 5), max_iter=40, random_state=0), X, y)
    X = X * np.logspace(0, 3, len(X), dtype=dtype)[:, None]
    _, session = convert(clf, X)
    label, proba = run(session, X)
    with np.errstate(over="ignore"):
        reference = clf.predict_proba(X)
        np.testing.assert_array_equal(label, clf.predict(X))
    info = np.finfo(dtype)
    clipped = (reference == info.tiny) | (reference == 1 - info.epsneg)
    assert (reference == info.tiny).any() and (reference == 1 - info.epsneg).any()
    assert (proba > 0).all() and (proba < 1).all()
    np.testing.assert_array_equal(proba[clipped], reference[clipped])
    small = ~clipped & (reference < 1e-6)
    assert small.sum() >= 5
    rtol = 1e-3 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(proba[small], reference[small], rtol=rtol)


@pytest.mark.parametrize("head", CLASSIFIER_HEADS)
def test_ties_give_the_labels_of_predict(head):
    """Zero output weights: p = 0.5 exactly (not > 0.5) and a uniform softmax."""
    clf, X = fitted("relu", head)
    clf = copy.deepcopy(clf)
    clf.coefs_[-1][:] = 0
    clf.intercepts_[-1][:] = 0
    X = X.astype(np.float32)
    _, session = convert(clf, X)
    label, _ = run(session, X)
    np.testing.assert_array_equal(label, clf.predict(X))


def test_zipmap_options():
    X, y = _relabel("softmax", ["ant", "bee", "cat"])
    clf = _fit(BackpropClassifier((6,), max_iter=30, random_state=0), X, y)
    X = X.astype(np.float32)
    expected_label, expected_proba = clf.predict(X), clf.predict_proba(X)

    onx, session = convert(clf, X, zipmap=True)
    assert [o.name for o in onx.graph.output] == ["output_label", "output_probability"]
    label, dicts = run(session, X)
    np.testing.assert_array_equal(label, expected_label)
    proba = np.array([[row[c] for c in clf.classes_] for row in dicts])
    assert np.abs(proba - expected_proba).max() <= TOLERANCE[np.float32]

    onx, session = convert(clf, X, zipmap="columns")
    names = [o.name for o in onx.graph.output]
    assert names == ["output_label", "sant", "sbee", "scat"]
    label, *columns = run(session, X)
    np.testing.assert_array_equal(label, expected_label)
    proba = np.column_stack(columns)
    assert np.abs(proba - expected_proba).max() <= TOLERANCE[np.float32]

    onx, session = convert(clf, X, zipmap=False)
    assert [o.name for o in onx.graph.output] == ["label", "probabilities"]


def test_output_class_labels_and_nocl_options():
    X, y = _relabel("softmax", ["ant", "bee", "cat"])
    clf = _fit(BackpropClassifier((6,), max_iter=30, random_state=0), X, y)
    X = X.astype(np.float32)
    _, session = convert(clf, X, output_class_labels=True)
    label, _, class_labels = run(session, X)
    np.testing.assert_array_equal(label, clf.predict(X))
    np.testing.assert_array_equal(class_labels, clf.classes_)
    _, session = convert(clf, X, nocl=True)  # class indices instead of labels
    label, _ = run(session, X)
    np.testing.assert_array_equal(clf.classes_[label], clf.predict(X))


def test_double_graph_refuses_zipmap():
    clf, X = fitted("relu", "softmax")
    with pytest.raises(RuntimeError, match="zipmap"):
        convert(clf, X, zipmap=True)
    # the columns variant has no ZipMap node and works in double
    _, session = convert(clf, X, zipmap="columns")
    _, *columns = run(session, X)
    np.testing.assert_allclose(np.column_stack(columns), clf.predict_proba(X))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_pipeline(dtype):
    X, y = make_data("softmax")
    X = 10 * X + 3
    pipe = make_pipeline(
        StandardScaler(), BackpropClassifier((6,), max_iter=30, random_state=0)
    )
    pipe = _fit(pipe, X, y)
    X = X.astype(dtype)
    # options keyed by the class rather than by id()
    options = {BackpropClassifier: {"zipmap": False}}
    session = session_of(skmlp.onnx.to_onnx(pipe, X[:1], options=options))
    label, proba = run(session, X)
    np.testing.assert_array_equal(label, pipe.predict(X))
    assert np.abs(proba - pipe.predict_proba(X)).max() <= TOLERANCE[dtype]


def test_column_transformer_pipeline():
    X, y = make_data("identity-3")
    rng = np.random.RandomState(1)
    frame = pd.DataFrame(
        {
            "a": (5 * X[:, 0] + 1).astype(np.float32),
            "b": X[:, 1].astype(np.float32),
            "colour": rng.choice(["red", "green", "blue"], len(X)),
        }
    )
    columns = ColumnTransformer(
        [("num", StandardScaler(), ["a", "b"]), ("cat", OneHotEncoder(), ["colour"])]
    )
    pipe = make_pipeline(
        columns, BackpropRegressor(hidden_layer_sizes=(6,), max_iter=30, random_state=0)
    )
    pipe = _fit(pipe, frame, y)
    onx, session = convert(pipe, frame)
    assert [i.name for i in onx.graph.input] == ["a", "b", "colour"]
    feeds = {name: frame[[name]].to_numpy() for name in frame}
    (variable,) = session.run(None, feeds)
    reference = pipe.predict(frame)
    assert variable.shape == reference.shape == (len(X), 3)
    scale = max(1.0, np.abs(reference).max())
    assert np.abs(variable - reference).max() <= TOLERANCE[np.float32] * scale


@pytest.mark.parametrize("opset", [11, 19, 20, 22])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_target_opset(opset, dtype):
    """Gelu from opset 20 on, Erf below; double graphs run at every opset."""
    if opset > onnx_opset_version():
        pytest.skip(f"the installed onnx knows opsets up to {onnx_opset_version()}")
    clf, X = fitted(("gelu", "softplus"), "binary")
    X = X.astype(dtype)
    onx = skmlp.onnx.to_onnx(
        clf, X[:1], options={id(clf): {"zipmap": False}}, target_opset=opset
    )
    assert max(o.version for o in onx.opset_import if o.domain == "") <= opset
    session = session_of(onx)
    label, proba = run(session, X)
    np.testing.assert_array_equal(label, clf.predict(X))
    assert np.abs(proba - clf.predict_proba(X)).max() <= TOLERANCE[dtype]
    if dtype == np.float32:
        assert ("Gelu" in op_types(onx)) == (opset >= 20)
        assert ("Erf" in op_types(onx)) == (opset < 20)


def test_target_opset_too_low_raises():
    clf, X = fitted("relu", "binary")
    with pytest.raises(RuntimeError, match="target_opset >= 11"):
        skmlp.onnx.to_onnx(
            clf, X[:1], options={id(clf): {"zipmap": False}}, target_opset=10
        )


def test_skl2onnx_to_onnx_works_after_import():
    clf, X = fitted("tanh", "softmax")
    X = X.astype(np.float32)
    onx = skl2onnx.to_onnx(clf, X[:1], options={id(clf): {"zipmap": False}})
    session = session_of(onx)
    np.testing.assert_array_equal(run(session, X)[0], clf.predict(X))


def test_double_normal_cdf_table():
    """The table behind double GELU against SciPy's ndtr, through onnxruntime."""
    clf, _ = fitted("gelu", "identity")
    reg = copy.deepcopy(clf)
    # one input, one gelu unit of weight 1, output = gelu(x)
    reg.coefs_ = [np.ones((1, 1)), np.ones((1, 1))]
    reg.intercepts_ = [np.zeros(1), np.zeros(1)]
    reg.n_features_in_, reg.n_outputs_ = 1, 1
    reg.set_params(hidden_layer_sizes=(1,))
    for name in ("scales", "offsets", "means", "vars"):
        setattr(reg, f"batch_norm_{name}_", [None])
    x = np.concatenate(
        [np.linspace(-12, 12, 20001), [-1e300, 1e300, -40.0, 9.9999, 10.0, 0.0]]
    )[:, None]
    onx, session = convert(reg, x)
    (gelu,) = run(session, x)
    expected = x * ndtr(x)
    np.testing.assert_allclose(gelu, expected, rtol=0, atol=2e-15)
    assert np.isnan(run(session, np.array([[np.nan]]))[0]).all()


# ----------------------------------------------------------- batch norm folding
def test_fold_batch_norm_matches_inference_formula():
    rng = np.random.RandomState(0)
    x = rng.randn(30, 4)
    W, b = rng.randn(4, 6), rng.randn(6)
    gamma, beta = rng.rand(6) + 0.5, rng.randn(6)
    mean, var, eps = rng.randn(6), rng.rand(6) + 0.1, 1e-3
    folded_W, folded_b = fold_batch_norm(W, b, gamma, beta, mean, var, eps)
    expected = gamma * (x @ W + b - mean) / np.sqrt(var + eps) + beta
    np.testing.assert_allclose(x @ folded_W + folded_b, expected, rtol=1e-12)
    assert folded_W.dtype == folded_b.dtype == np.float64


def _with_fake_batch_norm(estimator, rng):
    """Give each hidden layer but the last batch-norm statistics (the attributes
    skmlp will publish); return the NumPy inference of the result."""
    estimator = copy.deepcopy(estimator)
    units = [W.shape[1] for W in estimator.coefs_[:-1]]
    stats = [
        (rng.rand(n) + 0.5, rng.randn(n), rng.randn(n), rng.rand(n) + 0.2)
        for n in units[:-1]
    ] + [None]
    for name, i in [("scales", 0), ("offsets", 1), ("means", 2), ("vars", 3)]:
        setattr(
            estimator,
            f"batch_norm_{name}_",
            [None if s is None else s[i] for s in stats],
        )
    estimator.batch_norm_epsilon = 1e-5
    return estimator, stats


def test_fake_batch_norm_is_folded_into_the_graph():
    clf, X = fitted("tanh", "softmax")
    clf, stats = _with_fake_batch_norm(clf, np.random.RandomState(1))
    description = describe_network(clf)
    assert len(description.layers) == len(clf.coefs_)
    # NumPy inference with batch norm after the affine map, before the activation
    a = X
    for i, (W, b) in enumerate(zip(clf.coefs_, clf.intercepts_, strict=True)):
        z = a @ W + b
        if i < len(stats) and stats[i] is not None:
            gamma, beta, mean, var = stats[i]
            z = gamma * (z - mean) / np.sqrt(var + clf.batch_norm_epsilon) + beta
        a = np.tanh(z) if i < len(clf.coefs_) - 1 else z
    expected = np.exp(a - a.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    for dtype in DTYPES:
        _, session = convert(clf, X.astype(dtype))
        _, proba = run(session, X.astype(dtype))
        assert np.abs(proba - expected).max() <= TOLERANCE[dtype]
    # skmlp's own prediction reads the edited statistics too
    assert np.abs(proba - clf.predict_proba(X)).max() <= TOLERANCE[DTYPES[-1]]


@pytest.mark.skipif(
    "batch_norm" not in BackpropClassifier().get_params(),
    reason="batch normalization not available",
)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("head", ["softmax", "binary", "identity-3"])
def test_batch_norm_end_to_end(head, dtype):
    X, y = make_data(head)
    params = dict(hidden_layer_sizes=(7, 5), batch_norm=True, max_iter=40)
    if head in CLASSIFIER_HEADS:
        est = _fit(BackpropClassifier(random_state=0, **params), X, y)
        assert any(s is not None for s in est.batch_norm_scales_)
    else:
        est = _fit(BackpropRegressor(random_state=0, **params), X, y)
    onx, outputs, references = measure(est, X, dtype)
    assert not op_types(onx) & {"BatchNormalization", "Dropout"}
    if head in CLASSIFIER_HEADS:
        np.testing.assert_array_equal(outputs[0], references[0])
        assert np.abs(outputs[1] - references[1]).max() <= TOLERANCE[dtype]
    else:
        scale = max(1.0, np.abs(references[0]).max())
        assert np.abs(outputs[0] - references[0]).max() <= TOLERANCE[dtype] * scale


def test_dropout_is_absent():
    X, y = make_data("softmax")
    clf = _fit(BackpropClassifier((6,), dropout=0.3, max_iter=20, random_state=0), X, y)
    onx, session = convert(clf, X.astype(np.float32))
    assert "Dropout" not in op_types(onx)
    _, proba = run(session, X.astype(np.float32))
    assert np.abs(proba - clf.predict_proba(X)).max() <= TOLERANCE[np.float32]


# ------------------------------------------------------------- import hygiene
@pytest.fixture(scope="module")
def fresh_interpreter():
    """What a new interpreter sees: the packages ``import skmlp`` loads, then
    the error of ``import skmlp.onnx`` with skl2onnx missing (one interpreter
    for both: importing scikit-learn takes seconds)."""
    code = """
        import json, sys
        import skmlp
        loaded = [m for m in ("skl2onnx", "onnx", "onnxruntime") if m in sys.modules]
        sys.modules["skl2onnx"] = None  # as if not installed
        try:
            import skmlp.onnx
            error = None
        except ImportError as exc:
            error = str(exc)
        print(json.dumps({"loaded": loaded, "error": error}))
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_import_skmlp_loads_no_onnx_package(fresh_interpreter):
    assert fresh_interpreter["loaded"] == []


def test_import_error_names_the_extra(fresh_interpreter):
    error = fresh_interpreter["error"]
    assert error is not None
    assert "skl2onnx" in error
    assert 'pip install "skmlp[onnx]"' in error
