"""
==========================================================
Watching a grid search train: progress bars and callbacks
==========================================================

scikit-learn 1.9 lets an estimator report what it does while it fits, to
*callbacks* set with ``set_callbacks``. skmlp's estimators report one task
per epoch, so that

* :class:`sklearn.callback.ProgressBar`, set on a :class:`GridSearchCV
  <sklearn.model_selection.GridSearchCV>`, draws a bar for the search and one
  for every fit of every candidate on every fold, even when the fits run in
  other processes (``n_jobs=2``);
* :class:`sklearn.callback.ScoringMonitor`, set on the network, scores the
  model of every epoch of every one of those fits, and sends the scores back
  to this process;
* a callback of our own can stop a fit after any epoch.

Then :class:`skmlp.LossCurveDisplay` draws the loss curve of the best model.

This example needs scikit-learn 1.9 or newer, and ``rich`` for the progress
bars: ``pip install "skmlp[progress]"``. See :ref:`callbacks` for the details.
"""

# %%
# Data
# ----
# scikit-learn's 8x8 digits, standardised with the statistics of the
# training part.
import os
import sys
import warnings

import matplotlib.pyplot as plt
from sklearn.callback import ProgressBar, ScoringMonitor
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.preprocessing import StandardScaler

from skmlp import BackpropClassifier, LossCurveDisplay

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

# %%
# A search with a progress bar and a scoring monitor
# --------------------------------------------------
# The monitor goes on the network: ``clone`` (which the search calls for every
# fit) shares callbacks rather than copying them, so every fit -- on every
# fold, in either worker process, and the final refit -- logs into this one
# ``monitor``. The progress bar goes on the search and is passed on to the
# networks it fits. Each fit runs 20 epochs (``max_iter=20``; the
# ``ConvergenceWarning`` that says so is silenced).
#
# In a terminal the bars move while the search runs; in a file or a notebook
# cell's captured output (as here), ``rich`` prints them once, finished, 80
# columns wide unless ``COLUMNS`` says otherwise: we widen them for this page.
wide = not sys.stdout.isatty() and "COLUMNS" not in os.environ
if wide:
    os.environ["COLUMNS"] = "110"
monitor = ScoringMonitor(scoring="accuracy")
net = BackpropClassifier(max_iter=20, random_state=0).set_callbacks(monitor)
search = GridSearchCV(
    net,
    {"hidden_layer_sizes": [(16,), (64,)], "learning_rate_init": [1e-3, 1e-2]},
    cv=2,
    n_jobs=2,
).set_callbacks(ProgressBar())
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X_train, y_train)
if wide:
    del os.environ["COLUMNS"]
print(f"best: {search.best_params_}, test accuracy {search.score(X_test, y_test):.3f}")

# %%
# Training accuracy, epoch by epoch
# ---------------------------------
# The monitor's log has one row per epoch of each fit (``task_name ==
# "epoch"``), scored on that fit's training rows, plus one row per fit for the
# finished model (``task_name == "fit"``). A row's ``task_id_path`` locates it
# in the search: ``(0, 0, k, epoch)`` is the fit of candidate ``k // 2`` on
# fold ``k % 2``, ``(0, 1, epoch)`` the refit. We average the folds of each
# candidate.
log = monitor.get_logs().data_as_pandas
epochs = log[log["task_name"] == "epoch"]
folds = epochs[epochs["task_id_path"].map(len) == 4].copy()
folds["candidate"] = folds["task_id_path"].map(lambda path: path[2] // 2)
curves = folds.groupby(["candidate", "task_id"])["accuracy"].mean().unstack(0)

fig, ax = plt.subplots(figsize=(6.4, 4))
for k, params in enumerate(search.cv_results_["params"]):
    label = ", ".join(f"{name}={value}" for name, value in params.items())
    ax.plot(curves.index + 1, curves[k], label=label)
ax.set(xlabel="epoch", ylabel="training accuracy (mean of 2 folds)")
ax.legend(fontsize="small")
fig.tight_layout()

# %%
# The loss curve of the best model
# --------------------------------
# :class:`~skmlp.LossCurveDisplay` takes the search itself and draws its
# ``best_estimator_`` (the refit on all the training rows).
display = LossCurveDisplay.from_estimator(search)
display.ax_.set_title("refit with the best parameters")
plt.show()

# %%
# Stopping from a callback
# ------------------------
# A callback's ``on_fit_task_end`` that returns True ends training after that
# epoch, exactly as if ``max_iter`` had been reached there (but without the
# ``ConvergenceWarning``). This one asks for a fitted model of each epoch
# (``fitted_estimator``) and stops once its training accuracy reaches 99%.


class StopAtAccuracy:
    """Stop training once the model of an epoch reaches ``target`` accuracy."""

    def __init__(self, target):
        self.target = target

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, X, y, fitted_estimator):
        if context.task_name != "epoch":  # the fit's own end, not an epoch
            return False
        return fitted_estimator.score(X, y) >= self.target


net = BackpropClassifier(
    hidden_layer_sizes=(64,), learning_rate_init=1e-2, max_iter=200, random_state=0
)
net.set_callbacks(StopAtAccuracy(0.99)).fit(X_train, y_train)
print(
    f"stopped after {net.n_iter_} epochs: training accuracy "
    f"{net.score(X_train, y_train):.3f}, test accuracy {net.score(X_test, y_test):.3f}"
)
