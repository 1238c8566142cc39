"""The PyTorch reference models: the ACmix module, its families and their registry.

Every public module of this package is imported here, so each family file's
``@register_family`` has run once ``torch_ref.models`` is: a new family is its own file plus its
table entry (``acmix_common/variants.py``), with nothing to add here.
"""
import importlib
import pkgutil

from ._registry import create_model, list_models, model_class, model_info, register_family
from .acmix import ACmix

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["ACmix", "create_model", "list_models", "model_class", "model_info",
           "register_family"]
