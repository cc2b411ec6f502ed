"""Hidden-layer size x learning rate study of BackpropClassifier on digits.

A grid search over the width of a single hidden layer and the initial learning
rate of :class:`skmlp.BackpropClassifier`, on scikit-learn's bundled 8x8
handwritten-digits data (:func:`sklearn.datasets.load_digits`, 1797 images, 10
classes; nothing is downloaded).

What it does
------------
1. Holds out a stratified 25 % test split.
2. Runs :class:`~sklearn.model_selection.GridSearchCV` on the remaining 75 %
   over ``Pipeline(StandardScaler, BackpropClassifier)`` with stratified,
   shuffled K-fold cross-validation, scored by accuracy.
3. Prints the cross-validation results (hidden size, learning rate, mean
   accuracy +/- standard deviation over the folds, mean fit time) and the best
   parameters.
4. Scores the best pipeline, refitted on the whole training part, on the
   held-out test split.
5. Writes a figure: on the left a heatmap of mean CV accuracy over hidden size
   x learning rate, on the right CV accuracy against hidden size, one line per
   learning rate.

Models train with a capped number of epochs (``max_iter``), so the slow
learning rates often stop at the cap; scikit-learn's ``ConvergenceWarning``
for that is silenced (the script says so) because that cap is part of the
study.

Usage
-----
::

    python examples/digits_study.py            # full grid, 5-fold CV
    python examples/digits_study.py --quick    # 2 x 2 grid, 3-fold CV, seconds

Options: ``--output PATH`` for the figure (default ``results/digits_study.png``;
with ``--quick``, ``results/digits_study_quick.png``, so that a quick run never
overwrites the full study's figure) and ``--n-jobs N`` for the search (default
``-1``, every core). The full study takes about 20 seconds on two cores
(13.5 s of grid search and refit, the rest is start-up); ``--quick`` about 10.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    train_test_split,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skmlp import BackpropClassifier

matplotlib.use("Agg")  # files only, no display needed

RANDOM_STATE = 0
DEFAULT_OUTPUT = Path("results") / "digits_study.png"
# --quick writes its own file, so a smoke test never overwrites the full study's
QUICK_OUTPUT = Path("results") / "digits_study_quick.png"

FULL = {
    "hidden_sizes": [16, 32, 64, 128],
    "learning_rates": [1e-3, 3e-3, 1e-2, 3e-2],
    "n_splits": 5,
    "max_iter": 200,
}
QUICK = {
    "hidden_sizes": [16, 32],
    "learning_rates": [1e-3, 1e-2],
    "n_splits": 3,
    "max_iter": 50,
}


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description="Grid search of BackpropClassifier on the digits data."
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2 x 2 grid, 3-fold CV, 50 epochs: a smoke test in seconds",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help=f"where to write the figure (default: {DEFAULT_OUTPUT}, "
        f"or {QUICK_OUTPUT} with --quick)",
    )
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=-1,
        help="parallel jobs of the grid search (default: -1, every core)",
    )
    args = parser.parse_args(argv)
    if args.output is None:
        args.output = QUICK_OUTPUT if args.quick else DEFAULT_OUTPUT
    return args


def make_search(config, n_jobs):
    """The grid search over hidden-layer size and initial learning rate."""
    pipeline = Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "mlp",
                BackpropClassifier(
                    solver="adam",
                    max_iter=config["max_iter"],
                    random_state=RANDOM_STATE,
                ),
            ),
        ]
    )
    grid = {
        "mlp__hidden_layer_sizes": [(h,) for h in config["hidden_sizes"]],
        "mlp__learning_rate_init": config["learning_rates"],
    }
    cv = StratifiedKFold(
        n_splits=config["n_splits"], shuffle=True, random_state=RANDOM_STATE
    )
    return GridSearchCV(
        pipeline, grid, cv=cv, scoring="accuracy", n_jobs=n_jobs, refit=True
    )


def results_table(cv_results):
    """One row per grid point, sorted by hidden size then learning rate."""
    params = cv_results["params"]
    table = pd.DataFrame(
        {
            "hidden": [p["mlp__hidden_layer_sizes"][0] for p in params],
            "lr": [p["mlp__learning_rate_init"] for p in params],
            "mean_acc": cv_results["mean_test_score"],
            "std_acc": cv_results["std_test_score"],
            "fit_time_s": cv_results["mean_fit_time"],
            "rank": cv_results["rank_test_score"],
        }
    )
    return table.sort_values(["hidden", "lr"], ignore_index=True)


def format_table(table):
    """The results table as text, accuracy written as mean +/- std."""
    shown = pd.DataFrame(
        {
            "hidden": table["hidden"],
            "lr": table["lr"].map(lambda v: f"{v:g}"),
            "CV accuracy": [
                f"{m:.4f} ± {s:.4f}"
                for m, s in zip(table["mean_acc"], table["std_acc"], strict=True)
            ],
            "fit time (s)": table["fit_time_s"].map(lambda v: f"{v:.2f}"),
            "rank": table["rank"],
        }
    )
    return shown.to_string(index=False)


def plot(table, path):
    """Heatmap of CV accuracy (left) and accuracy vs hidden size (right)."""
    means = table.pivot(index="hidden", columns="lr", values="mean_acc")
    stds = table.pivot(index="hidden", columns="lr", values="std_acc")
    hidden = means.index.to_numpy()
    lrs = means.columns.to_numpy()

    fig, (left, right) = plt.subplots(
        1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1, 1.15]}
    )

    image = left.imshow(means.to_numpy(), cmap="viridis", aspect="auto")
    left.set_xticks(range(len(lrs)), [f"{v:g}" for v in lrs])
    left.set_yticks(range(len(hidden)), [str(h) for h in hidden])
    left.set_xlabel("learning_rate_init")
    left.set_ylabel("hidden units")
    left.set_title("Mean CV accuracy (best boxed)")
    low, high = image.get_clim()
    for i, j in np.ndindex(means.shape):
        value = means.iloc[i, j]
        dark = value < low + 0.5 * (high - low)
        left.text(
            j,
            i,
            f"{value:.3f}",
            ha="center",
            va="center",
            color="white" if dark else "black",
            fontsize=9,
        )
    best_i, best_j = np.unravel_index(np.argmax(means.to_numpy()), means.shape)
    left.add_patch(
        plt.Rectangle(
            (best_j - 0.5, best_i - 0.5), 1, 1, fill=False, color="red", linewidth=2
        )
    )
    fig.colorbar(image, ax=left, label="accuracy")

    # nudge each line sideways a little so that the error bars do not overlap
    offsets = 2.0 ** (0.04 * (np.arange(len(lrs)) - (len(lrs) - 1) / 2))
    for lr, offset in zip(lrs, offsets, strict=True):
        right.errorbar(
            hidden * offset,
            means[lr],
            yerr=stds[lr],
            marker="o",
            capsize=3,
            label=f"{lr:g}",
        )
    right.set_xscale("log", base=2)
    right.set_xticks(hidden, [str(h) for h in hidden])
    right.minorticks_off()
    right.set_xlabel("hidden units (log scale)")
    right.set_ylabel("mean CV accuracy (± std over folds)")
    right.set_title("Accuracy vs hidden size")
    right.grid(alpha=0.3)
    right.legend(title="learning_rate_init", loc="lower right")

    fig.suptitle("BackpropClassifier on digits: hidden size x learning rate")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    """Run the study; return the process exit code."""
    args = parse_args(argv)
    config = QUICK if args.quick else FULL

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=RANDOM_STATE
    )
    n_points = len(config["hidden_sizes"]) * len(config["learning_rates"])
    print(
        f"digits: {X.shape[0]} images, {X.shape[1]} pixels, "
        f"{len(np.unique(y))} classes; train {len(y_train)}, test {len(y_test)}"
    )
    print(
        f"grid: {n_points} points x {config['n_splits']}-fold CV = "
        f"{n_points * config['n_splits']} fits (adam, max_iter="
        f"{config['max_iter']}){' [quick]' if args.quick else ''}"
    )
    print(
        "note: ConvergenceWarning ('Maximum iterations reached') is silenced; "
        "fits at small learning rates stop at the epoch cap by design.\n"
    )

    search = make_search(config, args.n_jobs)
    start = time.perf_counter()
    # The matrices here are small (batches of 200 x at most 128 units): a
    # multi-threaded BLAS spends more time synchronising than computing, and
    # competes with the parallel CV jobs for the cores. joblib already runs its
    # workers single-threaded; this does the same for this process.
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X_train, y_train)
        test_accuracy = search.score(X_test, y_test)
    elapsed = time.perf_counter() - start

    table = results_table(search.cv_results_)
    print("Cross-validation results (sorted by hidden size, learning rate):")
    print(format_table(table))

    best = search.best_params_
    best_mlp = search.best_estimator_.named_steps["mlp"]
    print(
        f"\nbest: hidden_layer_sizes={best['mlp__hidden_layer_sizes']}, "
        f"learning_rate_init={best['mlp__learning_rate_init']:g} "
        f"(CV accuracy {search.best_score_:.4f})"
    )
    capped = " (hit max_iter)" if best_mlp.n_iter_ >= config["max_iter"] else ""
    print(f"refit on the whole training part: {best_mlp.n_iter_} epochs{capped}")
    print(f"held-out test accuracy: {test_accuracy:.4f} ({len(y_test)} images)")

    plot(table, args.output)
    print(f"\nfigure written to {args.output}")
    print(f"total time: {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
