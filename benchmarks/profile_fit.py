"""Profile one fit of a benchmark workload with cProfile.

Usage::

    python benchmarks/profile_fit.py [workload ...] [--system skmlp|sklearn]
        [--dtype float64] [--solver adam] [--top 25] [--sort tottime] [--epochs N]

Prints, per workload, the fit's wall time and the top functions by ``--sort``
(``tottime``: time inside the function itself; ``cumulative``: with callees).
cProfile adds a fixed cost per Python call, so per-call overhead shows up
inflated, but the ranking tells where a fit's time goes. ``--epochs`` shortens
long workloads (the per-epoch profile does not change).
"""

import argparse
import cProfile
import io
import pstats
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import load_backend  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("workloads", nargs="*", default=["digits", "mnist"])
    p.add_argument("--system", default="skmlp", choices=["skmlp", "sklearn"])
    p.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    p.add_argument("--solver", default="adam", choices=["adam", "sgd"])
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--sort", default="tottime")
    p.add_argument("--epochs", type=int, default=0, help="override the epochs")
    p.add_argument("--yardstick")
    p.add_argument("--vendored", action="store_true")
    args = p.parse_args(argv)

    from sklearn.exceptions import ConvergenceWarning

    import skmlp

    backend, desc = load_backend(args.yardstick, args.vendored)
    print(f"workloads from {desc}; skmlp from {Path(skmlp.__file__).parent}")
    for name in args.workloads:
        n, d, hidden, k, batch, epochs = backend.WORKLOADS[name]
        epochs = args.epochs or epochs
        X, y = backend.make_data(n, d, k, np.dtype(args.dtype).type)
        est = backend._estimator(args.system, k, hidden, batch, epochs, args.solver)
        prof = cProfile.Profile()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0 = time.perf_counter()
            prof.enable()
            est.fit(X, y)
            prof.disable()
            wall = time.perf_counter() - t0
        steps = epochs * -(-n // batch)
        print(
            f"\n### {args.system} {name} {args.dtype} {args.solver}: {epochs} epochs, "
            f"{steps} mini-batch steps, {wall:.3f} s under cProfile "
            f"({wall / steps * 1e6:.0f} us/step)\n"
        )
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out)
        stats.sort_stats(args.sort).print_stats(args.top)
        text = out.getvalue()
        print(text[text.index("   ncalls") :] if "   ncalls" in text else text)


if __name__ == "__main__":
    main()
