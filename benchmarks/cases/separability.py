"""The linear program of the stall test: on the rows nearest the flow's
boundary first, against the program on all rows.

A flow that slows down while some margin is not positive asks whether the
data are linearly separable (``LinearFlow.may_stall``, once per flow).
The question is answered from the flow's margins: the program runs on the
rows of smallest margin first and takes in others only as its solution
misses them (``linearly_separable(Z, margins)``). Each such question that
``DiagonalLinearClassifier()`` asks on the data of case ``real_data`` is
recorded with its margins and answered both ways again here: the answers,
the programs solved and their largest row count, and the time (best of
repeats, one BLAS thread).
"""

import time
import warnings

import numpy as np

from common import _check, _result, real_data_problems
from sklearn_implicit import DiagonalLinearClassifier
from sklearn_implicit._integrate import flow as flow_module


def _questions(X, y):
    """``(Z, margins)`` of each separability question of a default fit."""
    asked = []
    may_stall = flow_module.LinearFlow.may_stall

    def recording(flow, predictions):
        if (flow._separable is None and getattr(flow.loss, "may_stall", None) is None
                and np.min(predictions) <= 0):
            asked.append((flow.X, np.array(predictions)))
        return may_stall(flow, predictions)

    flow_module.LinearFlow.may_stall = recording
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            DiagonalLinearClassifier().fit(X, y)
    finally:
        flow_module.LinearFlow.may_stall = may_stall
    return asked


def _answer(Z, margins, repeats):
    """(answer, programs, largest program's rows, best time)."""
    programs = []
    linprog = flow_module.linprog

    def counting(*args, **kwargs):
        programs.append(kwargs["A_ub"].shape[0])
        return linprog(*args, **kwargs)

    flow_module.linprog = counting
    try:
        times = []
        for _ in range(repeats):
            programs.clear()
            start = time.perf_counter()
            answer = flow_module.linearly_separable(Z, margins)
            times.append(time.perf_counter() - start)
    finally:
        flow_module.linprog = linprog
    return answer, len(programs), max(programs), min(times)


def run(settings):
    """The stall test's program from the flow's margins, against all rows."""
    rows = []
    for name, X, y in real_data_problems(settings):
        for k, (Z, margins) in enumerate(_questions(X, y)):
            full = _answer(Z, None, settings.repeats)
            near = _answer(Z, margins, settings.repeats)
            rows.append({
                "data": name, "question": k + 1, "rows x columns": f"{Z.shape[0]} x {Z.shape[1]}",
                "separable": near[0], "same answer": near[0] is full[0],
                "all rows [ms]": 1e3 * full[3], "programs": near[1],
                "largest program [rows]": near[2], "from margins [ms]": 1e3 * near[3],
                "time ratio": near[3] / full[3],
            })
    same = all(r["same answer"] for r in rows)
    worst = max((r["time ratio"] for r in rows), default=float("nan"))
    checks = [_check("the same answer from the margins as from all rows, every question",
                     f"{sum(r['same answer'] for r in rows)} of {len(rows)}", same and bool(rows))]
    columns = ["data", "question", "rows x columns", "separable", "same answer", "all rows [ms]",
               "programs", "largest program [rows]", "from margins [ms]", "time ratio"]
    return _result(
        "The stall test's linear program, from the flow's margins",
        "Each separability question that DiagonalLinearClassifier() (defaults, one-vs-rest "
        "for several classes) asks on the data of case real_data, answered again on all "
        "rows (linearly_separable(Z)) and from the flow's margins at the question "
        "(linearly_separable(Z, margins): the largest margin with |b| <= 1 on the "
        "4 (d + 1) rows of smallest margin, then on those plus the rows its solution "
        f"misses); best of {settings.repeats}, one BLAS thread. 'programs' and "
        "'largest program' count the programs solved from the margins. Worst time ratio "
        f"{worst:.3g}.",
        tables=[{"title": "", "columns": columns, "rows": rows}],
        checks=checks,
    )
