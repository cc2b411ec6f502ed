"""
================================================
Scaling out: a Dask cluster and out-of-core data
================================================

Two ways to go beyond one process with :class:`skmlp.BackpropClassifier`:

1. **Many fits at once.** A :class:`~sklearn.model_selection.GridSearchCV`
   hands its fits to joblib; inside ``joblib.parallel_config(backend="dask")``
   joblib sends them to the workers of a Dask cluster instead of local
   processes. The search finds the same best parameters and the same scores as
   ``n_jobs=1``: every fit is seeded by ``random_state``, wherever it runs.
2. **Data that does not fit in memory.** ``partial_fit`` trains one epoch on
   whatever chunk it is given and keeps the optimizer's state between calls,
   so a model can stream over the chunks of a :mod:`dask.array` (or files,
   or a database cursor) one at a time.

Without a scheduler address the example starts a
:class:`distributed.LocalCluster` of two single-threaded worker processes
bound to the loopback interface (127.0.0.1, ephemeral ports, no dashboard).
Set the environment variable ``SKMLP_DASK_SCHEDULER`` (for example
``tcp://10.0.0.5:8786``) to use an existing cluster instead; its workers need
skmlp installed. Needs the ``dask`` extra: ``pip install -e ".[dask]"``.

.. note::

   Run as a script, the guards ``if __name__ == "__main__":`` matter: Dask
   starts its worker processes with ``multiprocessing``'s *spawn* method,
   which re-imports this file in every worker.
"""

# %%
# Data and the search
# -------------------
# The digits data (1797 images of 8x8 pixels, ten classes) and a grid of six
# candidates -- hidden-layer size by initial learning rate -- scored by 3-fold
# cross-validation, 18 fits in all. Every fit is capped at 20 epochs, so
# scikit-learn's ``ConvergenceWarning`` about the cap is silenced, here and on
# the workers.
import logging
import os
import time
import warnings

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from distributed import Client, LocalCluster
from joblib import parallel_config
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import BackpropClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
param_grid = {
    "backpropclassifier__hidden_layer_sizes": [(16,), (32,), (64,)],
    "backpropclassifier__learning_rate_init": [0.001, 0.01],
}


def make_search(n_jobs):
    """The grid search; ``n_jobs`` is the only thing that changes."""
    pipe = make_pipeline(
        StandardScaler(), BackpropClassifier(max_iter=20, random_state=0)
    )
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    return GridSearchCV(pipe, param_grid, cv=cv, n_jobs=n_jobs)


def quiet_convergence():
    """Silence the capped-epochs ConvergenceWarning (run on every worker too)."""
    warnings.simplefilter("ignore", ConvergenceWarning)


quiet_convergence()

# %%
# Connect to a cluster
# --------------------
# A :class:`~distributed.LocalCluster` stands in for a real cluster. Everything
# listens on 127.0.0.1 only: ``host`` binds the scheduler and, passed on by
# the cluster, every worker and nanny; ``scheduler_port=0`` picks a free port;
# the dashboards are off and the scheduler's small HTTP endpoint (health
# checks, metrics) gets an ephemeral loopback port as well. For a real
# cluster, start ``dask scheduler`` and ``dask worker`` processes on the
# machines (or use dask-jobqueue, dask-kubernetes, ...) and point
# ``SKMLP_DASK_SCHEDULER`` at the scheduler.


def connect():
    """A client of the cluster at $SKMLP_DASK_SCHEDULER, or of a new local one."""
    address = os.environ.get("SKMLP_DASK_SCHEDULER")
    if address:
        return Client(address), None
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address=None,
        worker_dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.ERROR,
    )
    return Client(cluster), cluster


if __name__ == "__main__":
    client, cluster = connect()
    client.wait_for_workers(1)
    client.run(quiet_convergence)
    workers = client.scheduler_info()["workers"]
    print(f"scheduler {client.scheduler.address}")
    for address, info in workers.items():
        print(f"worker    {address}  threads={info['nthreads']}")

# %%
# The grid search, serial and on the cluster
# ------------------------------------------
# The only change is the joblib backend around ``fit`` (and ``n_jobs=-1``, to
# use every worker). scikit-learn's :class:`~sklearn.model_selection.GridSearchCV`
# knows nothing of Dask; joblib does the distribution. The older spelling
# ``with joblib.parallel_backend("dask"):`` works as well.

if __name__ == "__main__":
    start = time.perf_counter()
    serial = make_search(n_jobs=1).fit(X_train, y_train)
    t_serial = time.perf_counter() - start

    start = time.perf_counter()
    with parallel_config(backend="dask"):
        on_dask = make_search(n_jobs=-1).fit(X_train, y_train)
    t_dask = time.perf_counter() - start

    same_scores = np.array_equal(
        serial.cv_results_["mean_test_score"], on_dask.cv_results_["mean_test_score"]
    )
    print(f"n_jobs=1: {t_serial:5.1f} s   best {serial.best_params_}")
    print(f"dask:     {t_dask:5.1f} s   best {on_dask.best_params_}")
    print(f"same best parameters: {serial.best_params_ == on_dask.best_params_}")
    print(f"same mean CV scores:  {same_scores}")
    print(f"test accuracy of the best model: {on_dask.score(X_test, y_test):.3f}")

# %%
# On a laptop or a two-core build machine the cluster buys little: each fit
# takes a fraction of a second and both "workers" share the same cores, so
# shipping the data and the estimators to the workers eats much of the gain.
# The point is that the *same code* runs unchanged on a cluster of many
# machines, where the search's fits -- independent, seeded, and small to
# transmit -- spread over all of their cores.

# %%
# Out-of-core training with ``partial_fit``
# -----------------------------------------
# Now pretend the training set is too big for memory: it lives in a
# :mod:`dask.array` of 6 blocks of 225 rows. Each call to ``partial_fit`` runs
# one epoch of mini-batches (``batch_size`` rows each) over the one block it
# is given, and continues the Adam state, the step count and the shuffling
# sequence of the previous call. One pass over all blocks is one epoch over
# the data. Only one block is in memory at a time; ``compute()`` on a block
# reads just that block (here from memory, in practice from disk or from
# the cluster's workers). The features are standardised with statistics
# computed blockwise by Dask, without loading the data either.
#
# ``classes`` must be given on the first call: a single block need not
# contain every class.

X_big = da.from_array(X_train, chunks=(225, X_train.shape[1]))  # lazy
y_big = da.from_array(y_train, chunks=225)
classes = np.unique(y_train)  # known up front (or: da.unique(y_big).compute())


def stream_epochs(n_epochs, seed=0):
    """Train on the blocks one at a time, in a new random order every epoch."""
    clf = BackpropClassifier(
        hidden_layer_sizes=(64,), learning_rate_init=0.01, random_state=0
    )
    order_rng = np.random.RandomState(seed)
    scores = []
    for _ in range(n_epochs):
        for i in order_rng.permutation(X_big.numblocks[0]):
            # read one block, in this process (no cluster needed for this loop)
            X_block, y_block = da.compute(
                X_big.blocks[i], y_big.blocks[i], scheduler="synchronous"
            )
            clf.partial_fit((X_block - mean) / std, y_block, classes=classes)
        scores.append(clf.score((X_test - mean) / std, y_test))
    return clf, scores


if __name__ == "__main__":
    mean, std = da.compute(X_big.mean(axis=0), X_big.std(axis=0))  # blockwise
    std[std == 0] = 1.0
    n_epochs = 10
    streamed, streamed_scores = stream_epochs(n_epochs)
    print(f"{X_big.numblocks[0]} blocks of {X_big.chunks[0][0]} rows")
    print(f"test accuracy after {n_epochs} streamed epochs: {streamed_scores[-1]:.3f}")

# %%
# Dask-ML's ``Incremental`` wrapper
# ---------------------------------
# `Dask-ML <https://ml.dask.org>`_ packages the same loop:
# :class:`dask_ml.wrappers.Incremental` calls the wrapped estimator's
# ``partial_fit`` on each block of a Dask array in turn (in a shuffled order),
# as tasks on the cluster, so the blocks never travel to the client. It works
# with skmlp's estimators as they are. The blocks are still visited one after
# another -- training is sequential by nature -- so this buys memory, not
# speed. (Dask-ML is optional: ``pip install dask-ml``. Without it this step
# is skipped.)

if __name__ == "__main__":
    try:
        from dask_ml.wrappers import Incremental
    except ImportError:
        Incremental = None
        print("dask-ml is not installed: skipping the Incremental wrapper")

    incremental_scores = []
    if Incremental is not None:
        X_big_scaled = (X_big - mean) / std
        inc = Incremental(
            BackpropClassifier(
                hidden_layer_sizes=(64,), learning_rate_init=0.01, random_state=0
            ),
            scoring="accuracy",
            shuffle_blocks=True,
            random_state=0,
        )
        for _ in range(n_epochs):
            inc.partial_fit(X_big_scaled, y_big, classes=classes)
            incremental_scores.append(inc.score((X_test - mean) / std, y_test))
        print(
            f"test accuracy after {n_epochs} epochs with Incremental: "
            f"{incremental_scores[-1]:.3f}"
        )

# %%
# Results
# -------
# Left: the wall time of the grid search, serial and on the cluster, with the
# identical best score. Right: test accuracy after each epoch streamed over
# the blocks, with the hand-written loop and (if installed) Dask-ML.

if __name__ == "__main__":
    fig, (ax_time, ax_stream) = plt.subplots(1, 2, figsize=(10, 4))
    bars = ax_time.bar(["n_jobs=1", "dask, 2 workers"], [t_serial, t_dask])
    ax_time.bar_label(
        bars, labels=[f"best CV {s.best_score_:.3f}" for s in (serial, on_dask)]
    )
    ax_time.set_ylabel("grid search wall time (s)")
    ax_time.set_title("18 fits: same results, different place")

    epochs = np.arange(1, n_epochs + 1)
    ax_stream.plot(epochs, streamed_scores, "o-", label="partial_fit over blocks")
    if incremental_scores:
        ax_stream.plot(epochs, incremental_scores, "s--", label="dask_ml Incremental")
    ax_stream.set_xlabel("epochs over the blocks")
    ax_stream.set_ylabel("test accuracy")
    ax_stream.set_title("out-of-core training")
    ax_stream.legend(loc="lower right")
    fig.tight_layout()
    plt.show()

    client.close()
    if cluster is not None:
        cluster.close()
