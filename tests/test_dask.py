"""A grid search on a real Dask cluster gives the same answer as ``n_jobs=1``.

Starts a :class:`distributed.LocalCluster` of two single-threaded worker
processes, bound to the loopback interface only (scheduler, nannies and
workers on 127.0.0.1, ephemeral ports, no dashboards), connects a
:class:`distributed.Client` and runs :class:`~sklearn.model_selection.GridSearchCV`
over :class:`skmlp.BackpropClassifier` through ``joblib.parallel_config(
backend="dask")``. The fits are pickled to the worker processes and back, so
this also checks that estimators survive the trip. Skipped without the
``dask`` extra (``pip install -e ".[dask]"``).
"""

import ipaddress
import logging
import os
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import BackpropClassifier

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")
psutil = pytest.importorskip("psutil")  # a dependency of distributed

PARAM_GRID = {
    "backpropclassifier__hidden_layer_sizes": [(8,), (16,), (16, 8)],
    "backpropclassifier__learning_rate_init": [0.01, 0.05],
}  # 6 candidates x 3 folds = 18 fits


def _search(n_jobs=None):
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(
        StandardScaler(),
        BackpropClassifier(max_iter=30, random_state=0),
    )
    search = GridSearchCV(
        pipe,
        PARAM_GRID,
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
        n_jobs=n_jobs,
    )
    with warnings.catch_warnings():
        # 30 epochs is a deliberate cap, on the workers too (see below)
        warnings.simplefilter("ignore", ConvergenceWarning)
        return search.fit(X, y)


def _quiet_convergence():
    """Silence the capped-epoch ConvergenceWarning inside each worker process."""
    warnings.simplefilter("ignore", ConvergenceWarning)


def _tcp_listeners(root: psutil.Process):
    """(address, port) of every listening TCP socket of ``root`` and its children."""
    found = []
    for proc in [root, *root.children(recursive=True)]:
        try:
            conns = proc.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        found += [c.laddr for c in conns if c.status == psutil.CONN_LISTEN]
    return found


@pytest.fixture(scope="module")
def client():
    """A two-process LocalCluster on 127.0.0.1 and a Client connected to it."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",  # scheduler *and* workers/nannies (LocalCluster
            scheduler_port=0,  # passes host on to them); ephemeral ports
            dashboard_address=None,  # no dashboards (and no bokeh needed)
            worker_dashboard_address=None,
            # the scheduler still serves /health and /metrics over HTTP, on
            # 127.0.0.1:8787 by default: an ephemeral loopback port instead
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.wait_for_workers(2, timeout=60)
        client.run(_quiet_convergence)
        yield client


def test_cluster_listens_on_loopback_only(client):
    workers = client.scheduler_info()["workers"]
    assert len(workers) == 2
    addresses = [client.scheduler.address, *workers]
    assert all(a.startswith("tcp://127.0.0.1:") for a in addresses), addresses

    listeners = _tcp_listeners(psutil.Process(os.getpid()))
    # the scheduler, and one nanny and one worker per process
    assert len(listeners) >= 5, listeners
    for addr in listeners:
        assert ipaddress.ip_address(addr.ip).is_loopback, listeners


def test_grid_search_on_dask_matches_serial(client):
    serial = _search(n_jobs=1)
    with (
        distributed.get_task_stream(client) as tasks,
        joblib.parallel_config(backend="dask"),
    ):
        on_dask = _search(n_jobs=-1)

    # the fits really ran on the cluster, on both worker processes
    ran_on = {task["worker"] for task in tasks.data}
    assert ran_on == set(client.scheduler_info()["workers"]), ran_on
    assert on_dask.best_params_ == serial.best_params_
    assert_array_equal(
        on_dask.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    assert_array_equal(
        on_dask.cv_results_["split0_test_score"],
        serial.cv_results_["split0_test_score"],
    )
    assert on_dask.best_score_ == serial.best_score_
    # the refitted best model is the same network
    best_serial = serial.best_estimator_[-1]
    best_dask = on_dask.best_estimator_[-1]
    for a, b in zip(best_serial.coefs_, best_dask.coefs_, strict=True):
        assert_array_equal(a, b)
    assert np.isfinite(on_dask.cv_results_["mean_test_score"]).all()
