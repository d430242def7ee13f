"""Estimator glue shared by every gradient-flow estimator.

:class:`BaseFlowEstimator` holds what every estimator does the same way:
parameter checks, sample weights, one flow per problem under joblib, warm
start, fitted flow attributes and history, and the ConvergenceWarning. The
classifiers (:class:`~.classifier.BaseFlowClassifier`: labels and one-vs-rest, the
intercept column, probabilities) and the regressor
(:mod:`sklearn_implicit._estimators.diagonal_regressor`) only prepare their problems and read
the results. A concrete estimator says which network it trains
(:meth:`BaseFlowEstimator._make_network`) and which parameters define it.
"""

import copy
import functools
import warnings
from numbers import Integral, Real

import joblib
import numpy as np
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.parallel import Parallel, delayed

from .._config import flow_blas_threads
from .._dynamics import DEFAULT_MAX_STEPS, DYNAMICS, DYNAMICS_NAMES, SCHEDULES, fit_one
from .._integrate import SOLVERS
from .._integrate.problem import default_max_iter
from ..utils._logspace import LN10, log_of_targets
from ..utils._sklearn_compat import Interval, StrOptions


def keep_state_on_error(fit):
    """Make a fit all-or-nothing.

    Fitted attributes are set during a fit (``n_features_in_`` by
    ``validate_data``, ``classes_``, then the flow results); when the fit
    raises, KeyboardInterrupt included, every attribute is restored to what it
    was before, so a warm-started estimator still holds its previous
    trajectory and can continue it.
    """

    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        previous = dict(self.__dict__)
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(previous)
            raise

    return wrapper


class BaseFlowEstimator(BaseEstimator):
    """Fit machinery shared by the gradient-flow estimators.

    A subclass validates its data, builds one design matrix and one loss per
    problem (a binary one-vs-rest problem, or a regression target), calls
    :meth:`_run_flows`, then :meth:`_store_flows`, and reads its attributes
    from the results; :meth:`_warn` asks it for the text of a warning.
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="neither"), "array-like"],
        "depth": [Interval(Integral, 2, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "n_jobs": [Integral, None],
        "solver": [StrOptions(set(SOLVERS))],
        "dynamics": [StrOptions(set(DYNAMICS))],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), None],
        "learning_rate_schedule": [StrOptions(set(SCHEDULES))],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    # Parameters that change the trajectory; a warm start needs them unchanged.
    _trajectory_params = ("alpha", "depth", "fit_intercept")
    # Those of discrete dynamics (their trajectory is another one when any
    # changes; the flow's does not depend on them).
    _dynamics_params = ("dynamics", "learning_rate", "learning_rate_schedule", "batch_size")

    def _make_network(self, n_coef, alpha, random_state):
        """Return the network of one problem (``n_coef`` weights)."""
        raise NotImplementedError

    def _network_attributes(self, results):
        """Set network-specific fitted attributes (e.g. layer matrices)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    @property
    def _trainer(self):
        """The name of the training dynamics in messages."""
        return DYNAMICS_NAMES[self.dynamics]

    def _step_size(self):
        """The learning rate of the problems as they are run (a hook for the
        regressor, which may run them at another scale)."""
        return self.learning_rate

    def _dynamics_options(self):
        """The keyword arguments of ``fit_one`` for the chosen dynamics."""
        if self.dynamics == "flow":
            return {"dynamics": "flow"}
        if self.learning_rate is None:
            raise ValueError(
                f"learning_rate must be set when dynamics={self.dynamics!r}: the step "
                "size of the discrete dynamics has no default, since the largest "
                "stable step depends on the data, alpha and depth. Pass a positive "
                "float (e.g. learning_rate=0.1 on standardized data), or "
                "dynamics='flow' for the exact gradient flow (no step size)."
            )
        return {
            "dynamics": self.dynamics,
            "learning_rate": self._step_size(),
            "learning_rate_schedule": self.learning_rate_schedule,
            "batch_size": self.batch_size,
        }

    def _warm_key(self, n_features, problems):
        """Hash of what a stored trajectory depends on, besides the data."""
        names = self._trajectory_params + (
            self._dynamics_params if self.dynamics != "flow" else ("dynamics",)
        )
        params = {k: getattr(self, k) for k in names}
        params["alpha"] = np.asarray(params["alpha"], dtype=float)
        return joblib.hash((params, n_features, problems))

    def _warm_starts(self, key, target_losses):
        """Stored flow states to continue from, or ``None`` per problem."""
        cold = [None] * len(target_losses)
        states = getattr(self, "_flow_states", None)
        if not self.warm_start or states is None:
            return cold
        if key != getattr(self, "_warm_key_value", None):
            return cold
        # The trajectory passes a larger target before the stored point:
        # continuing cannot reach it, so such a fit starts again.
        if any(-s.tau <= log_t for s, log_t in zip(states, log_of_targets(target_losses))):
            return cold
        return list(states)

    def _problem_seeds(self, n_problems, *, as_clone=False):
        """The seeds of the random initializations of ``n_problems`` flows.

        Drawn before dispatch, so that results do not depend on ``n_jobs``.
        ``as_clone``: draw them as a fresh clone of this estimator would (a
        ``RandomState`` instance is copied, not advanced), which is what
        every fit of a grid search sees; the cross-validated estimators draw
        each training fold's seeds so.
        """
        random_state = getattr(self, "random_state", None)
        if as_clone and isinstance(random_state, np.random.RandomState):
            random_state = copy.deepcopy(random_state)
        random_state = check_random_state(random_state)
        return random_state.randint(np.iinfo(np.int32).max, size=n_problems)

    def _run_flows(self, designs, losses, sample_weight, starts, target_losses,
                   labels, alpha, seeds=None):
        """Integrate every problem under joblib; one result per problem.

        ``sample_weight`` is one array for all problems or a list, one each;
        so is ``alpha`` (the cross-validated estimators run every fold and
        scale in one dispatch, with the ``seeds`` of their initializations).
        """
        sample_weights = (
            sample_weight if isinstance(sample_weight, list)
            else [sample_weight] * len(losses)
        )
        alphas = alpha if isinstance(alpha, list) else [alpha] * len(losses)
        options = self._dynamics_options()
        n, sgd = len(losses), self.dynamics == "sgd"
        batch_seeds = [None] * n
        if seeds is None:
            # (SGD's mini-batch seeds are drawn after those of the networks,
            # which stay those of the flow: the first n of 2 n draws)
            drawn = self._problem_seeds(2 * n if sgd else n)
            seeds = drawn[:n]
            if sgd:
                batch_seeds = drawn[n:]
        blas_threads = flow_blas_threads(self.n_jobs)
        max_iter = self.max_iter
        if max_iter is None and self.dynamics == "flow" and getattr(self, "_scale_advice", ""):
            # Features far from unit scale make long slow phases that
            # standardizing removes (1e-200 times breast_cancer: 687,533
            # evaluations in plateaus before the warning that says so); the
            # plateau allowance is for slow phases of the model itself.
            max_iter = default_max_iter(self.tol)[0]
        return Parallel(n_jobs=self.n_jobs)(
            delayed(fit_one)(
                self._make_network(Z.shape[1], a, np.random.RandomState(seed)),
                loss,
                Z,
                weights,
                start,
                target,
                self.tol,
                max_iter,
                self.verbose,
                label,
                blas_threads,
                self.solver,
                **options,
                random_state=batch_seed,
            )
            for Z, weights, loss, start, target, seed, batch_seed, label, a in zip(
                designs, sample_weights, losses, starts, target_losses, seeds, batch_seeds,
                labels, alphas,
            )
        )

    def _flow_history(self, k, history):
        """The history of problem ``k`` as stored (a hook for the regressor)."""
        return history

    def _store_flows(self, results, starts, key):
        """Attributes every estimator shares: counts, times, history, warm state."""
        self.log10_time_ = np.array([r.last.log_time / LN10 for r in results])
        self.n_iter_ = int(max(r.n_iter for r in results))
        self.n_grad_evals_ = np.array([r.n_evals for r in results])
        previous = getattr(self, "history_", None)
        history = []
        for k, (r, start) in enumerate(zip(results, starts)):
            h = self._flow_history(k, r.history)
            if start is not None and previous is not None:
                old = previous[k]
                # The new records continue the stored path; the first one
                # repeats its last point.
                h = dict(h, **{name: h[name] + old[name][-1]
                               for name in ("n_evals", "n_steps") if name in h})
                h = {name: np.concatenate([old[name], h[name][1:]]) for name in h}
            history.append(h)
        self.history_ = history
        self._flow_states = [r.last for r in results]
        self._flow_status = [r.status for r in results]
        self.status_ = np.array([r.status for r in results])
        self._warm_key_value = key
        self._network_attributes(results)

    def _flow_warning(self, k, result, which):
        """Text of the ConvergenceWarning for problem ``k``, or None."""
        raise NotImplementedError

    def _max_iter_warning(self, which, goal, log10_loss, result):
        if self.dynamics != "flow":
            return self._max_steps_warning(which, goal, log10_loss, result)
        steps, total = default_max_iter(self.tol)
        if self.max_iter is None and getattr(self, "_scale_advice", ""):
            budget = (f"{result.n_iter} steps (max_iter=None: {steps:,} steps at "
                      f"tol={self.tol:g}; no allowance for plateaus on features far "
                      "from unit scale)")
        elif self.max_iter is None:
            budget = (f"{result.n_iter} steps (max_iter=None: {steps:,} steps at "
                      f"tol={self.tol:g}, up to {total:,} in plateaus)")
        else:
            budget = f"max_iter={self.max_iter} steps"
        stopped = (
            f"Gradient flow{which} stopped after {budget} before {goal}; the "
            f"smallest training loss reached is 10**{log10_loss:.4f}."
        )
        if result.status != "plateau":
            return f"{stopped} Increase max_iter, or raise target_loss or tol."
        steps, drop = result.plateau
        return (
            f"{stopped} It stopped in a plateau of the loss, not at a stall: "
            f"over its last {steps} steps the loss fell by only "
            f"{-np.expm1(-drop):.2%}, while it can still fall (status_ is "
            "'plateau'). Small initializations (alpha), at depth >= 3 above "
            "all, learn through such plateaus, and the steps across them are "
            "many. Increase max_iter; tol sets the accuracy of the returned "
            "point, not the length of the plateau."
        )

    def _max_steps_warning(self, which, goal, log10_loss, result):
        """The text of a discrete run's stop at ``max_iter``."""
        budget = (f"max_iter={self.max_iter} steps" if self.max_iter is not None
                  else f"{result.n_iter} steps (max_iter=None: {DEFAULT_MAX_STEPS:,} steps)")
        advice = "Increase max_iter, or raise target_loss or tol"
        if self.learning_rate_schedule == "constant" and is_classifier(self):
            advice += (
                "; with a constant step the loss of separable data falls only "
                "like 1 / (learning_rate * steps), and learning_rate_schedule="
                "'normalized' makes its logarithm fall linearly"
            )
        return (
            f"{self._trainer}{which} stopped after {budget} before {goal}; "
            f"the smallest training loss reached is 10**{log10_loss:.4f}. {advice}."
        )

    def _discrete_warning(self, r, which):
        """Text of the warning for the ends only discrete dynamics have, or None."""
        if r.status == "diverged":
            # (in the user's units: the regressor may run at another scale)
            eta = self.learning_rate
            return (
                f"{self._trainer}{which} diverged: {r.reason}. learning_rate={eta:g} "
                f"is too large for this problem; use a smaller learning_rate (for "
                f"instance {eta / 10:g}). status_ is 'diverged', and the model is the "
                "last iterate whose training loss was finite."
            )
        if r.status == "stalled" and self.dynamics == "sgd":
            return (
                f"{self._trainer}{which} stalled before its target: {r.reason}. "
                "With a constant step, SGD's loss settles at a noise level set by "
                "learning_rate and batch_size (and data that are not linearly "
                "separable have a loss with a positive infimum). Use a smaller "
                "learning_rate, a larger batch_size, or dynamics='gd' or 'flow' "
                "to go lower. status_ is 'stalled'."
            )
        if r.status == "stationary":
            return (
                f"{self._trainer}{which} stopped at a point where the gradient of the "
                "training loss is exactly zero (status_ is 'stationary'): no step "
                "can move it."
            )
        return None

    def _warn(self, results, names):
        """One ConvergenceWarning per fit, for the first problem that needs one."""
        for k, r in enumerate(results):
            which = "" if len(results) == 1 else f" ({names[k]})"
            msg = None
            if self.dynamics != "flow":
                msg = self._discrete_warning(r, which)
            if msg is None:
                msg = self._flow_warning(k, r, which)
            if msg is not None:
                if r.status in ("max_iter", "plateau"):
                    # (set by the subclass from its features)
                    msg += getattr(self, "_scale_advice", "")
                warnings.warn(msg, ConvergenceWarning)
                return
