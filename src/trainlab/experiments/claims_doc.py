"""``docs/claims.md`` from a finished run: ``python -m trainlab.experiments.claims_doc REPORT_DIR OUT.md``.

The run's claims are re-decided by each experiment's ``check`` from its
``metrics.json`` (:func:`trainlab.experiments.runner.load_results`), so the page
carries the claim ids and sources of this version; the page names the run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from trainlab.experiments import ledger
from trainlab.experiments.runner import ExperimentResult, load_results
from trainlab.fileio import atomic_write_text


def load_run(folder) -> tuple[list[ExperimentResult], str]:
    """The results of the finished run in ``folder`` (claims re-decided) and the line naming it."""
    folder = Path(folder)
    results = load_results(folder)
    if not results:
        return results, ""
    stamps = sorted((folder / r.folder / "metrics.json").stat().st_mtime for r in results)
    fmt = "%Y-%m-%d %H:%M UTC"
    first, last = (time.strftime(fmt, time.gmtime(t)) for t in (stamps[0], stamps[-1]))
    written = first if first == last else f"{first} to {last[11:] if first[:10] == last[:10] else last}"
    return results, ledger.describe_run(results, written)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m trainlab.experiments.claims_doc REPORT_DIR OUT.md", file=sys.stderr)
        return 2
    results, run = load_run(args[0])
    if not results:
        print(f"no metrics.json under {args[0]}", file=sys.stderr)
        return 1
    out = Path(args[1])
    atomic_write_text(out, ledger.render_markdown(results, run=run))
    n = ledger.counts(results)
    print(f"wrote {out}: {n['statements']} statements, {n['decided']} decided by claims "
          f"({n['pass']} PASS, {n['fail']} FAIL), {n['no_experiment']} with no experiment yet, "
          f"{n['not_measurable']} not measurable")
    return 0


if __name__ == "__main__":
    sys.exit(main())
