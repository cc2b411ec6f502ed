"""
================================================
Choosing the hidden-layer size and learning rate
================================================

How wide should a one-hidden-layer network be, and how large a learning rate
should it train with? We let :class:`~sklearn.model_selection.GridSearchCV`
answer both on scikit-learn's 8x8 handwritten digits, with a
:class:`~sklearn.pipeline.Pipeline` that standardises the pixels and trains a
:class:`~skmlp.BackpropClassifier` by mini-batch SGD (with scikit-learn's
default Nesterov momentum 0.9) for a fixed budget of 20 epochs.

1. First the width alone, at a fixed learning rate.
2. Then width and initial learning rate together, with a learning rate that
   decays exponentially, ``eta_e = eta_0 * 0.95 ** e`` after ``e`` epochs.

Accuracies are 3-fold cross-validated on 75 % of the data; the best model is
finally scored once on the remaining 25 %.
"""

# %%
# Data and pipeline
# -----------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import BackpropClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
pipe = Pipeline(
    [
        ("scale", StandardScaler()),
        (
            "mlp",
            BackpropClassifier(
                solver="sgd",
                learning_rate_init=0.01,
                batch_size=64,
                max_iter=20,
                random_state=0,
            ),
        ),
    ]
)
cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)

# 20 epochs is a budget, not a convergence criterion, so the searches below
# silence the ``ConvergenceWarning`` that ``max_iter`` was reached.

# %%
# 1. Hidden-layer size at a fixed learning rate
# ---------------------------------------------
sizes = [2, 4, 8, 16, 32, 64]
search_size = GridSearchCV(
    pipe, {"mlp__hidden_layer_sizes": [(n,) for n in sizes]}, cv=cv
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    search_size.fit(X_train, y_train)

results = pd.DataFrame(search_size.cv_results_)
results["hidden units"] = [p[0] for p in results["param_mlp__hidden_layer_sizes"]]
print(
    results[
        ["hidden units", "mean_test_score", "std_test_score", "mean_fit_time"]
    ].to_string(index=False, float_format="{:.3f}".format)
)

# %%
# Two or four hidden units are a bottleneck for ten classes; accuracy climbs
# steeply up to 8 units, then gains only a few more points.
fig, ax = plt.subplots(figsize=(6, 4))
ax.errorbar(
    results["hidden units"],
    results["mean_test_score"],
    yerr=results["std_test_score"],
    marker="o",
    capsize=3,
)
ax.set_xscale("log", base=2)
ax.set_xticks(sizes, [str(n) for n in sizes])
ax.set(
    xlabel="hidden units (one layer)",
    ylabel="cross-validated accuracy",
    title="Digits: accuracy vs hidden-layer size\n(SGD, learning rate 0.01, 20 epochs)",
)
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %%
# 2. Hidden-layer size x initial learning rate, exponential decay
# ---------------------------------------------------------------
# With ``learning_rate='exponential'`` and ``lr_decay=0.95`` the learning rate
# of the last (20th) epoch is ``0.95 ** 19 ~ 0.38`` times the initial one.
pipe.set_params(mlp__learning_rate="exponential", mlp__lr_decay=0.95)
learning_rates = [0.003, 0.01, 0.03, 0.1, 0.3]
grid_sizes = [8, 32, 64]
search_lr = GridSearchCV(
    pipe,
    {
        "mlp__hidden_layer_sizes": [(n,) for n in grid_sizes],
        "mlp__learning_rate_init": learning_rates,
    },
    cv=cv,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    search_lr.fit(X_train, y_train)

results_lr = pd.DataFrame(search_lr.cv_results_)
results_lr["hidden units"] = [p[0] for p in results_lr["param_mlp__hidden_layer_sizes"]]
results_lr["learning rate"] = results_lr["param_mlp__learning_rate_init"]
columns = [
    "hidden units",
    "learning rate",
    "mean_test_score",
    "std_test_score",
    "rank_test_score",
    "mean_fit_time",
]
print(
    results_lr[columns]
    .sort_values("rank_test_score")
    .to_string(index=False, float_format="{:.3f}".format)
)

# %%
# Too small a learning rate has not reached a good solution within 20 epochs,
# and the small network suffers most from it; too large a learning rate makes
# training erratic (note the large standard deviation of 8 units at 0.3).
# Wider networks are both more accurate and less sensitive to the learning
# rate.
heat = results_lr.pivot(
    index="hidden units", columns="learning rate", values="mean_test_score"
)
fig, ax = plt.subplots(figsize=(7, 3.5))
image = ax.imshow(heat.to_numpy(), cmap="viridis", vmin=0.7, vmax=1.0)
ax.set_xticks(np.arange(len(heat.columns)), [f"{v:g}" for v in heat.columns])
ax.set_yticks(np.arange(len(heat.index)), [str(v) for v in heat.index])
ax.set(
    xlabel="initial learning rate (x 0.95 per epoch)",
    ylabel="hidden units",
    title="Cross-validated accuracy on digits",
)
for (i, j), value in np.ndenumerate(heat.to_numpy()):
    ax.text(
        j,
        i,
        f"{value:.3f}",
        ha="center",
        va="center",
        color="k" if value > 0.9 else "w",
    )
fig.colorbar(image, ax=ax, label="accuracy")
fig.tight_layout()
plt.show()

# %%
# Final result
# ------------
# The best pipeline of the second search, refitted on the whole training part,
# scored once on the held-out test set.
best = search_lr.best_params_
print(
    f"best: {best['mlp__hidden_layer_sizes'][0]} hidden units, initial learning "
    f"rate {best['mlp__learning_rate_init']:g}"
)
print(
    f"best CV accuracy: {search_lr.best_score_:.3f}, "
    f"test accuracy: {search_lr.score(X_test, y_test):.3f}"
)
