"""Images per second of the training pipeline (decode + the recipe's transforms, 224 px): ours on
mindspore.dataset with N worker processes, and a plain loop in one process calling the same PIL +
NumPy transforms, so the difference is what mindspore.dataset adds (or saves). CPU milliseconds
per image (one process: the plain loop, and the pipeline with one worker) do not depend on how
busy the machine is."""
import os
import time
from typing import Any, Dict, List

import numpy as np
from PIL import Image

from . import config as cfgmod
from .data import train_dataset
from .imagefolder import Sample, decode
from .transforms import TrainTransform, train_recipe

RECIPES = {"swin": "acmix_swin_tiny", "resnet": "acmix_resnet50"}


def photo_folder(root: str, count: int) -> List[Sample]:
    """``count`` JPEGs (quality 90) at ImageNet's typical 500x375 / 375x500, cut from the photos
    bundled with scikit-learn and matplotlib."""
    import matplotlib
    import sklearn.datasets
    paths = [os.path.join(os.path.dirname(sklearn.datasets.__file__), "images", n)
             for n in ("china.jpg", "flower.jpg")]
    paths.append(os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg"))
    photos = [Image.open(p).convert("RGB") for p in paths]
    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(0)
    samples = []
    for i in range(count):
        img = photos[i % len(photos)]
        size = (500, 375) if i % 2 == 0 else (375, 500)
        left, top = int(rng.integers(0, 60)), int(rng.integers(0, 40))
        crop = img.crop((left, top, img.width - 60 + left, img.height - 40 + top))
        path = os.path.join(root, f"{i:05d}.jpg")
        crop.resize(size, Image.BICUBIC).save(path, "JPEG", quality=90)
        samples.append((path, i % 10))
    return samples


def recipe_config(recipe: str, workers: int, img_size: int = 224) -> cfgmod.Config:
    return cfgmod.build(RECIPES[recipe],
                        [{"data": {"workers": workers, "img_size": img_size}}])


def measure_plain(samples: List[Sample], cfg: cfgmod.Config) -> Dict[str, Any]:
    """One process, a plain loop: decode, then the same TrainTransform."""
    transform = TrainTransform(train_recipe(cfg["data"], cfg["aug"]))
    start, cpu = time.perf_counter(), time.process_time()
    for i, (path, _) in enumerate(samples):
        transform(decode(path, 3), np.array([0, 0, 0, i]))
    seconds = time.perf_counter() - start
    return dict(images_per_s=len(samples) / seconds, seconds=seconds, startup_s=0.0,
                cpu_ms_per_image=1e3 * (time.process_time() - cpu) / len(samples))


def measure_dataset(samples: List[Sample], cfg: cfgmod.Config) -> Dict[str, Any]:
    """ms_acmix's pipeline; the rate is the steady state after the first image (worker start-up
    is reported apart)."""
    start, cpu = time.perf_counter(), time.process_time()
    dataset = train_dataset(samples, cfg, range(len(samples)), (0, 0, 0))
    rows = dataset.create_tuple_iterator(num_epochs=1, output_numpy=True)
    next(rows)
    first = time.perf_counter()
    count = 1 + sum(1 for _ in rows)
    end = time.perf_counter()
    if count != len(samples):
        raise RuntimeError(f"the pipeline gave {count} of {len(samples)} images")
    # CPU time of this process (all its threads); worker processes' time is not visible here
    single = cfg["data"]["workers"] <= 1
    return dict(images_per_s=(count - 1) / max(end - first, 1e-9), seconds=end - start,
                startup_s=first - start, cpu_ms_per_image=(
                    1e3 * (time.process_time() - cpu) / count if single else None))
