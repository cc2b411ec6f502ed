"""Bundled copy of the yardstick's workloads and timing functions.

``benchmarks/run.py`` and the other benchmark scripts use this module unless
``--yardstick PATH`` names the shared reference yardstick (``yardstick.py`` in
the development machine's shared ``bench/`` folder) or another file with the
same functions. It holds the yardstick's logic, copied as-is: same workloads,
same synthetic data, same GEMM-only bound, same PyTorch loop (Adam, or SGD with
momentum=0.9 and Nesterov), and the same estimator settings (``tol=0``,
``n_iter_no_change=10**9``, ``random_state=0``, ``learning_rate_init=1e-3``,
``batch_size`` and ``max_iter=epochs`` from the workload).

Every ``run_*`` function has the signature
``run_x(X, y, hidden, k, batch, epochs, solver) -> seconds`` and times with
``time.perf_counter``. Keep this file in sync with the yardstick if it changes.
"""

import time
import warnings

import numpy as np

WORKLOADS = {
    # name: (n_samples, n_features, hidden, n_classes (0=regression), batch, epochs)
    "digits": (1797, 64, (100,), 10, 200, 200),
    "mnist": (60000, 784, (256, 128), 10, 128, 2),
    "wide": (20000, 512, (1024, 1024), 10, 256, 1),
    "tiny-reg": (20000, 20, (64, 64), 0, 64, 10),
}


def make_data(n, d, k, dtype, seed=0):
    """Synthetic data: Gaussian ``X``; ``y`` from a random tanh teacher network."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    W = rng.standard_normal((d, max(k, 1)))
    logits = np.tanh(X @ W / np.sqrt(d)) @ rng.standard_normal((max(k, 1), max(k, 1)))
    y = logits.argmax(1) if k else logits[:, 0].astype(dtype)
    return X, y


def run_gemm(X, y, hidden, k, batch, epochs, solver):
    """Time of the matrix products alone.

    Forward, weight-gradient and delta GEMMs per layer, on the same batches.
    """
    n, d = X.shape
    sizes = [d, *hidden, max(k, 1)]
    rng = np.random.default_rng(0)
    Ws = [
        (rng.standard_normal((a, b)) / np.sqrt(a)).astype(X.dtype)
        for a, b in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    t0 = time.perf_counter()
    for _ in range(epochs):
        for s in range(0, n, batch):
            a = X[s : s + batch]
            acts = [a]
            for W in Ws:
                a = a @ W
                acts.append(a)
            g = acts[-1]
            for i in range(len(Ws) - 1, -1, -1):
                _ = acts[i].T @ g
                if i:
                    g = g @ Ws[i].T
    return time.perf_counter() - t0


def _estimator(module, k, hidden, batch, epochs, solver):
    if module == "sklearn":
        from sklearn.neural_network import MLPClassifier as C
        from sklearn.neural_network import MLPRegressor as R
    else:
        from skmlp import BackpropClassifier as C
        from skmlp import BackpropRegressor as R
    return (C if k else R)(
        hidden_layer_sizes=hidden,
        solver=solver,
        batch_size=batch,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=10**9,
        random_state=0,
        learning_rate_init=1e-3,
    )


def _fit_timed(est, X, y):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        est.fit(X, y)
        return time.perf_counter() - t0


def run_sklearn(X, y, hidden, k, batch, epochs, solver):
    return _fit_timed(_estimator("sklearn", k, hidden, batch, epochs, solver), X, y)


def run_skmlp(X, y, hidden, k, batch, epochs, solver):
    return _fit_timed(_estimator("skmlp", k, hidden, batch, epochs, solver), X, y)


def run_torch(X, y, hidden, k, batch, epochs, solver):
    import torch

    torch.manual_seed(0)
    tdtype = torch.float32 if X.dtype == np.float32 else torch.float64
    sizes = [X.shape[1], *hidden, max(k, 1)]
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(torch.nn.Linear(a, b, dtype=tdtype))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    opt = (
        torch.optim.Adam(net.parameters(), lr=1e-3)
        if solver == "adam"
        else torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9, nesterov=True)
    )
    loss_fn = torch.nn.CrossEntropyLoss() if k else torch.nn.MSELoss()
    Xt = torch.from_numpy(X)
    yt = (
        torch.from_numpy(y.astype(np.int64))
        if k
        else torch.from_numpy(y).reshape(-1, 1)
    )
    n = len(Xt)
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n)
        for s in range(0, n, batch):
            idx = perm[s : s + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    return time.perf_counter() - t0


SYSTEMS = {
    "gemm": run_gemm,
    "sklearn": run_sklearn,
    "torch": run_torch,
    "skmlp": run_skmlp,
}
