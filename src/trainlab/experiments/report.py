"""One self-contained HTML page for a reproduce run: figures embedded, numbers, verdicts.

After the table of experiments comes the ledger of the seeds' statements
(:func:`trainlab.experiments.ledger.render_html`), each verdict from this run.
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


def _verdict(passed: bool | None, error: bool = False) -> str:
    if error:
        return '<span class="fail">ERROR</span>'
    return '<span class="pass">PASS</span>' if passed else '<span class="fail">FAIL</span>'


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape("" if value is None else str(value))


def _figure(folder: Path, relative: str) -> str:
    path = folder / relative
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    caption = html.escape(path.stem.replace("-", " ").replace("_", " "))
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{caption}">'
            f"<figcaption>{caption}</figcaption></figure>")


def _section(result, out_dir: Path) -> str:
    folder = out_dir / result.name
    parts = [f'<h2 id="{html.escape(result.name)}">{html.escape(result.title)} '
             f'<small>({html.escape(result.name)})</small> {_verdict(result.passed, bool(result.error))}</h2>',
             f"<p>{html.escape(result.summary)}</p>"]
    if result.error:
        parts.append(f'<p class="error">The run failed:</p><pre>{html.escape(result.error)}</pre>')
    for figure in result.figures:
        parts.append(_figure(folder, figure))
    if result.claims:
        rows = "".join(f'<tr><td>{html.escape(c.statement)}<br><span class="meta"><code>{html.escape(c.id)}</code>'
                       f"; source: {html.escape(c.source)}</span></td><td>{_verdict(c.passed)}</td>"
                       f"<td>{html.escape(c.evidence)}</td></tr>" for c in result.claims)
        parts.append(f"<table><tr><th>claim</th><th>verdict</th><th>measured evidence</th></tr>{rows}</table>")
    if result.book:
        rows = "".join(f"<tr><td>{html.escape(b.quantity)}</td><td>{_number(b.book)}</td>"
                       f"<td>{_number(b.measured)}</td><td>{html.escape(b.note)}</td></tr>" for b in result.book)
        parts.append(f"<table><tr><th>quantity</th><th>book</th><th>measured here</th><th>note</th></tr>{rows}</table>")
    if result.artifacts:
        files = ", ".join(f"<code>{html.escape(result.name)}/{html.escape(a)}</code>" for a in result.artifacts)
        parts.append(f'<p class="meta">Files written: {files}</p>')
    config = html.escape(json.dumps(result.config, indent=1))
    parts.append(f'<details><summary class="meta">configuration (seed {result.seed}, '
                 f'{"quick" if result.quick else "full"} mode, {result.seconds:.1f} s)</summary>'
                 f"<pre>{config}</pre></details>")
    return "\n".join(parts)


def render_report(results: Sequence, out_dir: Path, *, quick: bool, seed: int) -> str:
    """The report page as a string (figures read from ``out_dir/<name>/``)."""
    total = len(results)
    passed = sum(r.passed for r in results)
    rows = "".join(
        f'<tr><td><a href="#{html.escape(r.name)}">{html.escape(r.name)}</a></td><td>{html.escape(r.title)}</td>'
        f"<td>{_verdict(r.passed, bool(r.error))}</td><td>{sum(c.passed for c in r.claims)}/{len(r.claims)}</td>"
        f"<td>{r.seconds:.1f} s</td></tr>" for r in results)
    mode = "quick mode (small data, few steps: numbers are indicative only)" if quick else "full mode"
    body = "\n".join(_section(r, out_dir) for r in results)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>trainlab report</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>
<body>
<h1>trainlab: training techniques, reproduced</h1>
<p class="meta">trainlab {__version__}, {mode}, seed {seed}, generated {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}.
{passed} of {total} experiments show every claim they test.</p>
<table><tr><th>experiment</th><th>what it shows</th><th>verdict</th><th>claims</th><th>time</th></tr>{rows}</table>
{ledger.render_html(results)}
{body}
</body></html>
"""


def write_report(results: Sequence, out_dir: Path, *, quick: bool, seed: int) -> Path:
    """Write ``out_dir/report.html`` and return its path."""
    out_dir = Path(out_dir)
    return atomic_write_text(out_dir / "report.html", render_report(results, out_dir, quick=quick, seed=seed))
