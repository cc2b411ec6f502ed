"""
=======================================================
Binary classification with sigmoid hidden units and SGD
=======================================================

A small network with two hidden layers of logistic ("sigmoid") units learns to
tell malignant from benign tumours in scikit-learn's breast-cancer data. A
binary target gives the network a single sigmoid output unit trained with the
binary log loss (cross-entropy).

Training is plain mini-batch stochastic gradient descent: ``solver='sgd'`` with
``momentum=0``, mini-batches of 16 samples, and a learning rate that decays
exponentially, ``eta_e = eta_0 * 0.95 ** e`` after ``e`` epochs
(``learning_rate='exponential'``, ``lr_decay=0.95``).

We train one epoch at a time with
:meth:`~skmlp.BackpropClassifier.partial_fit` and record the training loss and
the training and test accuracy after every epoch.
"""

# %%
# Data
# ----
# 569 tumours described by 30 features, split into 75 % training and 25 % test
# data (stratified). The features have very different scales, so they are
# standardised, with the scaler fitted on the training part only.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skmlp import BackpropClassifier, LossCurveDisplay

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train = scaler.transform(X_train)
X_test = scaler.transform(X_test)
print(f"{X_train.shape[0]} training and {X_test.shape[0]} test samples")

# %%
# The model
# ---------
# Two hidden layers of 16 and 8 sigmoid units. Sigmoid units saturate and their
# derivative is at most 1/4, so without momentum the network needs a fairly
# large initial learning rate to get going; the exponential decay then shrinks
# it to ``0.5 * 0.95 ** 59 ~ 0.02`` by the last epoch.
n_epochs = 60
params = dict(
    hidden_layer_sizes=(16, 8),
    activation="logistic",
    solver="sgd",
    momentum=0.0,
    batch_size=16,
    learning_rate="exponential",
    learning_rate_init=0.5,
    lr_decay=0.95,
    max_iter=n_epochs,
    random_state=0,
)
clf = BackpropClassifier(**params)

# %%
# Training epoch by epoch
# -----------------------
# Each :meth:`~skmlp.BackpropClassifier.partial_fit` call runs one epoch over
# the training data; the learning-rate schedule counts the epochs across calls.
# ``loss_`` is the mean training loss of that epoch (binary log loss plus the
# small L2 penalty ``alpha``).
train_loss, train_acc, test_acc = [], [], []
classes = np.unique(y_train)
for _ in range(n_epochs):
    clf.partial_fit(X_train, y_train, classes=classes)
    train_loss.append(clf.loss_)
    train_acc.append(clf.score(X_train, y_train))
    test_acc.append(clf.score(X_test, y_test))

print(f"output unit: {clf.out_activation_}, {clf.n_outputs_} output")
last_lr = params["learning_rate_init"] * params["lr_decay"] ** (n_epochs - 1)
print(f"learning rate in the last epoch: {last_lr:.4f}")

# %%
# The same curves from a single ``fit``
# -------------------------------------
# ``fit`` records the same per-epoch curves when it is given a validation set:
# ``loss_curve_`` holds the training loss and ``validation_scores_`` the
# accuracy on ``X_val, y_val`` after every epoch. (Here the test set plays that
# role, which is fine for drawing a learning curve but not for choosing
# hyper-parameters.) With the same ``random_state`` the mini-batches are the
# same, so the curves coincide with the epoch-by-epoch run.
# ``n_iter_no_change=n_epochs`` keeps ``fit`` from stopping early, and the
# ``ConvergenceWarning`` about reaching ``max_iter`` is expected: the number of
# epochs is fixed on purpose.
full = BackpropClassifier(**params, n_iter_no_change=n_epochs)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    full.fit(X_train, y_train, X_val=X_test, y_val=y_test)
print(
    "fit(X_val=...) reproduces the partial_fit curves:",
    np.allclose(full.loss_curve_, train_loss)
    and np.allclose(full.validation_scores_, test_acc),
)

# %%
# Learning curves
# ---------------
# :class:`~skmlp.LossCurveDisplay` draws what ``fit`` recorded: the training
# loss and the test loss (``validation_loss_curve_``, without the penalty) on
# the left axis, and the test accuracy (``validation_scores_``) on a second
# axis on the right, ``ax_score_``. The training accuracy is not recorded by
# ``fit``; we add the one collected in the ``partial_fit`` loop.
#
# The training loss falls by an order of magnitude in the first ten epochs,
# while the learning rate is still large, then keeps decreasing slowly as the
# decaying steps fine-tune the weights; the test loss levels off at about 0.11
# after ten epochs. Both accuracies jump within a few epochs; test accuracy
# then levels off around 96 %, a couple of points below training accuracy.
epochs = np.arange(1, n_epochs + 1)
fig, ax = plt.subplots(figsize=(8, 4.5))
display = LossCurveDisplay.from_estimator(
    full,
    ax=ax,
    validation_loss_kw={"label": "test loss"},
    validation_score_kw={"label": "test accuracy"},
)
ax.set_yscale("log")
ax.set_ylabel("log loss")
(train_acc_line,) = display.ax_score_.plot(
    epochs, train_acc, color="C1", linestyle=":", label="training accuracy"
)
display.ax_score_.set(ylabel="accuracy", ylim=(0.6, 1.005))
ax.legend(handles=[*display.lines_.values(), train_acc_line], loc="center right")
ax.set_title("Sigmoid MLP (16, 8), SGD, batch 16, learning rate 0.5 x 0.95^epoch")
fig.tight_layout()
plt.show()

# %%
# Final result
# ------------
print(f"final training loss: {train_loss[-1]:.4f}")
print(f"final training accuracy: {train_acc[-1]:.3f}")
print(f"Sigmoid MLP test accuracy after {n_epochs} epochs: {test_acc[-1]:.3f}")
