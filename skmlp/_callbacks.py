"""scikit-learn's fit callbacks (``set_callbacks``) for skmlp's estimators.

scikit-learn 1.9 added :mod:`sklearn.callback`; on older versions there is
nothing to mix in (:class:`CallbackSupport` is an empty class) and
:func:`open_run` always returns None, so a fit makes no callback calls.

One *run* per ``fit`` / ``partial_fit`` call (a warm-started fit is a run of
its own) is a task tree of two levels::

    fit (or partial_fit)         root: max_subtasks = max_iter, 1 for partial_fit,
    ├── epoch #0                 max_iter + 1 for L-BFGS (SciPy's callback opens
    ├── epoch #1                 the next iteration before it knows it is the last)
    └── ...                      leaves: one pass over the training rows, or one
                                 L-BFGS iteration ("lbfgs-iter")

Mini-batches are not tasks (scikit-learn's convention for incremental
estimators; as tasks, a ProgressBar would draw a bar per epoch).

The root's hooks get the data the fit was given (``X`` validated, ``y`` in the
user's labels) and ``metadata={"sample_weight": ...}`` when weights were
given (None otherwise, as ``LogisticRegression`` does); the leaves get the rows
the loop trains on (with ``early_stopping``, the training part of the split),
and a lazily built model of the state at that point: the fitted attributes of
:meth:`BaseBackprop._fitted_attributes <skmlp._base.BaseBackprop._fitted_attributes>`,
copied, set on a shallow copy of the estimator. The root ends with ``{}``: the
published model.
"""

import numpy as np
from sklearn.utils import check_array

from skmlp._optimizers import is_stochastic

try:
    from sklearn.callback import CallbackSupportMixin as CallbackSupport

    AVAILABLE = True
except ImportError:  # scikit-learn < 1.9
    AVAILABLE = False

    class CallbackSupport:
        """Without :mod:`sklearn.callback` (scikit-learn < 1.9): nothing."""


def open_run(estimator, *, incremental: bool):
    """Open the root task of one ``fit`` / ``partial_fit`` call.

    Calls the callbacks' ``setup`` (through scikit-learn's
    ``_init_callback_context``). Call it before anything the estimator may
    have to undo: ``_fit_context`` tears the callbacks down only while the
    root context is on the estimator.

    Returns
    -------
    run : FitRun or None
        None when no callback is set (or scikit-learn has no callbacks): the
        fit then makes no callback call at all.
    """
    if not AVAILABLE or not getattr(estimator, "_skl_callbacks", None):
        return None
    if incremental:
        task_name, max_subtasks = "partial_fit", 1
    elif is_stochastic(estimator.solver):
        task_name, max_subtasks = "fit", estimator.max_iter
    else:
        task_name, max_subtasks = "fit", estimator.max_iter + 1
    ctx = estimator._init_callback_context(
        task_name=task_name, max_subtasks=max_subtasks
    )
    return FitRun(estimator, ctx)


class _Data:
    """``X``, ``y`` (the user's labels) and ``metadata`` of a task's hooks.

    ``y`` and ``metadata`` are made on first use (hooks that take neither,
    such as ``ProgressBar``'s, cost nothing) and then kept.
    """

    def __init__(self, X, y, sample_weight, rows=None):
        self.X = X
        self._given = y, sample_weight
        self._rows = rows
        self._y = self._metadata = None

    def y(self):
        if self._y is None:
            y = check_array(
                self._given[0],
                accept_sparse="csr",
                ensure_2d=False,
                dtype=None,
                ensure_all_finite=False,
                input_name="y",
            )
            if y.ndim == 2 and y.shape[1] == 1:
                y = y.ravel()
            self._y = y if self._rows is None else y[self._rows]
        return self._y

    def metadata(self):
        sample_weight = self._given[1]
        if sample_weight is None:
            return None
        if self._metadata is None:
            sample_weight = np.asarray(sample_weight)
            if self._rows is not None:
                sample_weight = sample_weight[self._rows]
            self._metadata = {"sample_weight": sample_weight}
        return self._metadata

    def subset(self, X, rows):
        """The data of the rows ``rows`` (``X`` is already those rows)."""
        return _Data(X, *self._given, rows=rows)

    def kwargs(self):
        return {"X": self.X, "y": self.y, "metadata": self.metadata}


class FitRun:
    """The root task of one fit call, and the source of its iteration tasks."""

    def __init__(self, estimator, ctx):
        self.estimator, self.ctx = estimator, ctx
        self.data = None

    def begin(self, X, y, sample_weight) -> None:
        """Begin the root task: ``X`` validated, ``y`` and the weights as given."""
        self.data = _Data(X, y, sample_weight)
        self.ctx.call_on_fit_task_begin(estimator=self.estimator, **self.data.kwargs())

    def iterations(self, network, X, rows=None) -> "IterationTasks":
        """The hooks of a training loop (:mod:`skmlp._training`) on ``X``.

        ``rows``: the indices of ``X``'s rows among those the fit was given
        (early stopping's training part), or None for all of them.
        """
        data = self.data if rows is None else self.data.subset(X, rows)
        return IterationTasks(self, network, data)

    def end(self) -> None:
        """End the root task with the published model."""
        self.ctx.call_on_fit_task_end(
            estimator=self.estimator,
            reconstruction_attributes={},
            **self.data.kwargs(),
        )


class IterationTasks:
    """One leaf task per epoch or L-BFGS iteration: the loops' ``hooks``."""

    def __init__(self, run: FitRun, network, data: _Data):
        self.run, self.network, self.data = run, network, data
        self.name = "epoch" if is_stochastic(run.estimator.solver) else "lbfgs-iter"
        self.ctx = None  # the open task

    def _model(self, state):
        """The fitted attributes of a model trained to ``state`` (lazily)."""
        return lambda: self.run.estimator._fitted_attributes(state, self.network)

    def iteration_begin(self, state) -> None:
        self.ctx = self.run.ctx.subcontext(task_name=self.name)
        self.ctx.call_on_fit_task_begin(
            estimator=self.run.estimator,
            reconstruction_attributes=self._model(state),
            **self.data.kwargs(),
        )

    def iteration_end(self, state) -> bool:
        """End the open task with the model of ``state``; True asks to stop."""
        ctx, self.ctx = self.ctx, None
        return ctx.call_on_fit_task_end(
            estimator=self.run.estimator,
            reconstruction_attributes=self._model(state),
            **self.data.kwargs(),
        )

    def iteration_abandoned(self) -> None:
        """End the open task, if any, without data or model (nothing to show)."""
        if self.ctx is not None:
            ctx, self.ctx = self.ctx, None
            ctx.call_on_fit_task_end(estimator=self.run.estimator)
