"""What the installed scikit-learn's MLP can do, for the tests that use it as oracle.

skmlp supports scikit-learn 1.6 and newer (``pyproject.toml``) and follows the
newest MLP where scikit-learn's behaviour changed. Tests that compare with
scikit-learn use these flags to compare with what the installed version does, or
to skip, saying why, what that version cannot do. On the newest scikit-learn
every flag is true, so every such test runs in full there.
"""

import pytest
import sklearn
from sklearn.utils.fixes import parse_version

#: The installed scikit-learn, without any pre-release or dev suffix.
SKLEARN_VERSION = parse_version(parse_version(sklearn.__version__).base_version)

#: scikit-learn 1.7 added ``sample_weight`` to MLP's fit and partial_fit.
MLP_HAS_SAMPLE_WEIGHT = SKLEARN_VERSION >= parse_version("1.7")
#: scikit-learn 1.7 added MLPRegressor's ``loss`` ("squared_error", "poisson"),
#: as its first, positional, parameter.
MLP_REGRESSOR_HAS_LOSS = SKLEARN_VERSION >= parse_version("1.7")
#: scikit-learn 1.7 raises "The validation set is too small." for early stopping.
MLP_CHECKS_VALIDATION_SIZE = SKLEARN_VERSION >= parse_version("1.7")
#: scikit-learn 1.7's L-BFGS warning reads "lbfgs failed to converge after N
#: iteration(s) (status=...)"; before, "lbfgs failed to converge (status=...)".
LBFGS_WARNING_NAMES_ITERATIONS = SKLEARN_VERSION >= parse_version("1.7")
#: scikit-learn 1.6.0's MLPs do not tag sparse input (1.6.1 fixed the tag).
MLP_TAGS_SPARSE = SKLEARN_VERSION >= parse_version("1.6.1")

needs_mlp_sample_weight = pytest.mark.skipif(
    not MLP_HAS_SAMPLE_WEIGHT,
    reason="MLPClassifier/MLPRegressor have no sample_weight before scikit-learn 1.7",
)
needs_mlp_regressor_loss = pytest.mark.skipif(
    not MLP_REGRESSOR_HAS_LOSS,
    reason="MLPRegressor has no loss parameter (no poisson) before scikit-learn 1.7",
)
