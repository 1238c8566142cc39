"""Process setup: device, execution mode, collective init under msrun, and a parent watchdog."""
import os
import sys
import threading
import time
from typing import Callable, Tuple

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn, ops
from mindspore.communication import get_group_size, get_rank, init
from mindspore.device_context.cpu.op_tuning import threads_num

DEVICES = ("CPU", "GPU", "Ascend")
# Test-only: 'E:PATH' holds every worker after epoch E until the file PATH exists (below).
TEST_HOLD_ENV = "ACMIX_TEST_HOLD_AFTER_EPOCH"
TEST_HOLD_LIMIT = 600.0  # seconds


def under_msrun() -> bool:
    """True in a process msrun started (worker or scheduler)."""
    return "MS_ROLE" in os.environ


def start_parent_watchdog(interval: float = 1.0) -> None:
    """Exit this process if its parent (msrun) dies, so no worker outlives a killed launcher."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                sys.stderr.write(f"[pid {os.getpid()}] launcher {parent} is gone: exiting\n")
                sys.stderr.flush()
                os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def hold_for_fault_test(epoch: int, log: Callable[[str], None]) -> None:
    """The training run's one test hook (tests/test_train_multinode.py), unset in real runs:
    with $ACMIX_TEST_HOLD_AFTER_EPOCH = 'E:PATH', wait after epoch E (saved, its collectives
    done) until the file PATH exists, so a test can kill a node where the run cannot finish
    without it."""
    spec = os.environ.get(TEST_HOLD_ENV)
    if not spec:
        return
    at, _, path = spec.partition(":")
    if int(at) != epoch:
        return
    log(f"{TEST_HOLD_ENV}: holding after epoch {epoch} until {path} exists")
    deadline = time.time() + TEST_HOLD_LIMIT
    while not os.path.exists(path):
        if time.time() > deadline:
            raise RuntimeError(f"{TEST_HOLD_ENV}: {path} did not appear within "
                               f"{TEST_HOLD_LIMIT:.0f} s")
        time.sleep(0.2)


def setup(device: str, mode: str, threads: int, seed: int) -> Tuple[int, int]:
    """Configure MindSpore for this process; under msrun join the collective group and turn on
    data parallelism (gradients averaged over ranks). Returns (rank, world size)."""
    if device not in DEVICES:
        raise ValueError(f"--device {device!r} must be one of {', '.join(DEVICES)}")
    if under_msrun():
        start_parent_watchdog()
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    ms.set_device(device)
    rank, world = 0, 1
    if under_msrun():
        init()  # the msrun scheduler process serves the cluster here and never returns
        rank, world = get_rank(), get_group_size()
        ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL,
                                     gradients_mean=True, device_num=world)
    if device == "CPU":
        # workers on this machine: the launcher's count (several nodes), else msrun's total
        local = int(os.environ.get("ACMIX_LOCAL_WORKERS", os.environ.get("MS_WORKER_NUM", world))
                    ) if under_msrun() else 1
        threads_num(threads or max(1, (os.cpu_count() or 1) // max(1, local)))
    ms.set_seed(seed)  # the same on every rank: replicas must start identical
    np.random.seed(seed)
    return rank, world


class AllReduceSum(nn.Cell):
    """Sum of a float32 vector over all ranks (identity when not distributed)."""

    def __init__(self, world: int):
        super().__init__()
        self.world = world
        self.reduce = ops.AllReduce() if world > 1 else None

    def construct(self, x: Tensor) -> Tensor:
        if self.world > 1:
            return self.reduce(x)
        return x


def allreduce_sum(reducer: AllReduceSum, values) -> np.ndarray:
    """Host helper: sum a small list of numbers over ranks."""
    return reducer(Tensor(np.asarray(values, dtype=np.float32))).asnumpy()


def _reduce_params(params, reducer: AllReduceSum, weight: float, scale: float) -> int:
    """Set each parameter to scale * sum over ranks of (weight * its value); returns the count."""
    params = [p for p in params if p.dtype in (ms.float32, ms.float16)]
    if reducer.world <= 1 or not params:
        return 0
    flat = np.concatenate([p.asnumpy().astype(np.float32).ravel() for p in params]) * weight
    flat = allreduce_sum(reducer, flat) * scale
    offset = 0
    for p in params:
        size = int(np.prod(p.shape))
        p.set_data(Tensor(flat[offset:offset + size].reshape(p.shape), p.dtype))
        offset += size
    return offset


def broadcast_from_rank0(cell: nn.Cell, reducer: AllReduceSum, rank: int) -> int:
    """Give every rank rank 0's parameters (as DistributedDataParallel does at start)."""
    return _reduce_params(cell.get_parameters(), reducer, 1.0 if rank == 0 else 0.0, 1.0)


def average_buffers(model: nn.Cell, reducer: AllReduceSum) -> int:
    """Average the non-trainable float parameters (BatchNorm moving statistics) over ranks.

    Each rank updates its own statistics from its own batches; averaging them before evaluation
    and saving makes every rank evaluate, and rank 0 save, one and the same model."""
    return _reduce_params(model.untrainable_params(), reducer, 1.0, 1.0 / reducer.world)
