"""Layer tests run on the reference kernels (the code a learner reads) unless a test asks for both.

A test that also runs on the fast kernels says so with
``@pytest.mark.parametrize("kernel_implementation", ["reference", "fast"], indirect=True)``;
``tests/kernels/test_parity.py`` holds the two implementations together everywhere else.
"""

import pytest

from trainlab import kernels


@pytest.fixture(autouse=True)
def kernel_implementation(request):
    name = getattr(request, "param", "reference")
    with kernels.using(name):
        yield name
