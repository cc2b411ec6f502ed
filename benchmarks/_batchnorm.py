"""Batch-norm fits for ``run.py --batch-norm`` and ``breakdown.py --batch-norm``.

Not part of the yardstick copy (``_workloads.py``, kept identical to the
shared reference): these runners add batch normalization to the yardstick's
networks and reuse its data, estimator settings and timing function.

- skmlp: the yardstick's estimator (``backend._estimator``) with
  ``batch_norm=True``, ``batch_norm_momentum=0.1``, ``batch_norm_epsilon=1e-5``:
  ``Dense -> BatchNorm -> ReLU`` per hidden layer, the dense layer's intercept
  frozen at 0 (a batch norm after it would cancel it).
- PyTorch: the yardstick's loop (same ``torch.manual_seed(0)``, a
  ``torch.randperm`` shuffle per epoch, row gather ``Xt[idx]``,
  ``zero_grad(set_to_none=True)``, the same loss and ``Adam(lr=1e-3)`` or
  ``SGD(lr=1e-3, momentum=0.9, nesterov=True)``) on
  ``nn.Sequential(Linear, BatchNorm1d, ReLU, ..., Linear)`` in train mode,
  ``BatchNorm1d(momentum=0.1, eps=1e-5)``. The ``Linear`` before each
  ``BatchNorm1d`` keeps its bias, as that ``nn.Sequential`` is usually written
  and as the plain network has it, so the difference with the plain loop is the
  batch norm alone; skmlp still adds its (zero) intercept in the forward pass.
  Like skmlp, a last mini-batch of a single row joins the one before it
  (``BatchNorm1d`` cannot train on one row); none of the bundled workloads has
  one.

Both take the ``run_x(X, y, hidden, k, batch, epochs, solver) -> seconds``
signature of the yardstick's runners.
"""

import time

import numpy as np

#: PyTorch's defaults, which skmlp follows.
MOMENTUM = 0.1
EPSILON = 1e-5


def batches(n: int, batch: int, merge_tail: bool = True) -> list:
    """``(start, stop)`` of each mini-batch, a one-row tail merged (as skmlp does)."""
    bounds = [(s, min(s + batch, n)) for s in range(0, n, batch)]
    if merge_tail and len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def steps(n: int, batch: int, epochs: int, batch_norm: bool) -> int:
    """Mini-batch steps of one fit (a one-row tail is merged with batch norm)."""
    return epochs * len(batches(n, batch, merge_tail=batch_norm))


def skmlp_estimator(backend, k, hidden, batch, epochs, solver):
    """The yardstick's skmlp estimator, batch norm on every hidden layer."""
    est = backend._estimator("skmlp", k, hidden, batch, epochs, solver)
    return est.set_params(
        batch_norm=True, batch_norm_momentum=MOMENTUM, batch_norm_epsilon=EPSILON
    )


def torch_network(d, hidden, k, tdtype, batch_norm: bool = True):
    """``Linear [-> BatchNorm1d] -> ReLU`` per hidden layer, then ``Linear``."""
    import torch

    sizes = [d, *hidden, max(k, 1)]
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(torch.nn.Linear(a, b, dtype=tdtype))
        if i < len(sizes) - 2:
            if batch_norm:
                layers.append(
                    torch.nn.BatchNorm1d(
                        b, eps=EPSILON, momentum=MOMENTUM, dtype=tdtype
                    )
                )
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def runners(backend) -> dict:
    """``{"torch-bn": run, "skmlp-bn": run}`` on ``backend``'s data and settings."""

    def run_skmlp_bn(X, y, hidden, k, batch, epochs, solver):
        est = skmlp_estimator(backend, k, hidden, batch, epochs, solver)
        return backend._fit_timed(est, X, y)

    def run_torch_bn(X, y, hidden, k, batch, epochs, solver):
        import torch

        torch.manual_seed(0)
        tdtype = torch.float32 if X.dtype == np.float32 else torch.float64
        net = torch_network(X.shape[1], hidden, k, tdtype)
        net.train()
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
        bounds = batches(n, batch)
        t0 = time.perf_counter()
        for _ in range(epochs):
            perm = torch.randperm(n)
            for start, stop in bounds:
                idx = perm[start:stop]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(net(Xt[idx]), yt[idx])
                loss.backward()
                opt.step()
        return time.perf_counter() - t0

    return {"torch-bn": run_torch_bn, "skmlp-bn": run_skmlp_bn}
