"""
===================================================
Checking backpropagation against finite differences
===================================================

Backpropagation is the chain rule applied layer by layer; a single wrong
derivative anywhere gives gradients that are wrong, yet training often still
"works", only worse. :func:`skmlp.check_gradients` compares the gradient that
an estimator's backward pass computes with central finite differences,

.. math::

    \\frac{\\partial f}{\\partial w_j} \\approx
    \\frac{f(w + \\varepsilon e_j) - f(w - \\varepsilon e_j)}{2 \\varepsilon},

of exactly the objective that ``fit`` minimises: the data loss plus the L2
(``alpha``) and L1 (``alpha_l1``) penalties, with sample and class weights.

We check a small network with a different activation in each hidden layer, and
then break the derivative of ``tanh`` on purpose to see what a bug looks like.
"""

# %%
# A small network on the wine data
# --------------------------------
# 178 wines, 13 features, 3 classes (softmax output). Two hidden layers of 8
# ``tanh`` and 5 ``gelu`` units, an L2 and an L1 penalty. The check runs at the
# initial weights of an unfitted estimator (the ones ``fit`` would start from),
# in float64 and with dropout off. Up to ``max_entries`` entries of each weight
# matrix and bias vector are checked. An entry passes when
# ``|g - g_fd| <= atol + rtol (|g| + |g_fd|)``.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler

import skmlp._activations
from skmlp import BackpropClassifier, check_gradients

X, y = load_wine(return_X_y=True)
X = StandardScaler().fit_transform(X)


def max_abs_error(rep):
    """Largest ``|g - g_fd|`` over all the parameter arrays of a report."""
    return max(a.max_abs_error for a in rep.arrays)


clf = BackpropClassifier(
    hidden_layer_sizes=(8, 5),
    activation=["tanh", "gelu"],
    alpha=0.1,
    alpha_l1=0.01,
    random_state=0,
)
report = check_gradients(clf, X, y)
print(report)
assert report.ok

# %%
# The checker works on fitted estimators too, at their current weights:
fitted = clone(clf).set_params(solver="lbfgs", max_iter=200).fit(X, y)
fitted_report = check_gradients(fitted, X, y)
print(
    f"after fit: max abs error {max_abs_error(fitted_report):.1e}, worst relative "
    f"error {fitted_report.max_rel_error:.1e}: "
    + ("OK" if fitted_report.ok else "MISMATCH")
)

# %%
# A broken derivative
# -------------------
# The derivative of ``tanh`` is ``1 - tanh(z)**2 = 1 - a**2``. A classic slip
# is to write ``1 - a`` instead. We swap ``skmlp._activations.Tanh.backward``
# for that wrong version -- only inside ``try``/``finally``, so that the
# correct one is put back whatever happens -- and run the same check.
#
# Only the weights and biases feeding into the tanh layer (``coefs_[0]`` and
# ``intercepts_[0]``) are affected: their gradient flows back through the tanh
# derivative, while the gradients of the GELU and output layers never use it.
Tanh = skmlp._activations.Tanh
correct_backward = Tanh.backward


def wrong_backward(self, a, delta):
    delta *= 1 - a  # should be 1 - a * a
    return delta


Tanh.backward = wrong_backward
try:
    broken_report = check_gradients(clf, X, y)
finally:
    Tanh.backward = correct_backward

print(broken_report)
assert not broken_report.ok
assert Tanh.backward is correct_backward
assert check_gradients(clf, X, y).ok  # the correct derivative is back

# %%
# Errors per parameter array
# --------------------------
# Correct gradients agree with the finite differences to a few ``1e-10`` in
# absolute terms, which is the finite differences' own rounding error (about
# ``1e-16 * loss / eps``). The *relative* error of an entry whose gradient is
# itself nearly zero can be larger (``1e-5`` above, for a gradient entry of
# about ``1e-5``); that is why the check has an absolute tolerance ``atol`` as
# well. The broken derivative gives errors of order 0.1 in absolute terms and
# of order 1 in relative terms in the first layer, and nothing elsewhere.
names = [a.name for a in report.arrays]
x = np.arange(len(names))
floor = 1e-17  # errors that are exactly 0 cannot be shown on a log scale
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, attr, title in zip(
    axes,
    ["max_abs_error", "max_rel_error"],
    ["max absolute error", "max relative error"],
    strict=True,
):
    for shift, rep, label in [
        (-0.2, report, "correct tanh derivative"),
        (0.2, broken_report, "broken tanh derivative"),
    ]:
        errors = [max(getattr(a, attr), floor) for a in rep.arrays]
        ax.bar(x + shift, errors, width=0.4, label=label)
    ax.set_yscale("log")
    ax.set_xticks(x, names, rotation=30)
    ax.set_title(title)
axes[0].axhline(report.atol, color="k", ls="--", lw=1, label=f"atol = {report.atol:g}")
axes[1].axhline(report.rtol, color="k", ls=":", lw=1, label=f"rtol = {report.rtol:g}")
handles, labels = axes[0].get_legend_handles_labels()
rtol_line = axes[1].get_lines()[0]
fig.legend(
    [*handles, rtol_line], [*labels, rtol_line.get_label()], loc="lower center", ncol=4
)
fig.suptitle("Backprop vs central finite differences, wine, (8 tanh, 5 gelu)")
fig.tight_layout(rect=(0, 0.08, 1, 1))
plt.show()


# %%
# Final result
# ------------
print(
    f"correct backprop: max abs error {max_abs_error(report):.1e} (OK); "
    f"broken tanh derivative: {max_abs_error(broken_report):.1e} (MISMATCH)"
)
