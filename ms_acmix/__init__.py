"""ACmix and its backbones in MindSpore 2.x, the numerical twins of ``torch_ref``.

    import ms_acmix
    net = ms_acmix.create_model("acmix_swin_tiny", features_only=True)
    ms_acmix.load_weights(net, "acmix_swin_tiny.pth")   # or create_model(..., checkpoint_path=)

Needs MindSpore only: PyTorch pickles are read with torch when it is installed
(``pip install "ms-acmix[torch]"``); ``.ckpt`` and safetensors files need nothing more.
"""
from acmix_common.version import __version__
from ckpt_convert import CheckpointError, load_weights, read_weights

from ._factory import create_model
from .models import ACmix, list_models, model_info

__all__ = ["ACmix", "CheckpointError", "__version__", "create_model", "list_models",
           "load_weights", "model_info", "read_weights"]
