"""The speed issue's targets, checked against one benchmark run.

``scorecard(results)`` turns the raw results that ``run.py`` collects (and
writes with ``--json``) into a markdown table with one line per (dtype,
solver, workload) and a verdict per target, followed by the counts:

- speed-up over scikit-learn of at least 2.5x on the small workloads (digits,
  tiny-reg) and 2x on the large ones (mnist, wide);
- faster than PyTorch on the CPU;
- within 2.0x of the GEMM-only bound on the small workloads, 1.5x on the
  large ones;
- fit peak memory (tracemalloc) no higher than scikit-learn's;
- ``predict_proba`` throughput at least scikit-learn's.

A workload the targets do not name, or a system that was not run, gets "–"
and is left out of the counts.

The last column, "time allowed", is the longest skmlp fit that would still meet
both speed targets (scikit-learn's time over the factor, and PyTorch's time),
in units of the GEMM-only bound: below 1.0x a target asks for a fit faster than
its matrix products alone, which no implementation on the same BLAS can reach.
Memory is compared at the 0.1 MiB shown.
"""

#: workload -> (minimum speed-up over scikit-learn, maximum time over the GEMM bound)
TARGETS = {
    "digits": (2.5, 2.0),
    "tiny-reg": (2.5, 2.0),
    "mnist": (2.0, 1.5),
    "wide": (2.0, 1.5),
}


def _verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _check(value, ok):
    """``(cell, outcome)`` for a ratio; outcome None when the value is missing."""
    if value is None:
        return "–", None
    return f"{value:.2f}x {_verdict(ok)}", ok


def _ratio(a, b):
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or b <= 0:
        return None
    return a / b


def scorecard(results: dict) -> str:
    """Markdown scorecard of ``results`` (``run.py``'s ``--json`` contents)."""
    header = (
        "| dtype | solver | workload | vs scikit-learn | vs PyTorch "
        "| skmlp / GEMM bound | peak MiB skmlp / sklearn | time allowed |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    lines = [header]
    counts = {key: [0, 0] for key in ("sklearn", "torch", "gemm", "memory")}

    def tally(key, outcome):
        if outcome is not None:
            counts[key][0] += bool(outcome)
            counts[key][1] += 1

    for fit in results.get("fits", []):
        name, med = fit["workload"], fit.get("median", {})
        min_speedup, max_gemm = TARGETS.get(name, (None, None))
        me = med.get("skmlp")
        cells = []
        speedup = _ratio(med.get("sklearn"), me)
        if min_speedup is None or speedup is None:
            cells.append(("–", None))
        else:
            cell, ok = _check(speedup, speedup >= min_speedup)
            cells.append((cell.replace(" ", f" (>= {min_speedup}x) ", 1), ok))
        torch = _ratio(med.get("torch"), me)
        cells.append(_check(torch, torch is not None and torch > 1.0))
        gemm = _ratio(me, med.get("gemm"))
        if max_gemm is None or gemm is None:
            cells.append(("–", None))
        else:
            cell, ok = _check(gemm, gemm <= max_gemm)
            cells.append((cell.replace(" ", f" (<= {max_gemm}x) ", 1), ok))
        mem = fit.get("memory_mib", {})
        mine = mem.get("skmlp", {}).get("traced_peak")
        theirs = mem.get("sklearn", {}).get("traced_peak")
        if mine is None or theirs is None:
            cells.append(("–", None))
        else:
            ok = round(mine, 1) <= round(theirs, 1)
            cells.append((f"{mine:.1f} / {theirs:.1f} {_verdict(ok)}", ok))
        for key, (_, outcome) in zip(counts, cells, strict=True):
            tally(key, outcome)
        allowed = [
            _ratio(med.get("sklearn"), min_speedup) if min_speedup else None,
            med.get("torch") if isinstance(med.get("torch"), (int, float)) else None,
        ]
        allowed = [a for a in allowed if a is not None]
        bound = _ratio(min(allowed), med.get("gemm")) if allowed else None
        row = [fit["dtype"], fit["solver"], name, *(c for c, _ in cells)]
        row.append("–" if bound is None else f"{bound:.2f}x")
        lines.append("| " + " | ".join(row) + " |")

    labels = {
        "sklearn": "faster than scikit-learn by the target factor",
        "torch": "faster than PyTorch",
        "gemm": "within the GEMM-bound factor",
        "memory": "peak memory <= scikit-learn's",
    }
    lines.append("")
    for key, (met, total) in counts.items():
        if total:
            lines.append(f"- {labels[key]}: {met} of {total}")
    for pred in results.get("predict", []):
        speedup = _ratio(pred["median"].get("sklearn"), pred["median"].get("skmlp"))
        if speedup is not None:
            lines.append(
                f"- predict_proba throughput, {pred['dtype']}: {speedup:.2f}x "
                f"scikit-learn's ({_verdict(speedup >= 1.0)})"
            )
    return "\n".join(lines)
