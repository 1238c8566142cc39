"""PyTorch reference of ACmix and its backbones, with the official numerics and state-dict names."""
from . import resnet, swin  # noqa: F401  (the registered models' classes)
from .acmix import ACmix
from .registry import create_model, list_models, model_info

__all__ = ["ACmix", "create_model", "list_models", "model_info"]
