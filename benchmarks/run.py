"""One-command benchmark: skmlp vs scikit-learn vs PyTorch CPU vs the GEMM-only bound.

Usage::

    python benchmarks/run.py [workload ...] [--dtype float32|float64|both]
        [--solver adam|sgd|both] [--reps 3] [--systems gemm,sklearn,torch,skmlp]
        [--threads N] [--no-mem] [--no-predict] [--batch-norm] [--json PATH]
        [--yardstick PATH]
    python benchmarks/run.py --scorecard PATH

Prints the machine, then one markdown table per (dtype, solver) with one row per
workload (median fit seconds of each system, skmlp's ratio to the GEMM-only
bound, skmlp's speed-up over scikit-learn and PyTorch, and the peak memory of
one fit of scikit-learn and of skmlp), a memory-detail table, per dtype a
``predict_proba`` throughput table, and last a scorecard against the speed
issue's targets (``benchmarks/_targets.py``; ``--scorecard results.json``
prints it again from a saved run). With ``--batch-norm`` every workload is also
fitted with batch normalization (skmlp and PyTorch, ``benchmarks/_batchnorm.py``),
interleaved with the plain fits, and a Batch norm table per (dtype, solver) shows
what it costs per step, with the batch-norm issue's aim in the scorecard. See
``benchmarks/README.md``.

Figures that cannot be trusted are flagged in the tables, the scorecard and a
note at the end: a time below the GEMM-only bound (impossible, so the machine
disturbed the run) and a spread of the repetitions above
``_targets.MAX_SPREAD``; with ``--reps 1`` the spread cannot be measured, and
the note says so.

The workloads and timing functions come from the bundled
``benchmarks/_workloads.py`` (a copy of the shared reference yardstick's), or
from the yardstick file given with ``--yardstick PATH``.
"""

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _batchnorm  # noqa: E402
from _targets import (  # noqa: E402
    BN_SYSTEMS,
    MAX_SPREAD,
    batch_norm_cost,
    batch_norm_flags,
    batch_norm_verdicts,
    figure_flags,
    flag_notes,
    scorecard,
)

# before any import can add to it (scikit-learn sets KMP_* variables on import)
ENV_AT_START = dict(os.environ)
HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BUNDLED = HERE / "_workloads.py"
REQUIRED = (
    "WORKLOADS",
    "make_data",
    "run_gemm",
    "run_sklearn",
    "run_torch",
    "run_skmlp",
    "_estimator",
)
ALL_SYSTEMS = ("gemm", "sklearn", "torch", "skmlp")
MEM_SYSTEMS = ("sklearn", "skmlp")
MIB = 1024.0 * 1024.0

# prediction-throughput workload: a digits-like model, predict_proba on many rows
PREDICT_ROWS = 100_000
PREDICT_MODEL = (1797, 64, (100,), 10, 200, 5)  # n, d, hidden, k, batch, epochs

TIMING_NOTE = """
Fit times are wall-clock `time.perf_counter` seconds, the median of {reps}
repetitions with the systems interleaved within each repetition. `skmlp/gemm`
is skmlp's time over the GEMM-only bound (1.00 = nothing but the matrix
products); speed-ups are the other system's time over skmlp's (>1: skmlp
faster).
"""

MEMORY_NOTE = """
Peak memory: each fit runs once more, alone in a fresh subprocess that loads
the data from .npy (no data-generation transients) and runs a small GEMM before
the baseline. The `peak MiB` columns are the tracemalloc peak of Python + NumPy
allocations during `fit` above what was allocated before it (the fit's own
working memory: validated copies, buffers, parameters, optimizer state;
BLAS-internal buffers are not traced). The memory-detail table adds, from a
separate untraced run, the RSS rise during the fit (peak RSS `VmHWM`, reset
through /proc/self/clear_refs just before `fit`, minus `VmRSS` before it) and
the subprocess's peak RSS. `ru_maxrss`/`RUSAGE_CHILDREN` is not used: on Linux
a child inherits its parent's RSS high-water mark there, so it would report the
benchmark process's size, not the fit's.
"""

BATCH_NORM_NOTE = """
Each workload fitted again with batch normalization after every hidden layer's
affine map, in the same interleaved repetitions as the Fit table above (whose
figures are the `plain` ones): skmlp `batch_norm=True`; PyTorch
`nn.Sequential(Linear, BatchNorm1d, ReLU, ..., Linear)` in train mode; momentum
0.1, epsilon 1e-5, the same batches, epochs and solver. `BN adds us/step` is
what batch norm adds to a mini-batch step, (BN - plain) per step in microseconds;
`BN adds` the same as a share of the plain step; `CPU BN adds` that share in
process CPU seconds (all threads' user + system time; with one thread, the work
done, less sensitive to other load than wall time). `BN / gemm` is the
batch-norm fit over the GEMM-only bound, the same matrix products as the plain
network's.
"""


# --------------------------------------------------------------------- backends
def _load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def load_backend(yardstick: str | None = None, vendored: bool = False):
    """The workloads and timing functions, and where they come from.

    Parameters
    ----------
    yardstick : str or None, default=None
        Path of a yardstick module with the same functions as
        ``benchmarks/_workloads.py``. None: the bundled copy.
    vendored : bool, default=False
        Kept for old command lines (``--vendored``); the bundled copy is the
        default anyway, and ``yardstick`` wins over it when both are given.

    Returns
    -------
    module : module
        The module with ``WORKLOADS``, ``make_data`` and the ``run_*``
        functions.
    description : str
        Which file it is, for the output.

    Raises
    ------
    SystemExit
        When the given ``yardstick`` does not exist, fails to import or lacks
        one of the functions: numbers measured with another file than the one
        asked for would be mislabelled.
    """
    del vendored  # the default now
    if yardstick is None:
        mod = _load_module(BUNDLED, "_skmlp_bench_workloads")
        return mod, "bundled benchmarks/_workloads.py"
    path = Path(yardstick)
    if not path.is_file():
        sys.exit(f"--yardstick {path}: no such file")
    try:
        mod = _load_module(path, "_skmlp_bench_yardstick")
    except Exception as exc:
        sys.exit(f"--yardstick {path} failed to import: {exc!r}")
    missing = [a for a in REQUIRED if not hasattr(mod, a)]
    if missing:
        sys.exit(f"--yardstick {path} lacks {', '.join(missing)}")
    return mod, f"yardstick {path.resolve()}"


_TORCH = None


def torch_version():
    """torch's version string if it imports, else None (never raises)."""
    global _TORCH
    if _TORCH is None:
        try:
            import torch

            _TORCH = torch.__version__
        except Exception:  # not installed, or a broken install
            _TORCH = ""
    return _TORCH or None


# ------------------------------------------------------------------ machine info
def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _physical_cores():
    try:
        pairs = set()
        phys = core = None
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("physical id"):
                phys = line.split(":")[1].strip()
            elif line.startswith("core id"):
                core = line.split(":")[1].strip()
            elif not line.strip() and core is not None:
                pairs.add((phys, core))
                phys = core = None
        if core is not None:
            pairs.add((phys, core))
        return len(pairs) or None
    except OSError:
        return None


def _mem_total():
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "?"


def _version(name):
    try:
        mod = __import__(name)
        return getattr(mod, "__version__", "?")
    except Exception:
        return "not importable"


def _git_state():
    """Commit of the repository and whether skmlp/ has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "skmlp"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        dirty = [line[3:] for line in dirty if line.strip()]
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"commit {head}" + (
        f" + uncommitted changes in {', '.join(dirty)}" if dirty else ""
    )


def machine_info(backend_desc, args):
    lines = ["## Machine", ""]
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    lines.append(f"- CPU: {_cpu_model()}")
    lines.append(
        f"- cores: {os.cpu_count()} logical, {_physical_cores() or '?'} physical, "
        f"{usable} usable by this process; memory {_mem_total()}"
    )
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        lines.append(f"- load average at start (1/5/15 min): {load}")
    except OSError:
        pass
    lines.append(f"- Python {platform.python_version()} on {platform.platform()}")
    tv = torch_version()
    torch_desc = "not importable (torch column is n/a)"
    if tv:
        import torch

        torch_desc = f"{tv}, {torch.get_num_threads()} intra-op threads"
    lines.append(
        f"- numpy {np.__version__}, scipy {_version('scipy')}, scikit-learn "
        f"{_version('sklearn')}, skmlp {_version('skmlp')}, torch {torch_desc}"
    )
    try:
        from threadpoolctl import threadpool_info

        for info in threadpool_info():
            lines.append(
                f"- threadpool: {info.get('user_api')} {info.get('internal_api')} "
                f"{info.get('version')}, kernel/architecture "
                f"{info.get('architecture', '?')}, {info.get('num_threads')} threads, "
                f"layer {info.get('threading_layer', '?')} "
                f"({Path(info.get('filepath', '')).name})"
            )
    except ImportError:
        lines.append("- threadpool: threadpoolctl not installed, BLAS unknown")
    env = {
        k: v
        for k, v in ENV_AT_START.items()
        if k.startswith(("OPENBLAS", "OMP_", "MKL_", "GOTO", "BLIS", "KMP_"))
    }
    lines.append(
        "- BLAS/OpenMP environment at start: "
        + (", ".join(f"{k}={v}" for k, v in sorted(env.items())) or "none set")
    )
    try:
        import skmlp

        where = Path(skmlp.__file__).resolve().parent
    except Exception:
        where = None
    if where is not None and REPO in where.parents:
        lines.append(f"- skmlp source: {where}, {_git_state()}")
    else:
        lines.append(f"- skmlp source: {where} (outside this checkout)")
    lines.append(f"- workloads and timing functions: {backend_desc}")
    lines.append(f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`")
    if args.threads:
        lines.append(
            f"- thread limit: {args.threads} (threadpoolctl + torch.set_num_threads)"
        )
    if getattr(args, "batch_norm", False):
        lines.append(
            "- batch-norm runners: bundled benchmarks/_batchnorm.py (on the "
            "workloads' data and estimator settings)"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------- helpers
#: Cell markers of flagged figures (see ``_targets.figure_flags``).
MARK_BELOW = " (!)"
MARK_UNSTABLE = " (~)"


def _marks(flags, *systems, cell=""):
    """The markers of the flagged figures of ``systems``, to append to ``cell``.

    A cell without a figure (``–``, ``n/a``, ``error``) gets none.
    """
    if cell in ("–", "n/a", "error"):
        return ""
    reasons = [r for s in systems for r in flags.get(s, [])]
    out = ""
    if any(r.startswith("below") for r in reasons):
        out += MARK_BELOW
    if any(r.startswith("spread") for r in reasons):
        out += MARK_UNSTABLE
    return out


def _mark(cell, flags, *systems):
    """``cell`` followed by the markers of the flagged figures of ``systems``."""
    return cell + _marks(flags, *systems, cell=cell)


def _flag_legend(batch_norm=False):
    below = "below the GEMM-only bound"
    if batch_norm:
        below += (
            ", or a batch-norm step faster than the same system's plain one "
            "(batch norm only adds work)"
        )
    return (
        f"`{MARK_BELOW.strip()}`: {below}, impossible (the run "
        f"was disturbed); `{MARK_UNSTABLE.strip()}`: repetitions spread more than "
        f"{MAX_SPREAD:.0%} of the median, (max - min) / median. A ratio carries "
        "the markers of both its figures. Repeat the run before using them."
    )


def _fmt_s(x):
    if x is None:
        return "–"
    if isinstance(x, str):
        return x
    return f"{x:.3f}" if x < 100 else f"{x:.1f}"


def _fmt_ratio(a, b):
    if not isinstance(a, float) or not isinstance(b, float) or b <= 0:
        for word in ("error", "n/a"):
            if word in (a, b):
                return word
        return "–"
    return f"{a / b:.2f}x"


def _fmt_mib(x):
    return "–" if x is None else f"{x:.1f}"


def _mem_cell(mem, system, key):
    entry = mem.get(system, {})
    if key not in entry and entry.get("error"):
        return "error"
    return _fmt_mib(entry.get(key))


def _table(header, rows):
    out = ["| " + " | ".join(header) + " |"]
    out.append(
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"
    )
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    return "\n".join(out)


def _progress(msg):
    print(msg, file=sys.stderr, flush=True)


def _fmt_pct(x):
    return "–" if x is None else f"{x:+.1%}"


def _fmt_us(x):
    return "–" if x is None else f"{x:.0f}"


def _per_step(seconds, n_steps):
    """Microseconds per step, or None when ``seconds`` is not a figure."""
    if not isinstance(seconds, float) or not n_steps:
        return None
    return seconds / n_steps * 1e6


# ------------------------------------------------------------------ batch norm
def split_batch_norm(times, errors, cpu, n, batch, epochs):
    """Take the batch-norm fits out of ``time_fits``' results, as a record.

    ``times`` and ``errors`` lose their ``torch-bn``/``skmlp-bn`` entries (so
    the Fit table, its flags and the scorecard see the plain fits only); the
    record returned (``results["fits"][i]["batch_norm"]``) keeps them under the
    plain systems' names, with the CPU seconds of both fits and the steps of
    each (a one-row tail is merged with batch norm).
    """

    def medians(d):
        return {s: statistics.median(t) for s, t in d.items()}

    bn_times = {s: times.pop(f"{s}-bn") for s in BN_SYSTEMS if f"{s}-bn" in times}
    bn_errors = {s: errors.pop(f"{s}-bn") for s in BN_SYSTEMS if f"{s}-bn" in errors}
    bn_cpu = {s: cpu[f"{s}-bn"] for s in BN_SYSTEMS if cpu.get(f"{s}-bn")}
    plain_cpu = {s: cpu[s] for s in BN_SYSTEMS if cpu.get(s)}
    return {
        "times": bn_times,
        "median": medians(bn_times),
        "errors": bn_errors,
        "cpu": bn_cpu,
        "cpu_median": medians(bn_cpu),
        "cpu_plain": plain_cpu,
        "cpu_plain_median": medians(plain_cpu),
        "steps": {
            "plain": _batchnorm.steps(n, batch, epochs, batch_norm=False),
            "batch_norm": _batchnorm.steps(n, batch, epochs, batch_norm=True),
        },
    }


BATCH_NORM_HEADER = [
    "workload",
    "system",
    "gemm s",
    "plain s",
    "BN s",
    "plain us/step",
    "BN adds us/step",
    "BN adds",
    "CPU BN adds",
    "BN / gemm",
    "BN speed-up vs torch",
]


def batch_norm_rows(fit, systems, torch_ok):
    """The batch-norm table's rows of one fit record (torch, then skmlp)."""
    med, errors, bn = fit["median"], fit["errors"], fit["batch_norm"]
    n_steps = bn["steps"]
    flags = figure_flags(fit["times"], med)
    flags.update({f"{s}-bn": r for s, r in batch_norm_flags(fit).items()})

    def value(s, medians, errs):
        if s not in systems:
            return None
        if s == "torch" and not torch_ok:
            return "n/a"
        if s in errs:
            return "error"
        return medians.get(s)

    gemm = value("gemm", med, errors)
    rows = []
    for s in BN_SYSTEMS:
        if s not in systems:
            continue
        plain, mine = value(s, med, errors), value(s, bn["median"], bn["errors"])
        us_plain = _per_step(plain, n_steps["plain"])
        us_bn = _per_step(mine, n_steps["batch_norm"])
        word = next((v for v in (plain, mine) if isinstance(v, str)), None)
        cost_us = None if us_plain is None or us_bn is None else us_bn - us_plain
        speedup = "–"
        if s == "skmlp":
            theirs = value("torch", bn["median"], bn["errors"])
            speedup = _mark(_fmt_ratio(theirs, mine), flags, "torch-bn", "skmlp-bn")
        flagged = any(f in flags for f in (s, f"{s}-bn", "gemm"))
        rows.append(
            [
                fit["workload"] + (" **flagged**" if flagged else ""),
                s,
                _mark(_fmt_s(gemm), flags, "gemm"),
                _mark(_fmt_s(plain), flags, s),
                _mark(_fmt_s(mine), flags, f"{s}-bn"),
                word or _mark(_fmt_us(us_plain), flags, s),
                word or _mark(_fmt_us(cost_us), flags, s, f"{s}-bn"),
                word or _mark(_fmt_pct(batch_norm_cost(fit, s)), flags, s, f"{s}-bn"),
                word or _fmt_pct(batch_norm_cost(fit, s, "cpu_median")),
                _mark(_fmt_ratio(mine, gemm), flags, f"{s}-bn", "gemm"),
                speedup,
            ]
        )
    spreads = [((max(t) - min(t)) / bn["median"][s], s) for s, t in bn["times"].items()]
    worst = max(spreads, default=None)
    spread = f"{fit['workload']} {worst[0]:.0%} ({worst[1]})" if worst else None
    return rows, any(r[0].endswith("**flagged**") for r in rows), spread


# ------------------------------------------------------------------ fit timings
def time_fits(
    backend, name, dtype, solver, systems, reps, torch_ok, extra=None, cpu=None
):
    """Fit times of ``systems`` on workload ``name``, interleaved repetition by rep.

    Parameters
    ----------
    extra : dict, optional
        More runners, ``{"torch-bn": run, "skmlp-bn": run}`` (see
        ``_batchnorm.runners``); each runs right after the system its name
        starts with, when that one is selected.
    cpu : dict, optional
        Filled with each system's process CPU seconds (``time.process_time``
        around the runner: every thread's user and system time) per repetition.

    Returns
    -------
    times : dict of str to list of float
    errors : dict of str to str
    """
    n, d, hidden, k, batch, epochs = backend.WORKLOADS[name]
    X, y = backend.make_data(n, d, k, dtype)
    runners = {
        "gemm": backend.run_gemm,
        "sklearn": backend.run_sklearn,
        "torch": backend.run_torch,
        "skmlp": backend.run_skmlp,
    }
    runners.update(extra or {})
    active = []
    for s in systems:
        if s == "torch" and not torch_ok:
            continue
        active.append(s)
        active += [e for e in extra or {} if e.split("-")[0] == s]
    times = {s: [] for s in active}
    errors = {}
    for rep in range(reps):  # interleave systems so drift hits all alike
        for s in active:
            if errors.get(s):
                continue
            try:
                c0 = time.process_time()
                t = runners[s](X, y, hidden, k, batch, epochs, solver)
                if cpu is not None:
                    cpu.setdefault(s, []).append(time.process_time() - c0)
            except Exception as exc:  # report, keep benchmarking the others
                errors[s] = f"{type(exc).__name__}: {exc}"
                _progress(
                    f"  {name} {np.dtype(dtype).name} {solver} {s} FAILED: {errors[s]}"
                )
                continue
            times[s].append(t)
            _progress(
                f"  {name} {np.dtype(dtype).name} {solver} "
                f"rep {rep + 1}/{reps} {s}: {t:.3f}s"
            )
    return {s: t for s, t in times.items() if t}, errors


# ------------------------------------------------------------------------ memory
def _proc_status_kib():
    """VmRSS and VmHWM from /proc/self/status in KiB (Linux), else {}."""
    try:
        return {
            line.split(":")[0]: int(line.split()[1])
            for line in Path("/proc/self/status").read_text().splitlines()
            if line.startswith(("VmRSS:", "VmHWM:"))
        }
    except OSError:
        return {}


def _reset_peak_rss():
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _mem_child(spec_json):
    """Child-process entry: one fit, report its peak memory as JSON on stdout.

    Peak RSS is read from /proc/self/status (VmHWM), never from ``ru_maxrss``:
    on Linux a child started by a large parent inherits the parent's RSS
    high-water mark in ``ru_maxrss`` (``RUSAGE_SELF`` in the child, and so
    ``RUSAGE_CHILDREN`` in the parent), which would hide the fit's own peak.
    """
    spec = json.loads(spec_json)
    backend = _load_module(Path(spec["module"]), "_skmlp_bench_child")
    import sklearn.exceptions  # noqa: F401  (import cost is not the fit's)
    import sklearn.neural_network  # noqa: F401

    import skmlp  # noqa: F401

    X = np.load(spec["X"])
    y = np.load(spec["y"])
    # allocate BLAS work buffers before the baseline: they are not the fit's
    w = np.ones((256, 256), dtype=X.dtype)
    w @ w
    run = {"sklearn": backend.run_sklearn, "skmlp": backend.run_skmlp}[spec["system"]]
    args = (
        X,
        y,
        tuple(spec["hidden"]),
        spec["k"],
        spec["batch"],
        spec["epochs"],
        spec["solver"],
    )
    out = {}
    if spec["mode"] == "traced":
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        run(*args)
        out["traced_peak"] = (tracemalloc.get_traced_memory()[1] - base) / MIB
        tracemalloc.stop()
    else:
        before = _proc_status_kib()
        if before and _reset_peak_rss():
            run(*args)
            after = _proc_status_kib()
            out["rss_before"] = before["VmRSS"] / 1024.0
            out["rss_peak"] = after["VmHWM"] / 1024.0
            out["rss_delta"] = (after["VmHWM"] - before["VmRSS"]) / 1024.0
        else:  # no procfs: ru_maxrss, which includes the inherited high-water mark
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            run(*args)
            rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            scale = 1024.0 if sys.platform != "darwin" else MIB
            out["rss_peak"] = rss1 / scale
            out["rss_delta"] = (rss1 - rss0) / scale
    print(json.dumps(out))


def measure_memory(backend, name, dtype, solver, tmpdir):
    """Peak memory of one fit of each of sklearn and skmlp, each in a fresh process."""
    n, d, hidden, k, batch, epochs = backend.WORKLOADS[name]
    tag = f"{name}-{np.dtype(dtype).name}"
    xpath, ypath = Path(tmpdir) / f"{tag}-X.npy", Path(tmpdir) / f"{tag}-y.npy"
    if not xpath.exists():
        X, y = backend.make_data(n, d, k, dtype)
        np.save(xpath, X)
        np.save(ypath, y)
        del X, y
    res = {}
    for system in MEM_SYSTEMS:
        res[system] = {}
        for mode in ("rss", "traced"):
            spec = {
                "module": backend.__file__,
                "system": system,
                "mode": mode,
                "X": str(xpath),
                "y": str(ypath),
                "hidden": list(hidden),
                "k": k,
                "batch": batch,
                "epochs": epochs,
                "solver": solver,
            }
            proc = subprocess.run(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--_mem-child",
                    json.dumps(spec),
                ],
                capture_output=True,
                text=True,
                cwd=str(REPO),
            )
            if proc.returncode != 0:
                _progress(
                    f"  memory child failed for {name} {system}:\n{proc.stderr[-2000:]}"
                )
                res[system]["error"] = True
                continue
            res[system].update(json.loads(proc.stdout.strip().splitlines()[-1]))
        _progress(
            f"  {name} {np.dtype(dtype).name} {solver} memory {system}: {res[system]}"
        )
    return res


# -------------------------------------------------------------------- prediction
def time_predict(backend, dtype, reps, mem):
    """predict_proba throughput of a digits-like model on PREDICT_ROWS rows."""
    from sklearn.exceptions import ConvergenceWarning

    n, d, hidden, k, batch, epochs = PREDICT_MODEL
    X, y = backend.make_data(n, d, k, dtype)
    Xp, _ = backend.make_data(PREDICT_ROWS, d, k, dtype, seed=1)
    models = {}
    for system in MEM_SYSTEMS:
        # the workloads module's own factory: the settings every fit is timed with
        est = backend._estimator(system, k, hidden, batch, epochs, "adam")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
        models[system] = est
    Ws = [np.asarray(w, dtype=dtype) for w in models["skmlp"].coefs_]

    def gemm():
        t0 = time.perf_counter()
        a = Xp
        for W in Ws:
            a = a @ W
        return time.perf_counter() - t0

    def predictor(est):
        def f():
            t0 = time.perf_counter()
            est.predict_proba(Xp)
            return time.perf_counter() - t0

        return f

    fns = {"gemm": gemm, **{s: predictor(m) for s, m in models.items()}}
    for f in fns.values():  # warm-up
        f()
    times = {s: [] for s in fns}
    for _ in range(reps):
        for s, f in fns.items():
            times[s].append(f())
    med = {s: statistics.median(t) for s, t in times.items()}
    peaks = {}
    if mem:
        for s, m in models.items():
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            m.predict_proba(Xp)
            peaks[s] = (tracemalloc.get_traced_memory()[1] - base) / MIB
            tracemalloc.stop()
    diff = float(
        np.abs(
            models["sklearn"].predict_proba(Xp) - models["skmlp"].predict_proba(Xp)
        ).max()
    )
    return med, times, peaks, diff


# -------------------------------------------------------------------------- main
class _HelpFormatter(
    argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter
):
    """Defaults in the options' help, the epilog (the workloads table) as written.

    Flags (default False) and options without a default show none.
    """

    def _get_help_string(self, action):
        if action.default in (None, False):
            return action.help
        return super()._get_help_string(action)


def workloads_help(workloads) -> str:
    """The workloads as a plain-text table, for ``--help``.

    Parameters
    ----------
    workloads : dict
        ``name -> (n_samples, n_features, hidden, n_classes, batch, epochs)``
        (``n_classes`` 0: regression).

    Returns
    -------
    str
    """
    lines = [
        "workloads (bundled benchmarks/_workloads.py; --yardstick may define others):",
        f"  {'name':<9} {'samples':>8} {'features':>8}  {'hidden':<13} "
        f"{'outputs':<10} {'batch':>5} {'epochs':>6}",
    ]
    for name, (n, d, hidden, k, batch, epochs) in workloads.items():
        outputs = f"{k} classes" if k else "regression"
        lines.append(
            f"  {name:<9} {n:>8,} {d:>8}  {str(hidden):<13} {outputs:<10} "
            f"{batch:>5} {epochs:>6}"
        )
    return "\n".join(lines)


def parse_args(argv=None):
    bundled = _load_module(BUNDLED, "_skmlp_bench_workloads_help")
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=_HelpFormatter,
        epilog=workloads_help(bundled.WORKLOADS),
    )
    p.add_argument(
        "workloads",
        nargs="*",
        default=list(bundled.WORKLOADS),
        help="workloads to run (names below)",
    )
    p.add_argument(
        "--dtype",
        default="float64",
        choices=["float32", "float64", "both"],
        help="dtype of the data and the networks",
    )
    p.add_argument(
        "--solver", default="adam", choices=["adam", "sgd", "both"], help="solver"
    )
    p.add_argument(
        "--reps",
        type=int,
        default=3,
        help="timed repetitions (median reported; 2 or more to measure the spread)",
    )
    p.add_argument(
        "--systems",
        default=",".join(ALL_SYSTEMS),
        help="comma-separated systems to time",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="limit BLAS/torch threads (0: library default)",
    )
    p.add_argument(
        "--no-mem", action="store_true", help="skip the peak-memory subprocesses"
    )
    p.add_argument(
        "--no-predict",
        action="store_true",
        help="skip the predict_proba throughput table",
    )
    p.add_argument(
        "--batch-norm",
        action="store_true",
        help="also fit each workload with batch normalization (skmlp "
        "batch_norm=True, PyTorch BatchNorm1d), interleaved with the plain fits, "
        "and print a Batch norm table per dtype and solver: what batch norm "
        "costs per step",
    )
    p.add_argument(
        "--json", metavar="PATH", help="also write raw timings to this JSON file"
    )
    p.add_argument(
        "--scorecard",
        metavar="JSON",
        help="print only the scorecard against the targets of a run saved by --json",
    )
    p.add_argument(
        "--yardstick",
        metavar="PATH",
        help="take the workloads and timing functions from this yardstick file "
        "instead of the bundled benchmarks/_workloads.py (e.g. the shared "
        "reference yardstick.py)",
    )
    p.add_argument(
        "--vendored",
        action="store_true",
        help="use the bundled benchmarks/_workloads.py (the default; kept for old "
        "command lines)",
    )
    p.add_argument("--_mem-child", dest="mem_child", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.mem_child:
        return _mem_child(args.mem_child)
    if args.scorecard:
        print(scorecard(json.loads(Path(args.scorecard).read_text())))
        return None

    backend, backend_desc = load_backend(args.yardstick, args.vendored)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(systems) - set(ALL_SYSTEMS)
    if unknown:
        sys.exit(f"unknown systems {sorted(unknown)}; choose from {ALL_SYSTEMS}")
    workloads = args.workloads
    if args.yardstick and workloads == list(
        _load_module(BUNDLED, "_skmlp_bench_workloads_help").WORKLOADS
    ):
        workloads = list(backend.WORKLOADS)  # the default: all of the yardstick's
    unknown = [w for w in workloads if w not in backend.WORKLOADS]
    if unknown:
        sys.exit(f"unknown workloads {unknown}; choose from {list(backend.WORKLOADS)}")
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    solvers = ["adam", "sgd"] if args.solver == "both" else [args.solver]

    torch_ok = "torch" in systems and torch_version() is not None
    # import every system first: threadpoolctl only limits (and lists) the BLAS and
    # OpenMP libraries already loaded, and SciPy's own OpenBLAS (scipy.linalg.blas)
    # and torch's libgomp load only with their packages
    import scipy.linalg.blas  # noqa: F401
    import sklearn.neural_network  # noqa: F401

    import skmlp  # noqa: F401

    if torch_ok:
        import torch  # noqa: F401

    limiter = None
    if args.threads:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(args.threads)
        if torch_ok:
            torch.set_num_threads(args.threads)

    print("# skmlp benchmark\n")
    print(machine_info(backend_desc, args))
    print("\n" + " ".join(TIMING_NOTE.split()).format(reps=args.reps))
    if not args.no_mem:
        print("\n" + " ".join(MEMORY_NOTE.split()))
    if args.batch_norm:
        print("\n" + " ".join(BATCH_NORM_NOTE.split()))
    sys.stdout.flush()
    bn_runners = _batchnorm.runners(backend) if args.batch_norm else None

    results = {"machine": machine_info(backend_desc, args), "fits": [], "predict": []}
    tmp = tempfile.TemporaryDirectory(prefix="skmlp-bench-")
    try:
        for dtype_name in dtypes:
            dtype = np.dtype(dtype_name).type
            for solver in solvers:
                rows, mem_rows, spreads = [], [], []
                bn_rows, bn_spreads, bn_fits = [], [], []
                any_flag = bn_flag = False
                for name in workloads:
                    cpu = {}
                    times, errors = time_fits(
                        backend,
                        name,
                        dtype,
                        solver,
                        systems,
                        args.reps,
                        torch_ok,
                        extra=bn_runners,
                        cpu=cpu,
                    )
                    bn_record = None
                    if bn_runners:
                        n, _, _, _, batch, epochs = backend.WORKLOADS[name]
                        bn_record = split_batch_norm(
                            times, errors, cpu, n, batch, epochs
                        )
                    med = {s: statistics.median(t) for s, t in times.items()}
                    spread = {s: (max(t) - min(t)) / med[s] for s, t in times.items()}
                    if spread:
                        worst = max(spread, key=spread.get)
                        spreads.append(f"{name} {spread[worst]:.0%} ({worst})")

                    def cell(s, med=med, errors=errors):
                        if s not in systems:
                            return None
                        if s == "torch" and not torch_ok:
                            return "n/a"
                        if s in errors:
                            return "error"
                        return med[s]

                    mem = (
                        {}
                        if args.no_mem
                        else measure_memory(backend, name, dtype, solver, tmp.name)
                    )
                    g, sk, to, me = (cell(s) for s in ALL_SYSTEMS)
                    flags = figure_flags(times, med)
                    any_flag = any_flag or bool(flags)
                    rows.append(
                        [
                            name + (" **flagged**" if flags else ""),
                            _mark(_fmt_s(g), flags, "gemm"),
                            _mark(_fmt_s(sk), flags, "sklearn"),
                            _mark(_fmt_s(to), flags, "torch"),
                            _mark(_fmt_s(me), flags, "skmlp"),
                            _mark(_fmt_ratio(me, g), flags, "skmlp", "gemm"),
                            _mark(_fmt_ratio(sk, me), flags, "sklearn", "skmlp"),
                            _mark(_fmt_ratio(to, me), flags, "torch", "skmlp"),
                            _mem_cell(mem, "sklearn", "traced_peak"),
                            _mem_cell(mem, "skmlp", "traced_peak"),
                        ]
                    )
                    if mem:
                        mem_rows.append(
                            [name]
                            + [
                                _mem_cell(mem, s, key)
                                for key in ("traced_peak", "rss_delta", "rss_peak")
                                for s in MEM_SYSTEMS
                            ]
                        )
                    fit = {
                        "workload": name,
                        "dtype": dtype_name,
                        "solver": solver,
                        "times": times,
                        "median": med,
                        "errors": errors,
                        "memory_mib": mem,
                    }
                    if bn_record is not None:
                        fit["batch_norm"] = bn_record
                        more, flagged, spread = batch_norm_rows(fit, systems, torch_ok)
                        bn_rows += more
                        bn_flag = bn_flag or flagged
                        if spread:
                            bn_spreads.append(spread)
                        bn_fits.append(fit)
                    results["fits"].append(fit)
                header = [
                    "workload",
                    "gemm s",
                    "sklearn s",
                    "torch s",
                    "skmlp s",
                    "skmlp/gemm",
                    "speed-up vs sklearn",
                    "speed-up vs torch",
                    "sklearn peak MiB",
                    "skmlp peak MiB",
                ]
                print(f"\n## Fit: {dtype_name}, {solver}\n")
                print(_table(header, rows))
                if any_flag:
                    print("\n" + _flag_legend())
                if args.reps < 2:
                    print(
                        "\nOne repetition: the spread cannot be measured, so "
                        "unstable figures cannot be flagged (use --reps 3 or more)."
                    )
                elif spreads:
                    print(
                        "\nSpread of the repetitions, (max - min) / median, of the "
                        "noisiest system per workload: " + "; ".join(spreads) + "."
                    )
                if mem_rows:
                    print(f"\nMemory detail ({dtype_name}, {solver}), MiB:\n")
                    print(
                        _table(
                            [
                                "workload",
                                "sklearn traced peak",
                                "skmlp traced peak",
                                "sklearn RSS rise",
                                "skmlp RSS rise",
                                "sklearn process max RSS",
                                "skmlp process max RSS",
                            ],
                            mem_rows,
                        )
                    )
                if bn_rows:
                    print(f"\n## Batch norm: {dtype_name}, {solver}\n")
                    print(_table(BATCH_NORM_HEADER, bn_rows))
                    if bn_flag:
                        print("\n" + _flag_legend(batch_norm=True))
                    if bn_spreads and args.reps >= 2:
                        print(
                            "\nSpread of the batch-norm fits' repetitions, "
                            "(max - min) / median, of the noisiest system per "
                            "workload: " + "; ".join(bn_spreads) + "."
                        )
                    verdicts = batch_norm_verdicts(bn_fits)
                    if verdicts:
                        print("\n" + "\n".join(line for line, _, _ in verdicts))
                sys.stdout.flush()
            if not args.no_predict:
                med, times, peaks, diff = time_predict(
                    backend, dtype, max(args.reps, 5), not args.no_mem
                )
                n, d, hidden, k, _, epochs = PREDICT_MODEL
                print(
                    f"\n## predict_proba throughput: {dtype_name}, "
                    f"{PREDICT_ROWS:,} rows, "
                    f"{d} features, hidden {hidden}, {k} classes\n"
                )
                print(
                    f"Median of {max(args.reps, 5)} calls after one warm-up; `gemm` "
                    "is the two matrix products alone; peak MiB is the tracemalloc "
                    "peak of one call. "
                    f"Max |sklearn - skmlp| probability difference: {diff:.2e}.\n"
                )
                prow = []
                flags = figure_flags(times, med)
                for s in ("gemm", *MEM_SYSTEMS):
                    speedup = "–"
                    if s == "skmlp":
                        speedup = _fmt_ratio(med["sklearn"], med[s]) + _marks(
                            flags, "sklearn", "skmlp"
                        )
                    prow.append(
                        [
                            s + (" **flagged**" if s in flags else ""),
                            _fmt_s(med[s]) + _marks(flags, s),
                            f"{PREDICT_ROWS / med[s] / 1e6:.2f}",
                            f"{med[s] / med['gemm']:.2f}x" + _marks(flags, s, "gemm"),
                            speedup,
                            _fmt_mib(peaks.get(s)),
                        ]
                    )
                print(
                    _table(
                        [
                            "system",
                            "seconds",
                            "M rows/s",
                            "x gemm",
                            "speed-up vs sklearn",
                            "peak MiB",
                        ],
                        prow,
                    )
                )
                if flags:
                    print("\n" + _flag_legend())
                results["predict"].append(
                    {
                        "dtype": dtype_name,
                        "times": times,
                        "median": med,
                        "peak_mib": peaks,
                        "max_abs_diff": diff,
                    }
                )
                sys.stdout.flush()
    finally:
        tmp.cleanup()
        if limiter is not None:
            limiter.restore_original_limits()
    print("\n## Against the targets\n")
    print(scorecard(results))
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"\nload average at end (1/5/15 min): {load}")
    except OSError:
        pass
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    notes = flag_notes(results)
    if notes:
        n_flagged = sum(1 for line in notes if line.startswith(("- fit", "- pred")))
        why = []
        if n_flagged:
            why.append(
                f"{n_flagged} figure(s) are flagged as impossible or unstable "
                '(listed under "Flagged figures" above)'
            )
        if args.reps < 2:
            why.append("with --reps 1 the spread of the fits could not be measured")
        print(
            f"\n**Repeat this run**: {'; '.join(why)}. Use --reps 3 or more, on "
            "a quieter machine (compare the load averages above)."
        )


if __name__ == "__main__":
    main()
