"""Hypothesis profiles for the property-based tests (see docs/fuzzing.md).

``ci`` (the default): a few hundred derandomized examples in all, so the
default run is short and reproducible. ``long``: the long fuzz, selected with
``HYPOTHESIS_PROFILE=long`` and run on the tests marked slow, >= 10,000
random cases with the failures kept in the local example database.
"""

import os

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
