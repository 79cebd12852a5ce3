"""pytest configuration: hypothesis profiles for the srcad suite.

The default profile ("ci") is derandomized, so every run draws the same
examples, keeps the example count modest so the whole suite runs in well
under a few minutes on two cores, and has no deadline (the first call of a
transformed function includes the transform). Choose another profile with
``HYPOTHESIS_PROFILE=dev pytest`` (more examples, random).
"""

import os

from hypothesis import HealthCheck, Phase, settings

_common = dict(
    deadline=None,
    database=None,
    # no "explain" phase: on a failing test it re-runs the function thousands
    # of times (a minute or more per failing test) to annotate the report
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large],
)

settings.register_profile("ci", derandomize=True, max_examples=15, **_common)
settings.register_profile("dev", max_examples=60, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
