"""The MindSpore model registry: the class of each family (registered by its model file with
``@register_family``), built with the entry of the one model table (``acmix_common.variants``).

``create_model`` here builds a model and nothing more; ``ms_acmix.create_model`` (the factory,
``ms_acmix/_factory.py``) also loads a checkpoint.
"""
from acmix_common.registry import ModelRegistry

registry = ModelRegistry("mindspore")
register_family = registry.register_family
model_class = registry.model_class
create_model = registry.create_model
list_models = registry.list_models
model_info = registry.model_info
