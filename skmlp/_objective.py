"""The objective a fit minimises: the network's data loss plus the penalty.

With ``S = sum_i s_i`` (``n_samples`` without weights) it is

``(sum_i s_i L_i + alpha/2 ||W||_2^2 + alpha_l1 ||W||_1) / S``,

the L2 part being scikit-learn's definition; ``W`` are the penalised
("decayed") entries of the flat vector, the weights. :class:`Penalty` owns the
penalty's value and gradient, :class:`Objective` the sum. L-BFGS minimises it,
:func:`skmlp.check_gradients` differentiates it and each mini-batch step
(:func:`skmlp._training.train_step`) follows its gradient.
"""

import numpy as np

from skmlp._blocked import add_scaled, block_len, block_scratch


class Penalty:
    """L2 and L1 penalties on the leading, decayed entries of the flat vector.

    Parameters
    ----------
    alpha : float, default=0.0
        L2 strength (scikit-learn scaling: ``alpha / 2 ||W||^2``).
    alpha_l1 : float, default=0.0
        L1 strength (``alpha_l1 ||W||_1``).
    n_decayed : int, default=0
        Number of leading entries it applies to (see
        :attr:`skmlp._network.Layout.n_decayed`).
    """

    def __init__(self, alpha: float = 0.0, alpha_l1: float = 0.0, n_decayed: int = 0):
        self.alpha, self.alpha_l1, self.n_decayed = alpha, alpha_l1, n_decayed
        self._scratch = None  # one block, for the L2 gradient

    def add(self, params, grad, weight: float, *, skip_l2: bool = False) -> float:
        """Add the penalty's gradient over ``weight`` to ``grad``; return its value.

        Parameters
        ----------
        params : ndarray of shape (n_params,)
        grad : ndarray of shape (n_params,)
            Receives ``(alpha w + alpha_l1 sign(w)) / weight`` on the decayed
            entries.
        weight : float
            ``S``, the total sample weight of the batch.
        skip_l2 : bool, default=False
            Leave the L2 part (value and gradient) to the optimizer step, which
            folds it in (see :meth:`fusable`).

        Returns
        -------
        value : float
            ``alpha/2 ||w||^2 + alpha_l1 ||w||_1`` (not divided by ``S``), without
            the L2 part when ``skip_l2``.
        """
        l2 = self.alpha and not skip_l2
        if not (l2 or self.alpha_l1):
            return 0.0
        value = 0.0
        n = self.n_decayed
        w = params[:n]
        if l2:
            value += 0.5 * self.alpha * float(np.dot(w, w))
            self._add_l2_gradient(grad[:n], w, self.alpha / weight)
        if self.alpha_l1:
            value += self.alpha_l1 * float(np.abs(w).sum())
            grad[:n] += (self.alpha_l1 / weight) * np.sign(w)
        return value

    def _add_l2_gradient(self, g_w, w, scale: float) -> None:
        """``g_w += scale * w``, block by block through a reused scratch block."""
        buf = self._scratch
        size = min(block_len(w.dtype), w.size)
        if buf is None or buf.dtype != w.dtype or buf.size < size:
            buf = self._scratch = block_scratch(w)
        add_scaled(g_w, w, scale, w.size, buf)

    def fusable(self, optimizer, clipping: bool) -> bool:
        """Whether ``optimizer.step`` can fold in the L2 gradient (and measure it).

        Not when the full gradient is needed before the step (gradient
        clipping) or is taken elsewhere than at the parameters (NAG).
        """
        return bool(self.alpha) and optimizer.fuses_l2 and not clipping

    def l2_scale(self, weight: float) -> float:
        """The factor of the L2 gradient, ``alpha / S``, for a fused step."""
        return self.alpha / weight if weight else 0.0

    def fused_value(self, weights_sq: float, weight: float) -> float:
        """The L2 part of the objective from the ``||w||^2`` a fused step measured."""
        return 0.5 * self.alpha * weights_sq / weight


class Objective:
    """The fit's objective: the network's weighted data loss plus the penalty.

    Parameters
    ----------
    network : Network
    penalty : Penalty
    """

    def __init__(self, network, penalty: Penalty):
        self.network, self.penalty = network, penalty

    def __call__(self, params, X, Y, sw, grad, *, rng=None, skip_l2=False):
        """Return ``(objective, S)`` and write the objective's gradient into ``grad``.

        ``rng`` supplies the dropout layers' masks; ``skip_l2`` leaves the L2
        part to the optimizer step (see :meth:`Penalty.add`). A batch whose
        weights are all zero gives ``(0.0, 0.0)`` and a zero gradient.
        """
        loss, weight = self.network.loss_and_grad(params, X, Y, sw, grad, rng=rng)
        if not weight:
            return 0.0, 0.0
        penalty = self.penalty.add(params, grad, weight, skip_l2=skip_l2)
        return (loss + penalty) / weight, weight

    def value(self, params, X, Y, sw, grad) -> float:
        """The objective alone (its gradient still goes to ``grad``)."""
        return self(params, X, Y, sw, grad)[0]
