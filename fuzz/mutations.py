"""Mutations for fuzz_readers.py: bytes, and the layers inside a file kept valid so that inputs get past them.

:func:`mutate` picks one: for a zip archive a member changed, added or removed with its CRC
kept right (a ``.npy`` member's header or its JSON payload rewritten, or its bytes); for a
gzip stream its decompressed bytes; otherwise the bytes themselves (bit flips, interesting
integers, insertions, deletions, repeats, truncation, splices with another input).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import warnings
import zipfile

import numpy as np

INTERESTING = [0, 1, 2, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000,
               0xFFFFFFFF, 2 ** 40, 2 ** 63 - 1, 2 ** 64 - 1]
WEIRD_JSON = [0, -1, 1.5, 10 ** 12, 2 ** 64, float("nan"), float("inf"), "", "x" * 300, "Linear", [], {},
              None, True, [1, 2, 3], {"type": "Linear", "config": {}}]


def mutate_bytes(data: bytes, rng: random.Random, others: list[bytes]) -> bytes:
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 4))):
        op = rng.randrange(9)
        n = len(b)
        if op == 0 and n:
            b[rng.randrange(n)] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            b[rng.randrange(n)] = rng.choice((0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)))
        elif op == 2 and n >= 8:
            width = rng.choice((2, 4, 8))
            value = rng.choice(INTERESTING) & ((1 << (8 * width)) - 1)
            at = rng.randrange(n - width + 1)
            b[at:at + width] = value.to_bytes(width, rng.choice(("little", "big")))
        elif op == 3:
            at = rng.randrange(n + 1)
            b[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 17)))
        elif op == 4 and n:
            at = rng.randrange(n)
            del b[at:at + rng.randrange(1, 33)]
        elif op == 5 and n:
            at = rng.randrange(n)
            chunk = b[at:at + rng.randrange(1, 65)]
            b[at:at] = chunk * rng.randrange(1, 5)
        elif op == 6 and n:
            del b[rng.randrange(n):]
        elif op == 7 and others:
            other = rng.choice(others)
            cut = rng.randrange(len(other) + 1)
            b = b[:rng.randrange(n + 1)] + bytearray(other[cut:])
        elif op == 8 and n:
            at = rng.randrange(n)
            b[at:at + 4] = bytes(4)
    return bytes(b)


def mutate_json(value, rng: random.Random, depth: int = 0):
    """``value`` (parsed JSON) with one node replaced, removed or added somewhere inside."""
    if isinstance(value, dict) and value and rng.random() < 0.8 and depth < 12:
        key = rng.choice(list(value))
        choice = rng.randrange(10)
        if choice == 0:
            value.pop(key)
        elif choice == 1:
            value[rng.choice(("extra", "type", "config", "arrays", "format"))] = rng.choice(WEIRD_JSON)
        else:
            value[key] = mutate_json(value[key], rng, depth + 1)
        return value
    if isinstance(value, list) and value and rng.random() < 0.8 and depth < 12:
        at = rng.randrange(len(value))
        value[at] = mutate_json(value[at], rng, depth + 1)
        return value
    if rng.random() < 0.05:
        return [[[[]]]] * 3 if rng.random() < 0.5 else "[" * 5000
    if isinstance(value, int) and not isinstance(value, bool) and rng.random() < 0.5:
        return rng.choice((value + 1, value - 1, -value, value * 1000, 0, 2 ** 31, 10 ** 9))
    return rng.choice(WEIRD_JSON)


def with_header_checksum(value):
    """A checkpoint header with its ``header_sha256`` recomputed, so that the fields behind it get read.

    The checksum is the SHA-256 of the canonical JSON of the other fields (sorted keys, no spaces,
    ASCII with ``\\u`` escapes), as ``trainlab.checkpoint_header`` documents it; other values are returned
    as they are.
    """
    if not isinstance(value, dict) or "header_sha256" not in value:
        return value
    fields = {k: v for k, v in value.items() if k != "header_sha256"}
    try:
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    except (TypeError, ValueError, UnicodeError):
        return value
    value["header_sha256"] = hashlib.sha256(canonical).hexdigest()
    return value


def mutate_npy(member: bytes, rng: random.Random) -> bytes:
    """A ``.npy`` member with its JSON payload or its header changed (or its bytes, when it is not one)."""
    try:
        array = np.lib.format.read_array(io.BytesIO(member), allow_pickle=False)
    except Exception:
        return mutate_bytes(member, rng, [])
    text = None
    if array.dtype == np.uint8 and array.ndim == 1:
        text = array.tobytes().decode("utf-8", "replace")
    elif array.dtype.kind == "U" and array.ndim == 0:
        text = str(array[()])
    if text is not None and rng.random() < 0.7:
        try:
            value = mutate_json(json.loads(text), rng)
            if rng.random() < 0.8:
                value = with_header_checksum(value)
            new = json.dumps(value)
        except (ValueError, RecursionError):
            new = text[:rng.randrange(len(text) + 1)]
        array = np.frombuffer(new.encode(), np.uint8) if array.dtype == np.uint8 else np.array(new)
        out = io.BytesIO()
        np.lib.format.write_array(out, array, allow_pickle=False)
        return out.getvalue()
    header = {"descr": np.lib.format.dtype_to_descr(array.dtype), "fortran_order": False, "shape": array.shape}
    field = rng.randrange(3)
    if field == 0:
        header["descr"] = rng.choice(("<f8", "|u1", "|O", "<U5", ">i4", "|V8", "<c16", "|b1",
                                      [("a", "<f4")], "<M8[s]"))
    elif field == 1:
        header["shape"] = rng.choice(((2 ** 40,), (-1,), (0,), (10 ** 9, 10 ** 9), (1,) * 40, (2, 2, 2),
                                      (len(member),), ()))
    else:
        header["fortran_order"] = True
    text = repr(header).encode("latin1")
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + array.tobytes()


def mutate_zip(data: bytes, rng: random.Random) -> bytes | None:
    """A zip archive with one member changed, added or removed, its CRC and sizes kept valid."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = [(info, z.read(info)) for info in z.infolist()]
    except Exception:
        return None
    if not members:
        return None
    headers = [k for k, (info, _) in enumerate(members) if info.filename.startswith("__")]
    # The JSON header (a checkpoint's __trainlab__, a cache's __meta__) decides most of what is read next.
    at = rng.choice(headers) if headers and rng.random() < 0.4 else rng.randrange(len(members))
    info, content = members[at]
    op = rng.randrange(8)
    if op == 0:
        members.pop(at)
    elif op == 1:
        members.append((zipfile.ZipInfo(rng.choice(("extra.npy", "param:0.weight.npy", info.filename))), content))
    elif op in (2, 3):
        members[at] = (info, mutate_bytes(content, rng, []))
    else:
        members[at] = (info, mutate_npy(content, rng))
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w") as z:
        warnings.simplefilter("ignore")  # duplicate names are one of the mutations
        for member, content in members:
            z.writestr(member.filename, content, compress_type=member.compress_type)
    return out.getvalue()


def mutate(data: bytes, rng: random.Random, others: list[bytes]) -> bytes:
    if data[:2] == b"PK" and rng.random() < 0.6:
        changed = mutate_zip(data, rng)
        if changed is not None:
            return changed
    if data[:2] == b"\x1f\x8b" and rng.random() < 0.6:
        try:
            return gzip.compress(mutate_bytes(gzip.decompress(data), rng, []), mtime=0)
        except Exception:
            pass
    return mutate_bytes(data, rng, others)
