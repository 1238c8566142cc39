#!/usr/bin/env python
"""Write scikit-learn's bundled handwritten digits (1,797 real 8x8 scans, 10 classes; no download)
as an ImageNet-style folder: <out>/train/<digit>/NNNN.png and <out>/val/<digit>/NNNN.png.

The split is stratified and seeded (default 20 % validation). The folder is built under a
temporary name and renamed into place, so an interrupted run leaves nothing half-written; an
existing complete folder is kept unless --force.
"""
import argparse
import os
import shutil
import sys
import tempfile

import numpy as np
from PIL import Image

MARKER = ".complete"


def split_indices(labels: np.ndarray, val_fraction: float, seed: int):
    """Stratified (train, val) index arrays."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        n_val = int(round(len(idx) * val_fraction))
        val += idx[:n_val].tolist()
        train += idx[n_val:].tolist()
    return np.array(sorted(train)), np.array(sorted(val))


def write_split(root: str, split: str, images: np.ndarray, labels: np.ndarray, idx) -> None:
    for i in idx:
        cls_dir = os.path.join(root, split, str(int(labels[i])))
        os.makedirs(cls_dir, exist_ok=True)
        # pixel values are 0..16 ink levels; scale to 0..255 grey
        pixels = np.round(images[i] * (255.0 / 16.0)).astype(np.uint8)
        Image.fromarray(pixels).save(os.path.join(cls_dir, f"{i:04d}.png"))


def prepare(out: str, val_fraction: float = 0.2, seed: int = 0, force: bool = False) -> str:
    """Build the folder at ``out`` (if not already complete); return ``out``."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"--val-fraction={val_fraction} must be in (0, 1)")
    if os.path.isfile(os.path.join(out, MARKER)) and not force:
        print(f"{out} is already prepared (use --force to rebuild)")
        return out
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = digits.images, digits.target
    train, val = split_indices(labels, val_fraction, seed)
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-digits-", dir=parent)
    try:
        write_split(tmp, "train", images, labels, train)
        write_split(tmp, "val", images, labels, val)
        open(os.path.join(tmp, MARKER), "w").close()
        if os.path.exists(out):
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"wrote {len(train)} train / {len(val)} val digit images (10 classes) to {out}")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="data/digits", help="output folder (default: %(default)s)")
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="rebuild even if complete")
    args = p.parse_args(argv)
    try:
        prepare(args.out, args.val_fraction, args.seed, args.force)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
