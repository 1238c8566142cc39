"""Checkpoint reading, loading and conversion between PyTorch (``torch_ref``) and MindSpore
(``ms_acmix``) ACmix models.

``read_weights(path)`` reads any supported file as PyTorch-style names; ``load_weights(model,
source)`` loads a file or such a dict into a built model of either framework, strictly;
``convert(Options(...))`` (in ``pipeline``) is a whole conversion, and ``scripts/convert_ckpt.py``
its command line.
"""
from .errors import CheckpointError, VerifyError
from .pipeline import Options, convert
from .weights import LoadReport, WeightsInfo, load_weights, read_weights

__all__ = ["CheckpointError", "LoadReport", "Options", "VerifyError", "WeightsInfo", "convert",
           "load_weights", "read_weights"]
