"""Losses that own their output link.

A loss sees the network's *raw* output ``z`` (before any output activation),
applies its own inverse link (identity, exp, sigmoid or softmax) and returns the
gradient with respect to ``z``. Canonical pairs simplify inside the loss
(``dL/dz = link(z) - y``); nothing outside relies on that shortcut.

:meth:`Loss.loss_and_gradient` returns the *weighted sum* of per-sample losses
and writes the weighted per-sample gradients; dividing by the total weight is
the caller's job, done once (see :mod:`skmlp._network`).
"""

import functools

import numpy as np
from scipy.special import expit, xlogy

from skmlp._registry import Registry


def _row_weighted_sum(per_sample: np.ndarray, sample_weight) -> float:
    """Sum ``per_sample`` (n, k) over everything, rows weighted by ``sample_weight``."""
    if sample_weight is None:
        return float(per_sample.sum())
    return float(sample_weight @ per_sample.sum(axis=1))


def _apply_weight(grad: np.ndarray, sample_weight, scale=1.0) -> np.ndarray:
    """``grad *= scale * sample_weight[:, None]``, one pass over ``grad``."""
    if sample_weight is not None:
        grad *= (sample_weight * scale)[:, None]
    elif scale != 1.0:
        grad *= scale
    return grad


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Return ``log(softmax(z))`` row-wise, computed without overflow."""
    shifted = z - z.max(axis=1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted


def softmax(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Return ``softmax(z)`` row-wise, computed without overflow.

    Shifted as :func:`_shifted_exp` shifts (one shift for all rows when that is
    safe), which spares the slow per-row maximum over short rows. ``out`` may
    be ``z`` itself.
    """
    e = np.empty_like(z) if out is None else out
    if z.size:
        _, norm = _shifted_exp(z, e)
        e /= norm[:, None]
    return e


def log_expit(z: np.ndarray) -> np.ndarray:
    """Return ``log(sigmoid(z)) = -log(1 + exp(-z))`` without overflow."""
    return -np.logaddexp(0, -z)


class Loss:
    """Base class for losses.

    Attributes
    ----------
    name : str
        Name used by the estimators' ``loss`` parameter.
    link : str
        Name of the output activation the loss owns; the estimators report it
        as ``out_activation_``.
    """

    name = ""
    link = "identity"

    #: Constructor argument -> estimator parameter it is built from.
    hyperparameters: dict = {}

    def predict(self, z: np.ndarray) -> np.ndarray:
        """Map raw outputs to predictions (probabilities or means), in place."""
        return z

    def log_predict(self, z: np.ndarray) -> np.ndarray:
        """Logarithm of :meth:`predict`, computed in log space (a new array).

        Only the classification losses define it: their predictions are
        probabilities.
        """
        raise NotImplementedError(f"{type(self).__name__} predicts no probabilities.")

    def loss_and_gradient(self, z, y, sample_weight, grad, scale=1.0) -> float:
        """Return the weighted sum of losses and write ``scale * dL/dz`` into ``grad``.

        Parameters
        ----------
        z : ndarray of shape (n_samples, n_outputs)
            Raw network output. ``grad`` may be the same array.
        y : ndarray of shape (n_samples, n_outputs) or (n_samples,)
            Targets: one-hot or indicator rows for classification, or class
            indices for :class:`SoftmaxLogLoss`.
        sample_weight : ndarray of shape (n_samples,) or None
        grad : ndarray of shape (n_samples, n_outputs)
            Receives ``scale * sample_weight[i] * dL_i/dz_i``.
        scale : float, default=1.0
            Factor applied to the gradient (not to the returned value) in the
            same pass as the sample weights: the network passes one over the
            total weight, which saves it a pass over the output.
        """
        raise NotImplementedError


class SquaredError(Loss):
    """Half squared error, summed over outputs.

    Notes
    -----
    ``L = 1/2 sum_j (z_j - y_j)^2``, ``dL/dz = z - y``. scikit-learn reports the
    mean over outputs while stepping along the gradient of the sum (its issue
    #8349); here the reported loss is the sum, so the two always agree and
    single-output values are identical to scikit-learn's.
    """

    name = "squared_error"
    link = "identity"

    def loss_and_gradient(self, z, y, sample_weight, grad, scale=1.0):
        diff = np.subtract(z, y, out=grad)
        if sample_weight is None:
            value = 0.5 * float(np.vdot(diff, diff))
        else:
            value = 0.5 * float(sample_weight @ np.einsum("ij,ij->i", diff, diff))
        _apply_weight(diff, sample_weight, scale)
        return value


class Poisson(Loss):
    """Half Poisson deviance with a log link.

    Notes
    -----
    With ``mu = exp(z)``: ``L = sum_j y_j log(y_j / mu_j) - y_j + mu_j`` and
    ``dL/dz = mu - y``.
    """

    name = "poisson"
    link = "exp"

    def predict(self, z):
        with np.errstate(over="ignore"):
            return np.exp(z, out=z)

    def loss_and_gradient(self, z, y, sample_weight, grad, scale=1.0):
        with np.errstate(over="ignore", invalid="ignore"):
            mu = np.exp(z)
            per = xlogy(y, y) - y * z - y + mu
            value = _row_weighted_sum(per, sample_weight)
        np.subtract(mu, y, out=grad)
        _apply_weight(grad, sample_weight, scale)
        return value


class SoftmaxLogLoss(Loss):
    """Multinomial cross-entropy with a softmax link.

    Parameters
    ----------
    one_hot : bool, default=False
        Promise that every target row is one-hot, which allows a faster value
        computation from the true class's log-probability alone. Targets given
        as class indices (a 1-D ``y``) are one-hot by nature.

    Notes
    -----
    ``p = softmax(z)``, ``L = -sum_k y_k log clip(p_k, eps, 1 - eps)``, computed
    from ``log_softmax(z)`` so that no probability is formed and then logged;
    ``dL/dz = p - y`` (rows of ``y`` sum to one).
    """

    name = "log_loss"
    link = "softmax"

    def __init__(self, one_hot: bool = False):
        self.one_hot = one_hot

    def predict(self, z):
        return softmax(z, out=z)

    def log_predict(self, z):
        return log_softmax(z)

    def loss_and_gradient(self, z, y, sample_weight, grad, scale=1.0):
        n, k = z.shape
        lo, hi = _LOG_CLIP[z.dtype.char]
        if y.ndim == 1:  # class indices
            # the true class's log-probability is all the value needs; read it
            # before grad (which may be z itself) is overwritten
            if z.flags.c_contiguous and grad.flags.c_contiguous:
                true_at = _row_offsets(n, k) + y  # flat index of z[i, y[i]]
                true_logit = z.reshape(-1).take(true_at)
            else:
                true_at = (np.arange(n), y)
                true_logit = z[true_at]
        elif self.one_hot:
            true_logit = np.einsum("ij,ij->i", z, y)
        shift, norm = _shifted_exp(z, grad)
        if y.ndim == 1 or self.one_hot:
            log_p = np.subtract(true_logit, shift, out=true_logit)
            log_p -= np.log(norm)
            # two ufuncs: np.clip's Python wrapper costs more than both (3.8
            # vs 2.1-2.6 us on 200 entries)
            np.maximum(log_p, lo, out=log_p)
            np.minimum(log_p, hi, out=log_p)
            value = -float(
                log_p.sum() if sample_weight is None else sample_weight @ log_p
            )
        else:
            log_p = np.log(grad)  # exp(z - shift) is never 0 for a row's maximum
            log_p -= np.log(norm)[:, None]
            np.clip(log_p, lo, hi, out=log_p)
            value = -_row_weighted_sum(log_p * y, sample_weight)
        # softmax probabilities minus targets, the canonical gradient, times
        # scale * sample weight: with class indices, one row factor does the
        # normalisation, the weights and the scale in a single pass
        if y.ndim == 2:
            grad /= norm[:, None]
            grad -= y
            _apply_weight(grad, sample_weight, scale)
            return value
        row_scale = scale if sample_weight is None else sample_weight * scale
        grad *= np.divide(row_scale, norm, out=norm)[:, None]
        if isinstance(true_at, tuple):
            grad[true_at] -= row_scale
        else:
            flat = grad.reshape(-1)
            flat[true_at] -= row_scale
        return value


@functools.lru_cache(maxsize=16)
def _row_offsets(n: int, k: int) -> np.ndarray:
    """Flat index of each row's first entry in a C-ordered ``(n, k)`` array."""
    offsets = np.arange(0, n * k, k)
    offsets.flags.writeable = False
    return offsets


@functools.lru_cache(maxsize=16)
def _ones(k: int, char: str) -> np.ndarray:
    ones = np.ones(k, dtype=char)
    ones.flags.writeable = False
    return ones


def _shifted_exp(z: np.ndarray, out: np.ndarray):
    """Write ``exp(z - shift)`` into ``out``; return ``shift`` and the row sums.

    The shift that keeps softmax from overflowing is usually each row's
    maximum, a slow reduction over short rows. When the whole batch's logits
    span less than ``0.8 * -log(tiny)`` (566 in float64, 70 in float32), one
    shift for all, the batch maximum, is as safe: nothing overflows, and every
    row keeps a term above ``exp(-span)``, far from underflow. ``shift`` is
    then a scalar, else a column of row maxima.
    """
    hi = z.max()
    if hi < z.min() + _SAFE_SPAN[z.dtype.char]:  # a subtraction could overflow
        np.subtract(z, hi, out=out)
        shift = hi
    else:  # also where z holds inf or NaN: they propagate as before
        shift = z.max(axis=1)
        np.subtract(z, shift[:, None], out=out)
    np.exp(out, out=out)
    norm = np.dot(out, _ones(z.shape[1], out.dtype.char))
    return shift, norm


_SAFE_SPAN = {c: 0.8 * -float(np.log(np.finfo(c).tiny)) for c in np.typecodes["Float"]}
#: log(eps) and log(1 - eps): the log-probabilities of probabilities clipped
#: to [eps, 1 - eps] as scikit-learn clips them
_LOG_CLIP = {
    c: (np.log(np.finfo(c).eps), np.log1p(-np.finfo(c).eps))
    for c in np.typecodes["Float"]
}


class SigmoidLogLoss(Loss):
    """Binary cross-entropy per output with a sigmoid link (binary, multilabel).

    Notes
    -----
    ``p = sigmoid(z)``, ``L = -sum_j y_j log p_j + (1 - y_j) log(1 - p_j)`` with
    both probabilities clipped to ``[eps, 1 - eps]``, computed from
    ``log p = -log(1 + exp(-z))`` and ``log(1 - p) = log p - z``;
    ``dL/dz = p - y``.
    """

    name = "log_loss"
    link = "logistic"

    def predict(self, z):
        return expit(z, out=z)

    def log_predict(self, z):
        return log_expit(z)

    def loss_and_gradient(self, z, y, sample_weight, grad, scale=1.0):
        eps = np.finfo(z.dtype).eps
        lo, hi = np.log(eps), np.log1p(-eps)
        log_p = log_expit(z)
        log_1mp = log_p - z
        np.clip(log_p, lo, hi, out=log_p)
        np.clip(log_1mp, lo, hi, out=log_1mp)
        per = y * log_p
        per += (1 - y) * log_1mp
        value = -_row_weighted_sum(per, sample_weight)
        expit(z, out=grad)
        grad -= y
        _apply_weight(grad, sample_weight, scale)
        return value


class AbsoluteError(Loss):
    """Absolute error, summed over outputs.

    Notes
    -----
    ``L = sum_j |z_j - y_j|``; its (sub)gradient is ``sign(z - y)`` (0 at a tie).
    Not canonical: the gradient is not ``z - y``.
    """

    name = "absolute_error"

    def loss_and_gradient(self, z, y, sample_weight, grad, scale=1.0):
        diff = np.subtract(z, y, out=grad)
        value = _row_weighted_sum(np.abs(diff), sample_weight)
        np.sign(diff, out=diff)
        _apply_weight(diff, sample_weight, scale)
        return value


class Huber(Loss):
    """Huber loss with threshold ``delta``, summed over outputs.

    Parameters
    ----------
    delta : float, default=1.0
        Residual size where the loss turns from quadratic to linear.

    Notes
    -----
    With ``r = z - y``: ``L = r^2 / 2`` if ``|r| <= delta`` else
    ``delta (|r| - delta / 2)``; ``dL/dz = clip(r, -delta, delta)``.
    """

    name = "huber"
    hyperparameters = {"delta": "huber_delta"}

    def __init__(self, delta: float = 1.0):
        self.delta = delta

    def loss_and_gradient(self, z, y, sample_weight, grad, scale=1.0):
        r = np.subtract(z, y, out=grad)
        abs_r = np.abs(r)
        quad = abs_r <= self.delta
        per = np.where(quad, 0.5 * r * r, self.delta * (abs_r - 0.5 * self.delta))
        value = _row_weighted_sum(per, sample_weight)
        np.clip(r, -self.delta, self.delta, out=r)
        _apply_weight(r, sample_weight, scale)
        return value


class Quantile(Loss):
    """Pinball loss of quantile ``q``, summed over outputs.

    Parameters
    ----------
    quantile : float, default=0.5
        The quantile to estimate, in (0, 1); 0.5 is half the absolute error.

    Notes
    -----
    With ``r = y - z``: ``L = q r`` if ``r >= 0`` else ``(q - 1) r``;
    ``dL/dz = -q`` where ``y > z`` and ``1 - q`` where ``y < z``.
    """

    name = "quantile"
    hyperparameters = {"quantile": "quantile"}

    def __init__(self, quantile: float = 0.5):
        self.quantile = quantile

    def loss_and_gradient(self, z, y, sample_weight, grad, scale=1.0):
        q = self.quantile
        r = np.subtract(y, z, out=grad)
        per = np.where(r >= 0, q * r, (q - 1) * r)
        value = _row_weighted_sum(per, sample_weight)
        grad[...] = np.where(r > 0, -q, np.where(r < 0, 1 - q, 0.0))
        _apply_weight(grad, sample_weight, scale)
        return value


#: Regression losses by name (the regressor's ``loss`` parameter). The
#: classifier's log losses are chosen by the type of target, not by name.
REGRESSION_LOSSES = Registry("regression loss")
for _cls in (SquaredError, Poisson, AbsoluteError, Huber, Quantile):
    REGRESSION_LOSSES.register(_cls.name, _cls)


#: The classifier's losses by the output link they own (``out_activation_``).
CLASSIFICATION_LOSSES = Registry("classification loss")
for _cls in (SoftmaxLogLoss, SigmoidLogLoss):
    CLASSIFICATION_LOSSES.register(_cls.link, _cls)


def clip_probabilities(proba: np.ndarray) -> np.ndarray:
    """Clip ``proba`` in place to ``[tiny, 1 - epsneg]`` of its dtype.

    At most ``1.2e-16`` (float64) from the unclipped value, and never 0 or 1,
    so that its logarithm is finite.
    """
    info = np.finfo(proba.dtype)
    return np.clip(proba, info.tiny, 1 - info.epsneg, out=proba)


def clip_log_probabilities(log_proba: np.ndarray) -> np.ndarray:
    """Clip ``log_proba`` in place to the logs of :func:`clip_probabilities`' bounds.

    ``log(tiny)`` (about -708 in float64) and ``log(1 - epsneg)`` (about
    -1.1e-16): a log-probability computed in log space then agrees with the
    logarithm of the clipped probability at both ends.
    """
    info = np.finfo(log_proba.dtype)
    lo, hi = np.log(info.tiny), np.log1p(-info.epsneg)
    return np.clip(log_proba, lo, hi, out=log_proba)
