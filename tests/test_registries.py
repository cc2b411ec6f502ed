"""One registry per kind of component, and everything follows it.

Adding a component is its class (or function) plus one ``register`` line: the
estimators' parameter validation accepts it, the builders construct it from
the estimator's parameters, and the documented lists of choices must name it.
"""

import re

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skmlp import BackpropClassifier, BackpropRegressor
from skmlp._activations import ACTIVATIONS
from skmlp._docs import SHARED_PARAMETERS
from skmlp._initializers import INITIALIZERS
from skmlp._losses import CLASSIFICATION_LOSSES, REGRESSION_LOSSES
from skmlp._optimizers import SOLVERS, Adam, _Optimizer
from skmlp._registry import Registry
from skmlp._schedules import SCHEDULES

pytestmark = pytest.mark.usefixtures("one_blas_thread")


class SignSGD(_Optimizer):
    """A toy update rule: ``w <- w - eta sign(g)``, with a step counter."""

    name = "signsgd"

    def __init__(self, learning_rate_init):
        self.learning_rate_init = learning_rate_init

    def _constants(self, state):
        return (state.step_size,)

    @staticmethod
    def _update(p, g, arrays, scratch, lr):
        np.sign(g, out=scratch)
        scratch *= lr
        p -= scratch


@pytest.fixture
def signsgd():
    """SignSGD registered as a solver for the duration of one test."""
    SOLVERS.register(SignSGD.name, SignSGD)
    yield SignSGD
    SOLVERS.unregister(SignSGD.name)


def test_a_new_optimizer_is_one_class_and_one_registry_line(signsgd):
    """A toy rule, registered after import, trains both estimators as a solver."""
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    y = (X[:, 0] > 0).astype(int)
    params = dict(
        hidden_layer_sizes=(4,), batch_size=40, max_iter=3, random_state=0, tol=0
    )
    clf = BackpropClassifier(solver="signsgd", learning_rate_init=0.01, **params)
    with pytest.warns(Warning, match="Maximum iterations"):
        clf.fit(X, y)
    # each of the 3 full-batch steps moved every weight by +-lr: an odd number
    # of learning rates in all (sign(g) is never 0 here)
    start = BackpropClassifier(solver="signsgd", **{**params, "max_iter": 1})
    start.set_params(learning_rate_init=1e-300)  # a step that changes nothing
    with pytest.warns(Warning, match="Maximum iterations"):
        start.fit(X, y)
    for after, before in zip(clf.coefs_, start.coefs_, strict=True):
        steps = (after - before) / 0.01
        assert np.allclose(steps, np.round(steps), atol=1e-9)
        assert set(np.round(steps).astype(int).ravel()) <= {-3, -1, 1, 3}
    assert clf._fit_state.optimizer_state.t == 3
    # warm start continues the same state; partial_fit exists (stochastic)
    clf.set_params(warm_start=True, max_iter=1)
    with pytest.warns(Warning, match="Maximum iterations"):
        clf.fit(X, y)
    assert clf._fit_state.optimizer_state.t == 4
    reg = BackpropRegressor(solver="signsgd", **params).partial_fit(X, X[:, 1])
    assert reg.n_iter_ == 1
    # a grid search over solvers includes it
    search = GridSearchCV(
        BackpropClassifier(**{**params, "batch_size": 20}),
        {"solver": ["adam", "signsgd"]},
        cv=2,
    )
    with pytest.warns(Warning, match="Maximum iterations"):
        search.fit(X, y)
    assert clone(clf).solver == "signsgd"


def test_unregistered_solver_is_refused_by_parameter_validation():
    with pytest.raises(ValueError, match="'solver' parameter .* must be a str among"):
        BackpropClassifier(solver="signsgd").fit([[0.0], [1.0]], [0, 1])


def test_the_builders_read_the_declared_hyperparameters():
    """Each registered rule's declared hyperparameters are estimator parameters."""
    est_params = set(BackpropClassifier().get_params()) | set(
        BackpropRegressor().get_params()
    )
    for registry in (SOLVERS, SCHEDULES, REGRESSION_LOSSES):
        for name, cls in registry.items():
            declared = set(getattr(cls, "hyperparameters", {}).values())
            assert declared <= est_params, (registry.kind, name)
    assert SOLVERS["adamw"].hyperparameters["beta_1"] == "beta_1"
    assert Adam.state_key_params == ("learning_rate_init", "beta_1", "beta_2")


def _documented_choices(parameter: str) -> set:
    """The ``{'a', 'b'}`` set, or the quoted names, documented for ``parameter``."""
    block = re.search(
        rf"^\s*{parameter} : (.*?)(?=^\s{{4}}\w+ : |\Z)",
        SHARED_PARAMETERS,
        flags=re.S | re.M,
    )
    assert block, parameter
    text = block.group(1)
    braces = re.match(r"\{(.*?)\}", text, flags=re.S)
    if braces:
        return set(re.findall(r"'(\w+)'", braces.group(1)))
    return set(re.findall(r"'(\w+)'", text.split(";")[0]))


@pytest.mark.parametrize(
    ("parameter", "registry"),
    [
        ("solver", SOLVERS),
        ("learning_rate", SCHEDULES),
        ("weight_init", INITIALIZERS),
        ("activation", ACTIVATIONS),
    ],
)
def test_documented_choices_are_the_registered_ones(parameter, registry):
    assert _documented_choices(parameter) == set(registry)


def test_regressor_loss_documentation_matches_the_registry():
    doc = BackpropRegressor.__doc__
    listed = re.search(r"loss : \{(.*?)\}", doc, flags=re.S).group(1)
    assert set(re.findall(r"'(\w+)'", listed)) == set(REGRESSION_LOSSES)


@pytest.mark.parametrize(
    "registry",
    [ACTIVATIONS, SOLVERS, SCHEDULES, REGRESSION_LOSSES, CLASSIFICATION_LOSSES],
    ids=lambda r: r.kind,
)
def test_every_entry_is_registered_under_its_own_name(registry):
    for name, entry in registry.items():
        own = entry.link if registry is CLASSIFICATION_LOSSES else entry.name
        assert own == name or (registry is ACTIVATIONS and name == "sigmoid")


def test_registry_refuses_a_taken_name_and_names_the_choices():
    reg = Registry("colour")
    reg.register("red", 1, aliases=("rouge",))
    with pytest.raises(ValueError, match="'red' is registered already"):
        reg.register("red", 2)
    with pytest.raises(
        ValueError, match=r"Unknown colour 'blue'; .*\['red', 'rouge'\]"
    ):
        reg.resolve("blue")
    live = reg.constraint()
    reg.register("green", 3)
    assert live.is_satisfied_by("green") and not live.is_satisfied_by("blue")
