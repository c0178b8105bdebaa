"""Settings for every test."""

from hypothesis import HealthCheck, settings

# Timing is not behaviour: on a loaded machine (CI, two pytest workers on two cores)
# hypothesis's per-example deadline and its too-slow check fail tests that are right.
settings.register_profile(
    "timing-free", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("timing-free")
