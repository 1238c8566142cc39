"""The tolerance policy, written once: per dtype and per kind of check.

A comparison passes when ``max|actual - expected| <= atol + rtol * max|expected|`` (normwise, so
a softmax output near zero is judged against the tensor's scale, not elementwise).

Reasoning: float32 has a unit roundoff of 6e-8. Two correct implementations of the same
network differ by reduction order only (conv, matmul, softmax sums), which grows like
sqrt(depth * reduction length) * 6e-8 relative to the activations' scale; the measured forward
gap between the two frameworks is at most ~4e-7 relative on ACmix-ResNet-50 and ACmix-Swin-T,
so rtol 1e-5 leaves a 25x margin while staying 40x under the smallest real porting bug
(tanh GELU, 4.7e-4). Gradients accumulate over more terms (batch and spatial sums) and get one
order more. float64 against the float64 numpy oracle is held to 1e-12. float16 has a unit
roundoff of 4.9e-4, so its checks are scaled by ~1e4.

With a float64 PyTorch run at hand (the parity harness), the bound is sharper and adapts to the
draw: MindSpore float32 may be at most REFERENCE_MULTIPLE times as far from float64 as PyTorch
float32 is, plus a floor of a tenth of the direct tolerance. That catches a LayerNorm epsilon of
1e-7 (a 5e-6 relative change at unit variance), which the direct float32 bound would let through.
A quantity that is zero by cancellation (the gradient of ACmix's conv_p bias: the position bias
cancels in k + pe_centre - pe_j) keeps the roundoff of the terms that cancelled, so a check may
add the unit roundoff times a context scale (for gradients: the largest gradient of the check).
"""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float


POLICY = {
    ("float64", "forward"): Tolerance(rtol=1e-12, atol=1e-15),
    ("float32", "forward"): Tolerance(rtol=1e-5, atol=1e-7),
    ("float32", "grad"): Tolerance(rtol=1e-4, atol=1e-7),
    ("float16", "forward"): Tolerance(rtol=1e-2, atol=1e-4),
    # bfloat16 keeps 8 mantissa bits to float16's 11: the float16 check with atol scaled by 2**3.
    ("bfloat16", "forward"): Tolerance(rtol=1e-2, atol=8e-4),
}


UNIT_ROUNDOFF = {"float64": 2.0 ** -53, "float32": 2.0 ** -24, "float16": 2.0 ** -11}
REFERENCE_MULTIPLE = 4.0
REFERENCE_FLOOR = 0.1  # times the direct tolerance


@dataclass(frozen=True)
class Comparison:
    max_abs: float
    max_rel: float
    cosine: float
    bound: float

    @property
    def ok(self) -> bool:
        return self.max_abs <= self.bound

    def __str__(self) -> str:
        return (f"max_abs={self.max_abs:.3e} (bound {self.bound:.3e}) "
                f"max_rel={self.max_rel:.3e} cosine={self.cosine:.9f}")


def compare(actual, expected, dtype: str = "float32", kind: str = "forward") -> Comparison:
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        raise AssertionError(f"shape {a.shape} != expected shape {e.shape}")
    tol = POLICY[(dtype, kind)]
    diff = np.abs(a - e)
    scale = float(np.abs(e).max()) if e.size else 0.0
    denom = np.linalg.norm(a) * np.linalg.norm(e)
    return Comparison(
        max_abs=float(diff.max()) if diff.size else 0.0,
        max_rel=float((diff / np.maximum(np.abs(e), 1e-30)).max()) if diff.size else 0.0,
        cosine=float((a.ravel() @ e.ravel()) / denom) if denom else 1.0,
        bound=tol.atol + tol.rtol * scale)


def compare_to_reference(actual, reference64, torch32, dtype: str = "float32",
                         kind: str = "forward", context_scale: float = 0.0) -> Comparison:
    """MindSpore ``actual`` against PyTorch float64, bounded by PyTorch float32's own error."""
    direct = compare(actual, reference64, dtype, kind)
    own_error = compare(torch32, reference64, dtype, kind).max_abs
    bound = (REFERENCE_FLOOR * direct.bound + REFERENCE_MULTIPLE * own_error
             + UNIT_ROUNDOFF[dtype] * context_scale)
    return Comparison(direct.max_abs, direct.max_rel, direct.cosine, bound)


def assert_close(actual, expected, dtype: str = "float32", kind: str = "forward",
                 what: str = "") -> Comparison:
    result = compare(actual, expected, dtype, kind)
    if not result.ok:
        raise AssertionError(f"{what or 'tensors'} differ beyond the {dtype} {kind} tolerance: "
                             f"{result}")
    return result
