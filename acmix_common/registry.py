"""A model registry in the style of timm/mindcv: one per framework, same names in both."""
from typing import Callable, Dict, List


class Registry:
    def __init__(self, framework: str):
        self.framework = framework
        self._entries: Dict[str, Callable] = {}

    def register(self, fn: Callable) -> Callable:
        if fn.__name__ in self._entries:
            raise ValueError(f"model {fn.__name__!r} is registered twice")
        self._entries[fn.__name__] = fn
        return fn

    def create(self, name: str, **kwargs):
        if name not in self._entries:
            raise ValueError(f"unknown model name={name!r}; {self.framework} has: "
                             f"{', '.join(self.list())}")
        return self._entries[name](**kwargs)

    def list(self) -> List[str]:
        return sorted(self._entries)
