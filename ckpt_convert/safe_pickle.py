"""Loading PyTorch pickles without ever running code from the file.

Everything goes through ``torch.load(weights_only=True)``: torch's restricted unpickler builds only
tensors, containers and allow-listed globals. Two kinds of global are added to the allowlist:

- ``yacs.config.CfgNode``, pickled in every checkpoint of the official Swin training script. It is
  mapped to a stand-in whose ``__new__`` returns a plain ``OrderedDict`` (the only dict type the
  restricted unpickler fills and builds), so the config loads as nested ordered dicts, with no yacs.
- numpy scalars, dtypes and arrays (a ``max_accuracy`` saved as ``numpy.float64``); the array
  rebuild only allocates, its contents go through the same restricted unpickler.

Any other global (``os.system``, ``builtins.eval``, a pickled ``nn.Module``...) makes the load fail
before it is called. torch is imported when a pickle is read, not before: a MindSpore-only install
reads ``.ckpt`` and safetensors files without it.
"""
import re
import warnings
import zipfile
from collections import OrderedDict
from typing import Any, List, Optional, Tuple

import numpy as np

from .errors import CheckpointError


class YacsCfgNodeAsDict:
    """Stand-in for ``yacs.config.CfgNode``: unpickles as an ``OrderedDict`` of its entries."""

    def __new__(cls, *args, **kwargs):  # noqa: D102  (arguments of the pickled NEWOBJ are ignored)
        return OrderedDict()


_NUMPY_DTYPES = (np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64,
                 np.uint8, np.bool_)


def allowed_globals() -> List[Tuple[Any, str]]:
    """(object, pickled name) pairs added to torch's weights-only allowlist."""
    pairs: List[Tuple[Any, str]] = [(YacsCfgNodeAsDict, "yacs.config.CfgNode")]
    scalar = np.core.multiarray.scalar
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        pairs.append((scalar, f"{module}.scalar"))
    reconstruct = np.core.multiarray._reconstruct  # builds an empty array; BUILD fills it
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        pairs.append((reconstruct, f"{module}._reconstruct"))
    pairs += [(np.ndarray, "numpy.ndarray"), (np.dtype, "numpy.dtype")]
    for dtype in _NUMPY_DTYPES:
        cls = type(np.dtype(dtype))
        pairs.append((cls, f"numpy.dtypes.{cls.__name__}"))
    return pairs


def _torch(where: str):
    try:
        import torch
    except ImportError:
        raise CheckpointError(f"{where} is a PyTorch pickle: reading it needs torch (pip install "
                              "'ms-acmix[torch]'), or convert it to safetensors") from None
    return torch


def _refused_globals(path: str, message: str) -> List[str]:
    """The globals that made the weights-only load fail, for the error message."""
    import torch
    allowed = {name for _, name in allowed_globals()}
    try:
        if zipfile.is_zipfile(path):
            found = torch.serialization.get_unsafe_globals_in_checkpoint(path)
            return [g for g in found if g not in allowed]
    except Exception:  # noqa: BLE001  (only used to name the culprit; the load already failed)
        pass
    return re.findall(r"GLOBAL (\S+)", message)


def load_torch_pickle(path: str, where: Optional[str] = None) -> Any:
    """Load a ``torch.save`` file (zip or legacy) with the restricted unpickler, on CPU.

    ``where`` names the file in errors, by the caller's parameter (default ``path='w.pth'``).
    """
    where = where or f"path={path!r}"
    torch = _torch(where)
    try:
        with torch.serialization.safe_globals(allowed_globals()), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4"; errors still raise
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001  (torch raises many types; all become one line)
        message = str(exc)
        refused = _refused_globals(path, message)
        if refused:
            raise CheckpointError(
                f"{where} references Python globals that are not allowed in a checkpoint: "
                f"{', '.join(refused)}; refused without running them (save a state dict instead)"
            ) from None
        reason = _short_reason(message)
        if reason.startswith("Unsupported operand"):
            reason += " (a pickle opcode the weights-only unpickler rejects: a corrupt file, or "\
                      "one saved with pickle_protocol > 2)"
        raise CheckpointError(f"{where} is truncated or corrupt: torch.load failed: {reason}") \
            from None


def _short_reason(message: str) -> str:
    """The informative line of a torch.load error (its messages run over many lines)."""
    marker = "WeightsUnpickler error:"
    if marker in message:
        message = message.split(marker, 1)[1]
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    return (lines or ["unknown error"])[0][:200]
