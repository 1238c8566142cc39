"""ACmix and its backbones in MindSpore 2.x, the numerical twins of ``torch_ref``."""
from .models import ACmix, create_model, list_models, model_info

__all__ = ["ACmix", "create_model", "list_models", "model_info"]
