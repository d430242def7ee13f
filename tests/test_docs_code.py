"""The code of the landing page, the getting-started page and the user
guide runs as written, and says what the text around it says."""

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from _rst import python_blocks
from sklearn.exceptions import ConvergenceWarning

DOCS = Path(__file__).resolve().parents[1] / "docs"




def _run_page(name):
    """Run every Python block of a page in one namespace; return the
    namespace and what each block printed."""
    path = DOCS / name
    namespace, printed = {}, []
    for block in python_blocks(path.read_text()):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, str(path), "exec"), namespace)
        printed.append(out.getvalue())
    return namespace, printed


def test_index_example_is_self_contained():
    namespace, _ = _run_page("index.rst")
    clf, X, y = namespace["clf"], namespace["X"], namespace["y"]
    assert clf.log10_loss_[0] == pytest.approx(-100.0)
    ratio = namespace["normalized_margin"](clf, X, y, norm="l1") / namespace[
        "max_margin"
    ](X, y, norm="l1").margin
    # the comment in the block quotes it
    assert round(ratio, 3) == 0.975


def test_getting_started_prints_what_it_shows():
    text = (DOCS / "getting_started.rst").read_text()
    _, printed = _run_page("getting_started.rst")
    shown = text.split("It prints::\n\n", 1)[1].split("\n\n", 1)[0]
    shown = "\n".join(line.strip() for line in shown.splitlines())
    assert printed[-1].strip() == shown


def test_user_guide_examples():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        namespace, _ = _run_page("user_guide.rst")
    # iris: one-vs-rest flows stall, the fit says so, and setosa's problem
    # reaches the target
    assert any(issubclass(w.category, ConvergenceWarning) for w in caught)
    iris = namespace["model"][-1]
    assert np.allclose(iris.log10_loss_, [-5, -0.12, -1.17], atol=0.005)
    # which the text also quotes: the training accuracy with the stalls
    X, y = namespace["load_iris"](return_X_y=True)
    assert round(namespace["model"].score(X, y), 3) == 0.973
    proba = namespace["calibrated"].predict_proba(namespace["X"][:3])
    assert np.allclose(proba.sum(axis=1), 1.0)
    # discrete dynamics: the numbers the block's comments and the text quote
    gd, flow, prediction = (namespace[k] for k in ("gd_fit", "flow_fit", "prediction"))
    distance = namespace["distance"]
    assert gd.status_[0] == "converged"
    assert f"{np.median(gd.effective_alpha_):.4f}" == "0.0981"
    assert f"{distance(gd.coef_, flow.coef_):.1e}" == "1.5e-02"
    assert f"{distance(gd.coef_, prediction):.1e}" == "2.2e-03"
    assert round(distance(gd.coef_, flow.coef_) / distance(gd.coef_, prediction)) == 7
