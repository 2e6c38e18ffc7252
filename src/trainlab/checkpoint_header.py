"""The JSON header of a trainlab checkpoint: how it is written, its schema, its checksum.

Fields (all required):

- ``format``: ``"trainlab-checkpoint"``;
- ``version``: an int, the format version (see below);
- ``architecture``: a layer spec ``{"type": str, "config": {...}, "children": {name: spec}}``
  (``children`` optional), as ``layer_to_spec`` writes it;
- ``optimizer``: the optimizer's class name, or null when no optimizer state is stored;
- ``arrays``: ``{array name: SHA-256 hex of its dtype, shape and bytes}``, every name
  starting with ``param:``, ``buffer:`` or ``optim:`` (the latter only with an optimizer);
- ``metadata``: an object of the user's JSON values;
- ``header_sha256`` (version 2): SHA-256 hex of the canonical JSON (sorted keys, no
  spaces, ASCII with ``\\u`` escapes) of all the other fields, so an edited or damaged
  header is detected.

Format versions: 1 was written by releases before the header checksum and has no
``header_sha256``; such files still load (their arrays are still checked against
``arrays``). 2 adds ``header_sha256``, which version 2 files must have. A file that
claims version 1 is checked as version 1, so the checksum guards against damage and
careless edits, not against someone who rewrites a header on purpose.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from trainlab.errors import CheckpointError

FORMAT = "trainlab-checkpoint"
VERSION = 2
#: The oldest format version this release reads.
OLDEST_VERSION = 1
_CHECKSUM = "header_sha256"
_FIELDS = ("format", "version", "architecture", "optimizer", "arrays", "metadata")
_SPEC_KEYS = {"type", "config", "children"}
_HEX = re.compile(r"[0-9a-f]{64}\Z")
_PREFIXES = ("param:", "buffer:", "optim:")
_MAX_DEPTH = 100


def _canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def checksum(fields: dict[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of ``fields`` (the header without ``header_sha256``)."""
    return hashlib.sha256(_canonical(fields)).hexdigest()


def make_header(architecture: dict[str, Any], optimizer: str | None, digests: dict[str, str],
                metadata: dict[str, Any]) -> bytes:
    """The UTF-8 JSON header of a new checkpoint; TypeError when a value is not JSON."""
    fields = {"format": FORMAT, "version": VERSION, "architecture": architecture, "optimizer": optimizer,
              "arrays": digests, "metadata": metadata}
    # Through JSON and back first: the checksum covers what a reader parses (tuples are lists, keys strings).
    fields = json.loads(json.dumps(fields))
    fields[_CHECKSUM] = checksum(fields)
    return json.dumps(fields).encode("utf-8")


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {json.dumps(value)[:60]}"


def parse_header(path: Path, raw: bytes) -> dict[str, Any]:
    """The header ``raw`` checked field by field; CheckpointError naming the field otherwise."""
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise CheckpointError(f"{path}: checkpoint header is not valid JSON "
                              f"({type(e).__name__}: {str(e)[:200]})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: not a trainlab checkpoint (its header is {_kind(meta)}, not an object)")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a trainlab checkpoint (format {json.dumps(meta.get('format'))[:80]})")
    _check_version(path, meta)
    _check_checksum(path, meta)
    missing = [f for f in _FIELDS if f not in meta]
    if missing:
        raise CheckpointError(f"{path}: damaged checkpoint header: no field {missing[0]!r}")
    unknown = sorted(set(meta) - set(_FIELDS) - {_CHECKSUM})
    if unknown:
        raise CheckpointError(f"{path}: damaged checkpoint header: unknown fields {[u[:40] for u in unknown[:5]]}")
    _check_spec(path, meta["architecture"], "architecture", 0)
    optimizer = meta["optimizer"]
    if optimizer is not None and not isinstance(optimizer, str):
        raise CheckpointError(f"{path}: damaged checkpoint header: field 'optimizer' must be a class name "
                              f"or null, got {_kind(optimizer)}")
    _check_arrays(path, meta["arrays"], optimizer)
    if not isinstance(meta["metadata"], dict):
        raise CheckpointError(f"{path}: damaged checkpoint header: field 'metadata' must be an object, "
                              f"got {_kind(meta['metadata'])}")
    return meta


def _check_version(path: Path, meta: dict[str, Any]) -> None:
    if "version" not in meta:
        raise CheckpointError(f"{path}: damaged checkpoint header: no field 'version'")
    version = meta["version"]
    if type(version) is not int:
        raise CheckpointError(f"{path}: damaged checkpoint header: field 'version' must be an int, "
                              f"got {_kind(version)}")
    if version > VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {version} is newer than this trainlab reads "
                              f"({VERSION}): it was written by a later trainlab release; upgrade trainlab to load it")
    if version < OLDEST_VERSION:
        raise CheckpointError(f"{path}: unknown checkpoint format version {version} "
                              f"(this trainlab reads versions {OLDEST_VERSION} to {VERSION})")


def _check_checksum(path: Path, meta: dict[str, Any]) -> None:
    if _CHECKSUM not in meta:
        if meta["version"] >= 2:
            raise CheckpointError(f"{path}: damaged checkpoint header: format version {meta['version']} "
                                  f"needs field {_CHECKSUM!r}, which is missing")
        return  # version 1: written before the header had a checksum
    stored = meta[_CHECKSUM]
    rest = {k: v for k, v in meta.items() if k != _CHECKSUM}
    try:
        expected = checksum(rest)
    except (ValueError, RecursionError):
        expected = None
    if not isinstance(stored, str) or stored != expected:
        raise CheckpointError(f"{path}: damaged checkpoint: its header fails its checksum ({_CHECKSUM}); "
                              "the header was edited or corrupted")


def _check_spec(path: Path, spec: Any, where: str, depth: int) -> None:
    prefix = f"{path}: damaged checkpoint header: field {where!r}"
    if depth > _MAX_DEPTH:
        raise CheckpointError(f"{prefix} nests layers more than {_MAX_DEPTH} deep")
    if not isinstance(spec, dict):
        raise CheckpointError(f"{prefix} must be a layer spec (an object with 'type' and 'config'), "
                              f"got {_kind(spec)}")
    unknown = sorted(set(spec) - _SPEC_KEYS)
    if unknown:
        raise CheckpointError(f"{prefix} has unknown keys {[u[:40] for u in unknown[:5]]} "
                              "(a layer spec has 'type', 'config' and optionally 'children')")
    if not isinstance(spec.get("type"), str):
        raise CheckpointError(f"{prefix}: 'type' must be a layer class name, got {_kind(spec.get('type'))}")
    if not isinstance(spec.get("config"), dict):
        raise CheckpointError(f"{prefix}: 'config' must be an object, got {_kind(spec.get('config'))}")
    if "children" in spec:
        children = spec["children"]
        if not isinstance(children, dict):
            raise CheckpointError(f"{prefix}: 'children' must be an object of layer specs, got {_kind(children)}")
        for name, child in children.items():
            _check_spec(path, child, f"{where}.children.{name[:40]}", depth + 1)


def _check_arrays(path: Path, arrays: Any, optimizer: str | None) -> None:
    prefix = f"{path}: damaged checkpoint header: field 'arrays'"
    if not isinstance(arrays, dict):
        raise CheckpointError(f"{prefix} must be an object of array name to SHA-256, got {_kind(arrays)}")
    for name, digest in arrays.items():
        if not name.startswith(_PREFIXES):
            raise CheckpointError(f"{prefix}: array name {name[:60]!r} does not start with "
                                  "'param:', 'buffer:' or 'optim:'")
        if name.startswith("optim:") and optimizer is None:
            raise CheckpointError(f"{prefix}: holds optimizer state {name[:60]!r} but field 'optimizer' is null")
        if not isinstance(digest, str) or not _HEX.match(digest):
            raise CheckpointError(f"{prefix}: the SHA-256 of {name[:60]!r} must be 64 hex digits, got {_kind(digest)}")
