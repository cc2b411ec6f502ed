"""
=====================================================
Exporting the trained models: skops and ONNX
=====================================================

Two classifiers are trained on the same digits -- plain gradient descent
(``solver='sgd'`` with ``momentum=0``) and Nesterov's accelerated gradient
(``solver='nag'``) -- and each is exported twice:

* with `skops <https://skops.readthedocs.io>`_, a file format for
  scikit-learn models that, unlike pickle, runs no code while loading and
  refuses types it was not told to trust. The file keeps everything, the
  training state included, so the reloaded model predicts *exactly* as the
  original and can go on training where it stopped;
* as an `ONNX <https://onnx.ai>`_ graph (:func:`skmlp.onnx.to_onnx`), which
  `onnxruntime <https://onnxruntime.ai>`_ runs without Python, NumPy or
  skmlp: its predictions agree with skmlp's *to rounding* (about 1e-7 in a
  float32 graph, 1e-15 in a double one).

At the end onnxruntime and ``predict_proba`` are timed on 100,000 rows.

This example needs the ``skops`` and ``onnx`` extras
(``pip install "skmlp[skops,onnx]"``). What a saved file contains, and how to
save a smaller predict-only copy, is explained in :ref:`persistence`.
"""

# %%
# Imports and data
# ----------------
import tempfile
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime as ort
import skops.io as sio
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import BackpropClassifier, lean_copy
from skmlp.onnx import to_onnx

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

# %%
# Train both variants
# -------------------
# Everything but the update rule is shared: the network (one hidden layer of
# 64 ReLU units), the scaling, the learning rate, the mini-batches and the
# initial weights (``random_state``). Each model is a pipeline, so that both
# export formats carry the scaling too.
common = dict(
    hidden_layer_sizes=(64,),
    learning_rate_init=0.05,
    batch_size=128,
    max_iter=30,
    random_state=0,
)
variants = {
    "GD": BackpropClassifier(solver="sgd", momentum=0.0, **common),
    "NAG": BackpropClassifier(solver="nag", **common),
}
models = {}
with warnings.catch_warnings():
    # a fixed number of epochs: reaching max_iter is expected
    warnings.simplefilter("ignore", ConvergenceWarning)
    for name, clf in variants.items():
        models[name] = make_pipeline(StandardScaler(), clf).fit(X_train, y_train)

for name, model in models.items():
    clf = model[-1]
    print(
        f"{name:>3}: {clf.n_iter_} epochs, final training loss "
        f"{clf.loss_:.4f}, test accuracy {model.score(X_test, y_test):.3f}"
    )

# %%
# Save and reload with skops
# --------------------------
# ``skops.io.get_untrusted_types`` lists the types in a file that skops does
# not trust by default. scikit-learn's own (the pipeline, the scaler) are
# trusted, and skmlp stores its training state as plain arrays, lists and
# numbers, so the skmlp class is all that is left. Read the list before
# passing it as ``trusted=``: that is the point of the check.
#
# A model that will only ever predict does not need the training state:
# :func:`skmlp.lean_copy` drops it, and its file is smaller (NAG keeps two
# vectors the size of the weights, gradient descent's velocity one).
TRUSTED = ["skmlp._classifier.BackpropClassifier"]
tmp = Path(tempfile.mkdtemp())
reloaded = {}
for name, model in models.items():
    path, lean_path = tmp / f"{name}.skops", tmp / f"{name}-lean.skops"
    sio.dump(model, path)
    sio.dump(lean_copy(model), lean_path)
    untrusted = sio.get_untrusted_types(file=path)
    assert untrusted == TRUSTED
    reloaded[name] = sio.load(path, trusted=TRUSTED)
    print(
        f"{path.name:>9}: {path.stat().st_size / 1e3:.0f} kB "
        f"(lean copy {lean_path.stat().st_size / 1e3:.0f} kB), "
        f"untrusted types: {untrusted}"
    )

for name, model in models.items():
    same = np.array_equal(
        reloaded[name].predict_proba(X_test), model.predict_proba(X_test)
    ) and np.array_equal(reloaded[name].predict(X_test), model.predict(X_test))
    assert same
    print(f"{name:>3}: reloaded from skops, identical predictions: {same}")

# %%
# Export to ONNX and run with onnxruntime
# ---------------------------------------
# The input rows given to ``to_onnx`` fix the graph's type: float32 rows give
# a float32 graph (onnxruntime's usual case), float64 rows a double graph.
# ``zipmap=False`` returns the probabilities as one array instead of one
# dictionary per row. Each graph is written to a file and run from there.
options = {BackpropClassifier: {"zipmap": False}}
DTYPES = {"float32": np.float32, "float64": np.float64}
sessions = {}
for name, model in models.items():
    for dtype_name, dtype in DTYPES.items():
        onx = to_onnx(model, X_test[:1].astype(dtype), options=options)
        path = tmp / f"{name}-{dtype_name}.onnx"
        path.write_bytes(onx.SerializeToString())
        sessions[name, dtype_name] = ort.InferenceSession(
            path, providers=["CPUExecutionProvider"]
        )

print("model  graph    file    labels equal  max |proba difference|")
for (name, dtype_name), session in sessions.items():
    label, proba = session.run(None, {"X": X_test.astype(DTYPES[dtype_name])})
    diff = np.abs(proba - models[name].predict_proba(X_test)).max()
    assert diff < (1e-5 if dtype_name == "float32" else 1e-12)
    equal = np.array_equal(label, models[name].predict(X_test))
    size = (tmp / f"{name}-{dtype_name}.onnx").stat().st_size / 1e3
    print(f"{name:<6} {dtype_name:<8} {size:3.0f} kB  {equal!s:<13} {diff:.1e}")

# %%
# Inference time on 100,000 rows
# ------------------------------
# 100,000 rows drawn from the test set, through the whole pipeline (scaling
# included) in each case; each time is the best of three runs, with each
# library's default threading on the cores of the machine that built this
# page (shared with other work, so the numbers vary from build to build).
# Both models have the same architecture and cost the same to evaluate: the
# difference between their rows is that noise.
rng = np.random.RandomState(0)
X_big = X_test[rng.randint(len(X_test), size=100_000)]


def best_time(func, repeat=3):
    """The fastest of ``repeat`` calls of ``func``, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


timings = {}
for name, model in models.items():
    timings[name, "predict_proba"] = best_time(lambda m=model: m.predict_proba(X_big))
    for dtype_name, dtype in DTYPES.items():
        session, X_typed = sessions[name, dtype_name], X_big.astype(dtype)
        timings[name, f"onnxruntime {dtype_name}"] = best_time(
            lambda s=session, x=X_typed: s.run(None, {"X": x})
        )

print("model  method               ms   rows per second")
for (name, method), seconds in timings.items():
    print(f"{name:<6} {method:<19} {1e3 * seconds:4.0f}   {100_000 / seconds:,.0f}")

methods = ["predict_proba", "onnxruntime float32", "onnxruntime float64"]
fig, ax = plt.subplots(figsize=(6.4, 3))
width = 0.38
for i, name in enumerate(models):
    ax.barh(
        np.arange(len(methods)) + (i - 0.5) * width,
        [1e3 * timings[name, m] for m in methods],
        height=width,
        label=name,
    )
ax.set_yticks(np.arange(len(methods)), methods)
ax.invert_yaxis()
ax.set_xlabel("milliseconds for 100,000 rows (best of 3)")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# Training goes on after reloading
# --------------------------------
# The skops file holds the training state as well (the optimizer's state,
# the random state, the epoch counters), so a reloaded model can be trained
# further. Ten more epochs with ``warm_start=True`` give the same weights, to
# the last bit, as ten more epochs of the model that never left memory.
more = {"backpropclassifier__warm_start": True, "backpropclassifier__max_iter": 10}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    for name in models:
        pair = [models[name], reloaded[name]]
        for model in pair:
            model.set_params(**more).fit(X_train, y_train)
        same = all(
            np.array_equal(a, b)
            for a, b in zip(pair[0][-1].coefs_, pair[1][-1].coefs_, strict=True)
        )
        assert same
        print(f"{name:>3}: 10 more epochs, identical weights: {same}")
