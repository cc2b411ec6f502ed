"""Learning-rate schedules, kept apart from the update rules.

A schedule reads and returns a learning rate at three moments: the start of an
epoch (closed-form schedules set it from the number of epochs done), the end of
an epoch (scikit-learn's 'invscaling'), and a plateau (no improvement for
``n_iter_no_change`` epochs), where it may also ask training to stop. Warm-up
is a separate factor (:func:`warmup_factor`) on top of any schedule.
"""

import math

from skmlp._registry import Registry, build


class Constant:
    """Keep the learning rate; stop at a plateau."""

    name = "constant"
    #: Constructor argument -> estimator parameter it is built from.
    hyperparameters: dict = {}
    #: Whether it drives every stochastic solver (else ``solver='sgd'`` only,
    #: as scikit-learn's schedules do).
    all_solvers = False

    def epoch_start(self, learning_rate: float, epoch: int) -> float:
        """Learning rate for the epoch after ``epoch`` completed epochs."""
        return learning_rate

    def epoch_end(self, learning_rate: float, t: int) -> float:
        """Learning rate after an epoch that brought the sample count to ``t``."""
        return learning_rate

    def plateau(self, learning_rate: float) -> tuple[float, bool]:
        """Return the new learning rate and whether to stop training."""
        return learning_rate, True


class InvScaling(Constant):
    """``eta_t = eta_0 / (t + 1) ** power_t`` with ``t`` the samples seen so far."""

    name = "invscaling"
    hyperparameters = {"learning_rate_init": "learning_rate_init", "power_t": "power_t"}

    def __init__(self, learning_rate_init: float, power_t: float):
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t

    def epoch_end(self, learning_rate, t):
        return float(self.learning_rate_init) / (t + 1) ** self.power_t


class Adaptive(Constant):
    """Divide the learning rate by 5 at each plateau; stop once it is <= 1e-6."""

    name = "adaptive"

    def plateau(self, learning_rate):
        if learning_rate <= 1e-6:
            return learning_rate, True
        return learning_rate / 5.0, False


class Exponential(Constant):
    """``eta_e = eta_0 * decay ** e`` after ``e`` epochs (e.g. decay 0.95, 0.5)."""

    name = "exponential"
    hyperparameters = {"learning_rate_init": "learning_rate_init", "decay": "lr_decay"}
    all_solvers = True

    def __init__(self, learning_rate_init: float, decay: float):
        self.learning_rate_init = learning_rate_init
        self.decay = decay

    def epoch_start(self, learning_rate, epoch):
        return self.learning_rate_init * self.decay**epoch


class Step(Constant):
    """``eta_e = eta_0 * decay ** (e // step_size)``: a drop every step_size epochs."""

    name = "step"
    hyperparameters = {
        "learning_rate_init": "learning_rate_init",
        "decay": "lr_decay",
        "step_size": "lr_step_size",
    }
    all_solvers = True

    def __init__(self, learning_rate_init: float, decay: float, step_size: int):
        self.learning_rate_init = learning_rate_init
        self.decay = decay
        self.step_size = step_size

    def epoch_start(self, learning_rate, epoch):
        return self.learning_rate_init * self.decay ** (epoch // self.step_size)


class Cosine(Constant):
    """Cosine annealing from ``eta_0`` to ``eta_min`` over ``n_epochs`` epochs.

    ``eta_e = eta_min + (eta_0 - eta_min) (1 + cos(pi (e mod T) / T)) / 2``:
    one cycle per ``T = max_iter`` epochs, then a restart (SGDR-style), so a
    ``warm_start`` fit of ``max_iter`` epochs runs a fresh cycle.
    """

    name = "cosine"
    hyperparameters = {
        "learning_rate_init": "learning_rate_init",
        "lr_min": "lr_min",
        "n_epochs": "max_iter",
    }
    all_solvers = True

    def __init__(self, learning_rate_init: float, lr_min: float, n_epochs: int):
        self.learning_rate_init = learning_rate_init
        self.lr_min = lr_min
        self.n_epochs = max(int(n_epochs), 1)

    def epoch_start(self, learning_rate, epoch):
        frac = (epoch % self.n_epochs) / self.n_epochs
        span = self.learning_rate_init - self.lr_min
        return self.lr_min + 0.5 * span * (1 + math.cos(math.pi * frac))


def warmup_factor(epoch: int, warmup_epochs: int) -> float:
    """Linear warm-up: ``(e + 1) / W`` for the first ``W`` epochs, then 1."""
    if epoch >= warmup_epochs:
        return 1.0
    return (epoch + 1) / warmup_epochs


#: Learning-rate schedules by name (the ``learning_rate`` parameter).
SCHEDULES = Registry("learning-rate schedule")
for _cls in (Constant, InvScaling, Adaptive, Exponential, Step, Cosine):
    SCHEDULES.register(_cls.name, _cls)

#: scikit-learn's schedules, applied to ``solver='sgd'`` only (as scikit-learn does)
SKLEARN_SCHEDULES = tuple(n for n, c in SCHEDULES.items() if not c.all_solvers)
#: closed-form schedules, applied to every stochastic solver
EPOCH_SCHEDULES = tuple(n for n, c in SCHEDULES.items() if c.all_solvers)


def make_schedule(params: dict):
    """The schedule the estimator parameters ``params`` ask for.

    ``params`` holds the estimator's parameters (``get_params()``): the
    schedule named by ``learning_rate``, built from the parameters its class
    lists in ``hyperparameters``. A schedule that is not ``all_solvers``
    (scikit-learn's 'invscaling' and 'adaptive') drives ``solver='sgd'`` only;
    the other solvers then keep a constant rate, as in scikit-learn.
    """
    cls = SCHEDULES.resolve(params["learning_rate"])
    if params["solver"] != "sgd" and not cls.all_solvers:
        return Constant()
    return build(cls, params)
