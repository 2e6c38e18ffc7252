"""The array module behind an array: NumPy, or CuPy when an array lives on a GPU.

Layer code calls ``xp = get_array_module(x)`` and then ``xp.exp``, ``xp.sqrt``,
... so that the same code can later run on CuPy arrays without change.
"""

from __future__ import annotations

import numpy as np

DEFAULT_DTYPE = np.float32


def get_array_module(*arrays):
    """Return ``cupy`` if any argument is a CuPy array, else ``numpy``."""
    for a in arrays:
        module = type(a).__module__
        if module.startswith("cupy"):
            import cupy  # only imported when a CuPy array is really present

            return cupy
    return np


def as_numpy(a) -> np.ndarray:
    """Copy an array to host memory as a NumPy array (identity for NumPy input)."""
    if hasattr(a, "get") and type(a).__module__.startswith("cupy"):
        return a.get()
    return np.asarray(a)
