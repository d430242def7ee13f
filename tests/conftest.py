"""Hypothesis profiles for the property-based tests (see docs/fuzzing.md),
and a fixture the tests of discrete dynamics share.

``ci`` (the default): a few hundred derandomized examples in all, so the
default run is short and reproducible. ``long``: the long fuzz, selected with
``HYPOTHESIS_PROFILE=long`` and run on the tests marked slow, >= 10,000
random cases with the failures kept in the local example database.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=_QUIET,
    print_blob=True,
)
settings.register_profile(
    "long",
    # 10,000 cases per estimator unless the environment asks for another count
    max_examples=int(os.environ.get("SKLEARN_IMPLICIT_FUZZ_EXAMPLES", "10000")),
    deadline=None,
    suppress_health_check=_QUIET,
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="module")
def regression():
    """An underdetermined regression with a sparse truth (10 x 30, 3 nonzeros):
    the setting of the effective-initialization theory of discrete dynamics."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 30))
    w = np.zeros(30)
    w[[0, 5, 9]] = [1.0, -1.5, 0.8]
    return X, X @ w
