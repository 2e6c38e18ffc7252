import os

# pytest -n 2 runs two worker processes on two cores: one BLAS thread each avoids
# oversubscription, which slows small matrix products tenfold. Set before NumPy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Tests never reach for a network mirror.
os.environ.setdefault("TRAINLAB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
