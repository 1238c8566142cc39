"""The parity harness's error model: how far a float32 result may be from the exact (float64)
one, per device.

Product code compares two results directly (``acmix_common.tolerance``); the harness has a float64
reference at hand and asks more sharply how far a float32 result may be from it. Rounding error is
a random-looking quantity: one float32 evaluation can be lucky (a long reduction whose rounding
errors happen to cancel), and another processor's SIMD path rounds differently. A bound taken from
a single float32 run therefore passes on one machine and fails on the next (seen: ``attn.rate1`` of
a Swin block, 4.05x one sample of PyTorch's own error on an Intel Xeon, under 4x on an AMD EPYC).
So the harness measures the float32 *noise scale* of every compared quantity instead:

- it evaluates the reference in float32 ``NOISE_SAMPLES`` times, each time with every input,
  weight, buffer and cotangent moved by at most one ulp in a random direction (``nudge``), and
  takes the largest distance to the float64 result of the unmoved values. A one-ulp move
  decorrelates the rounding errors of every reduction, and adds the quantity's sensitivity to
  float32 rounding of its data (its condition): by backward error analysis that sensitivity is
  what any correct float32 implementation is entitled to, whatever its summation order;
- the maximum over 8 samples is stable where one sample is not: for a scalar (the worst case)
  the chance that all 8 fall below a third of their typical size is 2e-5, against 26% for one;
- ``NOISE_MULTIPLE`` times that noise (8 for forward results, 16 for gradients), plus
  ``CONTEXT_ULPS`` units of roundoff of the check's largest value (a quantity that is zero by
  cancellation, such as the gradient of ACmix's ``conv_p`` bias or of q when ``k_att`` = 1,
  keeps the roundoff of the terms that cancelled). Gradients get twice the multiple: a parameter's
  gradient is a reduction over batch and space, and a framework that blocks or orders that sum
  differently from PyTorch has an error whose size the nudges of PyTorch's sum cannot show.
  The worst case seen was ``rate1``'s gradient at 4.1x the noise on the SSE4.1 kernel path.
  The context of an optimiser update is the parameter's size, not the update's: the update is
  a difference of float32 parameters, each step rounds the parameter to its grid, and a one-ulp
  nudge keeps the parameter's place on that grid, so the nudges cannot show that rounding
  (seen: SGD's two-step update of a ``rate2``, 0.9 ulp of the parameter off in MindSpore, equal
  to a plain float32 evaluation of the rule, where PyTorch's kernel landed on the next float).

Measured before choosing (``python -m parity.calibrate``, docs/parity.md): over 11,000
compared quantities of drawn ACmix modules, Swin blocks and whole models, on the AVX-512, AVX2
and SSE4.1 kernel paths of both frameworks, MindSpore's error reached at most 0.19 of this bound
(median 0.02); the old single-sample rule (4x one sample plus a tenth of the direct tolerance)
reached 0.84 on the same draws and failed on an Intel Xeon. In the thorough run (6,839 checks)
the closest was 0.64: a ``conv2.weight`` gradient whose bound is the ``CONTEXT_ULPS`` floor,
with MindSpore 2.6 units of roundoff of the gradients' largest value away (the floor allows 4).

**Devices** (``DEVICES``): MindSpore runs on CPU, GPU or Ascend; the float64 and float32 PyTorch
references stay on the CPU. The harness pins each device to float32 arithmetic, so the float32
bound holds unchanged; a device's reduced-precision mode (what users train in) scales the bound
by the ratio of unit roundoffs (``precision='native'``).
"""
from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np

from acmix_common.tolerance import Comparison, Tolerance, max_abs, measure

UNIT_ROUNDOFF = {"float64": 2.0 ** -53, "float32": 2.0 ** -24, "tf32": 2.0 ** -11,
                 "float16": 2.0 ** -11, "bfloat16": 2.0 ** -8}

NOISE_SAMPLES = 8
# Per kind of check: gradients of parameters are reductions over batch and space, whose error
# grows with the summation order a framework picked; see the module docstring.
NOISE_MULTIPLE = {"forward": 8.0, "grad": 16.0}
CONTEXT_ULPS = 4.0


@dataclass(frozen=True)
class DevicePolicy:
    """What the harness sets on a device, and the arithmetic the bound assumes there."""
    settings: str
    arithmetic: str  # a key of UNIT_ROUNDOFF: matmul/conv precision under the harness settings
    native_arithmetic: str  # ... under the settings users train with
    reasoning: str


DEVICES: Dict[str, DevicePolicy] = {
    "CPU": DevicePolicy(
        settings="none needed", arithmetic="float32", native_arithmetic="float32",
        reasoning="MindSpore's CPU kernels compute float32 in float32; their SIMD path differs "
                  "between processors, which the noise model covers (docs/parity.md)."),
    "GPU": DevicePolicy(
        settings="conv_allow_tf32(False), matmul_allow_tf32(False), set_deterministic(True)",
        arithmetic="float32", native_arithmetic="tf32",
        reasoning="MindSpore lets cuDNN convolutions use TF32 by default (10-bit mantissa, unit "
                  "roundoff 2^-11, 8192x float32's): that would hide every porting bug under "
                  "1e-3 relative, so the harness turns TF32 off for conv and matmul. cuDNN's "
                  "nondeterministic algorithms (atomic adds in weight gradients) only reorder "
                  "float32 sums, which the noise model allows, but a failure must reproduce: "
                  "the harness asks for deterministic kernels. 'native' keeps the TF32 default "
                  "and scales the bound to TF32's roundoff."),
    "Ascend": DevicePolicy(
        settings="precision_mode('must_keep_origin_dtype'), conv_allow_hf32(False), "
                 "matmul_allow_hf32(False), set_deterministic(True)",
        arithmetic="float32", native_arithmetic="float16",
        reasoning="The Cube units compute conv and matmul in float16 (or HF32 for conv, CANN's "
                  "default) unless told to keep float32; float16's roundoff is 8192x float32's. "
                  "The harness keeps the original dtype and turns HF32 off, so the port's "
                  "semantics are checked at float32 sharpness. Users train with amp O2 "
                  "(float16 conv/matmul): 'native' gives that bound, the float32 bound scaled "
                  "by 2^13."),
}


def device_policy(device: str) -> DevicePolicy:
    if device not in DEVICES:
        raise ValueError(f"device={device!r} is not one of {', '.join(DEVICES)}")
    return DEVICES[device]

# Preprocessed images with the normalisation undone, in gray levels (x 255): one level at every
# pixel. Both sides resample with PIL and round to uint8, so the only slack needed is float32
# roundoff of ToTensor/Normalize (~1e-4 level).
LEVELS = Tolerance(rtol=0.0, atol=1.0)


def compare_levels(actual, expected) -> Comparison:
    """Two images (or pixel arrays) in gray levels, under ``LEVELS``."""
    return measure(actual, expected, LEVELS.atol + LEVELS.rtol * max_abs(expected))


def nudge(array: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``array`` (float32) with each element moved to a random neighbour: down, stay or up."""
    a = np.asarray(array, dtype=np.float32)
    step = rng.integers(-1, 2, a.shape)
    up = np.nextafter(a, np.float32(np.inf))
    down = np.nextafter(a, np.float32(-np.inf))
    return np.where(step > 0, up, np.where(step < 0, down, a)).astype(np.float32)


def reference_bound(noise: float, context_scale: float, arithmetic: str = "float32",
                    kind: str = "forward") -> float:
    """The bound on a float32 result's distance to float64, given its measured float32 ``noise``
    (largest distance over NOISE_SAMPLES nudged float32 runs) and the check's largest value.

    ``arithmetic``: the precision the device computes conv/matmul in (DEVICES); a coarser one
    scales the whole bound by its unit roundoff over float32's. ``kind``: 'forward' or 'grad'.
    """
    scale = UNIT_ROUNDOFF[arithmetic] / UNIT_ROUNDOFF["float32"]
    return scale * (NOISE_MULTIPLE[kind] * noise + CONTEXT_ULPS * UNIT_ROUNDOFF["float32"]
                    * context_scale)


def compare_to_reference(actual, reference64, noise: float, context_scale: Optional[float] = None,
                         arithmetic: str = "float32", kind: str = "forward") -> Comparison:
    """``actual`` against the float64 reference under ``reference_bound``; the context scale
    defaults to the reference's own largest magnitude."""
    context = max_abs(reference64) if context_scale is None else context_scale
    return measure(actual, reference64, reference_bound(noise, context, arithmetic, kind))
