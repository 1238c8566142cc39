"""The training run of one worker: data, model, optimiser, resume, epochs, evaluation, saving."""
import json
import os
import time
from typing import Any, Dict, List, Optional, Tuple

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn

from . import checkpoint as ckpt
from .bad_images import BadImages
from .config import Config, dump
from .data import eval_batches, steps_per_epoch, train_batches
from .distributed import (AllReduceSum, allreduce_sum, average_buffers, broadcast_from_rank0,
                          hold_for_fault_test, setup)
from .ema import ModelEma
from .evaluate import evaluate
from .imagefolder import Sample, drop_bad, scan_split
from .metrics import plot_curves, write_metrics
from .models import build_model
from .optim import build_optimizer
from .precision import check_amp
from .pretrained import load_pretrained
from .schedule import build_lrs, global_batch, scaled_lrs, warmup_steps
from .step import NetWithLoss, TrainStep

BAD_IMAGES_FILE = "bad_images.json"  # preflight's verify_images finds: left out of the run
SKIPPED_IMAGES_FILE = "skipped_images.json"  # met during training, skipped (data.max_bad_images)


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
            f"{steps}. Resume with the same total workers (--nodes x --workers), "
            "train.batch_size and train.accumulation_steps.")


class Trainer:
    """One worker's training run; ``run()`` below drives it."""

    def __init__(self, cfg: Config, device: str, output_dir: str, resume: Optional[str] = None):
        self.cfg, self.output_dir, self.t_start = cfg, output_dir, time.time()
        tc, oc = cfg["train"], cfg["optimizer"]
        self.rank, self.world = setup(device, tc["mode"], tc["threads"], tc["seed"])
        self.log = RankLog(self.rank, output_dir)
        self.classes, self.train_set, self.val_set = load_splits(cfg, output_dir)
        self.num_classes = cfg["model"]["num_classes"] or len(self.classes)
        if self.num_classes < len(self.classes):
            raise ValueError(f"model.num_classes={self.num_classes} < {len(self.classes)} "
                             "class folders")
        self.accumulation = tc["accumulation_steps"]
        self.epochs = tc["epochs"]
        self.global_batch = global_batch(tc, self.world)
        self.steps = steps_per_epoch(len(self.train_set), self.world,
                                     tc["batch_size"] * self.accumulation,
                                     tc["max_steps_per_epoch"])  # optimiser steps
        self.lrs = build_lrs(oc, self.global_batch, self.steps, self.epochs)
        check_amp(cfg)
        self.model = build_model(cfg, self.num_classes)
        if tc["pretrained"] and not resume:
            load_pretrained(self.model, tc["pretrained"], cfg["model"]["name"], self.log)
        if tc["amp_level"] != "O0":
            self.model = ms.amp.auto_mixed_precision(self.model, tc["amp_level"])
        self.ema_model, self.ema = None, None
        if tc["ema_decay"] > 0:
            self.ema_model = build_model(cfg, self.num_classes)
            self.ema = ModelEma(self.model, self.ema_model, tc["ema_decay"])
        self.train_step = TrainStep(NetWithLoss(self.model),
                                    build_optimizer(self.model, oc, self.lrs),
                                    loss_scale_sense(tc), oc["clip_grad"], self.accumulation)
        self.train_step.set_train(True)
        self.reducer = AllReduceSum(self.world)
        self.bad = BadImages(self.train_set, self.val_set, cfg["data"]["max_bad_images"])
        self.ckpt_dir = os.path.join(output_dir, "checkpoints")
        self.start_epoch, self.history, self.step_losses = 0, [], []
        self.best = {"top1": -1.0, "epoch": 0}
        self.timed: Optional[Tuple[float, int]] = None  # (time, step) of the first log line
        n_params = sum(int(np.prod(p.shape)) for p in self.model.trainable_params())
        self.log(f"{cfg['model']['name']}: {n_params:,} parameters, {self.num_classes} classes; "
                 f"{len(self.train_set)} train / {len(self.val_set)} val images; {self.world} "
                 f"worker(s) on {device}, {tc['mode']} mode")
        micro = f" x {self.accumulation} accumulated" if self.accumulation > 1 else ""
        lr, warmup_lr, _ = scaled_lrs(oc, self.global_batch)
        self.log(f"global batch {self.global_batch} ({self.world} x {tc['batch_size']}{micro}), "
                 f"{self.steps} steps/epoch, {self.epochs} epochs, {oc['name']} lr {lr:.4g} "
                 f"(warm-up {warmup_steps(oc, self.steps)} steps from "
                 f"{warmup_lr:.3g})"
                 + (f", EMA decay {tc['ema_decay']}" if self.ema is not None else ""))

    def prepare_output(self) -> None:
        if self.rank == 0:
            os.makedirs(self.ckpt_dir, exist_ok=True)
            ckpt.remove_stale_tmp(self.ckpt_dir)
            dump(self.cfg, os.path.join(self.output_dir, "config.yaml"))

    def resume(self, target: str) -> None:
        """Model, EMA, optimiser state, epoch, step, schedule position, history, best so far and
        the unreadable images met; every rank must resume the same epoch."""
        src_dir, src_epoch = ckpt.resolve_resume(target, self.output_dir)
        meta = ckpt.load_epoch(src_dir, src_epoch, self.model, self.train_step, self.ema_model)
        check_resume_meta(meta, self.global_batch, self.steps, self.cfg["model"]["name"])
        self.start_epoch, self.history = meta["epoch"], meta["history"]
        self.step_losses = meta.get("step_losses", [])
        self.best = {"top1": meta["best_top1"], "epoch": meta["best_epoch"]}
        self.bad.found = list(meta.get("bad_images", []))
        if self.ema is not None and not meta["ema_restored"]:
            self.ema.copy_from_model()
            self.log("the checkpoint has no EMA copy: the EMA starts from its weights")
        total = float(allreduce_sum(self.reducer, [self.start_epoch])[0])
        if total != self.start_epoch * self.world:
            raise ValueError(f"--resume: rank {self.rank} resumed epoch {self.start_epoch}, the "
                             f"ranks together {total:g} (not {self.world} x the same epoch): every "
                             "node must see the same checkpoint directory")
        step = meta["global_step"]
        self.log(f"resumed from {src_dir} epoch {src_epoch}: global step {step}, lr "
                 f"{self.lrs[min(step, len(self.lrs) - 1)]:.4g}, best top-1 "
                 f"{self.best['top1']:.2f}%")

    def log_step(self, epoch: int, i: int, window: Tuple[float, int, float]) -> None:
        """Loss, lr, throughput and progress of the steps since the last log line."""
        loss_sum, n, t_window = window
        now, step, total = time.time(), epoch * self.steps + i + 1, self.epochs * self.steps
        speed = n * self.global_batch / self.accumulation / max(now - t_window, 1e-9)  # n micro
        if self.timed is None:  # the first log: compile time is behind us
            self.timed = (now, step)
        eta = (now - self.timed[0]) / max(step - self.timed[1], 1) * (total - step)
        self.step_losses.append([step, loss_sum / n])
        self.log(f"epoch {epoch + 1}/{self.epochs} step {i + 1}/{self.steps} | loss "
                 f"{loss_sum / n:.4f} | lr {self.lrs[step - 1]:.4g} | {speed:.1f} img/s | "
                 f"{100 * step / total:.1f}% done"
                 + (f", eta {fmt_time(eta)}" if self.timed[1] < step else ""))

    def train_epoch(self, epoch: int) -> Tuple[float, int, List[int]]:
        """One epoch of optimiser steps (each over accumulation_steps micro-batches); returns
        (mean micro-batch loss, skipped overflow steps, indices of unreadable images met)."""
        total, overflows, window = 0.0, 0, (0.0, 0, time.time())
        interval, micro = self.cfg["train"]["log_interval"], self.steps * self.accumulation
        bad: List[int] = []
        batches = train_batches(self.train_set, self.cfg, self.num_classes, epoch, self.rank,
                                self.world, micro, bad)
        for i, (images, targets) in enumerate(batches):
            apply = (i + 1) % self.accumulation == 0
            loss, overflow, _ = self.train_step(Tensor(images), Tensor(targets), apply)
            value = float(loss.asnumpy())
            total += value
            window = (window[0] + value, window[1] + 1, window[2])
            if bad:
                self.bad.check_local(bad)
            if not apply:
                continue
            overflows += int(bool(overflow.asnumpy()))
            if self.ema is not None:
                self.ema()
            done = (i + 1) // self.accumulation
            if done % interval == 0 or done == self.steps:
                self.log_step(epoch, done - 1, window)
                window = (0.0, 0, time.time())
        return total / micro, overflows, bad

    def evaluate_models(self, val_bad: List[int]) -> Dict[str, Dict[str, float]]:
        """Validation of the model and (with EMA) of its EMA copy, BatchNorm statistics averaged
        over ranks first."""
        average_buffers(self.model, self.reducer)
        out = {"": evaluate(self.model, eval_batches(self.val_set, self.cfg, self.rank,
                                                     self.world, bad=val_bad), self.reducer)}
        if self.ema_model is not None:
            average_buffers(self.ema_model, self.reducer)
            out["_ema"] = evaluate(self.ema_model, eval_batches(self.val_set, self.cfg, self.rank,
                                                                self.world), self.reducer)
        return out

    def end_epoch(self, epoch: int, loss: float, overflows: int, train_bad: List[int],
                  t_epoch: float) -> Dict[str, Any]:
        """Evaluate, count unreadable images, log, and (rank 0) save checkpoint, metrics and
        curves."""
        t_train = time.time() - t_epoch
        val_bad: List[int] = []
        vals = self.evaluate_models(val_bad)
        met, new_bad = self.bad.pool(self.reducer, train_bad, val_bad)
        val = vals[""]
        step = (epoch + 1) * self.steps
        row = {"epoch": epoch + 1, "global_step": step, "train_loss": loss,
               "lr": float(self.lrs[step - 1]), "val_top1": val["top1"], "val_top5": val["top5"],
               "val_loss": val["loss"], "epoch_seconds": time.time() - t_epoch,
               "images_per_second": self.steps * self.global_batch / max(t_train, 1e-9)}
        if "_ema" in vals:
            row.update({f"val_{k}_ema": vals["_ema"][k] for k in ("top1", "top5", "loss")})
        if self.bad.limit > 0:
            row.update({"bad_images": met, "bad_images_total": len(self.bad.found)})
        self.history.append(row)
        is_best = val["top1"] > self.best["top1"]
        if is_best:
            self.best = {"top1": val["top1"], "epoch": epoch + 1}
        self.log(f"epoch {epoch + 1}/{self.epochs} done in {fmt_time(row['epoch_seconds'])}: "
                 f"train loss {loss:.4f} | val top-1 {val['top1']:.2f}% top-5 {val['top5']:.2f}%"
                 f" ({val['count']} images)"
                 + (f" | EMA top-1 {row['val_top1_ema']:.2f}% top-5 {row['val_top5_ema']:.2f}%"
                    if "_ema" in vals else "")
                 + f" | best {self.best['top1']:.2f}% (epoch {self.best['epoch']})"
                 + (f" | {overflows} overflow steps skipped" if overflows else ""))
        if met:
            self.log(f"epoch {epoch + 1}: {met} unreadable image(s) skipped (replaced by the next "
                     f"readable image; left out of validation); {len(self.bad.found)} distinct "
                     f"in the run (data.max_bad_images={self.bad.limit})"
                     + (": new " + ", ".join(new_bad[:10]) if new_bad else ""))
        if self.rank == 0:
            self.save(epoch, val, step, is_best)
        return row

    def save(self, epoch: int, val: Dict[str, float], step: int, is_best: bool) -> None:
        meta = {"epoch": epoch + 1, "global_step": step, "steps_per_epoch": self.steps,
                "global_batch": self.global_batch, "world": self.world,
                "accumulation_steps": self.accumulation, "model": self.cfg["model"]["name"],
                "num_classes": self.num_classes, "classes": self.classes,
                "val_top1": val["top1"], "val_top5": val["top5"],
                "best_top1": self.best["top1"], "best_epoch": self.best["epoch"],
                "ema": self.ema is not None, "bad_images": self.bad.found,
                "history": self.history, "step_losses": self.step_losses, "config": self.cfg}
        path = ckpt.save_epoch(self.ckpt_dir, epoch + 1, self.model, self.train_step, meta,
                               self.cfg["train"]["keep_checkpoints"], is_best, self.ema_model)
        if self.bad.found:
            ckpt.write_json(self.bad.found, os.path.join(self.output_dir, SKIPPED_IMAGES_FILE))
        write_metrics(self.history, self.output_dir)
        plot_curves(self.history, self.step_losses, self.output_dir)
        self.log(f"saved {path}" + (" (and best.ckpt)" if is_best else ""))


def run(cfg: Config, device: str, output_dir: str, resume: Optional[str]) -> Dict[str, Any]:
    """Train as configured (continuing ``resume`` if given); returns the last epoch's metrics."""
    trainer = Trainer(cfg, device, output_dir, resume)
    trainer.prepare_output()
    if resume:
        trainer.resume(resume)
    broadcast_from_rank0(trainer.train_step, trainer.reducer, trainer.rank)
    if trainer.ema_model is not None:
        broadcast_from_rank0(trainer.ema_model, trainer.reducer, trainer.rank)
    last = trainer.history[-1] if trainer.history else {}
    if trainer.start_epoch >= trainer.epochs:
        trainer.log(f"nothing to train: the checkpoint has {trainer.start_epoch} of "
                    f"{trainer.epochs} epochs")
        return last
    for epoch in range(trainer.start_epoch, trainer.epochs):
        t_epoch = time.time()
        loss, overflows, bad = trainer.train_epoch(epoch)
        last = trainer.end_epoch(epoch, loss, overflows, bad, t_epoch)
        hold_for_fault_test(epoch + 1, trainer.log)
    best = trainer.best
    trainer.log(f"finished {trainer.epochs} epochs in {fmt_time(time.time() - trainer.t_start)}:"
                f" final val top-1 {last['val_top1']:.2f}% top-5 {last['val_top5']:.2f}%; best "
                f"{best['top1']:.2f}% (epoch {best['epoch']}); outputs in {output_dir}")
    return last
