"""PyTorch reference of ACmix and its backbones, with the official numerics and state-dict names."""
from .models import ACmix, create_model, list_models, model_info

__all__ = ["ACmix", "create_model", "list_models", "model_info"]
