"""Checkpoint reading, loading and conversion between PyTorch (``torch_ref``) and MindSpore
(``ms_acmix``) ACmix models.

``read_weights(path)`` reads any supported file as PyTorch-style names; ``load_weights(model,
source)`` loads a file or such a dict into a built model of either framework, strictly;
``convert(Options(...))`` (in ``pipeline``) is a whole conversion, ``acmix-convert``
(``ms_acmix.cli.convert``) its command line.

The weights layer: above the models of both frameworks, below the factories
(``ms_acmix.create_model``), training and export. Neither framework is imported here until a
file or model of that framework is read or built, so MindSpore-only and PyTorch-only installs
both import it.
"""
from .errors import CheckpointError, VerifyError
from .pipeline import Options, convert
from .weights import LoadReport, WeightsInfo, load_weights, read_weights

__all__ = ["CheckpointError", "LoadReport", "Options", "VerifyError", "WeightsInfo", "convert",
           "load_weights", "read_weights"]
