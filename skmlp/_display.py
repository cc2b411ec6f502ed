"""Plot the per-epoch training curves of a fitted network.

matplotlib is optional: it is imported only when something is drawn, never by
``import skmlp``.
"""

import numpy as np
from sklearn.base import is_classifier, is_regressor
from sklearn.model_selection._search import BaseSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils.validation import check_is_fitted

# the curves a display can draw, in drawing order, with the data attribute of
# each and its default legend entry and line style
_CURVES = {
    "loss": ("loss_curve", "training loss", "-"),
    "validation_loss": ("validation_loss_curve", "validation loss", "--"),
    "validation_score": ("validation_scores", "validation {score_name}", "-."),
}
_LOSSES = ("loss", "validation_loss")


class LossCurveDisplay:
    """Training loss, validation loss and validation score per epoch.

    The curves a stochastic solver records while it trains a
    :class:`~skmlp.BackpropClassifier` or :class:`~skmlp.BackpropRegressor`:
    the training loss (``loss_curve_``, with the penalty), and with early
    stopping or a validation set passed as ``X_val, y_val`` the validation loss
    (``validation_loss_curve_``, without the penalty) and the validation score
    (``validation_scores_``: accuracy for classifiers, ``R^2`` for regressors).
    The losses share the left y axis; the score gets a second y axis on the
    right (:attr:`ax_score_`) because it is on another scale.

    It is recommended to create a display with :meth:`from_estimator`. All
    parameters are stored as attributes.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        Training loss after each epoch; entry ``i`` is drawn at epoch ``i + 1``.
    validation_loss_curve : array-like of shape (n_epochs,), default=None
        Validation loss after each epoch, or None if it was not recorded. NaN
        entries (epochs of an earlier warm-started fit without validation data)
        are left as gaps.
    validation_scores : array-like of shape (n_epochs,), default=None
        Validation score after each epoch, or None if it was not recorded; NaN
        entries are left as gaps.
    estimator_name : str, default=None
        Name of the estimator, prefixed to the legend entries
        (``"<estimator_name>: training loss"``). None leaves them unprefixed.
    score_name : str, default=None
        Name of the validation score, used in its legend entry and axis label
        (``"validation <score_name>"``). None means ``"score"``.

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
        The drawn curves, under the keys ``"loss"``, ``"validation_loss"`` and
        ``"validation_score"``; only the drawn ones are present.
    ax_ : matplotlib Axes
        Axes with the losses (and the x axis of epochs).
    ax_score_ : matplotlib Axes or None
        Axes with the validation score: by default a twin of ``ax_``
        (``ax_.twinx()``, score axis on the right), or ``ax_`` itself when no
        loss is drawn, or the ``ax_score`` passed to :meth:`plot`. None when no
        validation score is drawn.
    figure_ : matplotlib Figure
        Figure containing ``ax_``.

    See Also
    --------
    sklearn.model_selection.LearningCurveDisplay : Scores against the number of
        training samples.
    sklearn.model_selection.ValidationCurveDisplay : Scores against a
        hyper-parameter.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_iris
    >>> from skmlp import BackpropClassifier, LossCurveDisplay
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = BackpropClassifier(
    ...     learning_rate_init=0.01, early_stopping=True, random_state=0
    ... ).fit(X, y)
    >>> display = LossCurveDisplay(
    ...     loss_curve=clf.loss_curve_,
    ...     validation_loss_curve=clf.validation_loss_curve_,
    ...     validation_scores=clf.validation_scores_,
    ...     score_name="accuracy",
    ... )
    >>> display.plot()
    <...>
    >>> plt.show()
    """

    def __init__(
        self,
        *,
        loss_curve,
        validation_loss_curve=None,
        validation_scores=None,
        estimator_name=None,
        score_name=None,
    ):
        self.loss_curve = loss_curve
        self.validation_loss_curve = validation_loss_curve
        self.validation_scores = validation_scores
        self.estimator_name = estimator_name
        self.score_name = score_name

    def plot(
        self,
        ax=None,
        *,
        ax_score=None,
        name=None,
        score_name=None,
        curves=None,
        loss_kw=None,
        validation_loss_kw=None,
        validation_score_kw=None,
    ):
        """Plot the curves.

        The lines of one display share a colour (the next one of ``ax``'s
        cycle, unless a ``*_kw`` sets it) and differ in line style: solid for
        the training loss, dashed for the validation loss, dash-dotted for the
        validation score (a curve drawn alone is solid). Displays of several
        models drawn on the same axes therefore get one colour each.

        The x axis is labelled ``"epoch"``, the losses' y axis ``"loss"`` and
        the score's ``"validation <score_name>"``. The legend goes on ``ax``,
        with the lines of a twin score axis in it, at the centre right (where
        falling losses and rising scores tend to leave room); a separate
        ``ax_score`` gets a legend of its own.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on. None creates a new figure and axes.
        ax_score : matplotlib Axes, default=None
            Axes for the validation score. None draws it on a new twin of
            ``ax`` (``ax.twinx()``, drawn beneath ``ax``, whose background is
            made transparent, so that the losses and the legend stay on top),
            or on ``ax`` itself when no loss is drawn. To draw several models'
            scores on one twin, pass the first display's :attr:`ax_score_` to
            the others; any other axes, such as a second subplot, works too.
        name : str, default=None
            Prefix of the legend entries; None uses :attr:`estimator_name`.
        score_name : str, default=None
            Name of the validation score; None uses :attr:`score_name`, or
            ``"score"`` if that is None too.
        curves : str or list of str, default=None
            Which of ``"loss"``, ``"validation_loss"`` and
            ``"validation_score"`` to draw. None draws every recorded one (not
            None); naming one that was not recorded is an error.
        loss_kw, validation_loss_kw, validation_score_kw : dict, default=None
            Keyword arguments of :meth:`matplotlib.axes.Axes.plot` for each
            curve, overriding the defaults (``label``, ``linestyle``,
            ``color``). ``label="_nolegend_"`` leaves a curve out of the legend.

        Returns
        -------
        display : LossCurveDisplay
            The display, with ``lines_``, ``ax_``, ``ax_score_`` and
            ``figure_`` set.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        curves = self._check_curves(curves)
        name = self.estimator_name if name is None else name
        if score_name is None:
            score_name = "score" if self.score_name is None else self.score_name
        if ax is None:
            _, ax = plt.subplots()
        user_kw = {
            "loss": loss_kw,
            "validation_loss": validation_loss_kw,
            "validation_score": validation_score_kw,
        }
        draws_loss = any(key in curves for key in _LOSSES)

        lines, color = {}, None
        for key in _CURVES:
            if key not in curves:
                continue
            attribute, label, linestyle = _CURVES[key]
            if key == "validation_score":
                if ax_score is None and draws_loss:
                    ax_score = ax.twinx()
                    # the losses and the legend above the twin's score line
                    ax.set_zorder(ax_score.get_zorder() + 1)
                    ax.patch.set_visible(False)
                elif ax_score is None:
                    ax_score = ax
                target = ax_score
            else:
                target = ax
            label = label.format(score_name=score_name)
            kw = {
                "label": label if name is None else f"{name}: {label}",
                "linestyle": linestyle if len(curves) > 1 else "-",
            }
            if color is not None:
                kw["color"] = color
            kw.update(user_kw[key] or {})
            y = np.asarray(getattr(self, attribute), dtype=float)
            (lines[key],) = target.plot(np.arange(1, y.size + 1), y, **kw)
            if color is None:
                color = lines[key].get_color()

        if "validation_score" not in curves:
            ax_score = None
        ax.set_xlabel("epoch")
        if draws_loss:
            ax.set_ylabel("loss")
        if ax_score is not None:
            ax_score.set_ylabel(f"validation {score_name}")
            if ax_score is not ax and not _is_twin(ax, ax_score):
                ax_score.set_xlabel("epoch")
        for axes in {ax, ax_score} - {None}:
            # matplotlib's default ticks, without fractional epochs
            axes.xaxis.set_major_locator(
                MaxNLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10], integer=True)
            )
        _legend(ax, ax_score)

        self.lines_ = lines
        self.ax_ = ax
        self.ax_score_ = ax_score
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        ax=None,
        ax_score=None,
        name=None,
        score_name=None,
        curves=None,
        loss_kw=None,
        validation_loss_kw=None,
        validation_score_kw=None,
    ):
        """Plot the curves recorded by a fitted estimator.

        Parameters
        ----------
        estimator : estimator instance
            A fitted :class:`~skmlp.BackpropClassifier` or
            :class:`~skmlp.BackpropRegressor` trained by a stochastic solver (or
            any fitted estimator with a ``loss_curve_``, such as scikit-learn's
            ``MLPClassifier``). A :class:`~sklearn.pipeline.Pipeline` is
            replaced by its final step, and a fitted search such as
            :class:`~sklearn.model_selection.GridSearchCV` by its
            ``best_estimator_``.
        ax : matplotlib Axes, default=None
            Axes to draw on. None creates a new figure and axes.
        ax_score : matplotlib Axes, default=None
            Axes for the validation score; see :meth:`plot`.
        name : str, default=None
            Prefix of the legend entries, to tell several models drawn on the
            same axes apart. None leaves them unprefixed.
        score_name : str, default=None
            Name of the validation score; None means what the estimator's
            ``score`` computes: ``"accuracy"`` for a classifier, ``"R^2"`` for
            a regressor (``"score"`` otherwise).
        curves : str or list of str, default=None
            Which curves to draw; see :meth:`plot`.
        loss_kw, validation_loss_kw, validation_score_kw : dict, default=None
            Keyword arguments of :meth:`matplotlib.axes.Axes.plot` for each
            curve; see :meth:`plot`.

        Returns
        -------
        display : LossCurveDisplay
            The display, with the estimator's curves drawn.

        Raises
        ------
        NotFittedError
            If the estimator is not fitted.
        ValueError
            If it recorded no loss curve (``solver='lbfgs'``), or a search was
            fitted with ``refit=False``.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> from sklearn.datasets import load_iris
        >>> from skmlp import BackpropClassifier, LossCurveDisplay
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = BackpropClassifier(
        ...     learning_rate_init=0.01, early_stopping=True, random_state=0
        ... ).fit(X, y)
        >>> display = LossCurveDisplay.from_estimator(clf)
        >>> sorted(display.lines_)
        ['loss', 'validation_loss', 'validation_score']
        >>> display.ax_score_.get_ylabel()
        'validation accuracy'
        >>> plt.show()
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        model = _final_estimator(estimator)
        check_is_fitted(model)
        model_name = type(model).__name__
        # an L-BFGS fit records no loss_curve_, and leaves one of an earlier
        # stochastic fit in place: that one would be stale
        is_mlp = hasattr(model, "n_layers_")
        if is_mlp and getattr(model, "solver", None) == "lbfgs":
            raise ValueError(
                f"{model_name} was fitted with solver='lbfgs', which records no "
                "per-epoch loss curve (loss_curve_). Fit with a stochastic solver "
                "(such as 'adam' or 'sgd') to plot one."
            )
        if getattr(model, "loss_curve_", None) is None:
            raise ValueError(
                f"{model_name} has no loss_curve_ to plot: only estimators trained "
                "epoch by epoch by a stochastic solver record one."
            )
        if score_name is None:
            score_name = (
                "accuracy"
                if is_classifier(model)
                else "R^2"
                if is_regressor(model)
                else "score"
            )
        display = cls(
            loss_curve=list(model.loss_curve_),
            validation_loss_curve=_copy(getattr(model, "validation_loss_curve_", None)),
            validation_scores=_copy(getattr(model, "validation_scores_", None)),
            estimator_name=name,
            score_name=score_name,
        )
        return display.plot(
            ax=ax,
            ax_score=ax_score,
            curves=curves,
            loss_kw=loss_kw,
            validation_loss_kw=validation_loss_kw,
            validation_score_kw=validation_score_kw,
        )

    def _check_curves(self, curves) -> list:
        """The curves to draw, validated against the recorded ones."""
        recorded = [
            key for key in _CURVES if getattr(self, _CURVES[key][0]) is not None
        ]
        if curves is None:
            if not recorded:
                raise ValueError("No curve to plot: loss_curve is None.")
            return recorded
        curves = [curves] if isinstance(curves, str) else list(dict.fromkeys(curves))
        unknown = [key for key in curves if key not in _CURVES]
        if unknown or not curves:
            raise ValueError(
                f"curves must name one or more of {list(_CURVES)}, got {curves!r}."
            )
        missing = [key for key in curves if key not in recorded]
        if missing:
            raise ValueError(
                f"Cannot plot {missing}: not recorded (None). The validation "
                "curves are recorded by fitting with early_stopping=True or with "
                "X_val and y_val."
            )
        return curves


def _copy(curve):
    return None if curve is None else list(curve)


def _final_estimator(estimator):
    """The estimator inside pipelines (final step) and searches (best one)."""
    while True:
        if isinstance(estimator, Pipeline):
            estimator = estimator[-1]
        elif isinstance(estimator, BaseSearchCV):
            check_is_fitted(estimator)
            if not hasattr(estimator, "best_estimator_"):
                raise ValueError(
                    f"{type(estimator).__name__} was fitted with refit=False, so "
                    "it has no best_estimator_ whose curves could be plotted."
                )
            estimator = estimator.best_estimator_
        else:
            return estimator


def _is_twin(ax, other) -> bool:
    """Whether ``other`` overlays ``ax`` (as ``ax.twinx()`` does)."""
    return other.get_position().bounds == ax.get_position().bounds


def _legend(ax, ax_score) -> None:
    """One legend on ``ax`` (with a twin's lines), a separate one elsewhere."""
    handles, labels = ax.get_legend_handles_labels()
    loc = "best"
    if ax_score is not None and ax_score is not ax:
        more = ax_score.get_legend_handles_labels()
        if _is_twin(ax, ax_score):
            handles, labels = handles + more[0], labels + more[1]
            # "best" would only avoid the lines of ax; losses tend to end low
            # and scores high, which leaves the middle of the right side free
            loc = "center right"
        elif more[0]:
            ax_score.legend(*more)
    if handles:
        ax.legend(handles, labels, loc=loc)
