"""Which mixed-precision settings (``train.amp_level``) train, measured with MindSpore 2.10.

``ms.amp.auto_mixed_precision`` O2 / O3 (float16 compute, float32 master weights, BatchNorm in
float32 under O2) with a dynamic loss scale is the Ascend / GPU configuration; MindSpore's CPU
kernels run it too (slowly). What does not work, each refused before training with a message:

- ACmix-ResNet under O1: MindSpore's O1 rewrite of the model fails (NameError: _check_dim).

ACmix-ResNet trains under O2 and O3 with either attention (the fast path's hand-written
backwards return each gradient in its input's dtype), ACmix-Swin under O1, O2 and O3. Graph type
inference does not depend on the device, so these hold on GPU and Ascend as on the CPU where
they were measured.
"""
from typing import Any, Dict

import ms_acmix


def check_amp(cfg: Dict[str, Any]) -> None:
    """ValueError naming the setting and the fix when ``cfg``'s mixed precision cannot train."""
    level, name = cfg["train"]["amp_level"], cfg["model"]["name"]
    if level == "O0" or ms_acmix.model_info(name).family != "resnet":
        return
    if level == "O1":
        raise ValueError(f"train.amp_level=O1 does not work for {name}: MindSpore's O1 rewrite "
                         "of the model fails (NameError: _check_dim); use O2 or O3")
