"""
=====================================================
Gradient descent vs Nesterov's accelerated gradient
=====================================================

Plain gradient descent takes a step ``-eta * grad f(x_k)`` from the current
weights. Nesterov's accelerated gradient (``solver='nag'``) adds momentum whose
coefficient follows the ``t_k`` sequence,

.. math::

    x_k = y_k - \\eta \\nabla f(y_k), \\qquad
    t_{k+1} = \\frac{1 + \\sqrt{1 + 4 t_k^2}}{2}, \\qquad
    y_{k+1} = x_k + \\frac{t_k - 1}{t_{k+1}} (x_k - x_{k-1}),

and takes the gradient at the look-ahead point ``y_k`` rather than at ``x_k``.
On smooth convex problems this improves the rate of gradient descent from
``O(1/k)`` to ``O(1/k^2)``; here we watch what it does for a small neural
network.

Both optimizers train the same network on the iris data -- 16 softplus hidden
units and a softmax output over the three species -- from the same Gaussian
initial weights (``weight_init='normal'``), with the same learning rate and the
same fixed number of epochs. Every step uses the whole training set
(``batch_size`` = number of training samples), so ``solver='sgd'`` with
``momentum=0`` is exactly full-batch gradient descent.
"""

# %%
# Data
# ----
import pickle
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skmlp import BackpropClassifier, LossCurveDisplay

X, y = load_iris(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train = scaler.transform(X_train)
X_test = scaler.transform(X_test)

# %%
# Two optimizers, everything else equal
# -------------------------------------
# Weights start from ``N(0, 0.1^2)`` (``init_scale=0.1``), intercepts at 0.
# ``n_iter_no_change`` is set beyond the number of epochs so that neither run
# stops early: both get exactly ``n_epochs`` full-batch steps. The test set is
# passed as ``X_val, y_val``, so ``validation_scores_`` records its accuracy
# after every epoch.
n_epochs = 200
common = dict(
    hidden_layer_sizes=(16,),
    activation="softplus",
    batch_size=X_train.shape[0],  # full batch: one step per epoch
    learning_rate_init=0.05,
    alpha=0.0,
    weight_init="normal",
    init_scale=0.1,
    max_iter=n_epochs,
    n_iter_no_change=n_epochs + 1,
    random_state=0,
)
models = {
    "gradient descent": BackpropClassifier(solver="sgd", momentum=0.0, **common),
    "Nesterov (NAG)": BackpropClassifier(solver="nag", **common),
}
with warnings.catch_warnings():
    # reaching max_iter is the point here: the number of epochs is fixed
    warnings.simplefilter("ignore", ConvergenceWarning)
    for model in models.values():
        model.fit(X_train, y_train, X_val=X_test, y_val=y_test)

for name, model in models.items():
    print(
        f"{name:>16}: output {model.out_activation_!r}, {model.n_iter_} epochs, "
        f"final training loss {model.loss_:.4f}"
    )

# %%
# Training loss and test accuracy
# -------------------------------
# Gradient descent creeps down the loss surface; NAG's growing momentum
# (``(t_k - 1) / t_{k+1}`` tends to 1) lets it run much further with the same
# learning rate. The price is that it is not a descent method: the loss may go
# up for a few steps when the accumulated velocity overshoots.
#
# :class:`~skmlp.LossCurveDisplay` draws the recorded curves: the training loss
# (``loss_curve_``) on one panel and, through ``ax_score``, the test accuracy
# (``validation_scores_``) on the other, one colour per optimizer.
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
for name, model in models.items():
    LossCurveDisplay.from_estimator(
        model,
        ax=ax_loss,
        ax_score=ax_acc,
        curves=["loss", "validation_score"],
        loss_kw={"label": name},
        validation_score_kw={"label": name, "linestyle": "-"},
    )
ax_loss.set_yscale("log")
ax_loss.set(xlabel="epoch (= full-batch step)", ylabel="training log loss")
ax_loss.set_title("Training loss")
ax_acc.set(xlabel="epoch (= full-batch step)", ylabel="test accuracy")
ax_acc.set_title("Test accuracy")
ax_acc.legend(loc="lower right")
fig.suptitle("Iris, 16 softplus units, softmax output, learning rate 0.05")
fig.tight_layout()
plt.show()

# %%
# How many steps to a given loss?
# -------------------------------
# The number of full-batch steps each optimizer needs to bring the training
# loss below a few thresholds ("-" if it never does within ``n_epochs``).
for threshold in (0.5, 0.3, 0.1):
    steps = []
    for model in models.values():
        below = np.flatnonzero(np.asarray(model.loss_curve_) < threshold)
        steps.append(str(below[0] + 1) if below.size else "-")
    print(f"loss < {threshold}: GD {steps[0]:>4} steps, NAG {steps[1]:>4} steps")

# %%
# Saving and reloading the fitted models
# --------------------------------------
# Fitted estimators are plain picklable Python objects. We write both to a
# temporary directory, load them back and check that the reloaded models make
# exactly the same predictions.
with tempfile.TemporaryDirectory() as tmp:
    for i, (name, model) in enumerate(models.items()):
        path = Path(tmp) / f"model_{i}.pkl"
        with path.open("wb") as f:
            pickle.dump(model, f)
        with path.open("rb") as f:
            reloaded = pickle.load(f)
        assert np.array_equal(reloaded.predict(X_test), model.predict(X_test))
        assert np.array_equal(
            reloaded.predict_proba(X_test), model.predict_proba(X_test)
        )
        print(f"{name}: reloaded {path.name}, identical predictions")

# %%
# Final result
# ------------
gd, nag = models.values()
print(
    f"NAG test accuracy: {nag.score(X_test, y_test):.3f} "
    f"vs GD: {gd.score(X_test, y_test):.3f}"
)
print(
    f"NAG final training loss: {nag.loss_curve_[-1]:.4f} "
    f"vs GD: {gd.loss_curve_[-1]:.4f} (after {n_epochs} epochs)"
)
