"""Saving and loading fitted models with pickle and skops.

A saved model holds the training state that ``warm_start`` and
``partial_fit`` continue from, as plain dicts, lists, builtins and arrays:
``skops.io.get_untrusted_types`` must list the estimator's own class and
nothing else, a round trip must give the same predictions and fitted
attributes, and training continued from a loaded model must be the training
continued in one process, bit for bit. :func:`skmlp.lean_copy` drops that
state for a predict-only model.

The skops tests skip, saying why, where skops is not installed; the pickle
tests run regardless.
"""

import copy
import dataclasses
import pickle

import numpy as np
import pandas as pd
import pytest
from conftest import make_data
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import BackpropClassifier, BackpropRegressor, _aligned, lean_copy
from skmlp._aligned import is_aligned
from skmlp._optimizers import SOLVERS, STOCHASTIC_SOLVERS, OptimizerState
from skmlp._training import FitState


def _skops_io():
    """``skops.io``, or skip the test (the pickle tests run without skops)."""
    return pytest.importorskip(
        "skops.io", reason="skops is not installed (pip install 'skmlp[skops]')"
    )


pytestmark = [
    pytest.mark.usefixtures("one_blas_thread"),
    pytest.mark.filterwarnings("ignore", category=ConvergenceWarning),
]

#: Epochs per fit; a continued fit runs as many again.
K = 3
#: Tiny networks, no stop on a plateau within 2 K epochs.
COMMON = dict(hidden_layer_sizes=(5,), max_iter=K, n_iter_no_change=50, random_state=0)


def _data(kind):
    X, y = make_data(kind, n_samples=60)
    return X, y


def _class_name(est) -> str:
    cls = type(est)
    return f"{cls.__module__}.{cls.__qualname__}"


def _first_fit(case):
    """``(estimator, continue)`` for a case: fitted once, and how to go on."""
    name, est, (X, y) = case
    if name.startswith("partial_fit"):
        kwargs = (
            {"classes": np.unique(y)} if isinstance(est, BackpropClassifier) else {}
        )
        for _ in range(K):
            est.partial_fit(X, y, **kwargs)
        return est, lambda e: [e.partial_fit(X, y) for _ in range(K)]
    fit_kwargs = {"X_val": X, "y_val": y} if name.endswith("X_val") else {}
    est.fit(X, y, **fit_kwargs)
    return est, lambda e: e.set_params(warm_start=True).fit(X, y, **fit_kwargs)


def _cases():
    """Fitted models in every state a user can save: ``(id, estimator, data)``."""
    clf, reg = BackpropClassifier, BackpropRegressor
    X, y = _data("multiclass")
    Xr, yr = _data("regression")
    cases = []
    for solver in SOLVERS:
        cases.append((f"classifier-{solver}", clf, {"solver": solver}, (X, y)))
        cases.append((f"regressor-{solver}", reg, {"solver": solver}, (Xr, yr)))
    cases += [
        ("classifier-early_stopping", clf, {"early_stopping": True}, (X, y)),
        ("regressor-early_stopping", reg, {"early_stopping": True}, (Xr, yr)),
        ("partial_fit-classifier", clf, {}, (X, y)),
        ("partial_fit-regressor", reg, {}, (Xr, yr)),
        ("classifier-X_val", clf, {}, (X, y)),
        ("classifier-string_labels", clf, {}, (X, np.array(["a", "b", "c"])[y])),
        ("classifier-float32", clf, {}, (X.astype(np.float32), y)),
        ("regressor-float32-nag", reg, {"solver": "nag"}, (Xr.astype(np.float32), yr)),
        ("classifier-binary", clf, {}, _data("binary")),
        ("classifier-multilabel", clf, {}, _data("multilabel")),
        ("classifier-dropout", clf, {"dropout": 0.3}, (X, y)),
        ("classifier-dataframe", clf, {}, (pd.DataFrame(X, columns=list("abcd")), y)),
        ("regressor-poisson", reg, {"loss": "poisson"}, _data("poisson")),
        ("regressor-multioutput", reg, {}, _data("multioutput")),
    ]
    if "batch_norm" in clf().get_params():  # running statistics in the state
        bn = {"batch_norm": True}
        cases += [
            ("classifier-batch_norm", clf, bn, (X, y)),
            ("regressor-batch_norm-nag", reg, {**bn, "solver": "nag"}, (Xr, yr)),
            ("classifier-batch_norm-es", clf, {**bn, "early_stopping": True}, (X, y)),
            ("regressor-batch_norm-lbfgs", reg, {**bn, "solver": "lbfgs"}, (Xr, yr)),
        ]
    return [(name, cls(**COMMON, **params), data) for name, cls, params, data in cases]


CASES = _cases()
CASE_IDS = [name for name, _, _ in CASES]


@pytest.fixture(params=range(len(CASES)), ids=CASE_IDS)
def fitted(request):
    """``(name, estimator fitted K epochs, continue, data)``."""
    name, est, data = copy.deepcopy(CASES[request.param])
    est, more = _first_fit((name, est, data))
    return name, est, more, data


def _roundtrip(est, how):
    if how == "pickle":
        return pickle.loads(pickle.dumps(est))
    # trusting the estimator's class and nothing else
    sio = _skops_io()
    return sio.loads(sio.dumps(est), trusted=[_class_name(est)])


def assert_same(a, b, path="", *, scratch_contents=False):
    """``a`` and ``b`` are equal, and of the same types, all the way down.

    Arrays compare bit for bit (NaN equal to NaN), with dtype and shape;
    dataclasses field by field, RandomState by its state, other objects by
    their ``__dict__``. The optimizer's ``"scratch"`` block is compared by
    shape and dtype only (its contents are never read before being written),
    unless ``scratch_contents``.
    """
    assert type(a) is type(b), f"{path}: {type(a)} vs {type(b)}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, path
        if path.endswith("['scratch']") and not scratch_contents:
            return
        if a.dtype.kind in "fc":
            np.testing.assert_array_equal(a, b, err_msg=path, strict=True)
        else:
            assert np.array_equal(a, b), path
    elif isinstance(a, np.random.RandomState):
        assert_same(a.get_state(legacy=False), b.get_state(legacy=False), path + ".rng")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), f"{path}: {a.keys()} vs {b.keys()}"
        for k in a:
            assert_same(a[k], b[k], f"{path}[{k!r}]", scratch_contents=scratch_contents)
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]", scratch_contents=scratch_contents)
    elif isinstance(a, float | np.floating):
        assert a == b or (np.isnan(a) and np.isnan(b)), f"{path}: {a} vs {b}"
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(
                getattr(a, f.name),
                getattr(b, f.name),
                f"{path}.{f.name}",
                scratch_contents=scratch_contents,
            )
    elif hasattr(a, "__dict__") and not callable(a):
        assert_same(vars(a), vars(b), path, scratch_contents=scratch_contents)
    else:
        assert a == b, f"{path}: {a!r} vs {b!r}"


def _predictions(est, X):
    out = {"predict": est.predict(X)}
    if hasattr(est, "predict_proba"):
        out["predict_proba"] = est.predict_proba(X)
    return out


# ---------------------------------------------------------------- skops trust
def test_only_the_estimators_class_is_untrusted(fitted):
    name, est, more, _ = fitted
    sio = _skops_io()
    assert sio.get_untrusted_types(data=sio.dumps(est)) == [_class_name(est)]
    more(est)  # a warm-started / partial_fit-continued state too
    assert sio.get_untrusted_types(data=sio.dumps(est)) == [_class_name(est)]


def test_unfitted_and_lean_models_are_trusted_alike():
    sio = _skops_io()
    X, y = _data("multiclass")
    est = BackpropClassifier(**COMMON)
    assert sio.get_untrusted_types(data=sio.dumps(est)) == [_class_name(est)]
    lean = lean_copy(est.fit(X, y))
    assert sio.get_untrusted_types(data=sio.dumps(lean)) == [_class_name(est)]


# ------------------------------------------------------------------ round trip
@pytest.mark.parametrize("how", ["pickle", "skops", "deepcopy"])
def test_round_trip_keeps_predictions_attributes_and_state(fitted, how):
    name, est, _, (X, _) = fitted
    loaded = copy.deepcopy(est) if how == "deepcopy" else _roundtrip(est, how)
    assert_same(_predictions(loaded, X), _predictions(est, X))
    # every attribute, fitted or not, and the training state field by field;
    # a deep copy is no round trip: it copies the scratch block's contents too
    assert_same(vars(loaded), vars(est), scratch_contents=how == "deepcopy")
    assert isinstance(loaded._fit_state, FitState)
    if est.solver != "lbfgs":
        assert isinstance(loaded._fit_state.optimizer_state, OptimizerState)


def _misaligned(a):
    """A copy of ``a`` whose data start one element past a 64-byte boundary."""
    out = _aligned.empty(a.size + 1, a.dtype)[1:].reshape(a.shape)
    out[...] = a
    assert not is_aligned(out)
    return out


@pytest.mark.parametrize("how", ["pickle", "skops", "misaligned"])
def test_loaded_training_state_is_aligned(how):
    """Unpickled arrays have NumPy's 16-byte alignment; loading realigns them.

    Whether a particular unpickled array lands on a 64-byte boundary is up to
    the allocator, so the state is also rebuilt from deliberately misaligned
    arrays.
    """
    X, y = _data("multiclass")
    est = BackpropClassifier(**COMMON).fit(X, y)
    if how == "misaligned":
        plain = est._fit_state.to_dict()
        plain["params"] = _misaligned(plain["params"])
        plain["buffers"] = {"bn1.running_mean": _misaligned(np.ones(5))}
        arrays = plain["optimizer_state"]["arrays"]
        arrays.update({name: _misaligned(a) for name, a in arrays.items()})
        state = FitState.from_dict(plain)
    else:
        state = _roundtrip(est, how)._fit_state
    arrays = {"params": state.params, **state.optimizer_state.arrays}
    arrays.update(state.buffers)
    assert sorted(arrays)[-4:] == ["m", "params", "scratch", "v"]
    assert all(is_aligned(a) and a.flags.c_contiguous for a in arrays.values())


@pytest.mark.parametrize("how", ["pickle", "skops"])
def test_continuation_after_loading_is_the_same_bit_for_bit(fitted, how):
    """Fit K epochs, save, load, K more == K then K more in one process."""
    name, est, more, (X, _) = fitted
    loaded = _roundtrip(est, how)
    more(est)
    more(loaded)
    assert_same(vars(loaded), vars(est))
    assert_same(_predictions(loaded, X), _predictions(est, X))


@pytest.mark.parametrize("solver", STOCHASTIC_SOLVERS)
@pytest.mark.parametrize("how", ["pickle", "skops"])
def test_continuation_after_loading_is_one_long_fit(solver, how):
    """K epochs, save, load, K more warm-started == 2 K epochs in one fit."""
    X, y = _data("multiclass")
    params = dict(COMMON, solver=solver, dropout=0.2)
    loaded = _roundtrip(BackpropClassifier(**params).fit(X, y), how)
    loaded.set_params(warm_start=True).fit(X, y)
    once = BackpropClassifier(**dict(params, max_iter=2 * K)).fit(X, y)
    assert_same(loaded.coefs_ + loaded.intercepts_, once.coefs_ + once.intercepts_)
    assert_same(loaded.loss_curve_, once.loss_curve_)
    assert loaded.t_ == once.t_


def test_fit_state_round_trip_carries_every_field_and_buffers():
    """FitState.to_dict is plain, and from_dict restores every field.

    The buffers of the layers (batch normalization's running statistics) are
    carried whatever their names.
    """
    X, y = _data("multiclass")
    state = BackpropClassifier(solver="nag", **COMMON).fit(X, y)._fit_state
    state.buffers = {"bn1.running_mean": np.arange(5.0), "bn1.running_var": np.ones(5)}
    plain = state.to_dict()
    assert {f.name for f in dataclasses.fields(FitState)} <= plain.keys()

    def kinds(value):
        if isinstance(value, dict):
            return set().union(*(kinds(v) for v in value.values()), {dict})
        if isinstance(value, list | tuple):
            return set().union(*(kinds(v) for v in value), {type(value)})
        return {type(value)}

    allowed = {dict, list, tuple, str, int, float, bool, type(None), np.ndarray}
    assert kinds(plain) <= allowed, kinds(plain) - allowed
    restored = FitState.from_dict(pickle.loads(pickle.dumps(plain)))
    assert_same(restored, state)
    assert all(is_aligned(a) for a in restored.buffers.values())
    assert restored.optimizer_state.extras == {"t": state.optimizer_state.extras["t"]}


# ------------------------------------------------------------- __getstate__
def test_getstate_returns_a_copy_and_leaves_the_estimator_untouched():
    X, y = _data("multiclass")
    est = BackpropClassifier(**COMMON).fit(X, y)
    # deep copies of the attributes (FitState's own deepcopy keeps the scratch)
    before = {name: copy.deepcopy(value) for name, value in vars(est).items()}
    live = est.__dict__
    fit_state, opt_state = est._fit_state, est._fit_state.optimizer_state
    first = est.__getstate__()
    second = est.__getstate__()  # callable again: nothing was consumed
    assert first is not live and second is not live
    assert isinstance(first["_fit_state"], dict)
    assert_same(first, second, scratch_contents=True)
    assert est.__dict__ is live and est._fit_state is fit_state
    assert est._fit_state.optimizer_state is opt_state
    # editing what __getstate__ returned does not reach the estimator
    first["_fit_state"]["loss_curve"].append(0.0)
    first["_fit_state"]["optimizer_state"]["arrays"].clear()
    first["_fit_state"]["buffers"]["x"] = np.zeros(1)
    first["coefs_"] = None
    assert_same(vars(est), before, scratch_contents=True)


def test_old_pickles_with_a_fit_state_object_still_load():
    X, y = _data("multiclass")
    est = BackpropClassifier(**COMMON).fit(X, y)
    state = dict(est.__dict__)  # the state as pickled before the dict form
    old = BackpropClassifier.__new__(BackpropClassifier)
    old.__setstate__(state)
    assert old._fit_state is est._fit_state


# ------------------------------------------------------------------ lean copy
def test_lean_copy_predicts_the_same_and_is_smaller():
    X, y = _data("multiclass")
    est = BackpropClassifier(**COMMON).fit(X, y)
    lean = lean_copy(est)
    assert lean._fit_state is None
    assert isinstance(est._fit_state, FitState)  # the original keeps its state
    assert_same(_predictions(lean, X), _predictions(est, X))
    fitted = {k: v for k, v in vars(est).items() if k != "_fit_state"}
    assert_same({k: v for k, v in vars(lean).items() if k != "_fit_state"}, fitted)
    reloaded = _roundtrip(lean, "pickle")
    assert_same(_predictions(reloaded, X), _predictions(est, X))
    assert len(pickle.dumps(lean)) < len(pickle.dumps(est)) / 2


def test_lean_copy_reaches_estimators_inside_a_pipeline():
    X, y = _data("multiclass")
    pipe = make_pipeline(StandardScaler(), BackpropClassifier(**COMMON)).fit(X, y)
    lean = lean_copy(pipe)
    assert lean[-1]._fit_state is None and pipe[-1]._fit_state is not None
    np.testing.assert_array_equal(lean.predict_proba(X), pipe.predict_proba(X))


@pytest.mark.parametrize("cls", [BackpropClassifier, BackpropRegressor])
def test_lean_copy_cannot_continue_but_can_refit(cls):
    X, y = _data("multiclass" if cls is BackpropClassifier else "regression")
    lean = lean_copy(cls(**COMMON).fit(X, y))
    coefs = [c.copy() for c in lean.coefs_]
    msg = "no training state to continue from: it is a predict-only copy"
    with pytest.raises(ValueError, match=msg):
        lean.set_params(warm_start=True).fit(X, y)
    kwargs = {"classes": np.unique(y)} if cls is BackpropClassifier else {}
    with pytest.raises(ValueError, match=msg):
        lean.partial_fit(X, y, **kwargs)
    assert_same(lean.coefs_, coefs)  # a failed call leaves the model as it was
    assert lean._fit_state is None
    fresh = cls(**COMMON).fit(X, y)
    lean.set_params(warm_start=False).fit(X, y)
    assert_same(lean.coefs_, fresh.coefs_)
