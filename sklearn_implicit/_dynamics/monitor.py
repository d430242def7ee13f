"""Divergence: what a step size too large does to the training loss."""

import math

import numpy as np

# A loss this many times above the smallest loss seen so far is a step that
# threw the iterate out of its basin, not the transient rise of a large but
# stable step (a quadratic direction past its stability limit grows by a
# constant factor per step and passes this within tens of steps).
GROWTH = 1e4

# An oscillation: WINDOW consecutive loss checks without a new smallest loss,
# at least half of them above it by more than rounding (a step too large
# for the curvature settles into a cycle, here seen at 2.59 and 2.46 below
# log 1 after a best of 2.67: a linear model, sign descent with a normalized
# step of 0.3). A descent through a plateau, whose loss can stay equal to
# rounding for many steps, is not one.
WINDOW = 100
_ROUNDING = 1e-12


class DivergenceMonitor:
    """Watches the sequence of training losses of a discrete run.

    Parameters
    ----------
    learning_rate : float
        Named in the messages.
    stochastic : bool, default=False
        Whether the steps are stochastic (SGD). An oscillation of their loss
        is then the noise of the mini-batches about the lowest loss those
        steps can hold (their noise floor, or the positive infimum of data
        that are not separable), not a step too large: it ends the run as a
        stall (``stalled`` is set, and ``check`` returns None), while a
        growth by ``GROWTH`` is still a divergence.
    """

    def __init__(self, learning_rate, stochastic=False):
        self.learning_rate = learning_rate
        self.stochastic = stochastic
        self.best = np.inf
        self.reason = ""  # what the divergence (or the stall) was, once there is one
        self.stalled = False
        self._since_best = 0
        self._above = 0  # checks above the best by more than rounding since it

    def check(self, log_loss):
        """Record the next loss; a message when the run has diverged, else None.

        Parameters
        ----------
        log_loss : float
            Log of the training loss at the next checked iterate.
        """
        # (a loss of exactly 0, log -inf, is a minimum: regression can reach it)
        if math.isnan(log_loss) or log_loss == math.inf:
            return self._message("the training loss became non-finite")
        if log_loss < self.best:
            self.best, self._since_best, self._above = log_loss, 0, 0
            return None
        excess = log_loss - self.best
        if excess > math.log(GROWTH):
            return self._message(
                f"the training loss grew by a factor of {math.exp(min(excess, 700.0)):.3g} "
                f"above its smallest value ({self._plain(self.best)})"
            )
        self._since_best += 1
        self._above += excess > _ROUNDING * max(1.0, abs(self.best))
        if self._since_best >= WINDOW and 2 * self._above >= self._since_best:
            what = (f"no new low in {self._since_best} checks, above its smallest "
                    f"value ({self._plain(self.best)}) in {self._above} of them")
            if self.stochastic:
                self.stalled, self.reason = True, f"the training loss stopped falling: {what}"
                return None
            return self._message(f"the training loss oscillates: {what}")
        return None

    @staticmethod
    def _plain(log_loss):
        return f"10**{log_loss / math.log(10.0):.4g}"

    def non_finite_gradient(self):
        """The message for a gradient that left the floating-point range."""
        return self._message("the gradient became non-finite")

    def _message(self, what):
        self.reason = what
        return (
            f"The discrete training dynamics diverged: {what}. "
            f"learning_rate={self.learning_rate:g} is too large for this "
            f"problem; use a smaller learning_rate (for instance "
            f"{self.learning_rate / 10:g})."
        )
