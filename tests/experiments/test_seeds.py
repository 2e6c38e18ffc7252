"""Verdicts over several seeds and data sets: k/N, the spread of the deciding numbers, the book's number inside it."""

import json
from types import SimpleNamespace

import pytest

from trainlab.errors import ConfigError
from trainlab.experiments import ledger, reproduce, run_experiment
from trainlab.experiments.base import BookValue, ClaimTable
from trainlab.experiments.runner import load_results, plan
from trainlab.experiments.verdicts import BookSpread, book_over_seeds, over_seeds

TABLE = ClaimTable("demo", {"a": "book 1.1", "b": "book 1.2"})


def _claims(a_passes: bool, loss: float):
    return [TABLE.claim("a", "a holds", a_passes, f"loss {loss}", values={"loss": loss, "threshold": 0.5}),
            TABLE.claim("b", "b holds", True, "always")]


def test_a_claim_passes_only_when_it_holds_in_every_seed():
    verdicts = over_seeds([0, 1, 2], [_claims(True, 0.2), _claims(False, 0.7), _claims(True, 0.3)])
    a, b = verdicts
    assert (a.id, a.verdict, a.passed, a.k, a.n) == ("demo/a", "FAIL 2/3", False, 2, 3)
    assert a.failed_seeds == [1] and a.evidence == "loss 0.2" and a.source == "book 1.1"
    assert a.values["loss"].mean == pytest.approx(0.4) and (a.values["loss"].low, a.values["loss"].high) == (0.2, 0.7)
    assert str(a.values["threshold"]) == "0.5 (in every seed)"
    assert "loss 0.4 (0.2 to 0.7)" in a.spread_text()
    assert (b.verdict, b.passed, b.spread_text()) == ("PASS 3/3", True, "")
    one = over_seeds([4], [_claims(True, 0.1)])[0]
    assert one.verdict == "PASS 1/1" and str(one.values["loss"]) == "0.1"
    with pytest.raises(ValueError, match="2 seeds but 1"):
        over_seeds([0, 1], [_claims(True, 0.1)])


def test_a_book_number_is_inside_or_outside_the_seeds_range():
    rows = book_over_seeds([[BookValue("loss", 0.15, 0.14), BookValue("order", "a > b", "a > b")],
                            [BookValue("loss", 0.15, 0.18), BookValue("order", "a > b", "b > a")]])
    loss, order = rows
    assert loss.book_inside is True and loss.measured_text() == "0.16 (0.14 to 0.18)"
    assert order.book_inside is False and order.measured_text() == "a > b (1 of 2 seeds); b > a (1 of 2 seeds)"
    assert BookSpread("loss", 0.5, (0.14, 0.18)).book_inside is False
    assert BookSpread("loss", None, (0.14, 0.18)).book_inside is None
    assert BookSpread("loss", 0.5, ("n/a", 0.18)).spread is None


def test_a_plan_names_its_seeds_and_folder_and_refuses_bad_ones():
    p = plan("cnn-mnist", seeds=3, seed=5, dataset="fashion-mnist")
    assert p.seeds == (5, 6, 7) and p.folder == "cnn-mnist--fashion-mnist"
    assert plan("cnn-mnist", dataset="mnist").folder == "cnn-mnist"
    assert plan("optimizer-paths", dataset="fashion-mnist").folder == "optimizer-paths"  # it takes no data set
    with pytest.raises(ConfigError, match="at least 1"):
        plan("optimizer-paths", seeds=0)
    with pytest.raises(ConfigError, match="distinct"):
        plan("optimizer-paths", seeds=[1, 1])
    with pytest.raises(ConfigError, match="unknown dataset"):
        reproduce(["optimizer-paths"], "unused", datasets=["cifar"], log=None)


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory):
    """Two experiments over two seeds each, in two worker processes: the pool's path."""
    out = tmp_path_factory.mktemp("seeds")
    results, report = reproduce(["optimizer-paths", "receptive-field"], out, quick=True, seeds=2, seed=3,
                                workers=2, log=None)
    return out, results, report.read_text()


def test_seeds_run_in_workers_and_every_claim_reads_k_of_n(two_seeds):
    out, results, page = two_seeds
    assert [r.name for r in results] == ["optimizer-paths", "receptive-field"]
    for r in results:
        assert r.error is None and r.seeds == [3, 4] and [run.seed for run in r.runs] == [3, 4]
        assert r.claims and all(c.n == 2 and c.verdict in ("PASS 2/2", "FAIL 0/2", "FAIL 1/2") for c in r.claims)
        saved = json.loads((out / r.folder / "metrics.json").read_text())
        assert [run["seed"] for run in saved["runs"]] == [3, 4]
        assert [c["verdict"] for c in saved["claims"]] == [c.verdict for c in r.claims]
    assert "PASS 2/2" in page and "2 seeds (3 to 4)" in page and "over 2 seeds" in page
    # The ledger shows the same k/N verdicts.
    zigzag = next(c for c in results[0].claims if c.id == "optimizer-paths/sgd-zigzags")
    row = next(x for x in page.split("<tr>") if x.startswith("<td>S000-04</td>"))
    assert zigzag.verdict in row


def test_a_finished_multi_seed_run_reads_back_with_its_verdicts(two_seeds):
    out, results, _ = two_seeds
    again = load_results(out)
    assert [r.folder for r in again] == [r.folder for r in results]
    for before, after in zip(results, again):
        assert after.seeds == before.seeds
        assert [c.verdict for c in after.claims] == [c.verdict for c in before.claims]


def test_a_single_seed_file_of_an_earlier_version_still_reads(tmp_path):
    result = run_experiment("optimizer-paths", tmp_path, quick=True, figures=False, seed=2, log=None)
    path = tmp_path / "optimizer-paths" / "metrics.json"
    saved = json.loads(path.read_text())
    old = {k: v for k, v in saved.items() if k not in ("runs", "seeds", "dataset")}
    old.update(seed=2, metrics=saved["runs"][0]["metrics"])
    path.write_text(json.dumps(old))
    (again,) = load_results(tmp_path)
    assert again.seeds == [2] and [c.verdict for c in again.claims] == [c.verdict for c in result.claims]


def test_the_ledger_has_one_verdict_column_per_data_set():
    claim = "optimizer-mnist/sgd-highest-loss"
    mnist = SimpleNamespace(name="optimizer-mnist", dataset="mnist", error=None, missing_data=False, seeds=[0, 1],
                            claims=[SimpleNamespace(id=claim, passed=True, verdict="PASS 2/2")])
    fashion = SimpleNamespace(name="optimizer-mnist", dataset="fashion-mnist", error=None, missing_data=False,
                              seeds=[0, 1], claims=[SimpleNamespace(id=claim, passed=False, verdict="FAIL 1/2")])
    groups = ledger.verdict_groups([mnist, fashion])
    assert groups == [("mnist", {claim: "PASS 2/2"}), ("fashion-mnist", {claim: "FAIL 1/2"})]
    page = ledger.render_markdown([mnist, fashion], run="a test run")
    assert "| verdict, mnist | verdict, fashion-mnist |" in page
    assert f"| `{claim}` |" in page and "| PASS 2/2 | FAIL 1/2 |" in page
    verdicts, run = ledger.verdicts_from_markdown(page)
    assert run == "a test run" and verdicts["fashion-mnist"][claim] == "FAIL 1/2"
    assert ledger.render_markdown(verdicts, run=run) == page
    html_page = ledger.render_html([mnist, fashion])
    assert "<th>verdict, fashion-mnist</th>" in html_page


def test_statement_verdicts_read_k_of_n():
    s = ledger.Statement("S000-99", "000", "text", ("a/x", "b/y"))
    assert ledger.statement_verdict(s, {"a/x": "PASS 5/5", "b/y": "PASS 5/5"}) == "PASS"
    assert ledger.statement_verdict(s, {"a/x": "PASS 5/5", "b/y": "FAIL 4/5"}) == "FAIL"
    assert ledger.statement_verdict(s, {"a/x": "PASS 3/3"}) == "PASS so far (1 of 2 claims run)"


def _drawn_lines(monkeypatch, module, runs, config, tmp_path):
    """Lines on every axes of each figure ``module``'s plot draws from ``runs``, faint ones apart."""
    seen = []

    def keep(fig, out_dir, name):
        lines = [line for ax in fig.axes for line in ax.get_lines()]
        seen.append((len(lines), sum((line.get_alpha() or 1.0) < 0.5 for line in lines)))
        fig.clf()
        return tmp_path / f"{name}.png"

    monkeypatch.setattr(module, "save", keep)
    return seen


def test_figures_carry_the_spread_of_the_seeds(monkeypatch, tmp_path):
    """Drawn from two seeds, a figure has a faint line per seed beside each mean line; from one, none."""
    import trainlab.plots.vanishing_gradients as module
    from trainlab.experiments import EXPERIMENTS

    spec = EXPERIMENTS.get("vanishing-gradients")
    config = spec.make_config(quick=True, overrides={"dataset": "synthetic", "n_samples": 60, "n_inits": 2})
    runs = [spec.run(config, seed=s) for s in (0, 1)]
    one = _drawn_lines(monkeypatch, module, runs[:1], config, tmp_path)
    spec.plot(runs[:1], config, tmp_path)
    two = _drawn_lines(monkeypatch, module, runs, config, tmp_path)
    spec.plot(runs, config, tmp_path)
    assert one and all(faint == 0 for _, faint in one)
    for (lines_one, _), (lines_two, faint) in zip(one, two):
        # The same lines as from one seed (now means), and two faint ones (one per seed) for each curve.
        assert lines_two - faint == lines_one and faint > 0 and faint % 2 == 0


def test_metrics_an_earlier_version_wrote_otherwise_read_back_as_an_error(tmp_path):
    run_experiment("optimizer-paths", tmp_path, quick=True, figures=False, log=None)
    path = tmp_path / "optimizer-paths" / "metrics.json"
    saved = json.loads(path.read_text())
    del saved["runs"][0]["metrics"]["valley"]
    path.write_text(json.dumps(saved))
    (again,) = load_results(tmp_path)
    assert again.claims == [] and "cannot be checked by this version" in again.error and "valley" in again.error


def test_one_column_when_no_experiment_ran_on_two_data_sets():
    def result(name, dataset):
        return SimpleNamespace(name=name, dataset=dataset, error=None, missing_data=False, seeds=[0],
                               claims=[SimpleNamespace(id=f"{name}/c", passed=True, verdict="PASS 1/1")])

    groups = ledger.verdict_groups([result("a", "mnist"), result("b", "fashion-mnist"), result("c", None)])
    assert groups == [(None, {"a/c": "PASS 1/1", "b/c": "PASS 1/1", "c/c": "PASS 1/1"})]
