"""Learning-rate schedules, kept apart from the update rules.

A schedule reads and returns a learning rate at three moments: the start of an
epoch (closed-form schedules set it from the number of epochs done), the end of
an epoch (scikit-learn's 'invscaling'), and a plateau (no improvement for
``n_iter_no_change`` epochs), where it may also ask training to stop. Warm-up
is a separate factor (:func:`warmup_factor`) on top of any schedule.
"""

import math


class Constant:
    """Keep the learning rate; stop at a plateau."""

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

    def __init__(self, learning_rate_init: float, power_t: float):
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t

    def epoch_end(self, learning_rate, t):
        return float(self.learning_rate_init) / (t + 1) ** self.power_t


class Adaptive(Constant):
    """Divide the learning rate by 5 at each plateau; stop once it is <= 1e-6."""

    def plateau(self, learning_rate):
        if learning_rate <= 1e-6:
            return learning_rate, True
        return learning_rate / 5.0, False


class Exponential(Constant):
    """``eta_e = eta_0 * decay ** e`` after ``e`` epochs (e.g. decay 0.95, 0.5)."""

    def __init__(self, learning_rate_init: float, decay: float):
        self.learning_rate_init = learning_rate_init
        self.decay = decay

    def epoch_start(self, learning_rate, epoch):
        return self.learning_rate_init * self.decay**epoch


class Step(Constant):
    """``eta_e = eta_0 * decay ** (e // step_size)``: a drop every step_size epochs."""

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


#: scikit-learn's schedules, applied to ``solver='sgd'`` only (as scikit-learn does)
SKLEARN_SCHEDULES = ("constant", "invscaling", "adaptive")
#: closed-form schedules, applied to every stochastic solver
EPOCH_SCHEDULES = ("exponential", "step", "cosine")


def make_schedule(
    name: str,
    learning_rate_init: float,
    *,
    power_t: float = 0.5,
    decay: float = 0.95,
    step_size: int = 10,
    lr_min: float = 0.0,
    n_epochs: int = 200,
):
    """Return the schedule called ``name``."""
    if name == "invscaling":
        return InvScaling(learning_rate_init, power_t)
    if name == "adaptive":
        return Adaptive()
    if name == "exponential":
        return Exponential(learning_rate_init, decay)
    if name == "step":
        return Step(learning_rate_init, decay, step_size)
    if name == "cosine":
        return Cosine(learning_rate_init, lr_min, n_epochs)
    return Constant()
