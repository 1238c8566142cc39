"""The class registry each framework's model layer keeps (timm's ``register_model``, by family).

A family's model file registers its class under the family key of the model table
(``@register_family("swin")``); the registry builds a registered name from that class and the
name's table entry (``acmix_common.variants``). Nothing here imports a framework or anything
above this package: the classes come to the registry, it never goes looking for them.
"""
from typing import Any, Callable, Dict, List

from .variants import FRAMEWORKS, ModelInfo, list_models, model_info


class ModelRegistry:
    """The model classes of one framework, one per family."""

    def __init__(self, framework: str):
        if framework not in FRAMEWORKS:
            raise ValueError(f"framework={framework!r} is not one of {FRAMEWORKS}")
        self.framework = framework
        self._classes: Dict[str, type] = {}

    def register_family(self, family: str) -> Callable[[type], type]:
        """Class decorator: ``cls`` builds every table entry of ``family`` in this framework."""
        def register(cls: type) -> type:
            known = self._classes.get(family)
            if known is not None and known is not cls:
                raise ValueError(f"family {family!r} already has the {self.framework} class "
                                 f"{known.__module__}.{known.__qualname__}")
            self._classes[family] = cls
            return cls
        return register

    def model_class(self, name: str) -> type:
        """The class that builds ``name`` (an unknown name is ``model_info``'s ValueError)."""
        family = model_info(name).family
        if family not in self._classes:
            raise ValueError(f"name={name!r}: family {family!r} has no {self.framework} class; "
                             f"its model file registers one with @register_family({family!r})")
        return self._classes[family]

    def create_model(self, name: str, **kwargs: Any):
        """Build ``name``: its class with the entry's kwargs, overridden by ``kwargs``."""
        return self.model_class(name)(**model_info(name).model_kwargs(kwargs))

    @staticmethod
    def list_models() -> List[str]:
        return list_models()

    @staticmethod
    def model_info(name: str) -> ModelInfo:
        return model_info(name)
