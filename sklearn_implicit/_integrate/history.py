"""What a trajectory records along its way: one record per decade of loss."""

import numpy as np

from ..utils._logspace import LN10


def margin_fields(m, coef):
    min_margin = float(np.min(m))
    l1 = np.sum(np.abs(coef))
    l2 = np.sqrt(np.sum(coef**2))
    return {
        "min_margin": min_margin,
        "l1_margin": min_margin / l1 if l1 > 0 else 0.0,
        "l2_margin": min_margin / l2 if l2 > 0 else 0.0,
    }


def history_record(flow, ev, tau, log_time):
    # A loss that is not a margin loss (the squared loss) says what to record
    # in place of the margins.
    fields = getattr(flow.loss, "diagnostics", margin_fields)
    record = {
        "log10_loss": ev.log_loss / LN10,
        "log10_time": log_time / LN10,
        **fields(ev.predictions, ev.coef),
        "n_evals": flow.n_evals,
    }
    # A network may add its own diagnostics (e.g. layer alignment); the
    # state is the one the record describes.
    diagnostics = getattr(flow.network, "diagnostics", None)
    if diagnostics is not None:
        record.update(diagnostics(ev.state))
    return record


def stack_history(records):
    return {k: np.array([r[k] for r in records]) for k in records[0]}


_PRINTED_NAMES = {"min_margin": "min margin", "l1_margin": "l1-margin", "l2_margin": "l2-margin"}


def print_record(rec, label):
    fields = "".join(
        f"{_PRINTED_NAMES.get(key, key.replace('_', ' '))} = {value:.4g}, "
        for key, value in rec.items()
        if key not in ("log10_loss", "log10_time", "n_evals")
    )
    print(
        f"{label}log10(loss) = {rec['log10_loss']:9.3f}, log10(t) = "
        f"{rec['log10_time']:8.3f}, {fields}gradient evaluations = {rec['n_evals']}"
    )
