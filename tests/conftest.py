import os

import numpy as np
import pytest

# Tests never draw a progress bar and never reach for a network mirror.
os.environ.setdefault("TRAINLAB_OFFLINE", "1")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
