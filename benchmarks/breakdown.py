"""Where one skmlp fit spends its time, per part of the training step.

Usage::

    python benchmarks/breakdown.py [workload ...] [--dtype float64]
        [--solver adam] [--epochs N] [--yardstick PATH] [--vendored]

Wraps the training step's parts with ``time.perf_counter`` (no profiler: its
per-call cost would swamp the small workloads) and prints, per workload, the
microseconds per mini-batch step spent in each: all matrix products
(``np.matmul``, which the network calls for every GEMM), the loss and its
gradient, the optimizer update, the row gather, the hidden activations forward
and backward, and the rest of the network's step (intercepts, L2 value,
scaling, Python). The wrappers add about a microsecond per call.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import load_backend  # noqa: E402


def _wrap(owner, name, label, totals):
    original = getattr(owner, name)

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[label] = totals.get(label, 0.0) + time.perf_counter() - t0

    setattr(owner, name, timed)
    return owner, name, original


def breakdown(backend, name, dtype, solver, epochs=0):
    """Return (seconds, steps, {part: seconds}) for one skmlp fit of ``name``."""
    import skmlp._activations as activations
    import skmlp._losses as losses
    import skmlp._network as network
    import skmlp._optimizers as optimizers
    import skmlp._training as training

    n, d, hidden, k, batch, n_epochs = backend.WORKLOADS[name]
    n_epochs = epochs or n_epochs
    X, y = backend.make_data(n, d, k, dtype)
    est = backend._estimator("skmlp", k, hidden, batch, n_epochs, solver)
    totals = {}
    parts = [
        (network.np, "matmul", "matrix products"),
        (network.Network, "loss_and_grad", "network step"),
        (optimizers._Optimizer, "step", "optimizer update"),
        (optimizers.NAG, "step", "optimizer update"),
        (training._Gatherer, "take", "row gather"),
        (activations.ReLU, "forward", "activation forward"),
        (activations.ReLU, "backward", "activation backward"),
    ]
    loss_cls = losses.SoftmaxLogLoss if k else losses.SquaredError
    parts.append((loss_cls, "loss_and_gradient", "loss and its gradient"))
    restore = [_wrap(owner, attr, label, totals) for owner, attr, label in parts]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            est.fit(X, y)
            total = time.perf_counter() - t0
    finally:
        for owner, attr, original in reversed(restore):
            setattr(owner, attr, original)
    steps = n_epochs * -(-n // batch)
    inside = sum(
        totals.get(p, 0.0)
        for p in (
            "matrix products",
            "loss and its gradient",
            "activation forward",
            "activation backward",
        )
    )
    totals["rest of the network step"] = totals.pop("network step", 0.0) - inside
    return total, steps, totals


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "workloads", nargs="*", default=["digits", "mnist", "wide", "tiny-reg"]
    )
    p.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    p.add_argument("--solver", default="adam", choices=["adam", "sgd"])
    p.add_argument("--epochs", type=int, default=0, help="override the epochs")
    p.add_argument("--yardstick")
    p.add_argument("--vendored", action="store_true")
    args = p.parse_args(argv)
    backend, _ = load_backend(args.yardstick, args.vendored)
    dtype = np.dtype(args.dtype).type
    for name in args.workloads:
        total, steps, totals = breakdown(backend, name, dtype, args.solver, args.epochs)
        print(
            f"\n{name} ({args.dtype}, {args.solver}): {total:.3f} s, {steps} steps, "
            f"{total / steps * 1e6:.0f} us/step"
        )
        print("\n| part | us/step | share |\n|---|---:|---:|")
        accounted = 0.0
        for part, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
            if part == "network step":
                continue
            accounted += seconds
            print(f"| {part} | {seconds / steps * 1e6:.1f} | {seconds / total:.0%} |")
        other = total - accounted
        share = f"{other / total:.0%}"
        print(f"| training loop (Python) | {other / steps * 1e6:.1f} | {share} |")


if __name__ == "__main__":
    main()
