"""Learning-rate schedules, kept apart from the update rules.

A schedule reads and returns a learning rate at two moments: the end of an
epoch, and a plateau (no improvement for ``n_iter_no_change`` epochs), where it
may also ask training to stop.
"""


class Constant:
    """Keep the learning rate; stop at a plateau."""

    def epoch_end(self, learning_rate: float, t: int) -> float:
        """Learning rate after an epoch that brought the sample count to ``t``."""
        return learning_rate

    def plateau(self, learning_rate: float) -> tuple[float, bool]:
        """Return the new learning rate and whether to stop training."""
        return learning_rate, True


class InvScaling(Constant):
    """``eta_t = eta_0 / (t + 1) ** power_t`` with ``t`` the samples seen so far.

    Parameters
    ----------
    learning_rate_init : float
    power_t : float
    """

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


def make_schedule(name: str, learning_rate_init: float, power_t: float):
    """Return the schedule called ``name`` ('constant', 'invscaling', 'adaptive')."""
    if name == "invscaling":
        return InvScaling(learning_rate_init, power_t)
    if name == "adaptive":
        return Adaptive()
    return Constant()
