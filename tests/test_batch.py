"""Tests of the batch server that stacks the products of many flows."""

import signal
import threading

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_implicit._integrate import LinearFlow
from sklearn_implicit._integrate.batch import FlowBatch
from sklearn_implicit._losses import ExponentialLoss
from sklearn_implicit._networks import DiagonalNetwork


def _batch(n_flows, sparse=False, seed=0):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((7, 5))
    batch = FlowBatch(sp.csr_matrix(Z) if sparse else Z)
    flows = [batch.flow(DiagonalNetwork(np.full(5, a), 2), ExponentialLoss(), np.ones(7))
             for a in np.geomspace(0.1, 10, n_flows)]
    return Z, batch, flows


@pytest.mark.parametrize("sparse", [False, True])
def test_served_products_equal_direct_ones(sparse):
    Z, batch, flows = _batch(4, sparse)
    rng = np.random.default_rng(1)
    states = rng.standard_normal((4, 5))

    def run(flow, k):
        # Flows ask for different products at the same time: one asks for
        # two evaluations, another only for predictions.
        if k == 1:
            return [flow.predictions(states[k])[1]]
        return [flow.evaluate(states[k]).dstate, flow.evaluate(2 * states[k]).dstate]

    served = batch.run(flows, run)
    for k, (flow, got) in enumerate(zip(flows, served)):
        direct = LinearFlow(flow.network, flow.loss, Z, flow.sample_weight)
        want = ([direct.predictions(states[k])[1]] if k == 1 else
                [direct.evaluate(states[k]).dstate, direct.evaluate(2 * states[k]).dstate])
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15)
    assert [f.n_evals for f in flows] == [2, 0, 2, 2]


def test_an_error_in_one_flow_stops_the_batch():
    _, batch, flows = _batch(5)
    before = threading.active_count()

    def run(flow, k):
        for i in range(10):
            flow.evaluate(np.full(5, 0.1 * i))
            if k == 2 and i == 3:
                raise ArithmeticError("flow 2 failed")
        return k

    with pytest.raises(ArithmeticError, match="flow 2 failed"):
        batch.run(flows, run)
    # Every thread has ended: nothing is left waiting on a product.
    assert threading.active_count() == before


def test_run_needs_the_batch_flows_in_order():
    _, batch, flows = _batch(3)
    with pytest.raises(ValueError, match="all the flows of this batch"):
        batch.run(flows[::-1], lambda flow, k: k)
    assert batch.run(flows, lambda flow, k: k) == [0, 1, 2]


def test_keyboard_interrupt_while_serving_stops_every_flow():
    import _thread

    _, batch, flows = _batch(4)
    before = threading.active_count()

    def run(flow, k):
        for i in range(200):
            flow.evaluate(np.full(5, 0.01 * i))
            if k == 1 and i == 3:
                # as if Ctrl-C arrived in the serving (main) thread
                _thread.interrupt_main()
        return k

    # interrupt_main does nothing where SIGINT is ignored, as in a test run
    # started in the background by a non-interactive shell
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            batch.run(flows, run)
    finally:
        signal.signal(signal.SIGINT, handler)
    assert threading.active_count() == before
    # No flow ran to its end: the interrupt stopped them all.
    assert all(flow.n_evals < 200 for flow in flows)
