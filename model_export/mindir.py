"""MindSpore -> MINDIR, reloaded with ``mindspore.load`` and checked before the rename."""
import os

import numpy as np

from acmix_common.tolerance import compare

from .errors import ExportError


def export_mindir(model, x: np.ndarray, out: str) -> float:
    """Write ``out`` (.mindir) for input ``x``'s shape; return the reloaded graph's max |diff|."""
    import mindspore as ms
    from mindspore import Tensor, nn
    if not out.endswith(".mindir"):
        raise ExportError(f"output={out!r} must end with .mindir")
    out = os.path.abspath(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    stem = os.path.join(os.path.dirname(out), f".tmp-{os.getpid()}-" + os.path.basename(out)[:-7])
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    tmp = stem + ".mindir"
    try:
        ms.export(model, Tensor(x), file_name=stem, file_format="MINDIR")
        graph = nn.GraphCell(ms.load(tmp))
        result = compare(graph(Tensor(x)).asnumpy(), model(Tensor(x)).asnumpy(), "float32",
                         "forward")
        if not result.ok:
            raise ExportError(f"the reloaded MINDIR graph differs from the model: {result}")
        os.replace(tmp, out)
    finally:
        ms.set_context(mode=previous)
        if os.path.exists(tmp):
            os.remove(tmp)
    return result.max_abs
