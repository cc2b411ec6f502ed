"""
================================================
Regression with sigmoid hidden units on diabetes
================================================

:class:`~skmlp.BackpropRegressor` with logistic ("sigmoid") hidden units and an
identity output, trained by mini-batch SGD (scikit-learn's default Nesterov
momentum 0.9) on the squared error (``loss='squared_error'``, half the mean
squared error plus a small L2 penalty), predicts disease progression one year
after baseline from ten measurements of 442 diabetes patients.

We look at the effect of three choices in turn -- the learning rate, the
number of hidden units and the activation function -- and then train the same
network as a classifier with the log loss, to predict whether progression is
above the median.

The diabetes data are small and noisy: a linear model explains about a third
of the variance of the target, and so will the best networks here. What the
curves show is mostly how easily a network over-fits such data.
"""

# %%
# Data
# ----
# Features and target are both standardised with statistics of the training
# part (75 %). Standardising the target keeps the squared error on a scale of
# about 1 (``R^2`` does not change); the predictions are mapped back with
# ``y_scaler.inverse_transform`` where we need them in the original units.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skmlp import BackpropClassifier, BackpropRegressor, LossCurveDisplay

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0
)
x_scaler = StandardScaler().fit(X_train)
X_train = x_scaler.transform(X_train)
X_test = x_scaler.transform(X_test)
y_scaler = StandardScaler().fit(y_train.reshape(-1, 1))
z_train = y_scaler.transform(y_train.reshape(-1, 1)).ravel()
z_test = y_scaler.transform(y_test.reshape(-1, 1)).ravel()

linear_r2 = LinearRegression().fit(X_train, z_train).score(X_test, z_test)
print(f"linear regression, test R^2: {linear_r2:.3f}")

# %%
# The network
# -----------
# Every model below trains for exactly ``n_epochs`` epochs
# (``n_iter_no_change`` is set beyond it, and the ``ConvergenceWarning`` for
# reaching ``max_iter`` is silenced). The test set is passed as
# ``X_val, y_val`` so that its loss and ``R^2`` are recorded after every epoch.
n_epochs = 100
base = dict(
    loss="squared_error",
    hidden_layer_sizes=(16,),
    activation="logistic",
    solver="sgd",
    learning_rate_init=0.01,
    batch_size=32,
    alpha=1e-3,
    max_iter=n_epochs,
    n_iter_no_change=n_epochs + 1,
    random_state=0,
)


def fit_regressor(**changes):
    """The base regressor with some parameters changed, fitted."""
    reg = BackpropRegressor(**{**base, **changes})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return reg.fit(X_train, z_train, X_val=X_test, y_val=z_test)


def plot_losses(reg, ax, label):
    """Training (solid) and test (dashed) loss of ``reg``, in one colour."""
    LossCurveDisplay.from_estimator(
        reg,
        ax=ax,
        curves=["loss", "validation_loss"],
        loss_kw={"label": label},
        validation_loss_kw={"label": "_nolegend_"},
    )


# %%
# Effect of the learning rate
# ---------------------------
# Solid lines: training loss; dashed: test loss (without the penalty). The
# larger the learning rate, the faster and lower the training loss falls --
# and the sooner the test loss turns up again: within 100 epochs the network
# has fitted the noise of the 331 training patients. The smallest learning rate
# is still on its way down and happens to end at the best test ``R^2``.
#
# :class:`~skmlp.LossCurveDisplay` draws the recorded ``loss_curve_`` and
# ``validation_loss_curve_`` of each model in a colour of its own (a helper
# keeps only the training loss in the legend).
fig, ax = plt.subplots(figsize=(7, 4.5))
for lr in [0.001, 0.01, 0.1, 0.3]:
    reg = fit_regressor(learning_rate_init=lr)
    plot_losses(reg, ax, label=f"{lr:g}")
    print(
        f"learning rate {lr:<5g}: training loss {reg.loss_:.3f}, "
        f"test R^2 {reg.validation_scores_[-1]:.3f} "
        f"(best {reg.best_validation_score_:.3f} at epoch "
        f"{np.argmax(reg.validation_scores_) + 1})"
    )
ax.set(
    xlabel="epoch",
    ylabel="half squared error (standardised y)",
    title="Effect of the learning rate (solid: training, dashed: test)",
    ylim=(0.1, 0.6),
)
ax.legend(title="learning_rate_init")
fig.tight_layout()
plt.show()

# %%
# Effect of the number of hidden units
# ------------------------------------
# At this learning rate and number of epochs, neither training nor test ``R^2``
# depends much on the width: from 1 to 64 sigmoid units, test ``R^2`` stays
# around that of linear regression, about 0.2 below training ``R^2``. A single
# sigmoid unit is already a (squashed) linear model, and the signal in these
# data is mostly linear; extra units mostly add capacity to fit noise.
sizes = [1, 2, 4, 8, 16, 32, 64]
train_r2, test_r2 = [], []
for n in sizes:
    reg = fit_regressor(hidden_layer_sizes=(n,))
    train_r2.append(reg.score(X_train, z_train))
    test_r2.append(reg.score(X_test, z_test))
fig, ax = plt.subplots(figsize=(7, 4.5))
ax.plot(sizes, train_r2, marker="o", label="training")
ax.plot(sizes, test_r2, marker="s", label="test")
ax.axhline(linear_r2, color="gray", ls=":", label="linear regression (test)")
ax.set_xscale("log", base=2)
ax.set_xticks(sizes, [str(n) for n in sizes])
ax.set(
    xlabel="hidden units (logistic)",
    ylabel="R^2",
    title="Effect of the hidden-layer size",
)
ax.legend()
fig.tight_layout()
plt.show()

# %%
# Effect of the activation
# ------------------------
# ``tanh`` and ``relu`` units are not squashed into (0, 1) and have larger
# derivatives than the sigmoid (at most 1/4), so at the same learning rate
# they fit the training data faster -- and over-fit sooner.
fig, ax = plt.subplots(figsize=(7, 4.5))
for activation in ["logistic", "tanh", "relu"]:
    reg = fit_regressor(activation=activation)
    plot_losses(reg, ax, label=activation)
    print(
        f"{activation:>8}: training loss {reg.loss_:.3f}, "
        f"test R^2 {reg.validation_scores_[-1]:.3f}"
    )
ax.set(
    xlabel="epoch",
    ylabel="half squared error (standardised y)",
    title="Effect of the activation (solid: training, dashed: test)",
    ylim=(0.1, 0.6),
)
ax.legend(title="activation")
fig.tight_layout()
plt.show()

# %%
# The same network as a classifier
# --------------------------------
# Now the question is only whether progression is above the median of the
# training targets. :class:`~skmlp.BackpropClassifier` with the same hidden
# layer, activation and optimizer gets a single sigmoid output unit and the
# binary log loss. For comparison we also threshold the regressor's
# predictions at the same median.
median = np.median(y_train)
clf = BackpropClassifier(**{k: v for k, v in base.items() if k != "loss"})
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    clf.fit(X_train, y_train > median, X_val=X_test, y_val=y_test > median)
reg = fit_regressor()
y_pred = y_scaler.inverse_transform(reg.predict(X_test).reshape(-1, 1)).ravel()
proba = clf.predict_proba(X_test)[:, 1]
clf_accuracy = clf.score(X_test, y_test > median)
thresholded_accuracy = np.mean((y_pred > median) == (y_test > median))
print(f"classifier output: {clf.out_activation_}, final log loss {clf.loss_:.3f}")

fig, (ax_reg, ax_clf) = plt.subplots(1, 2, figsize=(11, 4.5))
ax_reg.scatter(y_test, y_pred, s=12, alpha=0.7)
lims = [y.min(), y.max()]
ax_reg.plot(lims, lims, color="gray", lw=1)
ax_reg.axhline(median, color="C3", ls=":", lw=1)
ax_reg.axvline(median, color="C3", ls=":", lw=1)
ax_reg.set(
    xlabel="true progression",
    ylabel="predicted progression",
    title=f"Regressor (squared error): test R^2 {r2_score(y_test, y_pred):.2f}",
)
correct = (proba > 0.5) == (y_test > median)
ax_clf.scatter(y_test[correct], proba[correct], s=12, alpha=0.7, label="correct")
ax_clf.scatter(y_test[~correct], proba[~correct], s=12, color="C3", label="wrong")
ax_clf.axvline(median, color="C3", ls=":", lw=1)
ax_clf.axhline(0.5, color="gray", lw=1)
ax_clf.set(
    xlabel="true progression",
    ylabel="predicted P(progression > median)",
    title=f"Classifier (log loss): test accuracy {clf_accuracy:.2f}",
)
ax_clf.legend(loc="upper left")
fig.tight_layout()
plt.show()

# %%
# Final result
# ------------
print(
    f"regressor test R^2: {reg.score(X_test, z_test):.3f} "
    f"(linear regression: {linear_r2:.3f})"
)
print(
    f"classifier test accuracy (y > median): {clf_accuracy:.3f}; "
    f"regressor thresholded at the median: {thresholded_accuracy:.3f}"
)
