"""The product's one comparison: one result against another, when no float64 run is at hand
(the converter's ``--verify``, the export checks, the numpy oracle in tests/).

A comparison passes when ``max|actual - expected| <= atol + rtol * max|expected|`` (normwise, so a
softmax output near zero is judged against the tensor's scale). float32 has a unit roundoff of
6e-8; two correct implementations of one network differ by reduction order only, which grows like
sqrt(depth * reduction length) * 6e-8 relative to the activations' scale. The measured forward gap
between the frameworks is at most ~4e-7 relative on ACmix-ResNet-50 and ACmix-Swin-T, so rtol 1e-5
leaves a 25x margin while staying 40x under the smallest real porting bug (tanh GELU, 4.7e-4).
Gradients sum over batch and space and get one order more. float64 against the float64 numpy oracle
is held to 1e-12; float16 (unit roundoff 4.9e-4) is scaled by ~1e4.

The parity harness judges float32 results against a float64 reference with its own error model
(``parity/error_model.py``), built on ``Comparison`` and ``measure`` below.
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


@dataclass(frozen=True)
class Comparison:
    max_abs: float
    max_rel: float
    cosine: float
    bound: float

    @property
    def ok(self) -> bool:
        return self.max_abs <= self.bound

    @property
    def ratio(self) -> float:
        """Error over bound: above 1 fails; for an injected bug, its detection margin."""
        if self.bound > 0:
            return self.max_abs / self.bound
        return float("inf") if self.max_abs > 0 else 0.0

    def __str__(self) -> str:
        return (f"max_abs={self.max_abs:.3e} (bound {self.bound:.3e}) "
                f"max_rel={self.max_rel:.3e} cosine={self.cosine:.9f}")


def measure(actual, expected, bound: float) -> Comparison:
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        raise AssertionError(f"shape {a.shape} != expected shape {e.shape}")
    diff = np.abs(a - e)
    denom = np.linalg.norm(a) * np.linalg.norm(e)
    return Comparison(
        max_abs=float(diff.max()) if diff.size else 0.0,
        max_rel=float((diff / np.maximum(np.abs(e), 1e-30)).max()) if diff.size else 0.0,
        cosine=float((a.ravel() @ e.ravel()) / denom) if denom else 1.0,
        bound=bound)


def max_abs(array) -> float:
    a = np.asarray(array, dtype=np.float64)
    return float(np.abs(a).max()) if a.size else 0.0


def compare(actual, expected, dtype: str = "float32", kind: str = "forward") -> Comparison:
    """The direct bound: ``atol + rtol * max|expected|`` from POLICY."""
    tol = POLICY[(dtype, kind)]
    return measure(actual, expected, tol.atol + tol.rtol * max_abs(expected))


def assert_close(actual, expected, dtype: str = "float32", kind: str = "forward",
                 what: str = "") -> Comparison:
    result = compare(actual, expected, dtype, kind)
    if not result.ok:
        raise AssertionError(f"{what or 'tensors'} differ beyond the {dtype} {kind} tolerance: "
                             f"{result}")
    return result
