"""skmlp: scikit-learn compatible multilayer perceptrons on a NumPy backprop core."""

from skmlp._classifier import BackpropClassifier
from skmlp._display import LossCurveDisplay
from skmlp._gradcheck import GradientReport, check_gradients
from skmlp._regressor import BackpropRegressor
from skmlp._threads import blas_controller

# find the BLAS libraries once, now that NumPy's and SciPy's are loaded, rather
# than in every fit of a small network (see skmlp._network.blas_controller)
blas_controller()

__all__ = [
    "BackpropClassifier",
    "BackpropRegressor",
    "GradientReport",
    "LossCurveDisplay",
    "check_gradients",
    "__version__",
]

__version__ = "0.1.0"
