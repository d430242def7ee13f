"""Discrete training dynamics beside the exact flow.

What practitioners run is not gradient flow but gradient descent with a
finite step, stochastic gradients, or steepest descent in another geometry,
and these change the implicit bias: a finite step or gradient noise shrinks
the effective initialization of a diagonal network (Even, Pesme, Gunasekar,
Flammarion, NeurIPS 2023; Pesme, Pillaud-Vivien, Flammarion, NeurIPS 2021),
and steepest descent with respect to a norm maximizes the margin of that
norm (Gunasekar, Lee, Soudry, Srebro, ICML 2018). This subpackage runs them
on the raw parameters of the same networks and losses, in log-space, to the
same target losses, and returns results with the flow's fields.

The names (for the estimators' parameters)
------------------------------------------
``dynamics`` : {'flow', 'gd', 'sgd', 'sign', 'coordinate'}
    Which trajectory is followed. Not ``solver``: the estimators' ``solver``
    already names the integrator of the flow (it changes how, not where, the
    flow goes), whereas ``dynamics`` changes the answer itself, the point
    whose implicit bias is studied. ``'sgd'`` as in ``MLPClassifier`` and
    ``SGDClassifier``; ``'gd'`` its full-batch counterpart; ``'sign'`` and
    ``'coordinate'`` the steepest descents of the l_inf and l_1 norms
    (sign descent, greedy coordinate descent).
``learning_rate`` : float
    The step size ``eta``, the number the papers vary. A float, as in
    scikit-learn's ``GradientBoostingClassifier`` and
    ``HistGradientBoostingClassifier``; ``SGDClassifier`` and
    ``MLPClassifier`` give the name ``learning_rate`` to the schedule
    (with ``eta0`` or ``learning_rate_init`` for the number), but their
    schedules ('optimal', 'invscaling', 'adaptive') are not ours, and the
    same name with other options would mislead.
``learning_rate_schedule`` : {'constant', 'normalized'}
    ``eta`` or ``eta / L`` (normalized gradient descent, Nacson et al.,
    AISTATS 2019), see :mod:`.rules`.
``batch_size`` : int or 'auto'
    The mini-batch size of ``'sgd'``, ``'auto'`` = ``min(200, n_samples)``,
    both as in ``MLPClassifier``; batches are drawn without replacement,
    one shuffle per epoch, from ``random_state``.

The pieces
----------
- :mod:`.parameters`: the raw parameters of each network (parameter views).
- :mod:`.rules`: the geometry and the size of a step.
- :mod:`.objective`: the loss and its gradient w.r.t. the raw parameters.
- :mod:`.batches`: the mini-batches of an epoch.
- :mod:`.monitor`: divergence.
- :mod:`.descent`: the run, its stops and history.
- :mod:`.problem`: the entry points :func:`fit_one_discrete` and
  :func:`fit_one` (flow or discrete, one problem, as the estimators call).
- :mod:`.theory`: the effective initialization of discrete steps on a
  depth-2 diagonal network.
"""

from .descent import DiscreteResult, descend
from .parameters import (
    ConvolutionalParameters,
    DenseParameters,
    DiagonalParameters,
    LinearParameters,
    parameter_view,
)
from .problem import (
    DEFAULT_MAX_STEPS,
    DYNAMICS,
    DYNAMICS_NAMES,
    fit_one,
    fit_one_discrete,
)
from .rules import SCHEDULES
from .theory import EffectiveInitialization, effective_initialization

__all__ = [
    "DEFAULT_MAX_STEPS",
    "DYNAMICS",
    "DYNAMICS_NAMES",
    "SCHEDULES",
    "ConvolutionalParameters",
    "DenseParameters",
    "DiagonalParameters",
    "DiscreteResult",
    "EffectiveInitialization",
    "LinearParameters",
    "descend",
    "effective_initialization",
    "fit_one",
    "fit_one_discrete",
    "parameter_view",
]
