"""``ConvolutionalLinearClassifier``: cost per evaluation and evaluations per fit.

One gradient evaluation of the convolutional network (``LinearFlow.evaluate``
on ``ConvolutionalNetwork``, the antisymmetric pair, exponential loss)
against the two bare products ``Z @ b``, ``Z.T @ p``, timed in alternating
short blocks, for each depth (issue 25's target: within 1.5x at
1000 x 4096, depths 2 and 3). Then cold fits to each target against the
diagonal network's on the same data (target: within 2x its evaluations),
``fit_intercept=False``, at the same scale of the weights: the
convolutional network's filters' Fourier coefficients, the weights of its
``d`` diagonal networks, start with a mean square of ``alpha**2 / d``
(:func:`~sklearn_implicit._networks.convolutional.random_filters`), so at
``alpha=1`` and ``d = 4096`` it starts near ``1/64`` per frequency, in the
regime of small initializations, where the diagonal network at ``alpha=1``
is not. Both pairs at the same scale are fitted (the convolutional network
at ``alpha=1`` against the diagonal one at ``alpha = d**-0.5``, and at
``alpha = d**0.5`` against the diagonal one at ``alpha=1``), and the
defaults (``alpha=1`` for both) for comparison.
"""

import itertools
import warnings

import numpy as np
from common import (
    EVALS_PER_STEP,
    LOSSES,
    ConvolutionalNetwork,
    LinearFlow,
    _check,
    _result,
    bare_pair,
    initial_filters,
    make_problem,
    paired_block_times,
    signed_design,
)

from sklearn_implicit import ConvolutionalLinearClassifier, DiagonalLinearClassifier


def _evaluation_rows(settings):
    rows, checks = [], []
    rng = np.random.default_rng(settings.seed)
    for size, depth in itertools.product(settings.conv_eval_sizes, settings.conv_depths):
        n, d = size
        X, y = make_problem(n, d, seed=settings.seed)
        Z = signed_design(X, y)
        filters = initial_filters("antisymmetric", 1.0, depth, d, rng)
        network = ConvolutionalNetwork(filters)
        flow = LinearFlow(network, LOSSES["exponential"](), Z, np.ones(n))
        # Two states, alternated (as the integrator never evaluates one
        # twice); the cost does not depend on the values.
        start = network.initial_state()
        states = itertools.cycle(
            [start + 0.1 * rng.standard_normal(start.size) for _ in range(2)]
        )
        t_eval, t_bare = paired_block_times(
            lambda: flow.evaluate(next(states)), bare_pair(Z, settings.seed),
            settings.per_eval_block, settings.conv_eval_budget,
            max(settings.repeats, settings.per_eval_repeats))
        ratios = t_eval / t_bare
        ratio = float(np.median(ratios))
        q1, q3 = np.quantile(ratios, [0.25, 0.75])
        rows.append({"n x d": f"{n} x {d}", "depth": depth,
                     "bare pair [ms]": 1e3 * np.median(t_bare),
                     "evaluate [ms]": 1e3 * np.median(t_eval), "evaluate / pair": ratio,
                     "quartiles of the ratio": f"{q1:.3g} - {q3:.3g}",
                     "block pairs": len(t_eval)})
        if tuple(size) == (1000, 4096):
            checks.append(_check(
                f"evaluate <= 1.5x two bare products at 1000 x 4096, depth {depth}",
                f"{ratio:.3g}x", ratio <= 1.5))
    return rows, checks


def _fit(clf, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a capped fit is reported as not reached
        clf.fit(X, y)
    return int(clf.n_grad_evals_[0]), float(clf.log10_loss_[0])


def _fit_rows(settings):
    rows, checks = [], []
    n, d = settings.conv_fit_size
    X, y = make_problem(n, d, seed=settings.seed)
    max_iter = -(-settings.conv_max_evals // EVALS_PER_STEP)
    for depth, target in itertools.product(settings.conv_depths, settings.conv_targets):
        common = dict(depth=depth, target_loss=target, fit_intercept=False, max_iter=max_iter)
        conv, conv_loss = _fit(ConvolutionalLinearClassifier(random_state=0, **common), X, y)
        wide, wide_loss = _fit(ConvolutionalLinearClassifier(
            alpha=d**0.5, random_state=0, **common), X, y)
        diag, diag_loss = _fit(DiagonalLinearClassifier(**common), X, y)
        same_scale, same_scale_loss = _fit(
            DiagonalLinearClassifier(alpha=d**-0.5, **common), X, y)
        reached = all(abs(loss - np.log10(target)) < 1e-6 * abs(np.log10(target))
                      for loss in (conv_loss, wide_loss, diag_loss, same_scale_loss))
        ratio = conv / diag
        matched = max(conv / same_scale, wide / diag)
        rows.append({"n x d": f"{n} x {d}", "depth": depth, "target": target,
                     "convolutional evals": conv, "diagonal evals": diag,
                     "ratio": ratio, "diagonal evals, alpha = d**-0.5": same_scale,
                     "ratio at that alpha": conv / same_scale,
                     "convolutional evals, alpha = d**0.5": wide,
                     "ratio to the diagonal at alpha = 1": wide / diag,
                     "all reached": reached})
        checks.append(_check(
            f"evaluations to {target:g} <= 2x the diagonal network's at the same scale, "
            f"depth {depth}, {n} x {d}", f"{matched:.3g}x", reached and matched <= 2.0,
            f"the larger of {conv / same_scale:.3g}x (alpha 1 against d**-0.5) and "
            f"{wide / diag:.3g}x (d**0.5 against 1); {ratio:.3g}x at alpha=1 for both"
            + ("" if reached else "; a fit stopped at its cap")))
    return rows, checks


def run(settings):
    """ConvolutionalLinearClassifier: cost per evaluation, evaluations per fit."""
    eval_rows, eval_checks = _evaluation_rows(settings)
    fit_rows, fit_checks = _fit_rows(settings)
    return _result(
        "ConvolutionalLinearClassifier",
        "LinearFlow.evaluate of the convolutional network (antisymmetric pair, alpha=1, "
        "exponential loss, a random state) against the two bare products Z @ b and "
        f"Z.T @ p, timed in alternating blocks of about {1e3 * settings.per_eval_block:g} "
        f"ms for {settings.conv_eval_budget:g} s per item (median and quartiles of the "
        "per-pair ratios); then gradient evaluations of cold fits of "
        "ConvolutionalLinearClassifier and DiagonalLinearClassifier (fit_intercept=False, "
        "default solver) on the same data, capped at "
        f"{settings.conv_max_evals:,} evaluations: both at alpha=1 (the defaults), the "
        "diagonal network from alpha = d**-0.5, the mean-square scale of the convolutional "
        "network's Fourier weights at alpha=1 (a small initialization at this d), and the "
        "convolutional network from alpha = d**0.5, whose Fourier weights then start at "
        "the diagonal network's scale at alpha=1.",
        tables=[{"title": "Cost of one evaluation", "columns": list(eval_rows[0]),
                 "rows": eval_rows},
                {"title": "Evaluations to a target", "columns": list(fit_rows[0]),
                 "rows": fit_rows}],
        checks=eval_checks + fit_checks,
    )
