"""The PyTorch side of the one model table (``acmix_common.variants``)."""
from acmix_common.registry import Registry

registry = Registry("torch")
create_model, list_models, model_info = (registry.create_model, registry.list_models,
                                          registry.model_info)
