"""skmlp: scikit-learn compatible multilayer perceptrons on a NumPy backprop core."""

from skmlp._classifier import BackpropClassifier
from skmlp._display import LossCurveDisplay
from skmlp._gradcheck import GradientReport, check_gradients
from skmlp._persistence import lean_copy
from skmlp._regressor import BackpropRegressor
from skmlp._training import DivergenceError

__all__ = [
    "BackpropClassifier",
    "BackpropRegressor",
    "DivergenceError",
    "GradientReport",
    "LossCurveDisplay",
    "check_gradients",
    "lean_copy",
    "__version__",
]

__version__ = "0.1.0"
