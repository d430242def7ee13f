"""Fixed-step gradient descent on the raw weights of a diagonal network.

This is the way public research code trains these models (e.g. the
experiments of Moroshko et al. 2020): weights ``u, v`` with
``beta = u**D - v**D``, ``u = v = alpha`` at the start, and
``(u, v) <- (u, v) - lr * grad L(u, v)`` with a fixed step. It is the baseline
the exact gradient flow is compared with in case ``gd`` (``cases/gd.py``).

The loss and its gradient come from the package's own log-space loss objects
(``LOSSES``, through ``common.py``), so the baseline differs from the flow only
in how the trajectory is followed, and the loss is computed without underflow.
One step costs one gradient evaluation: the products ``Z @ beta`` and
``Z.T @ r``, plus O(n + d) elementwise work.
"""

from dataclasses import dataclass

import numpy as np

from common import LOSSES


@dataclass
class GDResult:
    """What :func:`gradient_descent` returns."""

    coef: np.ndarray  # beta, interpolated to the target loss when reached
    n_steps: int  # gradient evaluations (one per step)
    log_losses: np.ndarray  # log L before each step, then after the last one
    status: str  # "target", "max_steps" or "diverged"


def gradient_descent(Z, *, alpha, depth, loss, lr, target_loss, max_steps):
    """Run fixed-step GD on ``(u, v)`` until the loss first falls to ``target_loss``.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_features)
        Rows ``y_i x_i``: the margins are ``Z @ beta``.
    alpha : float
        Initialization scale of ``u`` and ``v``.
    depth : int
        Depth ``D >= 2``.
    loss : {'exponential', 'logistic'}
        Per-sample loss; the training loss is the mean over samples.
    lr : float
        Step size.
    target_loss : float
        Stop at the first step whose loss is at most this value.
    max_steps : int
        Budget of steps.

    Returns
    -------
    GDResult
        ``coef`` is linearly interpolated between the last two iterates to the
        point where ``log L`` equals ``log(target_loss)`` (in proportion of the
        decrease of ``log L`` over the last step), so that it can be compared
        with the flow at exactly that loss. ``status`` is ``'diverged'`` when
        the loss becomes non-finite or rises above its initial value.
    """
    loss_obj = LOSSES[loss]()
    n_samples, n_features = Z.shape
    sample_weight = np.ones(n_samples)
    log_n = np.log(n_samples)
    log_target = np.log(target_loss)
    u = np.full(n_features, float(alpha))
    v = np.full(n_features, float(alpha))
    beta = u**depth - v**depth
    margins = Z @ beta
    log_losses = np.empty(max_steps + 1)
    log_losses[0] = log_loss_0 = loss_obj.log_mean(margins, sample_weight)
    status = "max_steps"
    step = 0
    while step < max_steps:
        r, log_scale = loss_obj.scaled_gradient(margins, sample_weight)
        # -dL/dbeta = Z.T (-l'(m)) / n
        g = (Z.T @ r) * np.exp(log_scale - log_n)
        u_new = u + lr * depth * u ** (depth - 1) * g
        v = v - lr * depth * v ** (depth - 1) * g
        u = u_new
        previous, beta = beta, u**depth - v**depth
        step += 1
        # The margins serve this step's loss and the next step's gradient.
        margins = Z @ beta
        log_loss = log_losses[step] = loss_obj.log_mean(margins, sample_weight)
        if not np.isfinite(log_loss) or log_loss > log_loss_0:
            status = "diverged"
            break
        if log_loss <= log_target:
            status = "target"
            drop = log_losses[step - 1] - log_loss
            frac = (log_losses[step - 1] - log_target) / drop if drop > 0 else 1.0
            beta = previous + frac * (beta - previous)
            break
    return GDResult(beta, step, log_losses[: step + 1], status)


def extrapolated_steps(log_losses, target_loss, slope=1.0):
    """Base-10 log of the GD steps to reach ``target_loss`` if ``L ~ C t**-slope``.

    The law is anchored at the last step of a run that reached its own target
    (for a linear model the loss of gradient descent decays like ``1/t``, the
    default slope).

    Parameters
    ----------
    log_losses : ndarray
        ``GDResult.log_losses`` (``log L`` at steps 0, 1, ...).
    target_loss : float
        A loss below the last one recorded.
    slope : float
        Decay exponent of the loss in the number of steps.

    Returns
    -------
    log10_steps : float
        (The count itself may exceed any float for tiny targets.)
    """
    n_steps = len(log_losses) - 1
    return float(
        np.log10(n_steps) + (log_losses[-1] - np.log(target_loss)) / (slope * np.log(10.0))
    )


def tail_slope(log_losses, decades=0.5):
    """Fitted ``s`` in ``L ~ C t**-s`` over the last ``decades`` decades of steps."""
    n_steps = len(log_losses) - 1
    t = np.arange(1, n_steps + 1, dtype=float)
    tail = t >= n_steps / 10**decades
    if tail.sum() < 3:
        return float("nan")
    slope, _ = np.polyfit(np.log(t[tail]), log_losses[1:][tail], 1)
    return float(-slope)
