"""Unreadable images met during training: skipped, counted, logged, limited.

With ``data.max_bad_images`` = L > 0 the data pipeline replaces an image that does not decode
by the next readable one (evaluation leaves it out) and reports its index. Each epoch the ranks
pool what they met; the run keeps the distinct files (saved with every checkpoint, so a resumed
run keeps counting) and fails, naming them, as soon as there are more than L. With L = 0 the
first unreadable image fails the run at once. A run over ImageNet with ``verify_images: false``
thus loses one epoch's worth of at most L images, never the run.
"""
from typing import List, Sequence, Tuple

import numpy as np

from .distributed import AllReduceSum, allreduce_sum
from .imagefolder import DataError, Sample


class BadImages:
    """Distinct unreadable files of a run over (train + val) samples, and the limit."""

    def __init__(self, train: Sequence[Sample], val: Sequence[Sample], limit: int,
                 known: Sequence[str] = ()):
        self.paths = [p for p, _ in train] + [p for p, _ in val]
        self.offset = len(train)  # val sample i is entry offset + i
        self.limit = limit
        self.found: List[str] = list(known)

    def _fail_if_over(self, paths: Sequence[str]) -> None:
        if len(paths) > self.limit:
            shown = ", ".join(repr(p) for p in paths[:5]) + (" ..." if len(paths) > 5 else "")
            raise DataError(f"{len(paths)} unreadable image(s), more than data.max_bad_images="
                            f"{self.limit}: {shown} (remove or replace them, or raise the limit)")

    def check_local(self, train_indices: Sequence[int]) -> None:
        """Fail at once when this rank alone has met more than the limit."""
        seen = set(self.found) | {self.paths[i] for i in train_indices}
        self._fail_if_over(sorted(seen))

    def pool(self, reducer: AllReduceSum, train_indices: Sequence[int],
             val_indices: Sequence[int]) -> Tuple[int, List[str]]:
        """All ranks' unreadable images of an epoch: (times met, files new to the run); fails
        when the run's distinct files exceed the limit (every rank reaches the same verdict)."""
        local = [int(i) for i in train_indices] + [self.offset + int(i) for i in val_indices]
        met = int(round(float(allreduce_sum(reducer, [len(local)])[0])))
        if met == 0:
            return 0, []
        mask = np.zeros(len(self.paths), dtype=np.float32)
        mask[local] = 1.0
        pooled = allreduce_sum(reducer, mask)
        known = set(self.found)
        new = [self.paths[i] for i in np.flatnonzero(pooled > 0) if self.paths[i] not in known]
        self.found += new
        self._fail_if_over(self.found)
        return met, new
