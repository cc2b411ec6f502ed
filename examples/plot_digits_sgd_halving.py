"""
=====================================================
SGD on digits with a learning rate halved every epoch
=====================================================

A one-hidden-layer network of 64 ``tanh`` units learns scikit-learn's 8x8
handwritten digits by mini-batch SGD (with scikit-learn's default Nesterov
momentum 0.9) under an aggressive schedule: the learning rate is halved after
every epoch, ``eta_e = eta_0 * 0.5 ** e`` (``learning_rate='exponential'``,
``lr_decay=0.5``).

The weights start from LeCun's normal initialisation
(``weight_init='lecun_normal'``): Gaussian with standard deviation
``1 / sqrt(n)``, ``n`` the number of inputs of the layer (the fan-in), so that
each unit's pre-activation starts with roughly unit variance when the inputs
are standardised; the intercepts start at zero.

We train one epoch at a time with ``warm_start=True, max_iter=1`` to record the
training accuracy after each epoch, while ``fit``'s validation set
(``X_val, y_val``) records the validation accuracy.
"""

# %%
# Data
# ----
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skmlp import BackpropClassifier, LossCurveDisplay

X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train = scaler.transform(X_train)
X_val = scaler.transform(X_val)

# %%
# Training epoch by epoch
# -----------------------
# With ``warm_start=True`` each ``fit`` continues where the previous one
# stopped -- weights, momentum, the epoch count of the schedule, the shuffling
# sequence and the recorded curves -- so 15 fits of one epoch are the same as
# one fit of 15 epochs. Each one-epoch fit reaches ``max_iter`` by design, so
# its ``ConvergenceWarning`` is silenced.
n_epochs = 15
params = dict(
    hidden_layer_sizes=(64,),
    activation="tanh",
    solver="sgd",
    learning_rate="exponential",
    learning_rate_init=0.1,
    lr_decay=0.5,
    batch_size=32,
    weight_init="lecun_normal",
    random_state=0,
)
clf = BackpropClassifier(max_iter=1, warm_start=True, **params)
train_acc = []
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    for _ in range(n_epochs):
        clf.fit(X_train, y_train, X_val=X_val, y_val=y_val)
        train_acc.append(clf.score(X_train, y_train))
val_acc = clf.validation_scores_  # one entry per epoch, over all the warm fits
learning_rates = params["learning_rate_init"] * params["lr_decay"] ** np.arange(
    n_epochs
)

print("epoch  learning rate  train loss  train acc  val acc")
for e in range(n_epochs):
    print(
        f"{e + 1:>5}  {learning_rates[e]:>13.2e}  {clf.loss_curve_[e]:>10.4f}"
        f"  {train_acc[e]:>9.4f}  {val_acc[e]:>7.4f}"
    )

# %%
# Accuracy per epoch
# ------------------
# Almost all of the learning happens in the first three or four epochs. By
# epoch 10 the learning rate is ``0.1 / 2 ** 9 ~ 2e-4`` and the weights have
# effectively frozen: the sum of all the learning rates of an infinite run is
# only ``2 * eta_0``, so halving every epoch bounds how far SGD can travel
# from its initial weights.
#
# The training accuracy was collected by hand above; the validation accuracy
# is the recorded ``validation_scores_``, drawn by
# :class:`~skmlp.LossCurveDisplay` (``curves="validation_score"``).
epochs = np.arange(1, n_epochs + 1)
fig, (ax_acc, ax_lr) = plt.subplots(
    2, 1, figsize=(7, 6), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
)
ax_acc.plot(epochs, train_acc, marker="o", label="training")
LossCurveDisplay.from_estimator(
    clf,
    ax=ax_acc,
    curves="validation_score",
    validation_score_kw={"marker": "s", "label": "validation"},
)
ax_acc.set(
    xlabel="",
    ylabel="accuracy",
    title="Digits, 64 tanh units, SGD, LeCun-normal init",
)
ax_acc.legend(loc="lower right")
ax_acc.grid(alpha=0.3)
ax_lr.semilogy(epochs, learning_rates, marker=".", color="C2")
ax_lr.set(xlabel="epoch", ylabel="learning rate")
ax_lr.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %%
# How large must the initial learning rate be?
# --------------------------------------------
# Because the total step length is bounded by ``2 * eta_0``, a halving schedule
# is unforgiving about ``eta_0``: too small and training freezes before it has
# got anywhere. The same network, trained for 15 epochs in one ``fit`` with
# different initial learning rates, shows it on the validation set.
# Each model's recorded ``validation_scores_`` is drawn by
# :class:`~skmlp.LossCurveDisplay` onto the same axes.
fig, ax = plt.subplots(figsize=(7, 4))
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    for lr0 in [0.003, 0.01, 0.03, 0.1]:
        model = BackpropClassifier(
            **{**params, "learning_rate_init": lr0},
            max_iter=n_epochs,
            n_iter_no_change=n_epochs + 1,
        )
        model.fit(X_train, y_train, X_val=X_val, y_val=y_val)
        print(
            f"eta_0 = {lr0:<5g}: validation accuracy {model.validation_scores_[-1]:.3f}"
        )
        LossCurveDisplay.from_estimator(
            model,
            ax=ax,
            curves="validation_score",
            validation_score_kw={"marker": ".", "label": f"eta_0 = {lr0:g}"},
        )
ax.set_title("Learning rate halved every epoch: effect of the initial value")
ax.legend(loc="lower right")
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %%
# Final result
# ------------
print(
    f"after {n_epochs} epochs: training accuracy {train_acc[-1]:.3f}, "
    f"validation accuracy {val_acc[-1]:.3f}"
)
