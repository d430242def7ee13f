"""Interrupting a fit part-way (for the tests of what an interrupt leaves)."""

import joblib

from sklearn_implicit._integrate import LinearFlow


def interrupt_after(monkeypatch, n_evals):
    """Make the n-th gradient evaluation from now raise KeyboardInterrupt.

    Returns the dict whose ``'n'`` counts the evaluations since.
    """
    calls = {"n": 0}
    evaluate = LinearFlow.evaluate

    def interrupted(self, state):
        calls["n"] += 1
        if calls["n"] >= n_evals:
            raise KeyboardInterrupt
        return evaluate(self, state)

    monkeypatch.setattr(LinearFlow, "evaluate", interrupted)
    return calls


def fitted_state(est):
    """A hash of every fitted attribute and private state of ``est``."""
    return joblib.hash({k: v for k, v in vars(est).items() if k.endswith("_") or k.startswith("_")})
