"""What callbacks (and the Ctrl-C handler) cost a fit.

Usage::

    python benchmarks/callback_overhead.py [--baseline PATH] [--reps 7]
        [--workloads digits,partial_fit,lbfgs] [--threads 1]

Times fits of this checkout's skmlp with no callback (``none``), with a
callback whose hooks do nothing (``noop``) and with scikit-learn's
``ProgressBar`` (``progress``, its output sent to ``/dev/null``: the
non-terminal path rich takes in CI, files and captured output).
``--baseline PATH`` adds ``baseline``: the skmlp of another checkout (e.g. an
export of the commit before callbacks, ``git archive 114b515 | tar -x -C
/tmp/base``) with no callback, the reference for "a fit without callbacks
pays nothing".

Each skmlp runs in a worker process of its own that stays up for the whole
run (imports are paid once); every repetition times every (workload, variant)
pair once, in an order rotated from one repetition to the next (interleaved),
and the table gives the median over repetitions and its ratio to ``none``.
BLAS runs on ``--threads`` threads (default 1, for steadier numbers on a
shared machine).

Workloads (the data of ``benchmarks/_workloads.py``'s ``digits``: 1797 x 64,
10 classes):

* ``digits``: one ``fit``, hidden (100,), batch 200, 200 epochs (Adam);
* ``partial_fit``: 200 ``partial_fit`` calls of one epoch each (per-call costs);
* ``lbfgs``: one ``fit`` with ``solver='lbfgs'``, 100 iterations.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKLOADS = ("digits", "partial_fit", "lbfgs")
VARIANTS = ("none", "noop", "progress")


# ------------------------------------------------------------------ worker
class NoOp:
    """A callback whose hooks do nothing (the cost of the hook calls alone)."""

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        pass


def _callbacks(variant):
    if variant == "none":
        return []
    if variant == "noop":
        return [NoOp()]
    from sklearn.callback import ProgressBar

    return [ProgressBar()]


def _time_workload(name, variant, X, y):
    import contextlib

    from sklearn.exceptions import ConvergenceWarning

    from skmlp import BackpropClassifier

    params = dict(
        hidden_layer_sizes=(100,),
        batch_size=200,
        max_iter=200,
        tol=0.0,
        n_iter_no_change=10**9,
        random_state=0,
    )
    if name == "lbfgs":
        params.update(solver="lbfgs", max_iter=100)
    est = BackpropClassifier(**params)
    callbacks = _callbacks(variant)
    if callbacks:
        est.set_callbacks(*callbacks)
    with (
        warnings.catch_warnings(),
        open(os.devnull, "w") as null,
        contextlib.redirect_stdout(null),
    ):
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0, c0 = time.perf_counter(), time.process_time()
        if name == "partial_fit":
            classes = sorted(set(y))
            for _ in range(200):
                est.partial_fit(X, y, classes=classes)
        else:
            est.fit(X, y)
        return time.perf_counter() - t0, time.process_time() - c0


def worker(threads):
    """Answer 'workload variant' lines from stdin: [wall, cpu] seconds, a line each."""
    sys.path.insert(0, str(HERE))
    from _workloads import WORKLOADS as SHAPES
    from _workloads import make_data
    from threadpoolctl import threadpool_limits

    n, d, _, k, _, _ = SHAPES["digits"]
    X, y = make_data(n, d, k, "float64")
    import skmlp

    print(f"worker: {skmlp.__file__}", file=sys.stderr)
    with threadpool_limits(limits=threads):
        _time_workload("digits", "none", X[:200], y[:200])  # warm up
        for line in sys.stdin:
            name, variant = line.split()
            print(json.dumps(_time_workload(name, variant, X, y)), flush=True)


# ------------------------------------------------------------------ driver
def _start(path, threads):
    env = dict(os.environ, PYTHONPATH=str(path))
    return subprocess.Popen(
        [sys.executable, __file__, "--worker", "--threads", str(threads)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=path,
    )


def _ask(proc, name, variant):
    proc.stdin.write(f"{name} {variant}\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, default=None)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.threads)

    workloads = args.workloads.split(",")
    procs = {"branch": _start(HERE.parent, args.threads)}
    pairs = [(w, v, "branch") for w in workloads for v in VARIANTS]
    if args.baseline is not None:
        procs["baseline"] = _start(args.baseline.resolve(), args.threads)
        pairs += [(w, "baseline", "baseline") for w in workloads]
    times = {(w, v): [] for w, v, _ in pairs}
    try:
        for rep in range(args.reps):
            shift = rep % len(pairs)
            for w, v, who in pairs[shift:] + pairs[:shift]:
                times[w, v].append(
                    _ask(procs[who], w, "none" if who != "branch" else v)
                )
            print(f"rep {rep + 1}/{args.reps} done", file=sys.stderr)
    finally:
        for proc in procs.values():
            proc.stdin.close()
            proc.wait()

    load = os.getloadavg()
    print(
        f"reps={args.reps}, BLAS threads={args.threads}, load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1, 5, 15 min) at the end\n"
    )
    print("Seconds per workload: wall and CPU (process) time, median and minimum")
    print("over the repetitions; the ratios compare medians with `none`'s.\n")
    print(
        "| workload | variant | wall median | wall min | CPU median | CPU min "
        "| wall vs none | CPU vs none |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for w in workloads:
        ref = [statistics.median(t[i] for t in times[w, "none"]) for i in (0, 1)]
        for v in [*VARIANTS, "baseline"]:
            if (w, v) not in times:
                continue
            med = [statistics.median(t[i] for t in times[w, v]) for i in (0, 1)]
            low = [min(t[i] for t in times[w, v]) for i in (0, 1)]
            print(
                f"| {w} | {v} | {med[0]:.3f} | {low[0]:.3f} | {med[1]:.3f} | "
                f"{low[1]:.3f} | {(med[0] / ref[0] - 1) * 100:+.1f}% | "
                f"{(med[1] / ref[1] - 1) * 100:+.1f}% |"
            )
    micro()


def micro():
    """What a fit without callbacks adds, part by part (timeit, best of 5).

    Measured in this process (this checkout): far less sensitive to the
    machine's load than whole fits are.
    """
    import timeit

    from skmlp import BackpropClassifier
    from skmlp._callbacks import open_run
    from skmlp._interrupt import Interrupt, graceful_interrupt

    def best(stmt, number):
        return min(timeit.repeat(stmt, number=number, repeat=5)) / number

    def guard():
        with graceful_interrupt():
            pass

    est, flag, items = BackpropClassifier(), Interrupt(), range(1000)

    def checked():  # run_epoch's loop: enumerate and the Ctrl-C test
        for _i, _ in enumerate(items):
            if flag is not None and flag.requested:
                break

    def plain():
        for _ in items:
            pass

    per_fit = best(guard, 2000) + best(lambda: open_run(est, incremental=False), 2000)
    per_batch = (best(checked, 2000) - best(plain, 2000)) / len(items)
    print(
        "\nWithout callbacks, per fit call (SIGINT handler in and out, no callback "
        f"context): {per_fit * 1e6:.2f} us; per mini-batch (the Ctrl-C test): "
        f"{per_batch * 1e9:.0f} ns."
    )
    print(
        "With a callback whose hooks do nothing, per epoch (a task begun and "
        f"ended): {_noop_epoch() * 1e6:.1f} us."
    )
    # digits: 200 epochs of 9 mini-batches; partial_fit: 200 calls of one epoch
    for name, calls in (("digits", 1), ("partial_fit", 200)):
        added = calls * per_fit + 200 * 9 * per_batch
        print(f"{name}: {added * 1e3:.3f} ms added to the workload")


def _noop_epoch(epochs=2000):
    """Seconds per epoch task with one no-op callback (best of 5)."""
    import numpy as np

    from skmlp import BackpropClassifier
    from skmlp._callbacks import open_run

    X = np.zeros((4, 2))
    est = BackpropClassifier(max_iter=epochs).set_callbacks(NoOp())
    best = np.inf
    for _ in range(5):
        run = open_run(est, incremental=False)
        run.begin(X, [0, 1, 0, 1], None)
        tasks = run.iterations(network=None, X=X)
        t0 = time.perf_counter()
        for _ in range(epochs):
            tasks.iteration_begin(None)
            tasks.iteration_end(None)
        best = min(best, (time.perf_counter() - t0) / epochs)
    return best


if __name__ == "__main__":
    main()
