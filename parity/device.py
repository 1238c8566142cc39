"""Where the MindSpore side of the harness runs, and in what arithmetic.

``--parity-device CPU|GPU|Ascend`` (or ``ACMIX_PARITY_DEVICE``) picks the device;
``--parity-precision float32|native`` (or ``ACMIX_PARITY_PRECISION``) picks between float32
arithmetic pinned on the device (the default: the port's semantics at full sharpness) and the
device's own reduced-precision default, which users train in. The PyTorch float64 and float32
references always run on the CPU. What each choice sets, and why:
``parity.error_model.DEVICES``.
"""
from typing import Optional

import mindspore as ms

from parity.error_model import DEVICES, device_policy

PRECISIONS = ("float32", "native")
_state = {"device": "CPU", "precision": "float32"}


def check_choice(device: str, precision: str) -> None:
    """ValueError naming the option and the value when either is not a known choice."""
    if device not in DEVICES:
        raise ValueError(f"--parity-device={device!r} is not one of {', '.join(DEVICES)} "
                         "(also ACMIX_PARITY_DEVICE)")
    if precision not in PRECISIONS:
        raise ValueError(f"--parity-precision={precision!r} is not one of "
                         f"{', '.join(PRECISIONS)} (also ACMIX_PARITY_PRECISION)")


def unavailable(device: str) -> Optional[str]:
    """None when MindSpore can run on ``device`` here, else the one-line reason."""
    if device == "CPU":
        return None
    backend = getattr(ms.device_context, device.lower())
    if not backend.is_available():
        return (f"--parity-device {device}: this MindSpore package or machine has no usable "
                f"{device} (mindspore.device_context.{device.lower()}.is_available() is False)")
    if backend.device_count() < 1:
        return f"--parity-device {device}: no {device} device is visible to this process"
    return None


def _pin_float32(device: str, native: bool) -> None:
    if device == "GPU":
        gpu = ms.device_context.gpu.op_precision
        gpu.conv_allow_tf32(native)  # MindSpore's own default is True
        gpu.matmul_allow_tf32(False)
    elif device == "Ascend":
        ascend = ms.device_context.ascend.op_precision
        ascend.precision_mode("allow_fp32_to_fp16" if native else "must_keep_origin_dtype")
        ascend.conv_allow_hf32(native)
        ascend.matmul_allow_hf32(False)


def configure(device: str, precision: str) -> None:
    """Put the MindSpore side on ``device`` (PYNATIVE; GRAPH checks jit their own functions)."""
    check_choice(device, precision)
    ms.set_device(device)
    ms.set_context(mode=ms.PYNATIVE_MODE)
    if device != "CPU":
        _pin_float32(device, precision == "native")
        ms.set_deterministic(True)
    _state.update(device=device, precision=precision)


def current() -> str:
    return f"{_state['device']} ({_state['precision']})"


def arithmetic() -> str:
    """The arithmetic the bounds assume for the configured device and precision."""
    policy = device_policy(_state["device"])
    return policy.native_arithmetic if _state["precision"] == "native" else policy.arithmetic
