"""skmlp: scikit-learn compatible multilayer perceptrons on a NumPy backprop core."""

from skmlp._classifier import BackpropClassifier
from skmlp._gradcheck import GradientReport, check_gradients
from skmlp._regressor import BackpropRegressor

__all__ = [
    "BackpropClassifier",
    "BackpropRegressor",
    "GradientReport",
    "check_gradients",
    "__version__",
]

__version__ = "0.1.0"
