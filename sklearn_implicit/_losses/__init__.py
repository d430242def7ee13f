"""Per-sample losses of a margin or a prediction, computed in log-space.

One module per loss; :data:`LOSSES` names the margin losses that the
classifiers accept (their ``loss`` parameter).

A loss object is the only place that knows the formula of ``l``. The
integrator talks to it through three methods, all vectorized over samples:

``log_mean(p, sample_weight)``
    ``log(sum_i s_i l(p_i) / sum_i s_i)``, finite for every finite ``p``
    (no underflow at losses far below the smallest float).
``scaled_gradient(p, sample_weight)``
    ``(r, log_scale)`` with ``-s_i l'(p_i) = exp(log_scale) * r_i`` and
    ``max_i |r_i| = 1`` (or ``r = 0``): the direction of the negative gradient
    with respect to the predictions, and its size as a logarithm.
``initial_log_mean(sample_weight)``
    the value of ``log_mean`` at ``p = 0`` (the network starts at beta = 0).

Optional: ``log_mean_and_scaled_gradient(p, sample_weight)`` returns both
results at once where they share work (the exponential loss: one pass);
``log_mean_is_exact = True`` says that ``log_mean`` keeps full relative
accuracy at any loss, so that the integrator may check its clock against it.
``may_stall(predictions)``, on a loss of predictions against targets (the
squared loss): whether the loss may be at its infimum there. A loss without
it is a margin loss (:func:`is_margin_loss`).

For classification ``p_i`` is the margin ``y_i x_i . beta`` with labels in
{-1, +1} folded into the data; for regression it is the residual-defining
prediction and the loss holds the targets.
"""

from .exponential import ExponentialLoss
from .logistic import LogisticLoss
from .squared import SquaredLoss

# The classifiers' ``loss`` parameter: name -> class.
LOSSES = {"exponential": ExponentialLoss, "logistic": LogisticLoss}


def is_margin_loss(loss):
    """Whether ``loss`` is a loss of margins ``y_i x_i . beta`` (exponential,
    logistic): infimum 0, approached along a separating ray, on separable
    data. The losses of predictions against targets (the squared loss)
    hold their targets and say where they may be at their infimum
    (``may_stall``); the integrator's choices that were measured on margin
    losses only (the implicit methods' reach, the predictive control's
    span) ask this."""
    return not hasattr(loss, "may_stall")


__all__ = ["LOSSES", "is_margin_loss", "ExponentialLoss", "LogisticLoss", "SquaredLoss"]
