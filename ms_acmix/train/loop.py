"""The training run of one worker: data, model, optimiser, resume, epochs, evaluation, saving."""
import json
import os
import time
from typing import Any, Dict, List, Optional, Tuple

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn

from . import checkpoint as ckpt
from .config import Config, dump
from .data import eval_batches, steps_per_epoch, train_batches
from .distributed import AllReduceSum, setup
from .evaluate import evaluate
from .imagefolder import Sample, drop_bad, scan_split
from .metrics import plot_curves, write_metrics
from .models import build_model
from .optim import build_optimizer
from .schedule import lr_per_step, scaled_lrs
from .step import NetWithLoss, TrainStep

BAD_IMAGES_FILE = "bad_images.json"


class RankLog:
    """Rank 0 prints (msrun shows it) and appends to <output>/train.log; other ranks are quiet."""

    def __init__(self, rank: int, output_dir: str):
        self.main = rank == 0
        self.path = os.path.join(output_dir, "train.log")

    def __call__(self, msg: str) -> None:
        if not self.main:
            return
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def fmt_time(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600 else \
        f"{seconds // 60}m{seconds % 60:02d}s"


def load_splits(cfg: Config, output_dir: str) -> Tuple[List[str], List[Sample], List[Sample]]:
    """(classes, train samples, val samples) without the images preflight found unreadable."""
    d = cfg["data"]
    classes, train = scan_split(os.path.join(d["dir"], d["train_split"]))
    _, val = scan_split(os.path.join(d["dir"], d["val_split"]),
                        {c: i for i, c in enumerate(classes)})
    bad_file = os.path.join(output_dir, BAD_IMAGES_FILE)
    if os.path.isfile(bad_file):
        with open(bad_file, encoding="utf-8") as f:
            bad = json.load(f)
        train = drop_bad(train, bad, d["max_bad_images"], d["dir"])
        val = drop_bad(val, bad, d["max_bad_images"], d["dir"])
    return classes, train, val


def loss_scale_sense(train: Dict[str, Any]):
    if train["loss_scale"] == "dynamic":
        return nn.DynamicLossScaleUpdateCell(train["loss_scale_value"], scale_factor=2,
                                             scale_window=1000)
    value = train["loss_scale_value"] if train["loss_scale"] == "static" else 1.0
    return Tensor(value, ms.float32)


def check_resume_meta(meta: Dict[str, Any], global_batch: int, steps: int, name: str) -> None:
    if meta["model"] != name:
        raise ValueError(f"--resume: the checkpoint is a {meta['model']}, the config builds {name}")
    if meta["global_batch"] != global_batch or meta["steps_per_epoch"] != steps:
        raise ValueError(
            f"--resume: the checkpoint was trained with a global batch of {meta['global_batch']} "
            f"and {meta['steps_per_epoch']} steps per epoch; this run has {global_batch} and "
            f"{steps}. Resume with the same --workers and train.batch_size.")


def run(cfg: Config, device: str, output_dir: str, resume: Optional[str]) -> Dict[str, Any]:
    """Train as configured; returns the last epoch's metrics."""
    t_run = time.time()
    train_cfg, opt_cfg = cfg["train"], cfg["optimizer"]
    rank, world = setup(device, train_cfg["mode"], train_cfg["threads"], train_cfg["seed"])
    log = RankLog(rank, output_dir)
    classes, train_set, val_set = load_splits(cfg, output_dir)
    num_classes = cfg["model"]["num_classes"] or len(classes)
    if num_classes < len(classes):
        raise ValueError(f"model.num_classes={num_classes} < {len(classes)} class folders")
    batch, epochs = train_cfg["batch_size"], train_cfg["epochs"]
    global_batch = batch * world
    steps = steps_per_epoch(len(train_set), world, batch, train_cfg["max_steps_per_epoch"])
    warmup_steps = int(round(opt_cfg["warmup_epochs"] * steps))
    lr, warmup_lr, min_lr = scaled_lrs(opt_cfg, global_batch)
    lrs = lr_per_step(lr, warmup_lr, min_lr, warmup_steps, steps * epochs, opt_cfg["warmup_prefix"])

    model = build_model(cfg, num_classes)
    if train_cfg["amp_level"] != "O0":
        model = ms.amp.auto_mixed_precision(model, train_cfg["amp_level"])
    optimizer = build_optimizer(model, opt_cfg, lrs)
    train_step = TrainStep(NetWithLoss(model), optimizer, loss_scale_sense(train_cfg),
                           opt_cfg["clip_grad"])
    train_step.set_train(True)
    n_params = sum(int(np.prod(p.shape)) for p in model.trainable_params())
    log(f"{cfg['model']['name']}: {n_params:,} parameters, {num_classes} classes; "
        f"{len(train_set)} train / {len(val_set)} val images; {world} worker(s) on {device}, "
        f"{train_cfg['mode']} mode")
    log(f"global batch {global_batch} ({world} x {batch}), {steps} steps/epoch, {epochs} epochs, "
        f"{opt_cfg['name']} lr {lr:.4g} (warm-up {warmup_steps} steps from {warmup_lr:.3g})")

    ckpt_dir = os.path.join(output_dir, "checkpoints")
    start_epoch, history, step_losses = 0, [], []
    best = {"top1": -1.0, "epoch": 0}
    if rank == 0:
        os.makedirs(ckpt_dir, exist_ok=True)
        ckpt.remove_stale_tmp(ckpt_dir)
        dump(cfg, os.path.join(output_dir, "config.yaml"))
    if resume:
        src_dir, src_epoch = ckpt.resolve_resume(resume, output_dir)
        meta = ckpt.load_epoch(src_dir, src_epoch, model, train_step)
        check_resume_meta(meta, global_batch, steps, cfg["model"]["name"])
        start_epoch, history = meta["epoch"], meta["history"]
        step_losses = meta.get("step_losses", [])
        best = {"top1": meta["best_top1"], "epoch": meta["best_epoch"]}
        log(f"resumed from {src_dir} epoch {src_epoch}: global step {meta['global_step']}, "
            f"lr {lrs[min(meta['global_step'], len(lrs) - 1)]:.4g}, best top-1 {best['top1']:.2f}%")
        if start_epoch >= epochs:
            log(f"nothing to train: the checkpoint has {start_epoch} of {epochs} epochs")
            return history[-1] if history else {}

    reducer = AllReduceSum(world)
    last: Dict[str, Any] = {}
    for epoch in range(start_epoch, epochs):
        t_epoch = t_window = time.time()
        loss_sum, window_loss, window_steps, overflows = 0.0, 0.0, 0, 0
        for i, (images, targets) in enumerate(train_batches(train_set, cfg, num_classes, epoch,
                                                            rank, world, steps)):
            loss, overflow, _ = train_step(Tensor(images), Tensor(targets))
            value = float(loss.asnumpy())
            overflows += int(bool(overflow.asnumpy()))
            loss_sum, window_loss, window_steps = loss_sum + value, window_loss + value, window_steps + 1
            gstep = epoch * steps + i + 1
            if (i + 1) % train_cfg["log_interval"] == 0 or i + 1 == steps:
                now = time.time()
                speed = window_steps * global_batch / max(now - t_window, 1e-9)
                done = (gstep - start_epoch * steps) / ((epochs - start_epoch) * steps)
                eta = (now - t_run) / max(done, 1e-9) * (1 - done)
                step_losses.append([gstep, window_loss / window_steps])
                log(f"epoch {epoch + 1}/{epochs} step {i + 1}/{steps} | loss "
                    f"{window_loss / window_steps:.4f} | lr {lrs[gstep - 1]:.4g} | {speed:.1f} img/s"
                    f" | {100 * gstep / (steps * epochs):.1f}% done, eta {fmt_time(eta)}")
                t_window, window_loss, window_steps = now, 0.0, 0
        t_train = time.time() - t_epoch
        val = evaluate(model, eval_batches(val_set, cfg, rank, world), reducer)
        gstep = (epoch + 1) * steps
        last = {"epoch": epoch + 1, "global_step": gstep, "train_loss": loss_sum / steps,
                "lr": float(lrs[gstep - 1]), "val_top1": val["top1"], "val_top5": val["top5"],
                "val_loss": val["loss"], "epoch_seconds": time.time() - t_epoch,
                "images_per_second": steps * global_batch / max(t_train, 1e-9)}
        history.append(last)
        is_best = val["top1"] > best["top1"]
        if is_best:
            best = {"top1": val["top1"], "epoch": epoch + 1}
        log(f"epoch {epoch + 1}/{epochs} done in {fmt_time(last['epoch_seconds'])}: train loss "
            f"{last['train_loss']:.4f} | val top-1 {val['top1']:.2f}% top-5 {val['top5']:.2f}% "
            f"({val['count']} images) | best {best['top1']:.2f}% (epoch {best['epoch']})"
            + (f" | {overflows} overflow steps skipped" if overflows else ""))
        if rank == 0:
            meta = {"epoch": epoch + 1, "global_step": gstep, "steps_per_epoch": steps,
                    "global_batch": global_batch, "world": world, "model": cfg["model"]["name"],
                    "num_classes": num_classes, "classes": classes, "val_top1": val["top1"],
                    "val_top5": val["top5"], "best_top1": best["top1"],
                    "best_epoch": best["epoch"], "history": history, "step_losses": step_losses,
                    "config": cfg}
            path = ckpt.save_epoch(ckpt_dir, epoch + 1, model, train_step, meta,
                                   train_cfg["keep_checkpoints"], is_best)
            write_metrics(history, output_dir)
            plot_curves(history, step_losses, output_dir)
            log(f"saved {path}" + (" (and best.ckpt)" if is_best else ""))
    log(f"finished {epochs} epochs in {fmt_time(time.time() - t_run)}: final val top-1 "
        f"{last.get('val_top1', float('nan')):.2f}% top-5 {last.get('val_top5', float('nan')):.2f}%;"
        f" best {best['top1']:.2f}% (epoch {best['epoch']}); outputs in {output_dir}")
    return last
