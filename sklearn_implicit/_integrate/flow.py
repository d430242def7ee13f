"""Gradient flow of a linear network on a loss, in the log-loss clock.

Nothing in this subpackage knows about scikit-learn. A :class:`LinearFlow`
binds a network (see :mod:`sklearn_implicit._networks`), a loss (see
:mod:`sklearn_implicit._losses`) and a design matrix, and evaluates the
flow's velocity; :func:`~sklearn_implicit._integrate.driver.integrate`
follows its trajectory.

The clock
---------
Gradient flow ``d state/dt = -grad L`` is integrated with ``tau = -log L`` as
the independent variable. The path is the same (only its speed changes), the
stopping rule ``L = target`` becomes the fixed end point
``tau = -log(target)``, and the speed ``d state/d tau = L v / (g . K g)`` only
needs the loss and its gradient up to a common factor, which is kept as a
logarithm. So the integrator runs to losses far below the smallest float.

Physical time is carried along as ``T = t exp(-tau)``, which stays of order
one because ``t`` grows like ``1/L``; ``log t = log T + tau`` (see
:mod:`~sklearn_implicit._integrate.physical_time`).
"""

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import dscal, idamax
from scipy.optimize import linprog

# Largest argument of exp that gives a finite float
_LOG_MAX = np.log(np.finfo(float).max)


@dataclass
class Evaluation:
    """The flow's velocity at one state, with what it costs nothing to keep."""

    dstate: np.ndarray  # d state / d tau
    log_loss: float
    # log of d t / d tau (physical time per unit of clock), t counted in units
    # of exp(flow.log_time_unit); NaN where the state overflows
    log_dt_dtau: float
    predictions: np.ndarray  # X @ beta (margins, for classification)
    coef: np.ndarray
    state: np.ndarray


@dataclass
class FlowState:
    """A point of the trajectory: enough to continue it (warm start)."""

    state: np.ndarray
    tau: float  # -log L at this point
    log_time: float  # log of the physical time t (-inf at t = 0)


@dataclass
class FlowResult:
    """What :func:`integrate` returns."""

    stops: list  # FlowState at each requested stop that was reached
    last: FlowState  # where the integration ended (== stops[-1] on success)
    log_loss: float
    coef: np.ndarray
    predictions: np.ndarray
    # "target", "stalled", "max_iter", "plateau" (max_iter in a plateau, see
    # integrate), "stationary", "converged"
    status: str
    n_iter: int
    n_evals: int
    history: dict = field(default_factory=dict)
    # status "plateau": (accepted steps looked back over, fall of -log L)
    plateau: tuple = None


class LinearFlow:
    """Gradient flow of ``L(X @ coef(state))`` for one network and one loss.

    Parameters
    ----------
    network : Network
    loss : loss object from :mod:`sklearn_implicit._losses`
    X : ndarray or sparse matrix of shape (n_samples, n_coef)
        Design; for classification the rows are ``y_i x_i`` (margins).
    sample_weight : ndarray of shape (n_samples,)
    """

    def __init__(self, network, loss, X, sample_weight):
        self.network = network
        self.loss = loss
        self.X = X
        self.sample_weight = sample_weight
        self._log_sw_sum = np.log(sample_weight.sum())
        self._log_sample_weight = None
        self.n_evals = 0
        # log of the unit in which evaluations measure physical time (set by
        # integrate): t itself spans about 1e-450 to 1e450 over the accepted
        # scales of X and alpha, so it is counted in a problem-sized unit.
        self.log_time_unit = 0.0
        self._separable = None  # found when a stall is suspected
        self._loss_and_gradient = getattr(
            loss, "log_mean_and_scaled_gradient", self._separate_loss_and_gradient
        )
        # A dense X gives 1-d products as they are; the others (sparse,
        # np.matrix) are passed through asarray/ravel.
        self._dense = isinstance(X, np.ndarray) and not isinstance(X, np.matrix)
        self._XT = X.T

    @property
    def log_weight_sum(self):
        """``log sum_i s_i``."""
        return self._log_sw_sum

    @property
    def log_sample_weight(self):
        """``log s_i`` (``-inf`` for a zero weight), formed once: every
        Jacobian of the stiff steps takes it."""
        if self._log_sample_weight is None:
            with np.errstate(divide="ignore"):
                self._log_sample_weight = np.log(self.sample_weight)
        return self._log_sample_weight

    def product(self, coef):
        """``X @ coef``: with :meth:`transpose_product`, the only use of ``X``
        in an evaluation (a batch of flows serves both from stacked columns,
        see :mod:`sklearn_implicit._integrate.batch`)."""
        out = self.X @ coef
        return out if self._dense else np.asarray(out).ravel()

    def transpose_product(self, r):
        """``X.T @ r``."""
        out = self._XT @ r
        return out if self._dense else np.asarray(out).ravel()

    def predictions(self, state):
        coef = self.network.coef(state)
        return coef, self.product(coef)

    def log_loss(self, predictions):
        return self.loss.log_mean(predictions, self.sample_weight)

    def evaluate(self, state):
        """Velocity in the log-loss clock.

        ``log_dt_dtau`` is ``+inf`` at a stationary point (zero velocity) and
        NaN where the state cannot be evaluated because its coefficients or
        gradient overflow (a trial step went too far); steppers reject such
        a step. That overflow is no news to the user: callers hold
        ``np.errstate(over="ignore", invalid="ignore")``, as :func:`integrate`
        does for its whole run (once per run, not per evaluation: entering
        an errstate costs as much as two vector operations at small sizes).
        """
        self.n_evals += 1
        coef, p = self.predictions(state)
        log_loss, r, log_scale = self._loss_and_gradient(p, self.sample_weight)
        g = self.transpose_product(r)
        # BLAS level 1 (idamax, dscal) for the vector work on g: at small
        # sizes the call overhead of NumPy's operations is a visible part of
        # an evaluation, and these cost a fifth of it. A NaN in g that
        # idamax passes over makes the power below NaN.
        g_max = abs(g.item(idamax(g)))
        # log_loss = -inf is a loss of exactly 0: a stationary point, below.
        if not (math.isfinite(g_max) and log_loss < np.inf):
            return Evaluation(np.zeros_like(state), np.nan, np.nan, p, coef, state)
        if g_max == 0:
            return Evaluation(np.zeros_like(state), log_loss, np.inf, p, coef, state)
        g = dscal(1.0 / g_max, g)
        # -grad_beta L = exp(log_g) * g
        log_g = log_scale - self._log_sw_sum + math.log(g_max)
        direction, log_speed, log_power = self.network.velocity(state, g)
        if log_power == -np.inf:
            return Evaluation(np.zeros_like(state), log_loss, np.inf, p, coef, state)
        # d state/d tau = (d state/dt) / (d tau/dt), d tau/dt = power / L;
        # too large only at a trial state far too far (NaN: rejected).
        log_factor = log_speed + log_loss - log_g - log_power
        if not log_factor < _LOG_MAX:
            return Evaluation(np.zeros_like(state), log_loss, np.nan, p, coef, state)
        dstate = dscal(math.exp(log_factor), direction)
        log_dt_dtau = log_loss - 2 * log_g - log_power - self.log_time_unit
        return Evaluation(dstate, log_loss, log_dt_dtau, p, coef, state)

    def _separate_loss_and_gradient(self, p, sample_weight):
        return (self.loss.log_mean(p, sample_weight),
                *self.loss.scaled_gradient(p, sample_weight))

    def may_stall(self, predictions):
        """Whether the loss may have a positive infimum (a stall is possible)."""
        stall = getattr(self.loss, "may_stall", None)
        if stall is not None:
            return stall(predictions)
        # Margin losses: once every margin is positive the data are separated
        # and the loss goes to 0 along the ray. Before that, a slow phase (the
        # escape from the saddle at 0 with tiny features or a tiny alpha, over
        # many decades of time) looks like a stall; only data that no linear
        # function separates can stall. A linear program says which.
        if np.min(predictions) > 0:
            return False
        # Undecided (the solver gave up) counts as separable: the flow then
        # runs on to max_iter, whose warning makes no claim about the data.
        if self._separable is None:
            self._separable = linearly_separable(self.X, predictions) is not False
        return not self._separable


def linearly_separable(Z, margins=None):
    """Whether some ``b`` has ``Z @ b > 0`` in every row; None if undecided.

    Strict separability does not change when rows or columns are scaled by
    positive factors, so both are scaled to a largest entry of 1 (features
    of 1e-150 or 1e150 are then no harder than others), and the linear
    program ``Z b >= 1`` (b free) is solved by HiGHS.

    ``margins`` (``Z @ coef`` at some ``coef``, the flow's current margins)
    let the program start on the rows nearest that boundary and take in
    the others only as they are needed (see :func:`_separable_by_rows`):
    both answers stay exact, at a fraction of the full program's cost.
    """
    Z = sp.csr_matrix(Z, dtype=float) if sp.issparse(Z) else np.asarray(Z, dtype=float)
    n, d = Z.shape
    if n == 0:
        return True
    rows = _max_abs(Z, axis=1)
    if np.any(rows == 0):
        return False  # a zero row has margin 0 for every b
    Z = sp.diags(1.0 / rows) @ Z if sp.issparse(Z) else Z / rows[:, None]
    cols = _max_abs(Z, axis=0)
    cols[cols == 0] = 1.0
    A = -(Z @ sp.diags(1.0 / cols)) if sp.issparse(Z) else -(Z / cols)
    if margins is not None and n > _FIRST_ROWS * (d + 1):
        # nearest the boundary: the smallest margins in the scaled rows
        nearest = np.argsort(np.abs(np.asarray(margins, dtype=float) / rows), kind="stable")
        answer = _separable_by_rows(A, nearest)
        if answer is not None:
            return answer
    res = linprog(np.zeros(d), A_ub=A, b_ub=-np.ones(n), bounds=(None, None),
                  method="highs")
    if res.status == 0:
        return True
    if res.status == 2:
        return False
    # HiGHS may leave the infeasible program undecided (status "unknown";
    # make_classification's 1000 x 200 in most row orders, where the fit
    # then ran to max_iter, 1.2 million evaluations, instead of stalling in
    # 855). The largest margin decides (_largest_margin).
    solution = _largest_margin(A)
    if solution is None:
        return None
    margin = solution[1]
    return True if margin > _MARGIN_SEPARATES else False if margin < _MARGIN_NONE else None


def _largest_margin(A):
    """``(b, t)``: the largest margin ``t`` of ``-A b >= t`` with ``|b| <= 1``,
    a program that is always feasible and bounded (``b = 0, t = 0``):
    positive where the rows are separable, 0 where not; None where HiGHS
    fails."""
    n, d = A.shape
    ones = sp.csr_matrix(np.ones((n, 1))) if sp.issparse(A) else np.ones((n, 1))
    A_t = sp.hstack([A, ones], format="csr") if sp.issparse(A) else np.hstack([A, ones])
    cost = np.zeros(d + 1)
    cost[-1] = -1.0
    res = linprog(cost, A_ub=A_t, b_ub=np.zeros(n), bounds=[(-1.0, 1.0)] * d + [(None, 1.0)],
                  method="highs")
    if res.status != 0:
        return None
    return res.x[:-1], res.x[-1]


# The largest margin of the scaled rows (_largest_margin) separates them
# above _MARGIN_SEPARATES and does not below _MARGIN_NONE; between, HiGHS's
# feasibility tolerance (1e-7) leaves it undecided.
_MARGIN_SEPARATES = 1e-7
_MARGIN_NONE = 1e-9
# The program on a subset of rows starts with this many times (d + 1) rows
# and takes in at most as many more per round, for at most _ROUNDS rounds.
# (At a stall, the rows nearest the boundary held a certificate of
# non-separability within 4 (d + 1) rows on make_classification's 1000 x
# 10 to 100000 x 10 and digits' one-vs-rest problems; iris needed 10.)
_FIRST_ROWS = 4
_ROUNDS = 8


def _separable_by_rows(A, order):
    """:func:`linearly_separable` by constraint generation on the scaled
    rows ``Z = -A``: the largest margin ``t`` of ``Z b >= t`` with ``|b| <=
    1`` (:func:`_largest_margin`, which HiGHS decides where the program
    ``Z b >= 1`` can be left undecided) on the rows
    ``order[:k]`` first, then on those plus the rows its solution leaves
    below ``t / 2``, the furthest first, ``k`` more at most per round.
    A margin of 0 on some rows is 0 on all (no ``b`` separates a subset:
    False); a ``b`` whose margins clear ``t / 2`` on every row, far above
    their rounding, separates all (True). None where neither came within
    ``_ROUNDS`` rounds (the full program then decides).
    """
    n, d = A.shape
    step = _FIRST_ROWS * (d + 1)
    chosen = np.zeros(n, dtype=bool)
    chosen[order[:step]] = True
    # rounding of a margin: d terms of at most 1 each (|b_j| <= 1)
    rounding = d * d * np.finfo(float).eps
    for _ in range(_ROUNDS):
        rows = np.flatnonzero(chosen)
        if rows.size == n:
            return None
        solution = _largest_margin(A[rows])
        if solution is None:
            return None
        b, t = solution
        if t < _MARGIN_NONE:
            return False
        if t <= _MARGIN_SEPARATES or rounding > 0.1 * t:
            return None
        margins = -np.asarray(A @ b).ravel()
        short = np.flatnonzero(margins < 0.5 * t)
        if short.size == 0:
            return True
        short = short[np.argsort(margins[short], kind="stable")[:step]]
        chosen[short] = True
    return None


def _max_abs(Z, axis):
    top = abs(Z).max(axis=axis)
    return np.asarray(top.todense() if sp.issparse(top) else top, dtype=float).ravel()
