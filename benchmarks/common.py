"""Pieces the benchmark scripts share: the networks, the images, one timed run per framework.

Both frameworks train with Adam (lr 1e-3) and softmax cross-entropy on
batches drawn from the same seeded permutations, from the same He-initialised
weights (torch_models.py copies trainlab's into the PyTorch twin); a run
returns its training throughput in samples per second, an inference pass its
images per second.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass, field

import numpy as np

from trainlab.kernels import threads
from trainlab.models import MultiLayerNet, create_model
from trainlab.optim import Adam
from trainlab.process import blas_description, cpu_description, machine_speed, runtime  # noqa: F401  (the descriptions: for the scripts)
from trainlab.training import Trainer, evaluate


@dataclass(frozen=True)
class Network:
    """One network the benchmarks train: a label, how trainlab builds it, its batch and input form."""

    label: str
    model: str  # a CNN registry name, or "mlp"
    kwargs: dict = field(default_factory=dict)
    batch: int = 100
    flatten: bool = False


#: The networks the lab trains, by benchmark name (bench_mlp.py's MLP, the CNN registry's defaults, ResNet-20).
NETWORKS = {
    "mlp": Network("MLP 784-100x4-10", "mlp", {"hidden_sizes": [100, 100, 100, 100]}, batch=128, flatten=True),
    "simple-convnet": Network("SimpleConvNet", "simple-convnet"),
    "deep-convnet": Network("DeepConvNet", "deep-convnet"),
    "resnet": Network("ResNet (8 layers)", "resnet"),
    "resnet20": Network("ResNet-20", "resnet", {"blocks_per_stage": 3}),
    "inception": Network("InceptionNet", "inception"),
    "densenet": Network("DenseNet", "densenet"),
}


def network_name(model: str, model_args: dict | None = None) -> str | None:
    """The benchmark name of a registry model built with ``model_args`` (None when no benchmark builds it)."""
    return next((name for name, net in NETWORKS.items()
                 if net.model == model and net.kwargs == (model_args or {})), None)


def trainlab_model(name: str, seed: int = 0, **overrides):
    """trainlab's network of benchmark ``name`` (``overrides`` change constructor arguments, e.g. dtype)."""
    net = NETWORKS[name]
    kwargs = {**net.kwargs, **overrides}
    if net.model == "mlp":
        hidden = kwargs.pop("hidden_sizes")
        return MultiLayerNet(784, hidden, 10, activation="relu", weight_init="he", seed=seed, **kwargs)
    return create_model(net.model, seed=seed, **kwargs)


def load_images(n: int, *, flatten: bool, split: str = "train") -> tuple[np.ndarray, np.ndarray, str]:
    """The first ``n`` MNIST images of ``split`` ("train" or "test") when MNIST is cached, otherwise random
    images of the same shape (the speed is the same); returns (x, t, description)."""
    try:
        from trainlab.data import load_mnist

        data = load_mnist(normalize=True, flatten=flatten)
        if split == "test":
            return data.x_test[:n], data.t_test[:n], "MNIST test set"
        return data.x_train[:n], data.t_train[:n], "MNIST"
    except Exception:
        rng = np.random.default_rng(0 if split == "train" else 1)
        shape = (n, 784) if flatten else (n, 1, 28, 28)
        return rng.random(shape, dtype=np.float32), rng.integers(0, 10, n), "random 28x28 images"


def machine_line(speed: dict | None = None) -> str:
    """Architecture, processor, cores, load average, NumPy version and BLAS, and the machine's yardstick
    (:func:`trainlab.process.machine_speed`: one core's product and a copy, now; pass ``speed`` where the
    script records the same measurement), for the first lines of a report."""
    cpu = cpu_description()
    family = f"family {cpu['family']} model {cpu['model']}" if cpu["family"] else None
    described = ", ".join(v for v in (cpu["cpu"], family, cpu["simd"]) if v)
    processor = f" ({described})" if described else ""
    speed = speed or machine_speed()
    return (f"machine: {platform.machine()}{processor}, {os.cpu_count()} cores, load average "
            f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}; numpy {np.__version__}, "
            f"{blas_text()}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
            f"trainlab threads {threads.get_num_threads()}; one core's product {speed['gemm_gflops']:g} GFLOP/s, "
            f"copy {speed['copy_gbps']:g} GB/s")


def blas_text() -> str:
    """``"openblas 0.3.31 with its SkylakeX kernels"`` (and the OPENBLAS_CORETYPE that chose them, where set).

    Set OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) make OpenBLAS run an older processor's
    kernels; to benchmark the library as it runs by default, unset both for that command
    alone (``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/...``).
    """
    blas = blas_description()
    if not blas["library"]:
        return "BLAS unknown"
    forced = f", OPENBLAS_CORETYPE={blas['coretype_env']}" if blas["coretype_env"] else ""
    return f"{blas['library']} {blas['version']} with its {blas['kernels']} kernels{forced}"


#: How each kind of network trains fastest (``trainlab.runtime``'s settings): convolutional networks on
#: trainlab's threads with BLAS on one and freed memory kept; networks of linear layers alone on BLAS's
#: own threads (a product answers within microseconds there, where a part handed to a thread takes 40-70).
RUNTIME_CNN = {"keep_freed_memory": True}
RUNTIME_MLP = {"threads": 1}


def runtime_settings(name: str, count: int | None = None) -> dict:
    """``trainlab.runtime``'s settings for network ``name`` on ``count`` cores.

    Convolutional networks: ``count`` trainlab threads, BLAS on one. The MLP: trainlab's
    passes in the calling thread, BLAS on ``count`` threads. None: RUNTIME_CNN or RUNTIME_MLP
    (trainlab's threads from ``TRAINLAB_NUM_THREADS`` or the cores, BLAS as it was found).
    """
    if NETWORKS[name].model == "mlp":
        return dict(RUNTIME_MLP) if count is None else {"threads": 1, "blas_threads": count}
    return dict(RUNTIME_CNN) if count is None else {**RUNTIME_CNN, "threads": count, "blas_threads": 1}


def call_times(f, repeats: int) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``f()``, after one untimed warm-up call."""
    f()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return times


def time_trainlab(model, x, t, steps: int, batch: int, settings: dict | None = None) -> float:
    """Samples/s of ``steps`` Adam steps of a trainlab model (no evaluation), inside ``runtime(**settings)``."""
    opt = Adam(model.parameters(), lr=1e-3)
    trainer = Trainer(model, opt, batch_size=batch, iterations=steps, seed=0, eval_train=False, progress=False)
    with runtime(**(RUNTIME_CNN if settings is None else settings)):
        start = time.perf_counter()
        trainer.fit(x, t)
        return steps * batch / (time.perf_counter() - start)


def time_torch(model, x, t, steps: int, batch: int, loss_fn=None) -> float:
    """Samples/s of ``steps`` Adam steps of a torch model over shuffled batches of (x, t).

    ``loss_fn(scores, labels)`` defaults to softmax cross-entropy (torch_models.training_loss
    adds auxiliary classifiers' losses).
    """
    import torch

    torch.manual_seed(0)  # dropout's masks
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss() if loss_fn is None else loss_fn
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


def infer_trainlab(model, x, t, batch: int, settings: dict) -> float:
    """Images/s of one eval-mode pass over (x, t) in batches of ``batch``, as ``trainlab.training.evaluate``
    scores a test set (loss and accuracy included), inside ``runtime(**settings)``."""
    with runtime(**settings):
        start = time.perf_counter()
        evaluate(model, x, t, batch_size=batch)
        return len(x) / (time.perf_counter() - start)


def infer_torch(model, x, t, batch: int) -> float:
    """Images/s of the same pass for a torch model: eval mode, ``torch.inference_mode``, loss and accuracy."""
    import torch
    import torch.nn.functional as F

    model.eval()
    xt, tt = torch.from_numpy(x), torch.from_numpy(t.astype(np.int64))
    with torch.inference_mode():
        start = time.perf_counter()
        total_loss, correct = 0.0, 0
        for i in range(0, len(x), batch):
            scores = model(xt[i:i + batch])
            total_loss += float(F.cross_entropy(scores, tt[i:i + batch])) * len(scores)
            correct += int((scores.argmax(1) == tt[i:i + batch]).sum())
        return len(x) / (time.perf_counter() - start)
