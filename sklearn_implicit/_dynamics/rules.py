"""Step rules: the geometry of a step and the size of its learning rate.

A discrete step moves the raw parameters ``theta`` by
``eta_k * Delta(grad)``, where ``grad = -grad_theta L`` is known as a unit
vector times ``exp(log_size)`` (nothing is formed at the size of the loss).

Geometry (:func:`steepest_step`). The steepest-descent step with respect to
a norm ``||.||`` (Gunasekar, Lee, Soudry, Srebro, ICML 2018) is
``Delta = argmin_v -<grad, v> + ||v||**2 / 2``: the unit vector of that norm
most aligned with ``grad``, times the dual norm ``||grad||_*``, so that every geometry decreases the loss at the first-order rate
``eta ||grad||_***2`` and tends, as ``eta -> 0``, to the steepest-descent
flow of its norm:

- ``'l2'`` (gradient descent): ``Delta = grad``;
- ``'linf'`` (sign descent): ``Delta = ||grad||_1 sign(grad)``;
- ``'l1'`` (greedy coordinate descent, Gauss-Southwell): only the coordinate
  ``j`` with the largest ``|grad_j|`` moves, by ``grad_j``.

Size (:func:`log_learning_rate`). ``'constant'``: ``eta_k = eta``.
``'normalized'``: ``eta_k = eta / L(theta_k)`` (Nacson, Lee, Gunasekar,
Savarese, Srebro, Soudry, AISTATS 2019): on separable data with an
exponentially tailed loss the gradient is of the size of the loss, so this
step has a size of order ``eta`` at every loss and ``log L`` falls linearly
in the number of steps instead of like ``log k``. It is formed as
``log eta - log L`` added to the logarithm of the gradient's scale.
"""

import numpy as np

# The geometry of each discrete dynamics (the norm of its steepest descent).
GEOMETRIES = {"gd": "l2", "sgd": "l2", "sign": "linf", "coordinate": "l1"}

SCHEDULES = ("constant", "normalized")


def steepest_step(direction, norm):
    """The steepest-descent step of ``norm`` for the gradient ``direction``.

    Parameters
    ----------
    direction : ndarray
        The negative gradient up to a positive factor.
    norm : {'l2', 'linf', 'l1'}

    Returns
    -------
    step : ndarray
        A unit-scale vector (``direction`` itself for ``'l2'``).
    log_length : float
        ``log`` of the factor that turns ``step`` into the steepest step for
        ``direction`` (``-inf`` for a zero gradient).
    """
    if norm == "l2":
        return direction, 0.0
    magnitude = np.abs(direction)
    if norm == "linf":
        with np.errstate(divide="ignore"):
            return np.sign(direction), np.log(magnitude.sum())
    if norm == "l1":
        j = int(np.argmax(magnitude))
        step = np.zeros_like(direction)
        step[j] = np.sign(direction[j])
        with np.errstate(divide="ignore"):
            return step, np.log(magnitude[j])
    raise ValueError(f"norm must be 'l2', 'linf' or 'l1'; got {norm!r}.")


def log_learning_rate(log_eta, schedule, log_loss):
    """``log eta_k``: the step size at a point of loss ``exp(log_loss)``.

    Parameters
    ----------
    log_eta : float
        ``log(learning_rate)``.
    schedule : {'constant', 'normalized'}
    log_loss : float
        Log of the loss whose gradient the step follows (the mini-batch loss
        for stochastic steps).

    Returns
    -------
    float
    """
    if schedule == "constant":
        return log_eta
    if schedule == "normalized":
        return log_eta - log_loss
    raise ValueError(f"learning_rate_schedule must be one of {SCHEDULES}; got {schedule!r}.")
