"""Memory layout of image batches: (N, C, H, W) arrays stored as (C, H, W, N) blocks.

The fast kernels store convolution and pooling outputs with the batch as the
innermost axis and hand out (N, C, H, W) views of that block (see
:mod:`trainlab.kernels.conv`); these helpers let every fast kernel find and
follow that storage without copying. The layers never see it: to them every
array is (N, C, H, W).
"""

from __future__ import annotations

from trainlab.backend import get_array_module
from trainlab.kernels.registry import fast


def block_view(x):
    """The (C, H, W, N) view of an (N, C, H, W) array (no copy; C-contiguous when x is stored CHWN)."""
    return x.transpose(1, 2, 3, 0)


def is_chwn(x) -> bool:
    """True when an (N, C, H, W) array is stored as a C-contiguous (C, H, W, N) block."""
    return x.ndim == 4 and block_view(x).flags.c_contiguous


def from_block(block):
    """The (N, C, H, W) view of a (C, H, W, N) block."""
    return block.transpose(3, 0, 1, 2)


def empty_chwn(xp, N: int, C: int, H: int, W: int, dtype, *, zeros: bool = False):
    """An uninitialised (or zero) (N, C, H, W) array stored as a (C, H, W, N) block."""
    return from_block((xp.zeros if zeros else xp.empty)((C, H, W, N), dtype))


def memory_order(x):
    """The axes of ``x`` from the slowest to the fastest in memory, or None unless x fills one dense block.

    Two arrays of one shape with the same order can be walked together as flat
    arrays (:func:`flat_view`), whatever their layout: element-wise passes then
    run over contiguous memory and can be split into parts.
    """
    perm = tuple(sorted(range(x.ndim), key=lambda axis: -abs(x.strides[axis])))
    return perm if x.transpose(perm).flags.c_contiguous else None


def flat_view(x, order):
    """The 1-D view of ``x`` in memory order (``order`` from :func:`memory_order`); no copy."""
    return x.transpose(order).reshape(-1)


@fast("empty_channels")
def empty_channels(like, channels: int):
    """Fast :func:`trainlab.layers.blocks.empty_channels`: stored as a (C, H, W, N) block, the layout
    the fast convolution returns, so channel slices of it are contiguous memory."""
    N, _, H, W = like.shape
    return empty_chwn(get_array_module(like), N, channels, H, W, like.dtype)
