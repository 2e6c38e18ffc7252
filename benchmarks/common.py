"""Pieces the benchmark scripts share: the images, one timed training run per framework.

Both frameworks train with Adam (lr 1e-3) and softmax cross-entropy on
batches drawn from the same seeded permutations, He-initialised with zero
biases; a run returns its training throughput in samples per second.
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np

from trainlab.kernels import threads
from trainlab.optim import Adam
from trainlab.process import runtime
from trainlab.training import Trainer


def load_images(n: int, *, flatten: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """The first ``n`` MNIST training images when MNIST is cached, otherwise random images of
    the same shape (the speed is the same); returns (x, t, description)."""
    try:
        from trainlab.data import load_mnist

        data = load_mnist(normalize=True, flatten=flatten)
        return data.x_train[:n], data.t_train[:n], "MNIST"
    except Exception:
        rng = np.random.default_rng(0)
        shape = (n, 784) if flatten else (n, 1, 28, 28)
        return rng.random(shape, dtype=np.float32), rng.integers(0, 10, n), "random 28x28 images"


def cpu_description() -> dict[str, str | None]:
    """The processor's model name and its widest x86 vector extension, where the OS tells them.

    Ratios to PyTorch depend on it: PyTorch's convolutions use AVX-512 where the
    processor has it, and gain more from it than OpenBLAS's matrix products do.
    """
    model, flags = None, set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model is None:
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    simd = next((name for name in ("avx512f", "avx2", "avx", "sse4_2") if name in flags), None)
    return {"cpu": model or platform.processor() or None, "simd": simd}


def machine_line() -> str:
    """Architecture, processor, cores, load average and NumPy version, for the first lines of a report."""
    cpu = cpu_description()
    described = ", ".join(v for v in (cpu["cpu"], cpu["simd"]) if v)
    processor = f" ({described})" if described else ""
    return (f"machine: {platform.machine()}{processor}, {os.cpu_count()} cores, load average "
            f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}; numpy {np.__version__}, "
            f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
            f"trainlab threads {threads.get_num_threads()}")


#: How each kind of network trains fastest (``trainlab.runtime``'s settings): convolutional networks on
#: trainlab's threads with BLAS on one and freed memory kept; networks of linear layers alone on BLAS's
#: own threads (a product answers within microseconds there, where a part handed to a thread takes 40-70).
RUNTIME_CNN = {"keep_freed_memory": True}
RUNTIME_MLP = {"threads": 1}


def time_trainlab(model, x, t, steps: int, batch: int, settings: dict | None = None) -> float:
    """Samples/s of ``steps`` Adam steps of a trainlab model (no evaluation), inside ``runtime(**settings)``."""
    opt = Adam(model.parameters(), lr=1e-3)
    trainer = Trainer(model, opt, batch_size=batch, iterations=steps, seed=0, eval_train=False, progress=False)
    with runtime(**(RUNTIME_CNN if settings is None else settings)):
        start = time.perf_counter()
        trainer.fit(x, t)
        return steps * batch / (time.perf_counter() - start)


def he_init_torch(model) -> None:
    """He-normal weights and zero biases for every Linear and Conv2d of a torch model, like trainlab's."""
    from torch import nn

    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)


def time_torch(model, x, t, steps: int, batch: int) -> float:
    """Samples/s of ``steps`` Adam steps of a torch model over shuffled batches of (x, t)."""
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, tt = torch.from_numpy(x), torch.from_numpy(t.astype(np.int64))
    rng = np.random.default_rng(0)
    per_epoch = len(x) // batch
    model.train()
    start = time.perf_counter()
    done = 0
    while done < steps:
        order = torch.from_numpy(rng.permutation(len(x)))
        for i in range(per_epoch):
            idx = order[i * batch:(i + 1) * batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[idx]), tt[idx])
            loss.backward()
            opt.step()
            done += 1
            if done == steps:
                break
    return steps * batch / (time.perf_counter() - start)
