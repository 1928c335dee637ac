"""Every peer's output against the workload's numpy, before it is timed.

Two tolerances. The **loose** one fits the dtypes (a peer may keep f16 intermediates in f32, as
onnxruntime and Inductor do): outside it the peer is wrong and is not timed. The **tight** one
is what the exact ONNX semantics allow (f32 summation order, a reciprocal multiply; one ulp of
an f16 output): a peer inside the loose but outside the tight one computes other numerics (on
the fp16 workloads: f16 intermediates not rounded) and is marked in the tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import workloads

TIGHT_RTOL = 1e-5  # f32 rounding of a reordered sum or a reciprocal, well below f16's 4.9e-4
TIGHT_ATOL = 1e-6  # times the largest |expected|: sums that cancel to near zero


class NumericsError(AssertionError):
    """A peer's output is outside the loose tolerance (or of the wrong shape)."""


@dataclass(frozen=True)
class Numerics:
    exact: bool  # within the tight tolerance
    max_error: float  # max |out - expected|


def loose_tolerance(name: str) -> dict[str, float]:
    half = "float16" in workloads.get(name).dtypes.values()
    return {"rtol": 1e-2, "atol": 5e-2} if half else {"rtol": 1e-3, "atol": 1e-5}


def classify(name: str, out, expected: np.ndarray, peer: str) -> Numerics:
    """``out`` within the loose tolerance (else :class:`NumericsError`), and whether it is
    within the tight one."""
    out = np.asarray(out)
    if out.shape != expected.shape:
        raise NumericsError(f"{peer} on {name}: output shape {out.shape}, expected "
                            f"{expected.shape}")
    got, want = out.astype(np.float64), expected.astype(np.float64)
    error = np.abs(got - want)
    max_error = float(error.max()) if error.size else 0.0
    loose = loose_tolerance(name)
    if not np.allclose(got, want, **loose) or not np.isfinite(got).all():
        raise NumericsError(f"{peer} on {name}: max |error| {max_error:.3g} outside rtol "
                            f"{loose['rtol']}, atol {loose['atol']}")
    if expected.dtype == np.float16:
        bound = np.spacing(np.abs(expected)).astype(np.float64)  # one ulp of the output
    else:
        scale = float(np.abs(want).max()) if want.size else 0.0
        bound = TIGHT_RTOL * np.abs(want) + TIGHT_ATOL * scale
    return Numerics(bool((error <= bound).all()), max_error)
