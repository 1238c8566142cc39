"""Examples per property: a test states its CI count; other profiles scale it."""
from hypothesis import settings

_SCALE = {"ci": 1, "dev": 4, "thorough": 25}


def examples(ci_count: int) -> settings:
    """``@examples(n)``: n examples under the ci profile, more under dev and thorough."""
    profile = settings.get_current_profile_name()
    return settings(max_examples=ci_count * _SCALE.get(profile, 1))
