#!/usr/bin/env python
"""Train an ACmix model on an ImageNet-style image folder (one worker; msrun starts several).

Normally started by ``scripts/run_distribute_train.sh``, which runs ``--preflight`` once (config,
data and output checks, image verification) and then one copy per device under msrun. Run
directly (``acmix-train --config ...``) it trains in this one process.
"""
import argparse
import datetime
import os
import re
import sys
from typing import Any, Dict, List, Optional

from ms_acmix.train import config as cfgmod
from ms_acmix.train.imagefolder import DataError

from ._flags import in_flags

DEFAULT_CONFIG = "acmix_digits"
EXIT_BAD_INPUT = 2
# The training library's parameters that are flags here (the rest are config keys, named as such).
FLAGS = {"pretrained=": "--pretrained="}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=DEFAULT_CONFIG,
                   help="YAML config file, or the name of a shipped recipe "
                   f"({', '.join(cfgmod.recipes())}; default: %(default)s)")
    p.add_argument("--model", help="model.name, e.g. acmix_swin_tiny")
    p.add_argument("--data-dir", help="data.dir: holds train/ and val/ class folders")
    p.add_argument("--output-dir", help="run directory (default: outputs/<config>/<time>)")
    p.add_argument("--resume", help="'latest' (newest run of this config), 'auto' (this "
                   "--output-dir), a run directory, or an epoch_NNNN.ckpt file")
    p.add_argument("--device", default="CPU", choices=("CPU", "GPU", "Ascend"))
    p.add_argument("--workers", type=int, default=1,
                   help="number of msrun workers (preflight checks the batch against it)")
    p.add_argument("--epochs", type=int, help="train.epochs")
    p.add_argument("--batch-size", type=int, help="train.batch_size (per device)")
    p.add_argument("--lr", type=float, help="optimizer.lr (before batch scaling)")
    p.add_argument("--seed", type=int, help="train.seed")
    p.add_argument("--mode", choices=("graph", "pynative"), help="train.mode")
    p.add_argument("--amp-level", choices=("O0", "O1", "O2", "O3"), help="train.amp_level")
    p.add_argument("--loss-scale", choices=("none", "static", "dynamic"), help="train.loss_scale")
    p.add_argument("--pretrained", metavar="FILE", help="train.pretrained: fine-tune from this "
                   "weights file (official .pth/.pth.tar, MindSpore .ckpt, safetensors); a "
                   "classifier of another size is re-initialised")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override any config key (YAML value), repeatable")
    p.add_argument("--preflight", action="store_true",
                   help="check config, data and output directory, print OUTPUT_DIR=... and exit")
    return p.parse_args(argv)


def overrides(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """Command-line flags as config updates, in the order they apply (--set last)."""
    flags = [("model", "name", args.model), ("data", "dir", args.data_dir),
             ("train", "epochs", args.epochs), ("train", "batch_size", args.batch_size),
             ("optimizer", "lr", args.lr), ("train", "seed", args.seed),
             ("train", "mode", args.mode), ("train", "amp_level", args.amp_level),
             ("train", "loss_scale", args.loss_scale), ("train", "pretrained", args.pretrained)]
    out = [{s: {k: v}} for s, k, v in flags if v is not None]
    return out + [cfgmod.parse_override(item) for item in args.set]


def config_stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def latest_run(runs_dir: str) -> str:
    """Newest run directory under ``runs_dir`` that holds a complete checkpoint."""
    from ms_acmix.train.checkpoint import saved_epochs
    names = os.listdir(runs_dir) if os.path.isdir(runs_dir) else []
    runs = sorted(d for d in (os.path.join(runs_dir, n) for n in names)
                  if saved_epochs(os.path.join(d, "checkpoints")))
    if not runs:
        raise ValueError(f"--resume latest: no run with a checkpoint under {runs_dir!r}")
    return runs[-1]


def resolve_output(args: argparse.Namespace) -> Optional[str]:
    """Output directory and resume target, made explicit (sets args.output_dir, args.resume)."""
    runs_dir = os.path.join("outputs", config_stem(args.config))
    if args.resume == "latest":
        args.resume = latest_run(runs_dir)
    if args.output_dir is None:
        if args.resume and args.resume != "auto":
            target = args.resume if os.path.isdir(args.resume) else os.path.dirname(args.resume)
            args.output_dir = os.path.dirname(target) if os.path.basename(
                os.path.normpath(target)) == "checkpoints" else target
        elif args.resume == "auto":
            raise ValueError("--resume auto needs --output-dir (or use --resume latest)")
        else:
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            args.output_dir = os.path.join(runs_dir, stamp)
    args.output_dir = os.path.abspath(args.output_dir)
    return args.output_dir


def check_data_dir(d: Dict[str, Any]) -> None:
    """The data directory exists and has both split folders."""
    root = d["dir"]
    layout = " and ".join(f"{root}/{d[k]}/<class>/<image>" for k in ("train_split", "val_split"))
    if not os.path.isdir(root):
        raise DataError(f"data directory {root!r} does not exist (expected {layout})")
    if not os.listdir(root):
        raise DataError(f"data directory {root!r} is empty (expected {layout})")
    for split in (d["train_split"], d["val_split"]):
        if not os.path.isdir(os.path.join(root, split)):
            raise DataError(f"data directory {root!r} has no {split!r} folder (expected {layout})")


def preflight(cfg: cfgmod.Config, args: argparse.Namespace) -> None:
    """Everything that can be wrong before any worker starts, each with a clear message."""
    from ms_acmix.train import checkpoint as ckpt
    from ms_acmix.train.data import steps_per_epoch
    from ms_acmix.train.imagefolder import drop_bad, find_unreadable, scan_split
    from ms_acmix.train.loop import BAD_IMAGES_FILE
    from ms_acmix.train.models import build_model
    from ms_acmix.train.precision import check_amp

    if args.workers < 1:
        raise ValueError(f"--workers={args.workers} must be >= 1")
    check_amp(cfg)
    if cfg["aug"]["rand_augment"] and cfg["data"]["in_chans"] != 3:
        raise ValueError("aug.rand_augment needs data.in_chans=3 (RGB images)")
    if args.resume:
        ckpt.resolve_resume(args.resume, args.output_dir)
    elif ckpt.saved_epochs(os.path.join(args.output_dir, "checkpoints")):
        raise ValueError(f"--output-dir {args.output_dir!r} already holds checkpoints: add "
                         "--resume auto to continue that run, or choose another --output-dir")
    d = cfg["data"]
    check_data_dir(d)
    classes, train = scan_split(os.path.join(d["dir"], d["train_split"]))
    _, val = scan_split(os.path.join(d["dir"], d["val_split"]),
                        {c: i for i, c in enumerate(classes)})
    num_classes = cfg["model"]["num_classes"] or len(classes)
    if num_classes < len(classes):
        raise ValueError(f"model.num_classes={num_classes} < {len(classes)} class folders")
    model = build_model(cfg, num_classes)
    pretrained = cfg["train"]["pretrained"]
    if pretrained and not args.resume:
        from ms_acmix.train.pretrained import load_pretrained
        if not os.path.isfile(pretrained):
            raise ValueError(f"--pretrained={pretrained!r} does not exist")
        load_pretrained(model, pretrained, cfg["model"]["name"], lambda m: print(m, flush=True))
    bad: List[str] = []
    if d["verify_images"]:
        print(f"verifying {len(train) + len(val)} images ...", flush=True)
        bad = find_unreadable(train + val, d["in_chans"],
                              progress=lambda n, t: print(f"  verified {n}/{t}", flush=True))
        drop_bad(train + val, bad, d["max_bad_images"], d["dir"])
        train = drop_bad(train, bad, len(bad), d["dir"])
    steps_per_epoch(len(train), args.workers, cfg["train"]["batch_size"])
    os.makedirs(args.output_dir, exist_ok=True)  # only once every check passed
    bad_path = os.path.join(args.output_dir, BAD_IMAGES_FILE)
    if bad:
        ckpt.write_json(bad, bad_path)
        print(f"skipping {len(bad)} unreadable image(s), listed in {bad_path}", flush=True)
    elif os.path.exists(bad_path):
        os.remove(bad_path)
    print(f"preflight ok: {len(classes)} classes, {len(train)} train / {len(val)} val images, "
          f"model {cfg['model']['name']}", flush=True)


def short_error(err: BaseException) -> str:
    """The useful line of an error, also when MindSpore's dataset wrapped it in a traceback."""
    text = str(err)
    match = re.search(r"DataError: (unreadable image [^\n]*)", text)
    if match:
        return match.group(1).strip() + " (set data.verify_images: true to check every image " \
            "before training, data.max_bad_images to skip some)"
    return text.splitlines()[0] if text else type(err).__name__


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    under_msrun = "MS_ROLE" in os.environ
    if os.environ.get("MS_ROLE") == "MS_SCHED" and int(os.environ.get("ACMIX_NODE_RANK", "0")):
        # msrun starts a scheduler on every node whose address is --master_addr; on one machine
        # (several nodes on loopback) only node 0's may serve, the others would clash on the port
        return 0
    pid_dir = os.environ.get("ACMIX_PID_DIR")
    if under_msrun and pid_dir and os.path.isdir(pid_dir):  # lets the launcher clean up
        open(os.path.join(pid_dir, str(os.getpid())), "w").close()
    try:
        cfg = cfgmod.build(args.config, overrides(args))
        cfg["data"]["dir"] = os.path.abspath(cfg["data"]["dir"])
        if cfg["train"]["pretrained"]:
            cfg["train"]["pretrained"] = os.path.abspath(cfg["train"]["pretrained"])
        if not under_msrun:
            resolve_output(args)
            preflight(cfg, args)
            if args.preflight:
                print(f"OUTPUT_DIR={args.output_dir}")
                print(f"RESUME={args.resume or ''}")
                return 0
        elif args.output_dir is None:
            raise ValueError("--output-dir is required under msrun")
        from ms_acmix.train.loop import run
        run(cfg, args.device, os.path.abspath(args.output_dir), args.resume)
    except (cfgmod.ConfigError, DataError, ValueError) as err:
        print(f"error: {in_flags(short_error(err), FLAGS)}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT
    except RuntimeError as err:
        print(f"error: {in_flags(short_error(err), FLAGS)}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
