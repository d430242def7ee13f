"""The recipes of the contributor's guide run as written."""

from pathlib import Path

import numpy as np
from _rst import python_blocks

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "contributing.rst"




def test_recipes_run_and_their_checks_hold():
    blocks = python_blocks(GUIDE.read_text())
    # the network, its first flow, the loss, its checks and flow
    assert len(blocks) == 4
    namespace = {}
    for block in blocks:
        exec(compile(block, str(GUIDE), "exec"), namespace)
    network, loss = namespace["LinearNetwork"](3), namespace["TemperedLogisticLoss"](1.0)
    # at T = 1 the tempered loss is the logistic loss
    from sklearn_implicit._losses import LogisticLoss

    p, w = np.array([-2.0, 0.5, 40.0]), np.array([1.0, 2.0, 0.5])
    assert np.allclose(loss.log_mean(p, w), LogisticLoss().log_mean(p, w), rtol=1e-14)
    assert np.array_equal(network.coef(np.arange(3.0)), np.arange(3.0))
