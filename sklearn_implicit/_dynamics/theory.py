r"""The effective initialization of gradient descent on a depth-2 diagonal network.

Setting: :math:`\beta = u^2 - v^2`, :math:`u_0 = v_0 = \alpha` (per
feature), and discrete steps on :math:`(u, v)` with step sizes
:math:`\eta_k` along the negative gradients :math:`g_k = -\nabla_\beta L_k`
of any loss (full batch or mini-batch). Since
:math:`-\partial L/\partial u = 2 u g` and :math:`-\partial L/\partial v =
-2 v g`, one step multiplies each weight by a factor, per feature,

.. math::

    u_{k+1} = u_k (1 + x_k), \qquad v_{k+1} = v_k (1 - x_k),
    \qquad x_k = 2 \eta_k g_k,

so :math:`u_{k+1} v_{k+1} = u_k v_k (1 - x_k^2)` exactly: the flow's
conserved product :math:`u v = \alpha^2` shrinks at every step. While
:math:`|x_k| < 1` (no weight reaches zero), exactly

.. math::

    \log(1 \pm x) = \pm \operatorname{artanh}(x) + \tfrac12 \log(1 - x^2),

and with :math:`S_k = \sum_{i<k} x_i` (a combination of gradients, hence
in the row space of :math:`X` for the squared loss) and
:math:`\delta_k = \sum_{i<k} (\operatorname{artanh}(x_i) - x_i)`:

.. math::

    \beta_k = 2 \alpha_k^2 \sinh(2 S_k + 2 \delta_k), \qquad
    \alpha_k = \alpha \prod_{i<k} (1 - x_i^2)^{1/2} = \sqrt{u_k v_k}.

Gradient flow has :math:`\beta = 2 \alpha^2 \sinh(4 R)` with
:math:`R = \int g\,dt` in the row space: discrete steps are the flow's
mirror map at the smaller, data-dependent scale :math:`\alpha_k`, applied
to a row-space vector shifted by :math:`2 \delta_k` (third order in the
step: :math:`\operatorname{artanh}(x) - x = x^3/3 + \ldots`).

The limit in regression. If the steps converge to an interpolant
:math:`X \beta_\infty = y` (with :math:`\sum_k x_k^2 < \infty`), then
:math:`\nabla Q_{\alpha_\infty}(\beta_\infty) - 2 \delta_\infty =
2 S_\infty` lies in the row space of :math:`X`, where
:math:`\nabla Q_\alpha(\beta) = \operatorname{arcsinh}(\beta / (2 \alpha^2))`
is the mirror map of the potential of
:mod:`sklearn_implicit.analysis.theory`. These are the optimality
conditions of a strictly convex problem, so, exactly,

.. math::

    \beta_\infty = \operatorname*{argmin}_{X \beta = y}
    D_{Q_{\alpha_\infty}}(\beta, \tilde\beta_0), \qquad
    \tilde\beta_0 = 2 \alpha_\infty^2 \sinh(2 \delta_\infty),

the Bregman divergence of the potential at the *effective initialization*
:math:`\alpha_\infty` from the *offset* :math:`\tilde\beta_0`. With
:math:`\tilde\beta_0 = 0` this is the minimum-potential interpolant of
:func:`~sklearn_implicit.analysis.min_potential_interpolant` at
``alpha=alpha_inf``; the offset is of size
:math:`\alpha_\infty^2 |\delta_\infty|`, negligible in the rich regime.

This is the statement of Even, Pesme, Gunasekar and Flammarion (NeurIPS
2023, arXiv:2302.08982) for their parametrization :math:`\beta = u \odot v`,
:math:`u_0 = \sqrt2 \alpha`, :math:`v_0 = 0`, carried over to
:math:`u^2 - v^2` with :math:`u_0 = v_0 = \alpha`: their
:math:`w_\pm = (u \pm v) / \sqrt2` play the roles of our :math:`u, v`, and
their :math:`\gamma g_k` is our :math:`x_k = 2 \eta_k g_k` (the factor 2 is
:math:`d(u^2)/du / u`); their
:math:`\alpha \exp(-\frac12 \sum_k q(\gamma g_k))`,
:math:`q(x) = -\frac12 \log((1 - x^2)^2)`, is our :math:`\alpha_\infty`.
It holds for mini-batch steps as well (Pesme, Pillaud-Vivien, Flammarion,
NeurIPS 2021, treat the SGD flow), and it needs
:math:`|x_k| < 1` at every step and feature: a weight that crosses zero
breaks the product form.
"""

from collections import namedtuple

import numpy as np

__all__ = ["EffectiveInitialization", "effective_initialization"]

EffectiveInitialization = namedtuple("EffectiveInitialization", ["alpha", "offset"])
EffectiveInitialization.__doc__ = r"""Where discrete steps put the flow's implicit bias.

Attributes
----------
alpha : ndarray of shape (n_features,)
    :math:`\alpha_\infty = \alpha \prod_k (1 - x_k^2)^{1/2}`, the effective
    initialization scale of each feature.
offset : ndarray of shape (n_features,)
    :math:`\tilde\beta_0 = 2 \alpha_\infty^2 \sinh(2 \delta)`,
    :math:`\delta = \sum_k (\operatorname{artanh}(x_k) - x_k)`.
"""


def effective_initialization(alpha, steps):
    r"""The effective initialization of discrete steps on :math:`u^2 - v^2`.

    See the module docstring for the derivation and the statement it gives
    in regression.

    Parameters
    ----------
    alpha : float or array-like of shape (n_features,)
        The initialization :math:`u_0 = v_0 = \alpha`.
    steps : array-like of shape (n_steps, n_features)
        :math:`\eta_k g_k` for every step: the step size times the negative
        gradient of the (mini-batch) loss with respect to :math:`\beta` at
        the iterate it was taken from.

    Returns
    -------
    EffectiveInitialization
        Named tuple ``(alpha, offset)``.

    Raises
    ------
    ValueError
        If some :math:`|x_k| = |2 \eta_k g_k| \ge 1`: a weight then reaches or
        crosses zero and no effective initialization exists.
    """
    x = 2.0 * np.atleast_2d(np.asarray(steps, dtype=float))
    alpha = np.broadcast_to(np.asarray(alpha, dtype=float), x.shape[1:])
    if not np.all(np.abs(x) < 1.0):
        raise ValueError(
            "Some step has |2 learning_rate g| >= 1: a weight of the diagonal "
            "network reached or crossed zero, and the steps have no effective "
            "initialization. Use a smaller learning_rate."
        )
    # log1p(-x**2) keeps the tiny products of small steps exact
    log_shrink = 0.5 * np.sum(np.log1p(-(x * x)), axis=0)
    alpha_inf = alpha * np.exp(log_shrink)
    delta = np.sum(np.arctanh(x) - x, axis=0)
    return EffectiveInitialization(alpha_inf, 2.0 * alpha_inf**2 * np.sinh(2.0 * delta))
