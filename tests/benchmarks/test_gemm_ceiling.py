"""gemm_ceiling.py counts the floating-point operations of a training step's products from the kernels' calls;
the floor it prints rests on that count, so the count is checked against the network's arithmetic by hand."""

import numpy as np
import pytest

from trainlab import kernels


@pytest.fixture(scope="module")
def ceiling(benchmark_module):
    return benchmark_module("gemm_ceiling")


def test_simple_convnet_step_is_counted_product_by_product(ceiling):
    # SimpleConvNet, batch 100: conv 1->30 5x5 on 28x28 (24x24 out), Linear 4320->100, Linear 100->10.
    conv = 2 * 100 * 30 * (1 * 5 * 5) * 24 * 24
    hidden, last = 2 * 100 * 4320 * 100, 2 * 100 * 100 * 10
    # forward each once; backward: the convolution's weight gradient only (the images need none),
    # both gradients of each linear layer.
    expected = (conv + hidden + last) + conv + 2 * (hidden + last)
    assert ceiling.step_flops("simple-convnet") == expected


def test_counting_leaves_the_kernels_as_they_were(ceiling):
    before = kernels.lookup("conv2d_forward", "fast")
    total = [0]
    with ceiling.counting_products(total):
        assert kernels.lookup("conv2d_forward", "fast") is not before
        x = np.zeros((2, 1, 5, 5), np.float32)
        kernels.lookup("conv2d_forward", "fast")(x, np.zeros((3, 1, 3, 3), np.float32), None, (1, 1), (0, 0))
    assert total[0] == 2 * 2 * 3 * 9 * 3 * 3
    assert kernels.lookup("conv2d_forward", "fast") is before
