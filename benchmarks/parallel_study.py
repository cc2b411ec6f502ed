"""The README's parallel study: a digits grid search with n_jobs=1 and n_jobs=-1.

Usage::

    python benchmarks/parallel_study.py [--reps 3] [--libraries skmlp,sklearn]
        [--n-jobs 1,-1] [--max-iter 60] [--variant LABEL=DIR ...] [--json PATH]

Runs ``GridSearchCV`` over ``Pipeline(StandardScaler, classifier)`` on
scikit-learn's digits data, hidden sizes (32,), (64,), (128,) x learning rates
1e-3, 3e-3, 1e-2, 3-fold stratified shuffled CV, ``max_iter=60``, with the
settings of ``examples/digits_study.py`` (Adam, ``random_state=0``, accuracy,
``refit=True``, a stratified 25 % test split held out, BLAS limited to one
thread in the searching process, ``ConvergenceWarning`` silenced), for
skmlp's ``BackpropClassifier`` and scikit-learn's ``MLPClassifier``, each with
``n_jobs=1`` and ``n_jobs=-1``.

Every (library, n_jobs) configuration runs in a fresh Python process, so each
``n_jobs=-1`` search starts its own loky workers, as a user's script does. The
configurations are interleaved within each repetition (the starting one
rotates), and the median of ``--reps`` repetitions is reported: the search
(``search.fit``) itself, and separately the process's start-up (interpreter
start to the first line of the script), the imports (NumPy, scikit-learn,
skmlp) and the whole process's wall time. A markdown table and a scorecard
against the targets follow (skmlp's n_jobs=-1 at least as fast as its
n_jobs=1; skmlp at least 2x faster than scikit-learn's MLP at both settings),
with figures whose repetitions spread more than ``_targets.MAX_SPREAD`` of
their median flagged. See ``benchmarks/PARALLEL.md``.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _targets import MAX_SPREAD, spread  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LIBRARIES = ("skmlp", "sklearn")
HIDDEN_SIZES = (32, 64, 128)
LEARNING_RATES = (1e-3, 3e-3, 1e-2)
N_SPLITS = 3
RANDOM_STATE = 0
#: skmlp's speed-up over scikit-learn's MLP the targets ask for, at each n_jobs
MIN_SPEEDUP = 2.0
MARK_UNSTABLE = " (~)"


# ------------------------------------------------------------------------ child
def make_search(library, n_jobs, max_iter):
    """The study's grid search, as ``examples/digits_study.py`` builds it.

    Parameters
    ----------
    library : {"skmlp", "sklearn"}
        ``BackpropClassifier`` or scikit-learn's ``MLPClassifier``.
    n_jobs : int
        ``GridSearchCV``'s ``n_jobs``.
    max_iter : int
        Epochs per fit.

    Returns
    -------
    sklearn.model_selection.GridSearchCV
    """
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if library == "skmlp":
        from skmlp import BackpropClassifier as Classifier
    else:
        from sklearn.neural_network import MLPClassifier as Classifier
    pipeline = Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "mlp",
                Classifier(solver="adam", max_iter=max_iter, random_state=RANDOM_STATE),
            ),
        ]
    )
    grid = {
        "mlp__hidden_layer_sizes": [(h,) for h in HIDDEN_SIZES],
        "mlp__learning_rate_init": list(LEARNING_RATES),
    }
    cv = StratifiedKFold(n_splits=N_SPLITS, shuffle=True, random_state=RANDOM_STATE)
    return GridSearchCV(
        pipeline, grid, cv=cv, scoring="accuracy", n_jobs=n_jobs, refit=True
    )


def child(spec):
    """One configuration in this fresh process; prints its timings as JSON.

    Parameters
    ----------
    spec : dict
        ``library``, ``n_jobs``, ``max_iter`` and ``blas_limit`` (the searching
        process's BLAS thread limit, as in the study; 0: none).
    """
    t_first = time.time()
    t0 = time.perf_counter()
    import warnings

    import numpy as np  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    if spec["library"] == "skmlp":
        import skmlp  # noqa: F401
    else:
        import sklearn.neural_network  # noqa: F401
    t_import = time.perf_counter() - t0

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=RANDOM_STATE
    )
    search = make_search(spec["library"], spec["n_jobs"], spec["max_iter"])
    limit = (
        threadpool_limits(limits=spec["blas_limit"], user_api="blas")
        if spec["blas_limit"]
        else None
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0 = time.perf_counter()
            search.fit(X_train, y_train)
            t_search = time.perf_counter() - t0
            t0 = time.perf_counter()
            accuracy = search.score(X_test, y_test)
            t_score = time.perf_counter() - t0
    finally:
        if limit is not None:
            limit.restore_original_limits()
    mod = sys.modules["skmlp" if spec["library"] == "skmlp" else "sklearn"]
    print(
        json.dumps(
            {
                "t_first": t_first,
                "import": t_import,
                "search": t_search,
                "score": t_score,
                "accuracy": accuracy,
                "best": str(search.best_params_),
                "module": str(Path(mod.__file__).parent),
            }
        )
    )


# ----------------------------------------------------------------------- parent
def run_config(library, n_jobs, args, pythonpath=""):
    """Run one configuration in a fresh process; its timings (seconds) as a dict.

    ``pythonpath`` goes first on the child's ``PYTHONPATH`` (inherited by its
    loky workers).
    """
    spec = {
        "library": library,
        "n_jobs": n_jobs,
        "max_iter": args.max_iter,
        "blas_limit": args.blas_limit,
    }
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(
            [pythonpath] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t_spawn = time.time()
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--_child", json.dumps(spec)],
        capture_output=True,
        text=True,
        cwd=str(REPO),
        env=env,
    )
    t_process = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{library} n_jobs={n_jobs} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["startup"] = out.pop("t_first") - t_spawn
    out["process"] = t_process
    # CPU seconds of the process and of its reaped children (the loky workers)
    out["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out


def _median(values):
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def summarize(runs):
    """Medians and spreads per configuration and measure.

    Parameters
    ----------
    runs : dict of str to list of dict
        ``"library n_jobs"`` -> the repetitions' timings (:func:`run_config`).

    Returns
    -------
    dict of str to dict
        For each configuration, ``{measure: (median, spread or None)}``.
    """
    measures = ("search", "startup", "import", "process", "cpu")
    return {
        key: {
            m: (_median([r[m] for r in reps]), spread([r[m] for r in reps]))
            for m in measures
        }
        for key, reps in runs.items()
    }


def _cell(median_spread):
    median, sp = median_spread
    mark = MARK_UNSTABLE if sp is not None and sp > MAX_SPREAD else ""
    return f"{median:.3f}{mark}"


def _spread_cell(sp):
    if sp is None:
        return "–"
    return f"{sp:.0%}" + (MARK_UNSTABLE if sp > MAX_SPREAD else "")


def report(runs, args):
    """The markdown table, the scorecard and the flag notes of ``runs``."""
    summary = summarize(runs)
    lines = [
        "| library | n_jobs | search s | spread | start-up s | imports s "
        "| process s | process CPU s | test accuracy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, s in summary.items():
        library, n_jobs = key.split()
        acc = {round(r["accuracy"], 4) for r in runs[key]}
        lines.append(
            f"| {library} | {n_jobs} | {_cell(s['search'])} "
            f"| {_spread_cell(s['search'][1])} | {_cell(s['startup'])} "
            f"| {_cell(s['import'])} | {_cell(s['process'])} | {_cell(s['cpu'])} "
            f"| {', '.join(f'{a:.4f}' for a in sorted(acc))} |"
        )
    lines.append("")
    lines.append(
        "Median of "
        f"{args.reps} repetitions, seconds. `search s`: `search.fit` alone (27 CV "
        "fits and the refit; with n_jobs=-1 it includes starting the loky workers "
        "and their imports); `start-up s`: interpreter start to the script's first "
        "line; `imports s`: NumPy, scikit-learn (and skmlp) in the searching "
        "process; `process s`: the whole process, from spawn to exit; "
        "`process CPU s`: user + system CPU seconds of the process and its loky "
        "workers (less sensitive to other load than wall time). "
        f"`{MARK_UNSTABLE.strip()}`: repetitions spread more than {MAX_SPREAD:.0%} "
        "of the median, (max - min) / median."
    )

    def med(key):
        return summary[key]["search"][0] if key in summary else None

    def unstable(*keys):
        return [
            k
            for k in keys
            if k in summary
            and summary[k]["search"][1] is not None
            and summary[k]["search"][1] > MAX_SPREAD
        ]

    card = ["", "## Against the targets", ""]
    card.append("| target | figures | verdict |")
    card.append("|---|---|---|")
    checks = []
    mine_labels = list(dict.fromkeys(k.split()[0] for k in summary if k[:5] == "skmlp"))
    for me in mine_labels:
        if med(f"{me} -1") is not None and med(f"{me} 1") is not None:
            ratio = med(f"{me} 1") / med(f"{me} -1")
            checks.append(
                (
                    f"{me}: n_jobs=-1 at least as fast as n_jobs=1",
                    f"{med(f'{me} -1'):.3f} s vs {med(f'{me} 1'):.3f} s "
                    f"({ratio:.2f}x the speed)",
                    ratio >= 1.0,
                    unstable(f"{me} -1", f"{me} 1"),
                )
            )
        for n_jobs in ("1", "-1"):
            mine, theirs = med(f"{me} {n_jobs}"), med(f"sklearn {n_jobs}")
            if mine is not None and theirs is not None:
                ratio = theirs / mine
                checks.append(
                    (
                        f"{me} at least {MIN_SPEEDUP:g}x faster than scikit-learn, "
                        f"n_jobs={n_jobs}",
                        f"{theirs:.3f} s / {mine:.3f} s = {ratio:.2f}x",
                        ratio >= MIN_SPEEDUP,
                        unstable(f"{me} {n_jobs}", f"sklearn {n_jobs}"),
                    )
                )
    met = flagged_met = 0
    for target, figures, ok, flagged in checks:
        verdict = "yes" if ok else "**no**"
        if flagged:
            verdict += f" (flagged: {', '.join(flagged)} unstable)"
        if ok and flagged:
            flagged_met += 1
        elif ok:
            met += 1
        card.append(f"| {target} | {figures} | {verdict} |")
    card.append("")
    extra = (
        f" (and {flagged_met} more met only on flagged figures, not counted)"
        if flagged_met
        else ""
    )
    card.append(f"- targets met: {met} of {len(checks)}{extra}")
    notes = []
    for key, s in summary.items():
        for m, (_, sp) in s.items():
            if sp is not None and sp > MAX_SPREAD:
                notes.append(f"- {key}, {m}: spread {sp:.0%}")
    if args.reps < 2:
        notes.append(
            "- with --reps 1 the spread of the repetitions cannot be measured, so "
            "unstable figures cannot be detected"
        )
    if notes:
        card += ["", "Flagged figures:", ""] + notes
        advice = "with --reps 3 or more" if args.reps < 3 else "with more --reps"
        card.append(
            f"\n**Repeat this run** {advice}, on a quieter machine (compare the "
            "load averages at start and end)."
        )
    return "\n".join(lines + card)


def _loadavg():
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _parse_n_jobs(text):
    return [int(v) for v in text.split(",") if v.strip()]


def parse_args(argv=None):
    """Parse the command line."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--reps", type=int, default=3, help="repetitions (median shown)")
    p.add_argument(
        "--libraries",
        default=",".join(LIBRARIES),
        help="comma-separated: skmlp, sklearn",
    )
    p.add_argument(
        "--n-jobs",
        default="1,-1",
        type=_parse_n_jobs,
        help="comma-separated n_jobs values of the search",
    )
    p.add_argument("--max-iter", type=int, default=60, help="epochs per fit")
    p.add_argument(
        "--blas-limit",
        type=int,
        default=1,
        help="BLAS threads in the searching process, as examples/digits_study.py "
        "sets them (0: no limit)",
    )
    p.add_argument(
        "--variant",
        metavar="LABEL=DIR",
        action="append",
        default=[],
        help="repeatable: also run skmlp with DIR first on the children's "
        "PYTHONPATH (and so the loky workers'), e.g. a prototype copy of skmlp, "
        "interleaved with the others and labelled LABEL. With an editable "
        "install of skmlp, run this script with a Python whose site-packages "
        "lack the editable finder (see benchmarks/PARALLEL.md), or DIR is ignored",
    )
    p.add_argument("--json", metavar="PATH", default="", help="write raw timings")
    p.add_argument("--_child", dest="child", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None):
    """Run the study's configurations and print the table and the scorecard."""
    args = parse_args(argv)
    if args.child:
        return child(json.loads(args.child))
    libraries = [s.strip() for s in args.libraries.split(",") if s.strip()]
    unknown = set(libraries) - set(LIBRARIES)
    if unknown:
        sys.exit(f"unknown libraries {sorted(unknown)}; choose from {LIBRARIES}")
    variants = [("", "")]  # (label, PYTHONPATH entry): the installed skmlp
    for text in args.variant:
        label, sep, path = text.partition("=")
        if not sep or not label or " " in label:
            sys.exit(f"--variant {text!r}: expected LABEL=DIR")
        variants.append((label, path))
    # scikit-learn's MLP does not depend on the variant: run it once
    configs = [
        (lib if not label else f"{lib}[{label}]", n, path)
        for lib in libraries
        for label, path in (variants if lib == "skmlp" else variants[:1])
        for n in args.n_jobs
    ]
    load_start = _loadavg()
    print("# Parallel study: digits grid search, n_jobs=1 vs n_jobs=-1\n")
    print(
        f"- grid: hidden {[(h,) for h in HIDDEN_SIZES]} x learning rate "
        f"{list(LEARNING_RATES)}, {N_SPLITS}-fold CV, max_iter={args.max_iter}, "
        f"BLAS limit in the searching process: {args.blas_limit or 'none'}"
    )
    print(
        f"- cores: {os.cpu_count()} logical, "
        f"{len(os.sched_getaffinity(0))} usable; load average at start "
        f"(1/5/15 min): {load_start}"
    )
    print(f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`")
    runs = {f"{lib} {n}": [] for lib, n, _ in configs}
    for rep in range(args.reps):
        shift = rep % len(configs)
        for lib, n_jobs, path in configs[shift:] + configs[:shift]:
            out = run_config(lib.split("[")[0], n_jobs, args, path)
            runs[f"{lib} {n_jobs}"].append(out)
            print(
                f"  rep {rep + 1}/{args.reps} {lib} n_jobs={n_jobs}: search "
                f"{out['search']:.3f}s, process {out['process']:.3f}s "
                f"(load {_loadavg()})",
                file=sys.stderr,
                flush=True,
            )
    modules = sorted({r["module"] for reps in runs.values() for r in reps})
    print(f"- modules: {', '.join(modules)}\n")
    print(report(runs, args))
    print(f"\nload average at end (1/5/15 min): {_loadavg()}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"load_start": load_start, "runs": runs}, indent=1)
        )
    return None


if __name__ == "__main__":
    main()
