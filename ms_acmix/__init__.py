"""ACmix and its backbones in MindSpore 2.x, the numerical twins of ``torch_ref``."""
from . import resnet, swin  # noqa: F401  (the registered models' classes)
from .acmix import ACmix
from .registry import create_model, list_models, model_info

__all__ = ["ACmix", "create_model", "list_models", "model_info"]
