"""What a run keeps besides checkpoints: metrics.csv, metrics.json and curves.png (rank 0)."""
import csv
import io
import os
from typing import Any, Dict, List

from .checkpoint import write_json

COLUMNS = ("epoch", "global_step", "train_loss", "lr", "val_top1", "val_top5", "val_loss",
           "epoch_seconds", "images_per_second")
# present when the run has them: EMA evaluation (train.ema_decay), unreadable images skipped in
# the epoch and distinct in the run so far (data.max_bad_images > 0)
OPTIONAL = ("val_top1_ema", "val_top5_ema", "val_loss_ema", "bad_images", "bad_images_total")


def write_metrics(history: List[Dict[str, Any]], out_dir: str) -> None:
    """metrics.csv (one row per epoch) and metrics.json, atomically."""
    buf = io.StringIO()
    columns = COLUMNS + tuple(c for c in OPTIONAL if any(c in row for row in history))
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(history)
    tmp = os.path.join(out_dir, ".tmp-metrics.csv")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(buf.getvalue())
    os.replace(tmp, os.path.join(out_dir, "metrics.csv"))
    write_json(history, os.path.join(out_dir, "metrics.json"))


def plot_curves(history: List[Dict[str, Any]], step_losses: List[List[float]], out_dir: str
                ) -> None:
    """curves.png: training loss (per logged step and per epoch) and validation top-1/top-5."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    if step_losses:
        ax_loss.plot([s for s, _ in step_losses], [v for _, v in step_losses], lw=0.8,
                     alpha=0.6, label="train loss (logged steps)")
    ax_loss.plot([h["global_step"] for h in history], [h["train_loss"] for h in history], "o-",
                 label="train loss (epoch mean)")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    epochs = [h["epoch"] for h in history]
    ax_acc.plot(epochs, [h["val_top1"] for h in history], "o-", label="val top-1")
    ax_acc.plot(epochs, [h["val_top5"] for h in history], "s--", label="val top-5")
    if any("val_top1_ema" in h for h in history):
        ax_acc.plot([h["epoch"] for h in history if "val_top1_ema" in h],
                    [h["val_top1_ema"] for h in history if "val_top1_ema" in h], "^-",
                    label="val top-1 (EMA)")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.legend()
    fig.tight_layout()
    tmp = os.path.join(out_dir, ".tmp-curves.png")
    fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    os.replace(tmp, os.path.join(out_dir, "curves.png"))
