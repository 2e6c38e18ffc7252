"""Save and load models without pickle: arrays in ``.npz``, architecture as JSON.

A checkpoint is one ``.npz`` archive holding

- ``param:<name>`` and ``buffer:<name>`` arrays (parameters and running statistics),
- optionally ``optim:<name>`` arrays (optimizer state, to resume training),
- ``__trainlab__``: UTF-8 JSON (as uint8 bytes) with the format version, the
  architecture (``layer_to_spec``), the array names and a SHA-256 of every
  array's bytes, the user's metadata and a SHA-256 of the header itself
  (fields, format versions and checksum: :mod:`trainlab.checkpoint_header`).

Checkpoints of earlier releases load as before: those without the header
checksum are format version 1. Their MultiLayerNet architectures may hold
``weight_decay`` (the book's L2 strength, which older releases kept in the
model): it is a training setting, not architecture, so the model is rebuilt
without it; pass it as ``Trainer(l2_penalty=...)`` to go on training the same way.

Loading never runs code and never trusts a size: the archive is read by
:class:`trainlab.npzread.NpzReader` under its default (checkpoint) limits, which
refuses pickled objects, damaged zip directories, arrays whose declared size does
not match their entry or exceeds ``npzread.MAX_ARRAY_BYTES`` / ``MAX_TOTAL_BYTES``,
and zip bombs, before it allocates. Every problem with a file is a
:class:`~trainlab.errors.CheckpointError` naming the file and what is wrong in it;
a failed load never changes the file.

Writing goes to a temporary file in the same folder, is flushed to disk, then
atomically renamed over the target: a crash mid-write leaves any existing
checkpoint intact, and the temporary file it leaves is removed by the next save
or load of that path (:func:`trainlab.fileio.remove_stale_temporaries`).
:func:`save` refuses a target that is a symbolic link rather than replace the
link or write through it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from trainlab.checkpoint_header import FORMAT, VERSION, make_header, parse_header
from trainlab.errors import CheckpointError, ShapeError
from trainlab.fileio import atomic_write, remove_stale_temporaries
from trainlab.layers.base import Layer, layer_from_spec, layer_to_spec
from trainlab.npzread import NpzReader

__all__ = ["FORMAT", "VERSION", "MAX_HEADER_BYTES", "atomic_write_npz", "save", "load_checkpoint", "load"]

_META_KEY = "__trainlab__"
#: Largest JSON header a checkpoint may have.
MAX_HEADER_BYTES = 64 * 2**20


def _digest(a: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(str(a.dtype).encode() + str(a.shape).encode())
    h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def atomic_write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` to ``path`` as .npz via a temporary file and a rename."""
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def save(model: Layer, path: str | os.PathLike, *, optimizer=None,
         metadata: dict[str, Any] | None = None) -> Path:
    """Save ``model`` (and optionally ``optimizer``'s state) to ``path``.

    Parameters
    ----------
    model : Layer
        Any trainlab layer or container whose layers are registered types.
    path : str or Path
        Conventionally ending in ``.npz`` (added when missing). Must not be a
        symbolic link (CheckpointError): save to the file it points to instead.
    optimizer : trainlab.optim.Optimizer, optional
        Its ``state_dict()`` is stored so training can resume exactly.
    metadata : dict, optional
        JSON values (epoch, accuracy, config, seed, ...), returned by :func:`load_checkpoint`.

    Returns
    -------
    Path of the written file.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    if path.is_symlink():
        raise CheckpointError(f"{path}: is a symbolic link; trainlab does not write checkpoints through links "
                              f"(save to {os.path.realpath(path)} itself, or remove the link)")
    arrays: dict[str, np.ndarray] = {}
    for name, p in model.named_parameters():
        arrays[f"param:{name}"] = np.asarray(p.data)
    for name, b in model.named_buffers():
        arrays[f"buffer:{name}"] = np.asarray(b)
    if optimizer is not None:
        for name, a in optimizer.state_dict().items():
            arrays[f"optim:{name}"] = np.asarray(a)
    try:
        header = make_header(layer_to_spec(model), type(optimizer).__name__ if optimizer is not None else None,
                             {k: _digest(v) for k, v in arrays.items()}, metadata or {})
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"metadata and layer configs must be JSON values: {e}") from None
    arrays[_META_KEY] = np.frombuffer(header, dtype=np.uint8)
    return atomic_write_npz(path, arrays)


def _read(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    remove_stale_temporaries(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        archive = NpzReader(path, error=CheckpointError, what="checkpoint", kind="a trainlab checkpoint")
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    with archive:
        if _META_KEY not in archive.names:
            raise CheckpointError(f"{path}: an .npz archive but not a trainlab checkpoint (no {_META_KEY} entry)")
        if archive.size(_META_KEY) > MAX_HEADER_BYTES:
            raise CheckpointError(f"{path}: checkpoint header of {archive.size(_META_KEY)} bytes, "
                                  f"more than the {MAX_HEADER_BYTES} trainlab reads")
        raw = archive.read(_META_KEY)
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise CheckpointError(f"{path}: not a trainlab checkpoint ({_META_KEY} holds {raw.dtype} "
                                  f"of shape {raw.shape}, not the bytes of a JSON header)")
        meta = parse_header(path, raw.tobytes())
        digests = meta["arrays"]
        present = set(archive.names) - {_META_KEY}
        if set(digests) != present:
            raise CheckpointError(f"{path}: damaged checkpoint: arrays {sorted(set(digests) ^ present)[:10]} "
                                  "are listed in the header but missing, or present but not listed")
        arrays = {}
        for name in archive.names:
            if name == _META_KEY:
                continue
            arrays[name] = archive.read(name)
            if _digest(arrays[name]) != digests[name]:
                raise CheckpointError(f"{path}: damaged checkpoint: array {name!r} fails its checksum")
    return meta, arrays


def load_checkpoint(path: str | os.PathLike, model: Layer | None = None, *, optimizer=None) -> tuple[Layer, dict[str, Any]]:
    """Load a checkpoint; returns ``(model, metadata)``.

    When ``model`` is given its architecture must match the file's and the
    arrays are loaded into it; otherwise the model is rebuilt from the stored
    architecture. When ``optimizer`` is given (built over the model's
    parameters) its state is restored too.
    """
    path = Path(path)
    meta, arrays = _read(path)
    spec = meta["architecture"]
    if model is None:
        # The model classes (MultiLayerNet, the CNNs, FoldedModel) register their names when their
        # module is imported; a script that only imports this module must still be able to rebuild them.
        import trainlab.folding  # noqa: F401
        import trainlab.models  # noqa: F401

        stored = sum(int(a.size) for k, a in arrays.items() if k.startswith(("param:", "buffer:")))
        _check_sizes(path, spec, stored)
        try:
            model = layer_from_spec(spec)
        except Exception as e:
            raise CheckpointError(f"{path}: cannot rebuild architecture {spec['type'][:80]!r}: "
                                  f"{type(e).__name__}: {_text(str(e)[:300])}") from None
    else:
        mine = layer_to_spec(model)
        if _comparable(mine) != _comparable(spec):
            raise CheckpointError(
                f"{path}: checkpoint holds a different architecture than the model given:\n"
                f"  file:  {_summary(spec)}\n  model: {_summary(mine)}")
    state = {k.split(":", 1)[1]: v for k, v in arrays.items() if k.startswith(("param:", "buffer:"))}
    try:
        model.load_state_dict(state)
    except ShapeError as e:
        raise CheckpointError(f"{path}: {e}") from None
    if optimizer is not None:
        opt_state = {k.split(":", 1)[1]: v for k, v in arrays.items() if k.startswith("optim:")}
        if not opt_state:
            raise CheckpointError(f"{path}: holds no optimizer state")
        try:
            optimizer.load_state_dict(opt_state)
        except CheckpointError as e:
            raise CheckpointError(f"{path}: {e}") from None
        except (ShapeError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: optimizer state does not fit {type(optimizer).__name__}: {e}") from None
    return model, meta["metadata"]


#: Sizes below this are never questioned (kernel sizes, input shapes, class counts of tiny models).
_SMALL_SIZE = 1 << 16


def _check_sizes(path: Path, spec, stored: int, where: str = "architecture") -> None:
    """Refuse, before anything is built, an architecture with a size no stored array could belong to.

    Every layer size (features, channels, hidden units) implies at least that many stored
    parameters or buffers, so an integer setting larger than all the values the file holds
    (and than :data:`_SMALL_SIZE`) cannot describe these arrays: rebuilding it would only
    allocate what the input does not justify.
    """
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key not in _NOT_ARCHITECTURE:
                _check_sizes(path, value, stored, f"{where}.{key}")
    elif isinstance(spec, list):
        for i, value in enumerate(spec):
            _check_sizes(path, value, stored, f"{where}[{i}]")
    elif isinstance(spec, int) and not isinstance(spec, bool) and abs(spec) > max(stored, _SMALL_SIZE):
        raise CheckpointError(f"{path}: {where} is {spec}, more than the {stored} values the checkpoint "
                              f"stores: the file is damaged or not a trainlab checkpoint")


def load(path: str | os.PathLike, model: Layer | None = None) -> Layer:
    """Load a model saved by :func:`save` (see :func:`load_checkpoint` for metadata and optimizer state)."""
    return load_checkpoint(path, model)[0]


#: Config keys that do not change the arrays: the seed and the initialiser, and ``weight_decay``,
#: which MultiLayerNet configs of older releases hold (a training setting, dropped when they are rebuilt).
_NOT_ARCHITECTURE = ("seed", "weight_init", "weight_decay")


def _comparable(spec: Any) -> Any:
    """Architecture without fields that do not change the arrays (see ``_NOT_ARCHITECTURE``)."""
    if isinstance(spec, dict):
        return {k: _comparable(v) for k, v in spec.items() if k not in _NOT_ARCHITECTURE}
    if isinstance(spec, list):
        return [_comparable(v) for v in spec]
    return spec


def _text(message: str) -> str:
    """``message`` with lone surrogates (JSON can hold them) written as escapes, so it is valid text."""
    return message.encode("utf-8", "backslashreplace").decode("utf-8")


def _summary(spec: dict[str, Any]) -> str:
    text = json.dumps(_comparable(spec), sort_keys=True)
    return text if len(text) < 300 else text[:297] + "..."
