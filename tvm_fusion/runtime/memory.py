"""Aligned numpy arrays: what lets a call hand its arrays to the kernel at full speed.

Kernels assume only the element alignment of their arguments (``tvm_fusion.alignment``), so
every C-contiguous numpy array is passed without a copy. A 64-byte aligned array (one cache
line, one AVX-512 vector) additionally never splits a vector load or store across two cache
lines; numpy itself guarantees 16 bytes. The public call returns its outputs in arrays from
:func:`empty`; :func:`aligned` gives a caller's input the same alignment once, up front.
"""

from __future__ import annotations

import numpy as np

ALIGNMENT = 64  # bytes: a cache line and a 512-bit vector


def empty(shape, dtype="float32") -> np.ndarray:
    """A new uninitialised C-contiguous array whose data starts on a 64-byte boundary.

    Parameters
    ----------
    shape : int or tuple of int
        The array's shape.
    dtype : str or numpy dtype
        Its element type.

    Returns
    -------
    numpy.ndarray
        A writeable array (a view into a slightly larger byte buffer, which it keeps alive).
    """
    dtype = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    nbytes = dtype.itemsize
    for extent in shape:
        nbytes *= extent
    return aligned_empty(shape, dtype, nbytes)


def aligned_empty(shape: tuple, dtype: np.dtype, nbytes: int) -> np.ndarray:
    """:func:`empty` with the byte count already known (the call path precomputes it)."""
    raw = np.empty(nbytes + ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def is_aligned(array: np.ndarray, alignment: int = ALIGNMENT) -> bool:
    """Whether ``array``'s data starts on an ``alignment``-byte boundary."""
    return array.ctypes.data % alignment == 0


def aligned(array, dtype=None) -> np.ndarray:
    """``array`` itself when it is C-contiguous, writeable and 64-byte aligned (and of
    ``dtype``, if given), else a copy that is: convert an input once, then call with it.

    Parameters
    ----------
    array : array_like
        Any array (numpy array, list, anything ``numpy.asarray`` takes).
    dtype : str or numpy dtype, optional
        Convert to this element type as well.

    Returns
    -------
    numpy.ndarray
    """
    source = np.asarray(array, dtype=dtype)
    if source.flags.c_contiguous and source.flags.writeable and is_aligned(source):
        return source
    result = empty(source.shape, source.dtype)
    np.copyto(result, source)
    return result
