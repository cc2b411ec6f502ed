"""How fast the digits workload can train with NumPy at all, against skmlp.

Usage::

    python benchmarks/numpy_floor.py [--dtype float64] [--solver adam] [--reps 3]

The "floor" is one flat function with the same NumPy operations as a skmlp
training step (gather, two GEMMs forward, ReLU, softmax log loss, three GEMMs
and two GEMVs backward, L2, Adam or SGD with Nesterov momentum, all in place
into preallocated buffers) and nothing else: no classes, generators, checks,
schedules or bookkeeping. It is not a usable estimator; it measures how much of
skmlp's time on a small network is its own structure and how much is NumPy's
per-call and per-element cost. Both run on one BLAS thread, as skmlp does for
networks this small, interleaved (each going first in every other repetition),
median of ``--reps``; on a noisy machine the median of the per-repetition
ratios is the steadier figure.

The floor draws its initial weights and shuffles exactly as skmlp (and
scikit-learn) do with ``random_state=0``, so its per-epoch losses must equal
skmlp's ``loss_curve_``; the script prints the largest relative difference as
proof that both did the same work.
"""

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import load_backend  # noqa: E402


def floor_fit(X, y, hidden, k, batch, epochs, solver, seed=0):
    """Train the digits-shaped network with bare NumPy; return (seconds, losses)."""
    from skmlp._initializers import glorot_uniform_sklearn

    n, d = X.shape
    (h_units,) = hidden
    dt = X.dtype
    rng = np.random.RandomState(seed)
    sizes = (d * h_units, h_units * k, h_units, k)
    coefs, intercepts = glorot_uniform_sklearn(
        [d, h_units, k], ["relu", "relu"], rng, dt
    )
    params = np.concatenate([a.ravel() for a in coefs + intercepts])
    grad = np.empty_like(params)
    n_coef = sizes[0] + sizes[1]

    def views(flat):
        w1 = flat[: sizes[0]].reshape(d, h_units)
        w2 = flat[sizes[0] : n_coef].reshape(h_units, k)
        return w1, w2, flat[n_coef : n_coef + h_units], flat[n_coef + h_units :]

    W1, W2, b1, b2 = views(params)
    gW1, gW2, gb1, gb2 = views(grad)
    m, v, tmp = np.zeros_like(params), np.zeros_like(params), np.empty_like(params)
    Xb_full = np.empty((batch, d), dt)
    yb_full = np.empty(batch, np.intp)
    h_full, dh_full = np.empty((batch, h_units), dt), np.empty((batch, h_units), dt)
    o_full, ones_full = np.empty((batch, k), dt), np.ones(batch, dt)
    zeros_full = np.zeros((batch, h_units), dt)
    ones_k = np.ones(k, dt)
    offsets_full = np.arange(0, batch * k, k)
    lo, hi = math.log(np.finfo(dt).eps), math.log1p(-np.finfo(dt).eps)
    order = np.arange(n, dtype=np.int32)
    yi = np.unique(y, return_inverse=True)[1].astype(np.intp)
    losses = []
    alpha, lr, b1_, b2_, eps, mu = 1e-4, 1e-3, 0.9, 0.999, 1e-8, 0.9
    step_t = 0
    t0 = time.perf_counter()
    for _ in range(epochs):
        rng.shuffle(order)
        total = 0.0
        for start in range(0, n, batch):
            rows = order[start : start + batch]
            nb = len(rows)
            Xb, yb, h, dh = Xb_full[:nb], yb_full[:nb], h_full[:nb], dh_full[:nb]
            o, ones, zeros = o_full[:nb], ones_full[:nb], zeros_full[:nb]
            X.take(rows, axis=0, out=Xb, mode="clip")
            yi.take(rows, out=yb, mode="clip")
            np.matmul(Xb, W1, out=h)
            h += b1
            np.maximum(h, zeros, out=h)
            np.matmul(h, W2, out=o)
            o += b2
            at = offsets_full[:nb] + yb
            log_p = o.reshape(-1).take(at)
            top = o.max()
            np.subtract(o, top, out=o)
            np.exp(o, out=o)
            norm = np.dot(o, ones_k)
            log_p -= top
            log_p -= np.log(norm)
            np.clip(log_p, lo, hi, out=log_p)
            total -= float(log_p.sum())
            # probabilities minus targets, times 1/nb, through one row factor
            o *= np.divide(1.0 / nb, norm, out=norm)[:, None]
            o.reshape(-1)[at] -= 1.0 / nb
            np.matmul(h.T, o, out=gW2)
            np.dot(ones, o, out=gb2)
            np.matmul(o, W2.T, out=dh)
            dh *= h > 0
            np.matmul(Xb.T, dh, out=gW1)
            np.dot(ones, dh, out=gb1)
            w, gw, t = params[:n_coef], grad[:n_coef], tmp[:n_coef]
            total += 0.5 * alpha * float(np.dot(w, w))
            np.multiply(w, alpha / nb, out=t)
            gw += t
            step_t += 1
            if solver == "adam":
                np.multiply(grad, grad, out=tmp)
                v *= b2_
                v += tmp
                m *= b1_
                m += grad
                c = math.sqrt(1 - b2_**step_t) / (1 - b1_**step_t)
                step = -lr * c * (1 - b1_) / math.sqrt(1 - b2_)
                np.sqrt(v, out=tmp)
                tmp += eps / math.sqrt(1 - b2_)
                np.divide(m, tmp, out=tmp)
                tmp *= step
                params += tmp
            else:
                grad *= lr
                m *= mu
                m -= grad
                params -= grad
                np.multiply(m, mu, out=tmp)
                params += tmp
        losses.append(total / n)
    return time.perf_counter() - t0, losses


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    p.add_argument("--solver", default="adam", choices=["adam", "sgd"])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--yardstick")
    p.add_argument("--vendored", action="store_true")
    args = p.parse_args(argv)
    backend, _ = load_backend(args.yardstick, args.vendored)
    from skmlp._threads import blas_controller

    n, d, hidden, k, batch, epochs = backend.WORKLOADS["digits"]
    X, y = backend.make_data(n, d, k, np.dtype(args.dtype).type)
    steps = epochs * -(-n // batch)
    times = {"numpy floor": [], "skmlp": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rep in range(args.reps):
            # alternate which system goes first, so that order effects cancel
            for system in ("numpy floor", "skmlp")[:: 1 if rep % 2 == 0 else -1]:
                if system == "numpy floor":
                    with blas_controller().limit(limits=1, user_api="blas"):
                        seconds, losses = floor_fit(
                            X, y, hidden, k, batch, epochs, args.solver
                        )
                else:
                    est = backend._estimator(
                        "skmlp", k, hidden, batch, epochs, args.solver
                    )
                    t0 = time.perf_counter()
                    est.fit(X, y)
                    seconds = time.perf_counter() - t0
                times[system].append(seconds)
    curve = np.asarray(est.loss_curve_)
    diff = float(np.max(np.abs(np.asarray(losses) - curve) / np.abs(curve)))
    print(
        f"digits, {args.dtype}, {args.solver}, {steps} steps, median of {args.reps}\n"
    )
    print("| system | seconds | us/step |\n|---|---:|---:|")
    med = {s: float(np.median(t)) for s, t in times.items()}
    for s, sec in med.items():
        print(f"| {s} | {sec:.3f} | {sec / steps * 1e6:.0f} |")
    pairs = np.asarray(times["skmlp"]) / np.asarray(times["numpy floor"])
    print(
        f"\nskmlp / floor: {med['skmlp'] / med['numpy floor']:.2f}x of the medians, "
        f"{np.median(pairs):.2f}x the median of the {len(pairs)} pairs "
        f"(range {pairs.min():.2f}-{pairs.max():.2f}x)"
    )
    print(f"largest relative difference of the epoch losses: {diff:.1e}")


if __name__ == "__main__":
    main()
