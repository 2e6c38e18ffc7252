"""Batched image resampling: affine grids, displacement fields, bilinear/nearest sampling.

All functions work on a whole NCHW batch at once by index arithmetic (one
gather per corner), so no Python loop runs over images or pixels. Array code
goes through ``get_array_module`` so it also runs on CuPy arrays.

Coordinates are in pixels with pixel centres at integers: ``(0, 0)`` is the
centre of the top-left pixel, and the image centre is ``((H-1)/2, (W-1)/2)``.
"""

from __future__ import annotations

import math

import numpy as np

from trainlab.backend import get_array_module


def sample(x, ys, xs, *, mode: str = "bilinear", fill: float = 0.0):
    """Read ``x`` at fractional source coordinates, per image.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    ys, xs : ndarray, shape (N, Ho, Wo)
        Source row and column of each output pixel.
    mode : {"bilinear", "nearest"}
    fill : float
        Value read outside the image.

    Returns
    -------
    ndarray, shape (N, C, Ho, Wo), dtype of ``x``
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    n_idx = xp.arange(N).reshape(N, 1, 1, 1)
    c_idx = xp.arange(C).reshape(1, C, 1, 1)
    flat = x.reshape(N, C, H * W)
    fill_value = xp.asarray(fill, dtype=x.dtype)

    def gather(yi, xi):
        # yi, xi: int (N, Ho, Wo) -> values (N, C, Ho, Wo), ``fill`` where outside.
        inside = (yi >= 0) & (yi < H) & (xi >= 0) & (xi < W)
        idx = xp.clip(yi, 0, H - 1) * W + xp.clip(xi, 0, W - 1)
        vals = flat[n_idx, c_idx, idx[:, None]]
        return xp.where(inside[:, None], vals, fill_value)

    if mode == "nearest":
        return gather(xp.rint(ys).astype(np.int64), xp.rint(xs).astype(np.int64))
    if mode != "bilinear":
        raise ValueError(f"unknown sampling mode {mode!r}")
    y0f, x0f = xp.floor(ys), xp.floor(xs)
    wy = (ys - y0f).astype(x.dtype)[:, None]  # (N, 1, Ho, Wo)
    wx = (xs - x0f).astype(x.dtype)[:, None]
    y0, x0 = y0f.astype(np.int64), x0f.astype(np.int64)
    top = gather(y0, x0) * (1 - wx) + gather(y0, x0 + 1) * wx
    bottom = gather(y0 + 1, x0) * (1 - wx) + gather(y0 + 1, x0 + 1) * wx
    return top * (1 - wy) + bottom * wy


def shift_whole_pixels(x, dy, dx, *, fill: float = 0.0):
    """Shift each image by whole pixels: output ``(i, j)`` reads input ``(i - dy, j - dx)``.

    The same result as :func:`sample` in ``"nearest"`` mode at the coordinates
    :func:`affine_coords` gives for a pure shift, without the coordinate grids: pad the
    batch by the largest shift (``fill`` outside), then read each image's rows, then
    its columns, with one gather each.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    dy, dx : int arrays, shape (N,)
        Rows down and columns right, per image.

    Returns
    -------
    ndarray, shape (N, C, H, W), dtype of ``x``
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    dy, dx = xp.asarray(dy, dtype=np.int64), xp.asarray(dx, dtype=np.int64)
    pad = int(max(int(xp.abs(dy).max()), int(xp.abs(dx).max()))) if N else 0
    if pad == 0:
        return x.copy()
    padded = xp.full((N, C, H + 2 * pad, W + 2 * pad), fill, dtype=x.dtype)
    padded[:, :, pad:pad + H, pad:pad + W] = x
    rows = xp.arange(H).reshape(1, H) + (pad - dy).reshape(N, 1)  # (N, H), in padded rows
    cols = xp.arange(W).reshape(1, W) + (pad - dx).reshape(N, 1)
    picked = xp.take_along_axis(padded, rows.reshape(N, 1, H, 1), axis=2)  # (N, C, H, W + 2 pad)
    return xp.take_along_axis(picked, cols.reshape(N, 1, 1, W), axis=3)


def affine_coords(xp, n: int, h: int, w: int, angle_rad, scale, shift_y, shift_x):
    """Source coordinates of a rotation by ``angle_rad`` and zoom by ``scale`` about
    the image centre, followed by a shift, one set of parameters per image.

    Parameters
    ----------
    xp : module
        numpy or cupy.
    n, h, w : int
        Batch size and output image size.
    angle_rad, scale, shift_y, shift_x : array, shape (n,)

    Returns
    -------
    ys, xs : arrays, shape (n, h, w)
        Where each output pixel reads from (the inverse map).
    """
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    ii = xp.arange(h, dtype=np.float64).reshape(1, h, 1) - cy
    jj = xp.arange(w, dtype=np.float64).reshape(1, 1, w) - cx
    cos = (xp.cos(angle_rad) / scale).reshape(n, 1, 1)
    sin = (xp.sin(angle_rad) / scale).reshape(n, 1, 1)
    u = ii - shift_y.reshape(n, 1, 1)  # (n, h, 1): output offset from centre, shift undone
    v = jj - shift_x.reshape(n, 1, 1)  # (n, 1, w)
    # Inverse of "scale, then rotate by +angle": rotate by -angle, divide by scale.
    ys = cos * u - sin * v + cy
    xs = sin * u + cos * v + cx
    return ys, xs


def gaussian_kernel1d(sigma: float, truncate: float = 3.0) -> np.ndarray:
    """Normalised 1-D Gaussian taps, radius ``ceil(truncate * sigma)``."""
    radius = max(1, int(math.ceil(truncate * sigma)))
    m = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (m / sigma) ** 2)
    return k / k.sum()


def smooth(field, sigma: float, axes: tuple[int, ...] = (-2, -1)):
    """Gaussian blur along ``axes`` (separable, zero outside the field).

    Loops over the kernel's taps (a handful), never over images or pixels.
    """
    xp = get_array_module(field)
    kernel = gaussian_kernel1d(sigma)
    radius = kernel.size // 2
    out = field
    for axis in axes:
        axis = axis % out.ndim
        size = out.shape[axis]
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius, radius)
        padded = xp.pad(out, pad)
        acc = xp.zeros_like(out)
        for tap, weight in enumerate(kernel):
            sl = [slice(None)] * out.ndim
            sl[axis] = slice(tap, tap + size)
            acc += weight * padded[tuple(sl)]
        out = acc
    return out
