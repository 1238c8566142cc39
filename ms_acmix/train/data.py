"""mindspore.dataset pipelines over scanned image folders, sharded per rank.

Each epoch every rank draws the same seeded permutation, padded by wrapping to a multiple of the
number of ranks (as torch's DistributedSampler), and takes every world-th index from its rank:
equal shard sizes, so every rank runs the same number of steps. Evaluation shards without
padding (rank r takes samples r, r+world, ...) so the all-reduced counts cover each image once.
"""
from typing import Any, Dict, Iterator, List, Sequence, Tuple

import mindspore.dataset as ds
import numpy as np

from .imagefolder import Sample, decode
from .mixup import mix_batch
from .transforms import eval_transforms, train_transforms


class ImageSource:
    """Random-access source: index -> (HWC uint8 image, int32 label); bad files name themselves."""

    def __init__(self, samples: Sequence[Sample], in_chans: int):
        self.samples, self.in_chans = list(samples), in_chans

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Tuple[np.ndarray, np.ndarray]:
        path, label = self.samples[int(index)]
        return decode(path, self.in_chans), np.array(label, dtype=np.int32)


def steps_per_epoch(num_samples: int, world: int, batch_size: int, max_steps: int = 0) -> int:
    """Full batches per rank per epoch; an error if there is not even one."""
    per_rank = -(-num_samples // world)
    steps = per_rank // batch_size
    if steps == 0:
        raise ValueError(f"the training split has {num_samples} images, fewer than one global "
                         f"batch ({world} workers x train.batch_size={batch_size})")
    return min(steps, max_steps) if max_steps > 0 else steps


def train_indices(num_samples: int, epoch: int, seed: int, rank: int, world: int) -> List[int]:
    """This rank's shard of the epoch's shuffled, wrap-padded index list."""
    order = np.random.default_rng([seed, epoch]).permutation(num_samples)
    total = -(-num_samples // world) * world
    order = np.concatenate([order, order[: total - num_samples]])
    return order[rank::world].tolist()


def train_batches(samples: Sequence[Sample], cfg: Dict[str, Any], num_classes: int, epoch: int,
                  rank: int, world: int, steps: int) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
    """Yield ``steps`` batches of (images (B,C,H,W) float32, soft targets (B,classes) float32)."""
    data, aug, train = cfg["data"], cfg["aug"], cfg["train"]
    batch = train["batch_size"]
    seed = train["seed"]
    indices = train_indices(len(samples), epoch, seed, rank, world)[: steps * batch]
    ds.config.set_seed(seed * 100003 + epoch * 101 + rank)
    workers = max(1, data["workers"])
    dataset = ds.GeneratorDataset(ImageSource(samples, data["in_chans"]), ["image", "label"],
                                  sampler=indices, num_parallel_workers=workers,
                                  python_multiprocessing=workers > 1)  # decode in processes
    dataset = dataset.map(train_transforms(data, aug, (seed, epoch, rank)), input_columns="image",
                          num_parallel_workers=workers)
    dataset = dataset.batch(batch, drop_remainder=True)
    for step, (images, labels) in enumerate(dataset.create_tuple_iterator(num_epochs=1,
                                                                          output_numpy=True)):
        rng = np.random.default_rng([seed, epoch, rank, step])
        yield mix_batch(images, labels, num_classes, aug, rng)


def eval_batches(samples: Sequence[Sample], cfg: Dict[str, Any], rank: int, world: int
                 ) -> Iterator[Tuple[np.ndarray, np.ndarray, int]]:
    """Yield (images, labels, valid) with every batch padded to eval_batch_size (one compile);
    ``valid`` counts the real rows."""
    data, train = cfg["data"], cfg["train"]
    batch = train["eval_batch_size"] or train["batch_size"]
    shard = list(samples)[rank::world]
    if not shard:
        return
    workers = max(1, data["workers"])
    dataset = ds.GeneratorDataset(ImageSource(shard, data["in_chans"]), ["image", "label"],
                                  shuffle=False, num_parallel_workers=workers,
                                  python_multiprocessing=workers > 1)
    dataset = dataset.map(eval_transforms(data), input_columns="image",
                          num_parallel_workers=workers)
    dataset = dataset.batch(batch, drop_remainder=False)
    for images, labels in dataset.create_tuple_iterator(num_epochs=1, output_numpy=True):
        valid = images.shape[0]
        if valid < batch:
            pad = batch - valid
            images = np.concatenate([images, np.zeros((pad,) + images.shape[1:], images.dtype)])
            labels = np.concatenate([labels, np.zeros((pad,), labels.dtype)])
        yield images, labels, valid
