"""The model registry of each framework, read from the one table (``acmix_common.variants``).

``ms_acmix`` and ``torch_ref`` each expose a ``Registry`` bound to their framework; the same
names exist in both because both read the same entries.
"""
import importlib
from typing import Any, List, Optional

from .variants import FRAMEWORKS, ModelInfo, list_models, model_info


class Registry:
    def __init__(self, framework: str):
        if framework not in FRAMEWORKS:
            raise ValueError(f"framework={framework!r} is not one of {FRAMEWORKS}")
        self.framework = framework

    def constructor(self, name: str):
        """The model class of ``name`` in this framework (imported on first use)."""
        module, _, attr = model_info(name).constructors[self.framework].partition(":")
        return getattr(importlib.import_module(module), attr)

    def create_model(self, name: str, checkpoint_path: Optional[str] = None, **kwargs: Any):
        """Build a registered model: ``create_model('acmix_swin_tiny', num_classes=10)``.

        ``kwargs`` override the variant's architecture (``model_info(name).kwargs``).
        ``checkpoint_path`` loads weights of either framework (a MindSpore ``.ckpt``, a PyTorch
        pickle or safetensors, official wrappings included) through ``ckpt_convert.load_weights``,
        strictly; an unknown name is a ``ValueError`` listing the registered ones.
        """
        if name not in list_models():
            raise ValueError(f"unknown model name={name!r}; {self.framework} has: "
                             f"{', '.join(list_models())}")
        model = self.constructor(name)(**model_info(name).model_kwargs(kwargs))
        if checkpoint_path is not None:
            from ckpt_convert import load_weights
            load_weights(model, checkpoint_path)
        return model

    @staticmethod
    def list_models() -> List[str]:
        return list_models()

    @staticmethod
    def model_info(name: str) -> ModelInfo:
        return model_info(name)
