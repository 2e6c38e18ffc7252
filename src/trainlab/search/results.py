"""What a search leaves behind: the trial table, the best configuration, figures, the best model.

Files written to the output folder:

- ``trials.csv``: one row per trial (number, state, value, parameters, epochs
  run, seconds, seed, error, which trial it re-runs);
- ``best.json``: the best finished trial's parameters, value and seed;
- ``search-space.png``, ``best-curves.png``, ``best-trials.png`` (with matplotlib);
- ``best-model.npz``: the best configuration trained again on the training
  split (same seed, so the same network), saved with :func:`trainlab.checkpoint.save`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainlab.fileio import atomic_write_text


@dataclass
class SearchResults:
    """Every trial of a study as plain rows, and the best one.

    Each row of ``trials`` holds ``number``, ``state`` ('COMPLETE', 'PRUNED',
    'FAIL', 'RUNNING', 'WAITING'), ``value`` (the final value; for a pruned
    trial its last reported one; None for a failed one), ``params``,
    ``curve`` (the reported values by step), ``train_curve`` when the
    objective kept one, ``epochs``, ``seconds``, ``seed``, ``error`` and
    ``retry_of`` (the trial it re-runs, if any).
    """

    study_name: str
    storage: str
    value_name: str
    direction: str
    param_names: list[str]
    trials: list[dict[str, Any]]
    best: dict[str, Any] | None
    out_dir: Path | None = None
    paths: dict[str, Path] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.trials:
            out[row["state"]] = out.get(row["state"], 0) + 1
        return out

    def ranked(self) -> list[dict[str, Any]]:
        """Finished trials best first, then pruned ones by their last value; failed ones are left out."""
        sign = -1.0 if self.direction == "maximize" else 1.0

        def key(row):
            return (row["state"] != "COMPLETE", sign * row["value"], row["number"])

        return sorted((r for r in self.trials if r["state"] in ("COMPLETE", "PRUNED") and r["value"] is not None),
                      key=key)

    def top(self, k: int) -> list[dict[str, Any]]:
        return self.ranked()[:k]

    def format_table(self, limit: int | None = 20) -> str:
        """The trials as aligned text, best first, failed ones last."""
        rows = self.ranked()
        listed = {r["number"] for r in rows}
        rows += [r for r in self.trials if r["number"] not in listed]
        shown = rows if limit is None else rows[:limit]
        header = ["#", "state", self.value_name, *self.param_names, "epochs", "seconds", "note"]
        lines = [header]
        rerun_by = {r["retry_of"]: r["number"] for r in self.trials if r["retry_of"] is not None}
        for r in shown:
            note = r["error"] or (f"re-runs trial {r['retry_of']}" if r["retry_of"] is not None else "")
            if r["state"] == "FAIL" and not r["error"]:
                note = "cut off" + (f", re-run as trial {rerun_by[r['number']]}" if r["number"] in rerun_by else "")
            lines.append([str(r["number"]), r["state"], _cell(r["value"]),
                          *(_cell(r["params"].get(n)) for n in self.param_names),
                          str(r["epochs"]), _cell(r["seconds"]), note[:60]])
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        text = "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)
        counts = ", ".join(f"{n} {state.lower()}" for state, n in sorted(self.counts().items()))
        more = f" (best {len(shown)} shown)" if len(shown) < len(rows) else ""
        return f"{text}\n{len(self.trials)} trials: {counts}{more}"

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["number", "state", self.value_name, *self.param_names, "epochs", "seconds", "seed",
                         "error", "retry_of"])
        for r in sorted(self.trials, key=lambda r: r["number"]):
            writer.writerow([r["number"], r["state"], "" if r["value"] is None else repr(r["value"]),
                             *(r["params"].get(n, "") for n in self.param_names), r["epochs"],
                             "" if r["seconds"] is None else r["seconds"], "" if r["seed"] is None else r["seed"],
                             r["error"] or "", "" if r["retry_of"] is None else r["retry_of"]])
        return buf.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def collect_results(study, space, *, value_name: str = "value", storage: str = "",
                    out_dir: Path | None = None) -> SearchResults:
    """Read every trial of ``study`` into a :class:`SearchResults`."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        steps = sorted(t.intermediate_values)
        curve = [float(t.intermediate_values[s]) for s in steps]
        if t.state.name == "COMPLETE":
            value = float(t.value)
        elif t.state.name == "PRUNED" and curve:
            value = curve[-1]
        else:
            value = None
        history = t.system_attrs.get("retry_history") or []
        rows.append({
            "number": t.number, "state": t.state.name, "value": value, "params": dict(t.params),
            "curve": curve, "train_curve": list(t.user_attrs.get("train_curve", [])),
            "epochs": steps[-1] if steps else 0, "seconds": t.user_attrs.get("seconds"),
            "seed": t.user_attrs.get("seed"), "error": t.user_attrs.get("error"),
            "retry_of": history[-1] if history else None,
        })
    direction = study.direction.name.lower()
    results = SearchResults(study.study_name, storage, value_name, direction, space.names, rows, None, out_dir)
    ranked = [r for r in results.ranked() if r["state"] == "COMPLETE"]
    if ranked:
        b = ranked[0]
        results.best = {"number": b["number"], value_name: b["value"], "params": b["params"], "seed": b["seed"],
                        "epochs": b["epochs"]}
    return results


def finish_search(results: SearchResults, objective, out_dir: Path, *, retrain: bool = True,
                  plots: bool = True, verbose: bool = True) -> SearchResults:
    """Write the table and the best configuration, draw the figures, retrain and save the best model."""
    out_dir = Path(out_dir)
    results.paths["trials"] = atomic_write_text(out_dir / "trials.csv", results.to_csv())
    if verbose:
        print(results.format_table(), flush=True)
    if plots and results.trials:
        try:
            from trainlab.plots.search import plot_search

            results.paths.update(plot_search(results, out_dir))
        except ImportError as e:
            if verbose:
                print(f"no figures: {e}", flush=True)
    best = results.best
    if best is not None and retrain and hasattr(objective, "train"):
        from trainlab.checkpoint import save
        from trainlab.process import runtime

        seed = best["seed"] if best["seed"] is not None else 0
        with runtime(keep_freed_memory=True):  # as a trial run in this process
            model, history = objective.train(best["params"], seed)
        value = history.last("val_acc")
        config = objective.resolve(best["params"]).to_dict() if hasattr(objective, "resolve") else None
        results.paths["model"] = save(model, out_dir / "best-model.npz", metadata={
            "search": results.study_name, "trial": best["number"], "params": best["params"], "seed": seed,
            "val_acc": value, "config": config})
        best["retrained_val_acc"] = value
        best["checkpoint"] = results.paths["model"].name
    summary = {"study_name": results.study_name, "storage": results.storage, "direction": results.direction,
               "counts": results.counts(), "best": best,
               "top": [{"number": r["number"], "state": r["state"], results.value_name: r["value"],
                        "params": r["params"]} for r in results.top(20)]}
    results.paths["best"] = atomic_write_text(out_dir / "best.json", json.dumps(summary, indent=1, default=_json) + "\n")
    if verbose:
        if best is None:
            print("no trial finished, so there is no best configuration", flush=True)
        else:
            params = ", ".join(f"{k}={v!r}" for k, v in best["params"].items())
            print(f"best: trial {best['number']}, {results.value_name} {best[results.value_name]:.4f} with {params}",
                  flush=True)
            if "checkpoint" in best:
                print(f"retrained: {results.value_name} {best['retrained_val_acc']:.4f}, saved "
                      f"{results.paths['model']}", flush=True)
        print(f"wrote {', '.join(str(p) for p in results.paths.values())}", flush=True)
    return results


def _json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return float(value)
