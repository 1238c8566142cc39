"""mindspore.dataset pipelines over scanned image folders, sharded per rank.

Each epoch every rank draws the same seeded permutation, padded by wrapping to a multiple of the
number of ranks (as torch's DistributedSampler), and takes every world-th index from its rank:
equal shard sizes, so every rank runs the same number of steps. Evaluation shards without
padding (rank r takes samples r, r+world, ...) so the all-reduced counts cover each image once.
"""
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import mindspore.dataset as ds
import numpy as np

from .imagefolder import DataError, Sample, decode
from .mixup import mix_batch
from .transforms import EvalRecipe, EvalTransform, TrainTransform, eval_recipe, train_recipe

MAX_SUBSTITUTE_TRIES = 100  # a run of unreadable files this long is a broken folder


class ImageSource:
    """Random-access source: index -> (HWC uint8 image, int32 label, int64 bad).

    ``bad`` is -1 for a readable image. With ``skip_bad`` an unreadable image is replaced by the
    next readable one in the sample list (wrapping; deterministic, whichever worker decodes it)
    and ``bad`` holds the unreadable one's index, for the caller to count and name; without, the
    DataError naming the file propagates.
    """

    def __init__(self, samples: Sequence[Sample], in_chans: int, skip_bad: bool = False):
        self.samples, self.in_chans, self.skip_bad = list(samples), in_chans, skip_bad

    def __len__(self) -> int:
        return len(self.samples)

    def _row(self, index: int, bad: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        path, label = self.samples[index]
        return (decode(path, self.in_chans), np.array(label, dtype=np.int32),
                np.array(bad, dtype=np.int64))

    def __getitem__(self, index: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        index = int(index)
        try:
            return self._row(index, -1)
        except DataError:
            if not self.skip_bad:
                raise
        for step in range(1, min(len(self.samples), MAX_SUBSTITUTE_TRIES + 1)):
            try:
                return self._row((index + step) % len(self.samples), index)
            except DataError:
                continue
        raise DataError(f"unreadable image {self.samples[index][0]!r} and the "
                        f"{MAX_SUBSTITUTE_TRIES} images after it in the list")


class KeyedSource:
    """A source's rows plus an int64 key (prefix..., index) that seeds the sample's augmentation,
    so the draws do not depend on which worker process transforms it."""

    def __init__(self, source, prefix: Sequence[int]):
        self.source, self.prefix = source, [int(p) for p in prefix]

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int):
        return (*self.source[index], np.array(self.prefix + [int(index)], dtype=np.int64))


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


def train_dataset(samples: Sequence[Sample], cfg: Dict[str, Any], indices: Sequence[int],
                  key_prefix: Sequence[int]) -> ds.Dataset:
    """(image, label) rows of ``samples[indices]``, augmented by the recipe on data.workers
    parallel workers; sample i's draws are seeded by (key_prefix..., i)."""
    data = cfg["data"]
    workers = max(1, data["workers"])
    source = KeyedSource(ImageSource(samples, data["in_chans"], skips_bad(cfg)), key_prefix)
    dataset = ds.GeneratorDataset(source, ["image", "label", "bad", "key"],
                                  sampler=list(indices), num_parallel_workers=workers,
                                  python_multiprocessing=workers > 1)  # decode in processes
    # PIL transforms in worker processes (the GIL would serialise threads)
    return dataset.map(TrainTransform(train_recipe(data, cfg["aug"])),
                       input_columns=["image", "key"], output_columns=["image"],
                       num_parallel_workers=workers, python_multiprocessing=workers > 1)


def skips_bad(cfg: Dict[str, Any]) -> bool:
    """Unreadable images are skipped and counted when some are tolerated (data.max_bad_images)."""
    return cfg["data"]["max_bad_images"] > 0


def train_batches(samples: Sequence[Sample], cfg: Dict[str, Any], num_classes: int, epoch: int,
                  rank: int, world: int, steps: int, bad: Optional[List[int]] = None
                  ) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
    """Yield ``steps`` batches of (images (B,C,H,W) float32, soft targets (B,classes) float32).
    ``bad`` collects the sample indices found unreadable (and replaced) as batches arrive."""
    aug, train = cfg["aug"], cfg["train"]
    batch = train["batch_size"]
    seed = train["seed"]
    indices = train_indices(len(samples), epoch, seed, rank, world)[: steps * batch]
    ds.config.set_seed(seed * 100003 + epoch * 101 + rank)
    dataset = train_dataset(samples, cfg, indices, (seed, epoch, rank))
    dataset = dataset.batch(batch, drop_remainder=True)
    for step, (images, labels, unreadable) in enumerate(
            dataset.create_tuple_iterator(num_epochs=1, output_numpy=True)):
        if bad is not None:
            bad += [int(i) for i in unreadable if i >= 0]
        rng = np.random.RandomState(np.random.SeedSequence([seed, epoch, rank, step])
                                    .generate_state(4))
        yield mix_batch(images, labels, num_classes, aug, rng)


def eval_batches(samples: Sequence[Sample], cfg: Dict[str, Any], rank: int, world: int,
                 recipe: Optional[EvalRecipe] = None, bad: Optional[List[int]] = None
                 ) -> Iterator[Tuple[np.ndarray, np.ndarray, int]]:
    """Yield (images, labels, valid) with every batch padded to eval_batch_size (one compile);
    ``valid`` counts the real rows. ``recipe``: the preprocessing (default: the config's).
    An unreadable image skipped (data.max_bad_images > 0) gets label -1, which evaluation leaves
    out, and its index in ``samples`` goes to ``bad``."""
    data, train = cfg["data"], cfg["train"]
    batch = train["eval_batch_size"] or train["batch_size"]
    shard = list(samples)[rank::world]
    if not shard:
        return
    workers = max(1, data["workers"])
    dataset = ds.GeneratorDataset(ImageSource(shard, data["in_chans"], skips_bad(cfg)),
                                  ["image", "label", "bad"],
                                  shuffle=False, num_parallel_workers=workers,
                                  python_multiprocessing=workers > 1)
    dataset = dataset.map(EvalTransform(recipe or eval_recipe(data)), input_columns="image",
                          num_parallel_workers=workers, python_multiprocessing=workers > 1)
    dataset = dataset.batch(batch, drop_remainder=False)
    for images, labels, unreadable in dataset.create_tuple_iterator(num_epochs=1,
                                                                    output_numpy=True):
        labels = np.where(unreadable >= 0, -1, labels).astype(labels.dtype)
        if bad is not None:  # shard index i is sample rank + i * world
            bad += [rank + int(i) * world for i in unreadable if i >= 0]
        valid = images.shape[0]
        if valid < batch:
            pad = batch - valid
            images = np.concatenate([images, np.zeros((pad,) + images.shape[1:], images.dtype)])
            labels = np.concatenate([labels, np.zeros((pad,), labels.dtype)])
        yield images, labels, valid
