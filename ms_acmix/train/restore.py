"""Rebuild a trained model from a checkpoint of a run (for evaluation and export).

Errors name the parameter (``ckpt_path='...'``, ``config_path=...``); the commands that take
these as flags put them in their own words.
"""
import glob
import json
import os
from typing import Any, Dict, List, Optional, Tuple

from mindspore import nn

import ms_acmix

from . import config as cfgmod
from .eval_weights import classifier_rows
from .models import build_model


def run_dir_of(ckpt_path: str) -> str:
    """The run directory of ``<run>/checkpoints/<file>.ckpt``."""
    return os.path.dirname(os.path.dirname(os.path.abspath(ckpt_path)))


def load_config(ckpt_path: str, config_path: Optional[str]) -> cfgmod.Config:
    """``config_path``, else the run's saved config.yaml."""
    path = config_path or os.path.join(run_dir_of(ckpt_path), "config.yaml")
    if not os.path.isfile(path):
        raise ValueError(f"config_path={config_path!r}: no config for ckpt_path={ckpt_path!r} "
                         f"({path!r} does not exist); pass config_path")
    return cfgmod.validate(cfgmod.load(path))


def run_classes(ckpt_path: str) -> Optional[List[str]]:
    """Class names saved with the run (newest epoch JSON), or None."""
    metas = sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(ckpt_path)),
                                          "epoch_*.json")))
    if not metas:
        return None
    with open(metas[-1], encoding="utf-8") as f:
        return json.load(f).get("classes")


def restore(ckpt_path: str, config_path: Optional[str]
            ) -> Tuple[nn.Cell, cfgmod.Config, Dict[str, Any]]:
    """(model in eval mode, config, {'classes': names or None, 'num_classes': n}).

    The configured model (``model.num_classes``, else the checkpoint's classifier rows) with the
    checkpoint's model weights loaded strictly by ``load_weights`` (the run's EMA copy,
    ``train.ema_decay``, is left in the file); a file that does not fit is its CheckpointError.
    """
    if not os.path.isfile(ckpt_path):
        raise ValueError(f"ckpt_path={ckpt_path!r} does not exist")
    cfg = load_config(ckpt_path, config_path)
    num_classes = cfg["model"]["num_classes"] or classifier_rows(
        ms_acmix.read_weights(ckpt_path)[0], cfg["model"]["name"], f"ckpt_path={ckpt_path!r}")
    model = build_model(cfg, num_classes)
    ms_acmix.load_weights(model, ckpt_path)
    model.set_train(False)
    return model, cfg, {"classes": run_classes(ckpt_path), "num_classes": num_classes}
