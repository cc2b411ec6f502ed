"""Why the parallel study is slower with n_jobs=-1: one probe per suspected cause.

Usage::

    python benchmarks/parallel_probe.py [imports] [timeline] [pickle]
        [--reps 5] [--libraries skmlp,sklearn] [--batch-size auto|1]
        [--inner-threads N] [--pythonpath DIR]

``imports``
    In fresh processes (median of ``--reps``): the imports every search worker
    needs whatever the estimator (scikit-learn's ``model_selection``,
    ``pipeline``, ``preprocessing``), then what ``import skmlp`` and
    ``import sklearn.neural_network`` add on top, and what creating a
    threadpoolctl ``ThreadpoolController`` costs (skmlp's ``__init__`` creates
    one at import), first and second time.
``timeline``
    The study's search (``parallel_study.make_search``) with every fit timed
    where it runs: per process, when its first fit starts after ``search.fit``
    was called (worker start-up, imports, unpickling), how many fits it ran,
    their wall and CPU (``time.thread_time``) seconds, and the idle tail
    before the search returns; also the BLAS threads each worker's fits saw.
    ``--batch-size 1`` forces joblib to dispatch one fit at a time (default:
    joblib's ``auto``), ``--inner-threads N`` lets each loky worker use N BLAS
    threads (``joblib.parallel_config(inner_max_num_threads=N)``; default:
    loky's cpu_count // n_jobs).
``pickle``
    What a task ships to a worker: the pickled size and time of the training
    data and the estimator.
``predict``
    ``predict_proba`` of ``run.py``'s prediction model (64 features, hidden
    (100,), 10 classes) on 100,000 rows, as it comes (BLAS threads as the
    library sets them) and with BLAS limited to one thread around the call,
    scikit-learn's MLP beside it; each ``--variant`` of skmlp in its own fresh
    process, interleaved, median of ``--reps`` processes of 7 calls each.

Each configuration runs in a fresh process, like ``parallel_study.py``; see
``benchmarks/PARALLEL.md`` for what the figures mean.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

BASE_IMPORTS = (
    "import numpy, scipy.sparse, sklearn.model_selection, sklearn.pipeline, "
    "sklearn.preprocessing"
)

IMPORT_CODE = """
import time, json
t0 = time.perf_counter()
{base}
t1 = time.perf_counter()
import {module}
t2 = time.perf_counter()
import threadpoolctl
t3 = time.perf_counter()
threadpoolctl.ThreadpoolController()
t4 = time.perf_counter()
threadpoolctl.ThreadpoolController()
t5 = time.perf_counter()
print(json.dumps({{"base": t1 - t0, "module": t2 - t1, "controller_first": t4 - t3,
                  "controller_again": t5 - t4}}))
"""

CONTROLLER_CODE = """
import time, json
{base}
import threadpoolctl
t0 = time.perf_counter()
threadpoolctl.ThreadpoolController()
t1 = time.perf_counter()
print(json.dumps({{"controller_fresh": t1 - t0}}))
"""


def _env(pythonpath):
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(
            [pythonpath] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        )
    return env


def _run_json(code, pythonpath):
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),  # not the checkout: "" is on sys.path
        env=_env(pythonpath),
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def probe_imports(args):
    """Median import and ThreadpoolController costs in fresh processes."""
    rows = {}
    for rep in range(args.reps):
        for module in ("skmlp", "sklearn.neural_network"):
            out = _run_json(
                IMPORT_CODE.format(base=BASE_IMPORTS, module=module), args.pythonpath
            )
            for key, value in out.items():
                rows.setdefault((module, key), []).append(value)
        # a controller in a process where nothing created one before (the cost
        # skmlp's import adds, when sklearn.neural_network has not been imported)
        out = _run_json(CONTROLLER_CODE.format(base=BASE_IMPORTS), args.pythonpath)
        rows.setdefault(("-", "controller_fresh"), []).append(out["controller_fresh"])
        print(f"  imports rep {rep + 1}/{args.reps}", file=sys.stderr, flush=True)
    print("\n## Imports in a fresh process (what each loky worker pays)\n")
    print(f"median of {args.reps} fresh processes, milliseconds (min-max)\n")
    print("| module | measure | ms |\n|---|---|---:|")
    labels = {
        "base": "sklearn model_selection + pipeline + preprocessing (every worker)",
        "module": "the estimator's module, on top",
        "controller_first": "ThreadpoolController() after it (first in the process "
        "for sklearn.neural_network; skmlp already made one)",
        "controller_again": "ThreadpoolController() once more",
        "controller_fresh": "ThreadpoolController() after the base imports only",
    }
    for (module, key), values in rows.items():
        print(
            f"| {module} | {labels[key]} | {statistics.median(values) * 1e3:.1f} "
            f"({min(values) * 1e3:.1f}-{max(values) * 1e3:.1f}) |"
        )


TIMELINE_CHILD = """
import json, os, sys, time, warnings
sys.path.insert(0, {here!r})
t_start = time.time()
import joblib
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits
import parallel_study
import parallel_probe

library, n_jobs, batch_size, inner = {library!r}, {n_jobs}, {batch_size!r}, {inner}
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0)
search = parallel_study.make_search(library, n_jobs, 60)
mlp = search.estimator.steps[-1][1]
search.estimator.steps[-1] = ("mlp", parallel_probe.timed(mlp))
if batch_size != "auto":
    import sklearn.model_selection._search as _search
    from sklearn.utils.parallel import Parallel
    class _Fixed(Parallel):
        def __init__(self, *a, **k):
            k["batch_size"] = int(batch_size)
            super().__init__(*a, **k)
    _search.Parallel = _Fixed
config = (joblib.parallel_config(backend="loky", inner_max_num_threads=inner)
          if inner else None)
log = {log!r}
os.environ["SKMLP_PROBE_LOG"] = log
with threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    if config is not None:
        config.__enter__()
    t0 = time.time()
    search.fit(X_train, y_train)
    t1 = time.time()
    if config is not None:
        config.__exit__(None, None, None)
print(json.dumps({{"t_fit_called": t0, "t_fit_returned": t1, "parent": os.getpid(),
                  "t_start": t_start}}))
"""


class _TimedFit:
    """Mixin of :func:`timed`: logs each ``fit``'s pid, times and BLAS threads."""

    def fit(self, X, y, **kwargs):  # noqa: D102
        from threadpoolctl import threadpool_info

        threads = max(
            (i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"),
            default=0,
        )
        t0, c0 = time.time(), time.thread_time()
        out = super().fit(X, y, **kwargs)
        t1, c1 = time.time(), time.thread_time()
        record = {"pid": os.getpid(), "t0": t0, "t1": t1, "cpu": c1 - c0}
        record["blas_threads"] = threads
        with open(os.environ.get("SKMLP_PROBE_LOG", os.devnull), "a") as f:
            f.write(json.dumps(record) + "\n")
        return out


def _timed_class(cls):
    """The subclass of ``cls`` whose ``fit`` logs (see :class:`_TimedFit`)."""
    name = f"Timed{cls.__name__}"
    sub = globals().get(name)
    if sub is None:
        sub = type(name, (_TimedFit, cls), {"__module__": __name__})
        globals()[name] = sub
    return sub


def timed(estimator):
    """A copy of ``estimator`` (same parameters) whose fits log their timings.

    Parameters
    ----------
    estimator : BackpropClassifier or MLPClassifier
        The estimator to wrap.

    Returns
    -------
    estimator
        An instance of a subclass defined in this module, so that loky workers
        unpickle it by name (``benchmarks/`` is on their ``PYTHONPATH``) and
        import only the one library it needs (:func:`__getattr__`).
    """
    return _timed_class(type(estimator))(**estimator.get_params())


def __getattr__(name):
    """Build ``TimedBackpropClassifier``/``TimedMLPClassifier`` when unpickled."""
    if name == "TimedBackpropClassifier":
        from skmlp import BackpropClassifier

        return _timed_class(BackpropClassifier)
    if name == "TimedMLPClassifier":
        from sklearn.neural_network import MLPClassifier

        return _timed_class(MLPClassifier)
    raise AttributeError(name)


def probe_timeline(args):
    """Per-process fit timeline of the search for each (library, n_jobs)."""
    print("\n## Timeline of one search, fit by fit\n")
    print(
        f"batch_size={args.batch_size}, inner BLAS threads per worker: "
        f"{args.inner_threads or 'loky default (cpu_count // n_jobs)'}; "
        f"load average at start {os.getloadavg()[0]:.2f}\n"
    )
    header = (
        "| library | n_jobs | rep | search s | process | first fit starts s "
        "| fits | fit wall s | fit CPU s | last fit ends s | BLAS threads |\n"
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"
    )
    print(header)
    env_path = os.pathsep.join(
        [p for p in (args.pythonpath, str(HERE), os.environ.get("PYTHONPATH")) if p]
    )
    for rep in range(args.reps):
        for library in args.libraries.split(","):
            for n_jobs in (1, -1):
                with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as f:
                    log = f.name
                code = TIMELINE_CHILD.format(
                    here=str(HERE),
                    library=library,
                    n_jobs=n_jobs,
                    batch_size=args.batch_size,
                    inner=args.inner_threads,
                    log=log,
                )
                env = dict(os.environ, PYTHONPATH=env_path)
                proc = subprocess.run(
                    [sys.executable, "-c", code],
                    capture_output=True,
                    text=True,
                    cwd=tempfile.gettempdir(),  # not the checkout: "" is on sys.path
                    env=env,
                )
                if proc.returncode:
                    sys.exit(proc.stderr[-3000:])
                main = json.loads(proc.stdout.strip().splitlines()[-1])
                records = [json.loads(ln) for ln in Path(log).read_text().splitlines()]
                os.unlink(log)
                t_call = main["t_fit_called"]
                by_pid = {}
                for r in records:
                    by_pid.setdefault(r["pid"], []).append(r)
                for pid, rs in sorted(by_pid.items(), key=lambda kv: kv[1][0]["t0"]):
                    who = "searching process" if pid == main["parent"] else "worker"
                    print(
                        f"| {library} | {n_jobs} | {rep + 1} "
                        f"| {main['t_fit_returned'] - t_call:.3f} | {who} "
                        f"| {min(r['t0'] for r in rs) - t_call:.3f} | {len(rs)} "
                        f"| {sum(r['t1'] - r['t0'] for r in rs):.3f} "
                        f"| {sum(r['cpu'] for r in rs):.3f} "
                        f"| {max(r['t1'] for r in rs) - t_call:.3f} "
                        f"| {sorted({r['blas_threads'] for r in rs})} |"
                    )
                sys.stdout.flush()


def probe_pickle(args):
    """Pickled size and time of what a search task sends to a worker."""
    import pickle

    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    sys.path.insert(0, str(HERE))
    import parallel_study

    X, y = load_digits(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    print("\n## What a task ships to a worker\n")
    print("| object | pickled KiB | pickle ms (median of 20) |\n|---|---:|---:|")
    for name, obj in [
        ("X_train, y_train", (X_train, y_train)),
        ("skmlp pipeline", parallel_study.make_search("skmlp", 1, 60).estimator),
        ("sklearn pipeline", parallel_study.make_search("sklearn", 1, 60).estimator),
    ]:
        times = []
        for _ in range(20):
            t0 = time.perf_counter()
            data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
            times.append(time.perf_counter() - t0)
        print(
            f"| {name} | {len(data) / 1024:.1f} | "
            f"{statistics.median(times) * 1e3:.2f} |"
        )


PREDICT_CHILD = """
import json, statistics, sys, time, warnings
sys.path.insert(0, {here!r})
import numpy as np
import _workloads as W
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits
library = {library!r}
X, y = W.make_data(1797, 64, 10, np.float64)
Xp, _ = W.make_data(100_000, 64, 10, np.float64, seed=1)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    est = W._estimator(library, 10, (100,), 200, 5, "adam").fit(X, y)
est.predict_proba(Xp)  # warm-up
out = {{"default": [], "one thread": []}}
for _ in range(7):
    t0 = time.perf_counter()
    est.predict_proba(Xp)
    out["default"].append(time.perf_counter() - t0)
    with threadpool_limits(1, user_api="blas"):
        t0 = time.perf_counter()
        est.predict_proba(Xp)
        out["one thread"].append(time.perf_counter() - t0)
mod = sys.modules["skmlp" if library == "skmlp" else "sklearn"].__file__
print(json.dumps({{k: statistics.median(v) for k, v in out.items()}} | {{"mod": mod}}))
"""


def probe_predict(args):
    """predict_proba seconds of skmlp's variants and of scikit-learn's MLP."""
    configs = [("sklearn", "", "")] + [
        ("skmlp", label, path) for label, path in [("", ""), *_variants(args)]
    ]
    res = {}
    for rep in range(args.reps):
        for library, label, path in configs:
            code = PREDICT_CHILD.format(here=str(HERE), library=library)
            out = _run_json(code, path)
            res.setdefault((library, label, out.pop("mod")), []).append(out)
        print(f"  predict rep {rep + 1}/{args.reps}", file=sys.stderr, flush=True)
    print("\n## predict_proba, 100,000 rows, hidden (100,)\n")
    print(
        f"median over {args.reps} processes of each one's median of 7 calls, "
        "seconds (min-max over processes)\n"
    )
    print("| library | variant | BLAS threads as set | one BLAS thread | module |")
    print("|---|---|---:|---:|---|")
    for (library, label, mod), outs in res.items():
        cells = []
        for key in ("default", "one thread"):
            v = [o[key] for o in outs]
            cells.append(f"{statistics.median(v):.4f} ({min(v):.4f}-{max(v):.4f})")
        print(f"| {library} | {label or '-'} | {cells[0]} | {cells[1]} | {mod} |")


def _variants(args):
    out = []
    for text in args.variant:
        label, sep, path = text.partition("=")
        if not sep or not label:
            sys.exit(f"--variant {text!r}: expected LABEL=DIR")
        out.append((label, path))
    return out


def main(argv=None):
    """Run the probes named on the command line (all by default)."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "probes",
        nargs="*",
        default=["imports", "timeline", "pickle", "predict"],
        choices=["imports", "timeline", "pickle", "predict"],
        help="which probes to run",
    )
    p.add_argument("--reps", type=int, default=3, help="fresh processes per figure")
    p.add_argument("--libraries", default="skmlp,sklearn", help="for timeline")
    p.add_argument("--batch-size", default="auto", help="joblib batch size (timeline)")
    p.add_argument(
        "--inner-threads",
        type=int,
        default=0,
        help="BLAS threads per loky worker (timeline; 0: loky's default)",
    )
    p.add_argument(
        "--pythonpath",
        metavar="DIR",
        default="",
        help="put DIR first on PYTHONPATH (imports, timeline)",
    )
    p.add_argument(
        "--variant",
        metavar="LABEL=DIR",
        action="append",
        default=[],
        help="repeatable (predict): also time skmlp with DIR first on PYTHONPATH",
    )
    args = p.parse_args(argv)
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name in args.probes:
        probes = {
            "imports": probe_imports,
            "timeline": probe_timeline,
            "pickle": probe_pickle,
            "predict": probe_predict,
        }
        probes[name](args)
    print(f"\nload average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
