"""One self-contained HTML page for a reproduce run: figures embedded, numbers, verdicts.

After the table of experiments comes the ledger of the seeds' statements
(:func:`trainlab.experiments.ledger.render_html`), each verdict from this run,
one column per data set when the run used two. A claim run over several
seeds reads "PASS 5/5" only when it held in every seed, else "FAIL k/N",
beside the mean and range of the numbers it was decided from; a book row
gives the seeds' range and whether the book's number lies inside it.
"""

from __future__ import annotations

import base64
import html
import json
import time
from pathlib import Path
from typing import Any, Sequence

from trainlab import __version__
from trainlab.experiments import ledger
from trainlab.fileio import atomic_write_text

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 2.2em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.8em 0; } td, th { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } .pass { color: #0a6b2b; font-weight: 600; } .fail { color: #a8071a; font-weight: 600; }
.error { color: #a8071a; } figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; } pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
.meta { color: #555; font-size: 0.9em; }
"""


# The same look for one result inside a notebook, every rule scoped to its fragment.
_RESULT_CSS = """
.trainlab-result table { border-collapse: collapse; margin: 0.8em 0; }
.trainlab-result td, .trainlab-result th { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
.trainlab-result th { background: #f3f3f3; }
.trainlab-result .pass { color: #0a6b2b; font-weight: 600; } .trainlab-result .fail { color: #a8071a; font-weight: 600; }
.trainlab-result .error { color: #a8071a; } .trainlab-result figure { margin: 1em 0; }
.trainlab-result figure img { max-width: 100%; border: 1px solid #eee; }
.trainlab-result figcaption { font-size: 0.9em; color: #555; }
.trainlab-result pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
.trainlab-result .meta { color: #555; font-size: 0.9em; }
"""


def _verdict(passed: bool | None, error: bool = False, text: str | None = None) -> str:
    if error:
        return '<span class="fail">ERROR</span>'
    shown = html.escape(text or ("PASS" if passed else "FAIL"))
    return f'<span class="pass">{shown}</span>' if passed else f'<span class="fail">{shown}</span>'


def _dataset(result) -> str:
    return f", {result.dataset}" if result.dataset else ""


def _seeds(result) -> str:
    seeds = result.seeds
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{len(seeds)} seeds ({seeds[0]} to {seeds[-1]})"
    return f"{len(seeds)} seeds ({', '.join(map(str, seeds))})"


def _claim_evidence(claim) -> str:
    parts = [html.escape(claim.evidence)]
    if claim.n > 1:
        if claim.values:
            parts.append(f'<br><span class="meta">over {claim.n} seeds, mean (min to max): '
                         f"{html.escape(claim.spread_text())}</span>")
        if claim.failed_seeds:
            parts.append(f'<br><span class="meta">did not hold in seed {", ".join(map(str, claim.failed_seeds))}'
                         "</span>")
        parts.insert(0, f'<span class="meta">seed {claim.seeds[0]}:</span> ')
    return "".join(parts)


def _book_inside(row) -> str:
    inside = row.book_inside
    if inside is None or len(row.measured) < 2:
        return ""
    return "yes" if inside else "no"


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape("" if value is None else str(value))


def _figure(png: bytes, relative: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    caption = html.escape(Path(relative).stem.replace("-", " ").replace("_", " "))
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{caption}">'
            f"<figcaption>{caption}</figcaption></figure>")


def _png(result, out_dir: Path | None, relative: str) -> bytes:
    images = getattr(result, "images", None) or {}
    if relative in images:
        return images[relative]
    return (Path(out_dir if out_dir is not None else result.out_dir) / result.folder / relative).read_bytes()


def _section(result, out_dir: Path | None, heading: str = "h2") -> str:
    parts = [f'<{heading} id="{html.escape(result.folder)}">{html.escape(result.title)} '
             f'<small>({html.escape(result.name)}{html.escape(_dataset(result))})</small> '
             f'{_verdict(result.passed, bool(result.error))}</{heading}>',
             f"<p>{html.escape(result.summary)}</p>"]
    if result.error:
        parts.append(f'<p class="error">The run failed:</p><pre>{html.escape(result.error)}</pre>')
    for figure in result.figures:
        parts.append(_figure(_png(result, out_dir, figure), figure))
    if result.claims:
        rows = "".join(f'<tr><td>{html.escape(c.statement)}<br><span class="meta"><code>{html.escape(c.id)}</code>'
                       f"; source: {html.escape(c.source)}</span></td><td>{_verdict(c.passed, text=c.verdict)}</td>"
                       f"<td>{_claim_evidence(c)}</td></tr>" for c in result.claims)
        parts.append(f"<table><tr><th>claim</th><th>verdict</th><th>measured evidence</th></tr>{rows}</table>")
    if result.book:
        several = len(result.seeds) > 1
        measured = f"measured here (mean, min to max over {len(result.seeds)} seeds)" if several else "measured here"
        inside = "<th>book inside the seeds' range</th>" if several else ""
        rows = "".join(f"<tr><td>{html.escape(b.quantity)}</td><td>{_number(b.book)}</td>"
                       f"<td>{html.escape(b.measured_text())}</td>"
                       + (f"<td>{_book_inside(b)}</td>" if several else "")
                       + f"<td>{html.escape(b.note)}</td></tr>" for b in result.book)
        parts.append(f"<table><tr><th>quantity</th><th>book</th><th>{measured}</th>{inside}<th>note</th></tr>"
                     f"{rows}</table>")
    if result.artifacts:
        files = ", ".join(f"<code>{html.escape(result.folder)}/{html.escape(a)}</code>" for a in result.artifacts)
        parts.append(f'<p class="meta">Files written: {files}</p>')
    config = html.escape(json.dumps(result.config, indent=1))
    parts.append(f'<details><summary class="meta">configuration ({_seeds(result)}, '
                 f'{"quick" if result.quick else "full"} mode, {result.seconds:.1f} s of computing)</summary>'
                 f"<pre>{config}</pre></details>")
    return "\n".join(parts)


def _seed_policy(results: Sequence) -> str:
    counts = sorted({len(r.seeds) for r in results})
    if len(counts) == 1:
        n = counts[0]
        return f"every experiment on {n} seed{'s' if n > 1 else ''}"
    cheap = [r.folder for r in results if len(r.seeds) == counts[-1]]
    return (f"{counts[0]} to {counts[-1]} seeds per experiment ({counts[-1]} for {', '.join(cheap)}; "
            "the count each gets is in its row below)")


def render_result(result) -> str:
    """One experiment's result as an HTML fragment (for Jupyter): figures inline, claims, book numbers.

    The styles are scoped to the fragment, so they leave the notebook's own alone.
    """
    return f'<div class="trainlab-result"><style>{_RESULT_CSS}</style>{_section(result, None, heading="h3")}</div>'


def render_report(results: Sequence, out_dir: Path, *, quick: bool) -> str:
    """The report page as a string (figures read from ``out_dir/<folder>/``)."""
    total = len(results)
    passed = sum(r.passed for r in results)
    rows = "".join(
        f'<tr><td><a href="#{html.escape(r.folder)}">{html.escape(r.name)}</a></td>'
        f"<td>{html.escape(r.dataset or '')}</td><td>{html.escape(r.title)}</td>"
        f"<td>{_verdict(r.passed, bool(r.error))}</td><td>{sum(c.passed for c in r.claims)}/{len(r.claims)}</td>"
        f"<td>{len(r.seeds)}</td><td>{r.seconds:.1f} s</td></tr>" for r in results)
    mode = "quick mode (small data, few steps: numbers are indicative only)" if quick else "full mode"
    body = "\n".join(_section(r, out_dir) for r in results)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>trainlab report</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>
<body>
<h1>trainlab: training techniques, reproduced</h1>
<p class="meta">trainlab {__version__}, {mode}, {html.escape(_seed_policy(results))}, generated {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}.
{passed} of {total} experiment runs show every claim they test in every seed. A claim over several seeds
passes only when it holds in each (PASS 5/5); FAIL 3/5 held in 3 seeds of 5.</p>
<table><tr><th>experiment</th><th>data set</th><th>what it shows</th><th>verdict</th><th>claims held in every seed</th><th>seeds</th><th>time (computing)</th></tr>{rows}</table>
{ledger.render_html(results)}
{body}
</body></html>
"""


def write_report(results: Sequence, out_dir: Path, *, quick: bool) -> Path:
    """Write ``out_dir/report.html`` and return its path."""
    out_dir = Path(out_dir)
    return atomic_write_text(out_dir / "report.html", render_report(results, out_dir, quick=quick))
