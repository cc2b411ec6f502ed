"""skmlp: scikit-learn compatible multilayer perceptrons on a NumPy backprop core."""

from skmlp._classifier import BackpropClassifier
from skmlp._display import LossCurveDisplay
from skmlp._gradcheck import GradientReport, check_gradients
from skmlp._regressor import BackpropRegressor
from skmlp._training import DivergenceError

__all__ = [
    "BackpropClassifier",
    "BackpropRegressor",
    "DivergenceError",
    "GradientReport",
    "LossCurveDisplay",
    "check_gradients",
    "__version__",
]

__version__ = "0.1.0"
