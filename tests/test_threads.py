"""The BLAS-thread policy: one thread for small products, in fits and predictions.

Small matrix products run faster on one BLAS thread than on several (waking
workers costs more than it saves, and on a loaded machine much more). Fits
have followed that rule; predictions now follow it too, and nothing pays for
the policy where BLAS is pinned to one thread already (joblib's workers).
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import skmlp._layers
from skmlp import BackpropClassifier
from skmlp._threads import SINGLE_THREAD_MACS, UNTHREADED_MACS


def _blas_threads():
    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


def _fitted(hidden, n_features=64, n_classes=10):
    rng = np.random.RandomState(0)
    X = rng.randn(300, n_features)
    y = rng.randint(n_classes, size=300)
    with threadpool_limits(limits=1):
        est = BackpropClassifier(hidden, max_iter=1, random_state=0)
        with pytest.warns(Warning):
            est.fit(X, y)
    return est


def test_prediction_blocks_keep_each_product_single_threaded():
    """The benchmark's model: 655-row blocks would be 4.19M multiply-adds."""
    est = _fitted((100,))
    network = est._fitted_network().network
    rows = network.block_rows()
    assert network.largest_product(rows) < SINGLE_THREAD_MACS
    assert network.largest_product(rows + 1) >= SINGLE_THREAD_MACS
    assert rows >= 64


def test_wide_networks_keep_their_blocks_and_threads():
    """Where one thread would leave under 64 rows a block, BLAS keeps threading."""
    est = _fitted((1024, 1024), n_features=512)
    network = est._fitted_network().network
    assert network.block_rows() == 64
    assert network.largest_product(64) >= SINGLE_THREAD_MACS


@pytest.mark.skipif(
    _blas_threads() < 2, reason="BLAS runs one thread here: nothing to limit"
)
@pytest.mark.parametrize(("n_rows", "limited"), [(100_000, True), (2, False)])
def test_prediction_limits_blas_threads_for_small_products(
    n_rows, limited, monkeypatch
):
    """Big predictions of a small network run one thread; tiny ones skip the limit.

    A 2-row prediction's products (2 x 64 x 100) are far below
    ``UNTHREADED_MACS``, where OpenBLAS is single-threaded anyway, so it does
    not pay the ~60 us the limit costs.
    """
    est = _fitted((100,))
    assert est._fitted_network().network.largest_product(2) < UNTHREADED_MACS
    seen = []
    forward = skmlp._layers.Dense.forward

    def spy(self, ctx, x, mode):
        seen.append(_blas_threads())
        return forward(self, ctx, x, mode)

    monkeypatch.setattr(skmlp._layers.Dense, "forward", spy)
    threads = _blas_threads()
    est.predict_proba(np.random.RandomState(1).randn(n_rows, 64))
    assert set(seen) == ({1} if limited else {threads})
    assert _blas_threads() == threads  # restored


def _run(code: str, **env) -> str:
    import os

    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_does_not_scan_the_blas_libraries():
    """The ThreadpoolController (~50 ms) is made on first use, not at import."""
    out = _run(
        """
        import skmlp, skmlp._threads as t
        print(t.blas_controller.cache_info().currsize)
        """
    )
    assert out == "0"


@pytest.mark.parametrize(("pinned", "made"), [("1", "0"), ("", "1")])
def test_a_pinned_environment_never_makes_the_controller(pinned, made):
    """In joblib's workers (OPENBLAS_NUM_THREADS=1 ...) a fit skips the limit."""
    out = _run(
        """
        import warnings
        import numpy as np
        import skmlp._threads as t
        from skmlp import BackpropClassifier
        X = np.random.RandomState(0).randn(50, 4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            BackpropClassifier((5,), max_iter=2).fit(X, X[:, 0] > 0).predict(X)
        print(t.blas_controller.cache_info().currsize)
        """,
        OPENBLAS_NUM_THREADS=pinned,
        OMP_NUM_THREADS=pinned,
        MKL_NUM_THREADS=pinned,
    )
    assert out == made
