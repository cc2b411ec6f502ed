"""Where one skmlp fit spends its time, per part of the training step.

Usage::

    python benchmarks/breakdown.py [workload ...] [--dtype float64]
        [--solver adam] [--epochs N] [--reps N] [--batch-norm] [--threads N]
        [--yardstick PATH] [--vendored]

Wraps the training step's parts with ``time.perf_counter`` (no profiler: its
per-call cost would swamp the small workloads) and prints, per workload, the
microseconds per mini-batch step spent in each: all matrix products
(``np.matmul``, which the network calls for every GEMM), the loss and its
gradient, the optimizer update, the row gather, the hidden activations forward
and backward, and the rest of the network's step (intercepts, L2 value,
scaling, Python). The wrappers add about a microsecond per call.

With ``--batch-norm`` each workload is fitted without and with batch
normalization (``batch_norm=True``, as ``run.py --batch-norm`` fits it),
alternately ``--reps`` times, and one table shows each part's median
microseconds per step in both fits and the difference; the batch-norm layer's
forward and backward (``skmlp._layers.BatchNorm``) and the folding of its batch
statistics into the running ones after each step
(``Network.fold_statistics``) are parts of their own, so the per-step cost of
batch norm, and what else changes with it, is visible. ``--reps`` above 1
without ``--batch-norm`` gives the median of each part over the fits.
"""

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _batchnorm  # noqa: E402
from run import load_backend  # noqa: E402

#: Parts inside ``Network.loss_and_grad``: "rest of the network step" is that
#: call's time less theirs.
INSIDE = (
    "matrix products",
    "loss and its gradient",
    "activation forward",
    "activation backward",
    "batch-norm forward",
    "batch-norm backward",
)


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


def breakdown(backend, name, dtype, solver, epochs=0, batch_norm=False, data=None):
    """Return (seconds, steps, {part: seconds}) for one skmlp fit of ``name``.

    ``batch_norm``: fit with batch normalization on every hidden layer.
    ``data``: the workload's ``(X, y)``, if already made.
    """
    import skmlp._activations as activations
    import skmlp._layers as layers
    import skmlp._losses as losses
    import skmlp._network as network
    import skmlp._optimizers as optimizers
    import skmlp._training as training

    n, d, hidden, k, batch, n_epochs = backend.WORKLOADS[name]
    n_epochs = epochs or n_epochs
    X, y = data if data is not None else backend.make_data(n, d, k, dtype)
    if batch_norm:
        est = _batchnorm.skmlp_estimator(backend, k, hidden, batch, n_epochs, solver)
    else:
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
        (layers.BatchNorm, "forward", "batch-norm forward"),
        (layers.BatchNorm, "backward", "batch-norm backward"),
        (network.Network, "fold_statistics", "batch-norm running statistics"),
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
    steps = _batchnorm.steps(n, batch, n_epochs, batch_norm)
    inside = sum(totals.get(p, 0.0) for p in INSIDE)
    totals["rest of the network step"] = totals.pop("network step", 0.0) - inside
    totals["training loop (Python)"] = total - sum(totals.values())
    return total, steps, totals


def median_breakdown(backend, name, dtype, solver, epochs, reps, batch_norm=False):
    """Median total and median of each part over ``reps`` fits; see breakdown."""
    runs = [
        breakdown(backend, name, dtype, solver, epochs, batch_norm) for _ in range(reps)
    ]
    return _median_of(runs)


def _median_of(runs):
    parts = {p for _, _, totals in runs for p in totals}
    total = statistics.median(t for t, _, _ in runs)
    med = {p: statistics.median(t.get(p, 0.0) for _, _, t in runs) for p in parts}
    return total, runs[0][1], med


def _order(totals):
    """Parts by decreasing time, the training loop's own Python last."""
    parts = sorted(totals, key=lambda p: -totals[p])
    parts.remove("training loop (Python)")
    return [*parts, "training loop (Python)"]


def print_one(name, args, total, steps, totals):
    print(
        f"\n{name} ({args.dtype}, {args.solver}): {total:.3f} s, {steps} steps, "
        f"{total / steps * 1e6:.0f} us/step"
        + (f" (median of {args.reps} fits)" if args.reps > 1 else "")
    )
    print("\n| part | us/step | share |\n|---|---:|---:|")
    for part in _order(totals):
        seconds = totals[part]
        print(f"| {part} | {seconds / steps * 1e6:.1f} | {seconds / total:.0%} |")


def print_compare(name, args, plain, bn):
    (t0, s0, p0), (t1, s1, p1) = plain, bn
    us0, us1 = t0 / s0 * 1e6, t1 / s1 * 1e6
    print(
        f"\n{name} ({args.dtype}, {args.solver}), median of {args.reps} fit(s) "
        f"each, alternating: plain {t0:.3f} s, {us0:.0f} us/step; batch norm "
        f"{t1:.3f} s, {us1:.0f} us/step; batch norm adds {us1 - us0:.0f} us/step "
        f"({us1 / us0 - 1:+.1%})"
    )
    print(
        "\n| part | plain us/step | BN us/step | BN - plain | share of BN step |"
        "\n|---|---:|---:|---:|---:|"
    )
    parts = _order({p: max(p0.get(p, 0.0), p1.get(p, 0.0)) for p in {*p0, *p1}})
    for part in parts:
        a = p0.get(part, 0.0) / s0 * 1e6
        b = p1.get(part, 0.0) / s1 * 1e6
        print(
            f"| {part} | {a:.1f} | {b:.1f} | {b - a:+.1f} | "
            f"{p1.get(part, 0.0) / t1:.0%} |"
        )
    print(f"| **whole step** | {us0:.1f} | {us1:.1f} | {us1 - us0:+.1f} | 100% |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "workloads", nargs="*", default=["digits", "mnist", "wide", "tiny-reg"]
    )
    p.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    p.add_argument("--solver", default="adam", choices=["adam", "sgd"])
    p.add_argument("--epochs", type=int, default=0, help="override the epochs")
    p.add_argument(
        "--reps", type=int, default=1, help="fits per workload (median per part)"
    )
    p.add_argument(
        "--batch-norm",
        action="store_true",
        help="fit without and with batch normalization, alternately, and compare "
        "the parts",
    )
    p.add_argument(
        "--threads", type=int, default=0, help="limit BLAS threads (0: default)"
    )
    p.add_argument("--yardstick")
    p.add_argument("--vendored", action="store_true")
    args = p.parse_args(argv)
    backend, _ = load_backend(args.yardstick, args.vendored)
    dtype = np.dtype(args.dtype).type
    limiter = None
    if args.threads:
        import scipy.linalg.blas  # noqa: F401  (loaded, so limited too)
        from threadpoolctl import threadpool_limits

        import skmlp  # noqa: F401

        limiter = threadpool_limits(args.threads)
    try:
        for name in args.workloads:
            if not args.batch_norm:
                total, steps, totals = median_breakdown(
                    backend, name, dtype, args.solver, args.epochs, args.reps
                )
                print_one(name, args, total, steps, totals)
                continue
            n, d, _, k, _, _ = backend.WORKLOADS[name]
            data = backend.make_data(n, d, k, dtype)
            runs = {False: [], True: []}
            for _ in range(args.reps):  # alternate, so drift hits both alike
                for bn in (False, True):
                    runs[bn].append(
                        breakdown(
                            backend, name, dtype, args.solver, args.epochs, bn, data
                        )
                    )
            print_compare(name, args, _median_of(runs[False]), _median_of(runs[True]))
    finally:
        if limiter is not None:
            limiter.restore_original_limits()


if __name__ == "__main__":
    main()
