"""Saving fitted models: a predict-only copy without the training state.

A fitted estimator keeps, next to its weights, everything ``warm_start`` and
``partial_fit`` continue from (``_fit_state``: the flat parameter vector, the
optimizer's moment vectors, the random state and the counters), and pickle and
skops store all of it (see :meth:`BaseBackprop.__getstate__
<skmlp._base.BaseBackprop.__getstate__>`). :func:`lean_copy` drops it for a
model that is only meant to predict.
"""

import copy

from sklearn.base import BaseEstimator

from skmlp._base import BaseBackprop


def lean_copy(estimator):
    """A predict-only copy of a fitted model, without its training state.

    skmlp's estimators keep what ``warm_start`` and ``partial_fit`` resume
    from: the parameters as one flat vector (a second copy of ``coefs_`` and
    ``intercepts_``), the optimizer's state (Adam's two moment vectors, the
    momentum velocity, ...), the random state and the step counters. The
    copy returned here has every fitted attribute of the original and makes
    the same predictions, but not that state, so it saves to a file about a
    quarter of the size (for Adam) and cannot be trained further.

    Parameters
    ----------
    estimator : estimator
        A :class:`~skmlp.BackpropClassifier` or :class:`~skmlp.BackpropRegressor`,
        or any scikit-learn object holding them, such as a
        :class:`~sklearn.pipeline.Pipeline`, a
        :class:`~sklearn.compose.ColumnTransformer` or a fitted search's
        ``best_estimator_``. Every skmlp estimator found in its attributes
        (and in the lists, tuples and dicts among them) is made lean.

    Returns
    -------
    lean : estimator
        A deep copy of ``estimator``; ``estimator`` itself is unchanged.

    See Also
    --------
    skops.io.dump : Save the copy without pickle's arbitrary code execution.

    Notes
    -----
    ``fit`` with ``warm_start=False`` trains a lean copy from scratch as usual.
    ``fit`` with ``warm_start=True`` and ``partial_fit`` raise a
    ``ValueError``: continuing from the weights with a fresh optimizer state
    would silently follow another trajectory than the full model would.

    Examples
    --------
    >>> import pickle
    >>> from sklearn.datasets import load_iris
    >>> from skmlp import BackpropClassifier, lean_copy
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = BackpropClassifier(max_iter=20, random_state=0).fit(X, y)
    >>> lean = lean_copy(clf)
    >>> bool((lean.predict_proba(X) == clf.predict_proba(X)).all())
    True
    >>> len(pickle.dumps(lean)) < len(pickle.dumps(clf)) / 2
    True
    """
    lean = copy.deepcopy(estimator)
    _drop_fit_states(lean, set())
    return lean


def _drop_fit_states(obj, seen: set) -> None:
    """Drop the training state of every skmlp estimator reachable from ``obj``."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, BaseBackprop) and hasattr(obj, "_fit_state"):
        obj._fit_state = None
    if isinstance(obj, dict):
        children = obj.values()
    elif isinstance(obj, list | tuple):
        children = obj
    elif isinstance(obj, BaseEstimator):
        children = vars(obj).values()
    else:
        return
    for child in children:
        _drop_fit_states(child, seen)
