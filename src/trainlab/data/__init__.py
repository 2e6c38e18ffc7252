"""Datasets without a network: MNIST, Fashion-MNIST, IDX folders, generated sets;
augmentation and mini-batching.

See ``docs/data.md`` for where the data comes from and how it is checked.
"""

from trainlab.data.augment import (
    TRANSFORMS,
    BrightnessContrast,
    ElasticDistortion,
    GaussianNoise,
    RandomAffine,
    RandomErasing,
    RandomHorizontalFlip,
    RandomRotation,
    RandomScale,
    RandomShift,
    Transform,
    register_transform,
)
from trainlab.data.batching import BatchIterator
from trainlab.data.cache import default_cache_dir
from trainlab.data.catalog import DATASET_SPECS, DatasetSpec, register_spec
from trainlab.data.datasets import (
    DATASETS,
    DataSplits,
    load_dataset,
    load_fashion_mnist,
    load_idx_folder,
    load_mnist,
)
from trainlab.data.fetching import cache_info, fetch, load_arrays
from trainlab.data.idx import idx_sha256, read_idx, write_idx
from trainlab.data.pipeline import AugmentationPipeline, Compose, build_pipeline, build_transform
from trainlab.data.safe_pickle import safe_load, safe_loads
from trainlab.data.synthetic import load_npz, make_clusters, make_spirals, make_tiny_images, save_npz

__all__ = [
    "AugmentationPipeline", "BatchIterator", "BrightnessContrast", "Compose", "DATASETS", "DATASET_SPECS",
    "DataSplits", "DatasetSpec", "ElasticDistortion", "GaussianNoise", "RandomAffine", "RandomErasing",
    "RandomHorizontalFlip", "RandomRotation", "RandomScale", "RandomShift", "TRANSFORMS", "Transform",
    "build_pipeline", "build_transform", "cache_info", "default_cache_dir", "fetch", "idx_sha256",
    "load_arrays", "load_dataset", "load_fashion_mnist", "load_idx_folder", "load_mnist", "load_npz",
    "make_clusters", "make_spirals", "make_tiny_images", "read_idx", "register_spec", "register_transform",
    "safe_load", "safe_loads", "save_npz", "write_idx",
]
