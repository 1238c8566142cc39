"""Top-1 / top-5 accuracy and loss of a model over sharded batches, summed over ranks."""
from typing import Dict, Iterable, Optional, Tuple

import numpy as np
from mindspore import Tensor, nn

from .distributed import AllReduceSum, allreduce_sum


def batch_counts(logits: np.ndarray, labels: np.ndarray) -> Tuple[float, float, float]:
    """(top-1 hits, top-5 hits, summed cross-entropy) of one batch; top-5 is top-k with
    k = min(5, classes)."""
    k = min(5, logits.shape[1])
    topk = np.argsort(-logits, axis=1)[:, :k]
    hits = topk == labels[:, None]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_prob = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_prob[np.arange(labels.shape[0]), labels].sum()
    return float(hits[:, 0].sum()), float(hits.any(axis=1).sum()), float(loss)


def evaluate(model: nn.Cell, batches: Iterable[Tuple[np.ndarray, np.ndarray, int]],
             reducer: Optional[AllReduceSum] = None, progress=None) -> Dict[str, float]:
    """{'top1', 'top5' (percent), 'loss', 'count'} over all ranks' batches; rows labelled -1
    (unreadable images skipped) are left out."""
    model.set_train(False)
    totals = np.zeros(4, dtype=np.float64)  # top-1 hits, top-5 hits, loss sum, images
    for i, (images, labels, valid) in enumerate(batches):
        logits = model(Tensor(images)).asnumpy().astype(np.float64)[:valid]
        labels = labels[:valid].astype(np.int64)
        keep = labels >= 0  # -1: an unreadable image that was skipped
        top1, top5, loss = batch_counts(logits[keep], labels[keep])
        totals += (top1, top5, loss, int(keep.sum()))
        if progress is not None:
            progress(i + 1)
    model.set_train(True)
    if reducer is not None:
        totals = allreduce_sum(reducer, totals).astype(np.float64)
    count = max(totals[3], 1.0)
    return {"top1": 100.0 * totals[0] / count, "top5": 100.0 * totals[1] / count,
            "loss": totals[2] / count, "count": int(totals[3])}
