"""Which clock the flow is easiest to integrate in: tau = -log L, log t or a blend.

The package integrates the flow in the clock ``tau = -log L`` (exact stops
at target losses, any loss a float can hold). Where the loss stands nearly
still while the coefficients move far (the separation of breast_cancer,
the saddle passages of small initializations at depth 3), the path bends
sharply in that clock. This case measures how much: the same ODE (the
package's own velocity, ``LinearFlow.evaluate``) integrated by one
independent integrator, scipy's ``solve_ivp(method='Radau')`` at one
rtol, in the clock ``tau`` from the start, and in the clock ``s = log t``
(``d state/ds = t d state/dt``) after a short start in ``t`` (until the
loss has fallen by 1%), and in an autonomous blend of the two behaviours,
``d sigma = d tau + kappa |d state|_inf`` (``tau`` where the state moves
slowly, the state's own distance where the loss stands still), each
stopped where the loss reaches the target. Steps and evaluations of each,
the direction difference of their end points, and the package's own fit
with its defaults beside.
"""

import warnings

import numpy as np
from scipy.integrate import solve_ivp

from common import _result, direction_error, separable_gaussian, standardized_dataset
from sklearn_implicit import DiagonalLinearClassifier
from sklearn_implicit._integrate.flow import LinearFlow
from sklearn_implicit._networks.diagonal import DiagonalNetwork


def _data(source, seed):
    if isinstance(source, str):
        X, y = standardized_dataset(source)
        # (the first class against the rest: one flow)
        return source, X, (y == y[0]).astype(int)
    return ("Gaussian, separable",
            *separable_gaussian(*source, np.random.default_rng(seed)))


def _flow(X, y, depth, alpha, fit_intercept):
    est = DiagonalLinearClassifier(depth=depth, alpha=alpha, fit_intercept=fit_intercept)
    problems = est._problems(X, y, None)
    network = DiagonalNetwork(est._flow_alpha(problems, alpha), depth)
    flow = LinearFlow(network, problems.losses[0], problems.designs[0], problems.weights[0])
    return flow, network


def _clocks(flow, network, target, rtol, kappa):
    """Steps, evaluations and end coefficients in the clocks tau, log t and
    the blend of tau and the state's distance (weight ``kappa``)."""
    start = network.initial_state()
    tau_start = -flow.evaluate(start).log_loss
    tau_end = -np.log(target)
    count = [0]

    def in_tau(_, state):
        count[0] += 1
        return flow.evaluate(state).dstate

    def in_t(_, state):
        count[0] += 1
        ev = flow.evaluate(state)
        return ev.dstate * np.exp(-ev.log_dt_dtau)

    def in_log_t(s, state):
        count[0] += 1
        ev = flow.evaluate(state)
        return ev.dstate * np.exp(s - ev.log_dt_dtau)

    def loss_event(offset):
        def event(_, state):
            return -flow.evaluate(state).log_loss - offset
        event.terminal = True
        return event

    out = {}
    tau = solve_ivp(in_tau, (tau_start, tau_end), start, method="Radau", rtol=rtol,
                    atol=1e-3 * rtol)
    out["tau"] = (tau.t.size - 1, count[0], network.coef(tau.y[:, -1]), tau.status == 0)
    count[0] = 0
    # time t in the flow's units: the start is short in any clock
    first = solve_ivp(in_t, (0.0, 1e12), start, method="DOP853", rtol=rtol,
                      atol=1e-3 * rtol, events=loss_event(tau_start + 0.01),
                      first_step=1e-6, max_step=1e3)
    steps = first.t.size - 1
    log_t = solve_ivp(in_log_t, (np.log(first.t[-1]), 1e3), first.y[:, -1], method="Radau",
                      rtol=rtol, atol=1e-3 * rtol, events=loss_event(tau_end))
    out["log t"] = (steps + log_t.t.size - 1, count[0], network.coef(log_t.y[:, -1]),
                    log_t.status == 1)
    count[0] = 0

    def in_blend(_, state):
        # d sigma = d tau + kappa |d state|_inf: the clock tau where the
        # state moves slowly, the state's own distance where the loss stands
        # still (an autonomous clock, unlike log t)
        count[0] += 1
        ev = flow.evaluate(state)
        return ev.dstate / (1.0 + kappa * np.max(np.abs(ev.dstate)))

    blend = solve_ivp(in_blend, (tau_start, 1e9), start, method="Radau", rtol=rtol,
                      atol=1e-3 * rtol, events=loss_event(tau_end))
    out["blend"] = (blend.t.size - 1, count[0], network.coef(blend.y[:, -1]),
                    blend.status == 1)
    return out


def run(settings):
    """Steps of one integrator in the clocks tau and log t."""
    rows = []
    for source, depth, alpha, target, fit_intercept in settings.clock_problems:
        name, X, y = _data(source, settings.seed)
        flow, network = _flow(X, y, depth, alpha, fit_intercept)
        with warnings.catch_warnings():
            # (scipy's finite-difference Jacobians warn of tiny columns)
            warnings.simplefilter("ignore", RuntimeWarning)
            clocks = _clocks(flow, network, target, settings.clock_rtol,
                             settings.clock_kappa)
        est = DiagonalLinearClassifier(depth=depth, alpha=alpha, target_loss=target,
                                       fit_intercept=fit_intercept).fit(X, y)
        (tau_steps, tau_evals, tau_coef, tau_ok) = clocks["tau"]
        (log_steps, log_evals, log_coef, log_ok) = clocks["log t"]
        (blend_steps, blend_evals, blend_coef, blend_ok) = clocks["blend"]
        rows.append({
            "problem": f"{name}, {X.shape[0]} x {X.shape[1]}",
            "D": depth, "alpha": alpha, "target": target,
            "tau: steps": tau_steps if tau_ok else f"{tau_steps} (failed)",
            "tau: evals": tau_evals,
            "log t: steps": log_steps if log_ok else f"{log_steps} (failed)",
            "log t: evals": log_evals,
            "blend: steps": blend_steps if blend_ok else f"{blend_steps} (failed)",
            "blend: evals": blend_evals,
            "steps tau / log t": tau_steps / log_steps,
            "steps tau / blend": tau_steps / blend_steps,
            "direction difference": direction_error(tau_coef, log_coef),
            "direction difference, blend": direction_error(tau_coef, blend_coef),
            "package: steps": int(np.max(est.n_iter_)),
            "package: evals": int(est.n_grad_evals_[0]),
        })
    return _result(
        "Which clock: tau = -log L, log t or a blend, one integrator",
        f"scipy's solve_ivp(method='Radau', rtol={settings.clock_rtol:g}, atol=1e-3 rtol; "
        "Jacobians by finite differences, their evaluations counted) on the package's "
        "velocity (DiagonalNetwork, LinearFlow.evaluate), in the clock tau from the start, "
        "and in the clock log t after a DOP853 start in t until the loss has fallen by 1% "
        "(its steps and evaluations included), and in the blended clock sigma, "
        f"d sigma = d tau + kappa |d state|_inf (kappa = {settings.clock_kappa:g}: tau where "
        "the state moves slowly, the state's distance where the loss stands still); all "
        "stop at the target loss. Bundled "
        "datasets standardized, the first class against the rest; the package's fit with "
        "its defaults at the same depth, alpha and target beside (its steps include "
        "rejected ones).",
        tables=[{"title": "", "columns": list(rows[0]), "rows": rows}],
        notes=["Steps count accepted steps of scipy (rejected ones are inside the "
               "evaluation counts)."],
    )
