"""ImageNet-style image folders: ``<root>/<split>/<class>/<image>``, classes in sorted order.

Bad input is reported before any training starts: a missing or empty directory, a class folder
without images, and (when asked to verify) images that do not decode. Unreadable images are
skipped and counted up to a tolerance, beyond it the run fails naming the files.
"""
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")

Sample = Tuple[str, int]


class DataError(ValueError):
    """The data directory does not hold what training needs."""


def list_classes(split_dir: str) -> List[str]:
    """Sorted class-folder names of one split; errors name the directory."""
    if not os.path.isdir(split_dir):
        raise DataError(f"data directory {split_dir!r} does not exist (expected "
                        f"<data dir>/<split>/<class>/<image>)")
    classes = sorted(e.name for e in os.scandir(split_dir)
                     if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise DataError(f"data directory {split_dir!r} has no class folders (expected "
                        f"{split_dir}/<class>/<image>)")
    return classes


def scan_split(split_dir: str, class_to_idx: Optional[Dict[str, int]] = None
               ) -> Tuple[List[str], List[Sample]]:
    """(classes, [(path, label)]) of one split.

    ``class_to_idx`` (the train split's) labels a validation split; a class it lacks is an error.
    """
    classes = list_classes(split_dir)
    if class_to_idx is None:
        class_to_idx = {c: i for i, c in enumerate(classes)}
    samples: List[Sample] = []
    for cls in classes:
        if cls not in class_to_idx:
            raise DataError(f"class folder {os.path.join(split_dir, cls)!r} is not a class of "
                            f"the training split")
        cls_dir = os.path.join(split_dir, cls)
        files = sorted(e.path for e in os.scandir(cls_dir)
                       if e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS))
        if not files:
            raise DataError(f"class folder {cls_dir!r} has no images "
                            f"({', '.join(IMAGE_EXTENSIONS)})")
        samples += [(f, class_to_idx[cls]) for f in files]
    return classes, samples


def decode(path: str, in_chans: int) -> np.ndarray:
    """HWC uint8 array (C = in_chans); an unreadable file raises DataError naming it."""
    try:
        with Image.open(path) as img:
            img = img.convert("L" if in_chans == 1 else "RGB")
            arr = np.asarray(img, dtype=np.uint8)
    except Exception as err:  # PIL raises many types for broken files
        raise DataError(f"unreadable image {path!r}: {type(err).__name__}: {err}") from err
    return arr[:, :, None] if arr.ndim == 2 else arr


def find_unreadable(samples: Sequence[Sample], in_chans: int, progress=None) -> List[str]:
    """Paths among ``samples`` that do not decode; calls ``progress(done, total)`` now and then."""
    bad = []
    for i, (path, _) in enumerate(samples):
        try:
            decode(path, in_chans)
        except DataError:
            bad.append(path)
        if progress is not None and (i + 1) % 5000 == 0:
            progress(i + 1, len(samples))
    return bad


def drop_bad(samples: Sequence[Sample], bad: Sequence[str], max_bad: int, where: str
             ) -> List[Sample]:
    """``samples`` without ``bad``; more than ``max_bad`` bad images is an error naming them."""
    if len(bad) > max_bad:
        shown = ", ".join(repr(p) for p in bad[:5]) + (" ..." if len(bad) > 5 else "")
        raise DataError(f"{len(bad)} unreadable image(s) in {where!r} (data.max_bad_images="
                        f"{max_bad} tolerated): {shown}")
    bad_set = set(bad)
    return [s for s in samples if s[0] not in bad_set]
