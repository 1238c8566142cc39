"""Examples per property: a test states its CI count; other profiles scale it."""
from typing import List

from hypothesis import Phase, given, settings
from hypothesis.strategies import SearchStrategy

_SCALE = {"ci": 1, "dev": 4, "thorough": 25}


def scale() -> int:
    return _SCALE.get(settings.get_current_profile_name(), 1)


def examples(ci_count: int) -> settings:
    """``@examples(n)``: n examples under the ci profile, more under dev and thorough."""
    return settings(max_examples=ci_count * scale())


def draws(strategy: SearchStrategy, count: int) -> List:
    """``count`` values of ``strategy`` drawn as the current profile draws (for measurements that
    run over draws without being a property, such as the teeth's detection margins)."""
    found: List = []

    @settings(max_examples=count, phases=[Phase.generate], database=None)
    @given(strategy)
    def collect(value):
        found.append(value)

    collect()
    return found[:count]
