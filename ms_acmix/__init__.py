"""ACmix and its backbones in MindSpore 2.x, the numerical twins of ``torch_ref``."""
from . import resnet, swin  # noqa: F401  (registers the models)
from .acmix import ACmix
from .registry import registry


def create_model(name: str, **kwargs):
    """Build a registered model: ``create_model('acmix_swin_tiny', num_classes=10)``."""
    return registry.create(name, **kwargs)


def list_models():
    return registry.list()


__all__ = ["ACmix", "create_model", "list_models"]
