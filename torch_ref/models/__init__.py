"""The PyTorch reference models: the ACmix module, its families and their registry."""
from . import resnet, swin  # noqa: F401  (the registered models' classes)
from ._registry import create_model, list_models, model_info
from .acmix import ACmix

__all__ = ["ACmix", "create_model", "list_models", "model_info"]
