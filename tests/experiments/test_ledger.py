"""The ledger of the seeds' statements, claim ids and sources, docs/claims.md and the report's ledger section."""

import re
from dataclasses import replace
from pathlib import Path

import pytest

from trainlab.experiments import EXPERIMENTS, reproduce, run_experiment
from trainlab.experiments import claims_doc, ledger
from trainlab.experiments.base import Claim, ClaimTable

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "claims.md"
STATEMENT_ID = re.compile(r"S(\d{3})-\d{2}")


def _specs():
    return [EXPERIMENTS.get(name) for name in EXPERIMENTS.names_in_order()]


def test_every_statement_is_decided_by_real_claims_or_says_why_not():
    claims = ledger.registered_claims()
    for s in ledger.STATEMENTS:
        assert s.text.strip() and s.seed in ledger.SEEDS, s
        assert bool(s.claims) != (s.reason is not None), f"{s.id}: claims or a reason, not both or neither"
        assert set(s.claims) <= set(claims), f"{s.id}: no such claim {set(s.claims) - set(claims)}"
        assert len(set(s.claims)) == len(s.claims), s.id
        if s.reason is not None:
            assert s.reason == ledger.NO_EXPERIMENT or (
                s.reason.startswith(ledger.NOT_MEASURABLE) and len(s.reason) > len(ledger.NOT_MEASURABLE)), s.id


def test_statement_ids_are_unique_and_name_their_seed():
    ids = [s.id for s in ledger.STATEMENTS]
    assert len(ids) == len(set(ids))
    for s in ledger.STATEMENTS:
        match = STATEMENT_ID.fullmatch(s.id)
        assert match and match[1] == s.seed, s.id
    assert {s.seed for s in ledger.STATEMENTS} == set(ledger.SEEDS)


def test_claim_ids_are_unique_and_every_claim_names_a_source():
    seen = []
    for spec in _specs():
        assert len(spec.claims) > 0, spec.name
        for claim_id, source in spec.claims.items():
            assert claim_id.startswith(spec.name + "/"), claim_id
            assert source.strip(), claim_id
            seen.append(claim_id)
    assert len(seen) == len(set(seen))


def test_claim_sources_and_the_ledger_name_each_other():
    """A claim's source cites exactly the statements whose ``claims`` list it, each with its seed."""
    for claim_id, source in ledger.registered_claims().items():
        cited = STATEMENT_ID.findall(source)
        ids = {m.group(0) for m in STATEMENT_ID.finditer(source)}
        assert ids == set(ledger.deciders(claim_id)), claim_id
        for seed in cited:
            assert f"seed {seed}" in source, (claim_id, seed)


def test_claim_table_makes_claims_with_their_id_and_source():
    table = ClaimTable("demo", {"one-thing": "book 1.1"})
    claim = table.claim("one-thing", "a statement", True, "evidence", values={"loss": 0.5, "steps": 3})
    assert (claim.id, claim.source) == ("demo/one-thing", "book 1.1")
    assert claim.to_dict() == {"id": "demo/one-thing", "statement": "a statement", "passed": True,
                               "evidence": "evidence", "source": "book 1.1", "values": {"loss": 0.5, "steps": 3.0}}
    with pytest.raises(TypeError, match="must be a number"):
        table.claim("one-thing", "s", True, "e", values={"loss": "low"})
    assert list(table) == ["demo/one-thing"] and table["demo/one-thing"] == "book 1.1"
    with pytest.raises(KeyError, match="declares no claim 'other'"):
        table.claim("other", "s", True, "e")
    with pytest.raises(ValueError, match="names no source"):
        ClaimTable("demo", {"empty": " "})
    with pytest.raises(ValueError, match="lower-case words"):
        ClaimTable("demo", {"Not A Key": "book"})
    with pytest.raises(TypeError):
        Claim("a statement", True, "evidence")  # id and source are required


def test_a_run_returns_exactly_the_declared_claims(tmp_path):
    result = run_experiment("optimizer-paths", tmp_path, quick=True, figures=False, log=None)
    assert result.error is None
    assert [c.id for c in result.claims] == list(EXPERIMENTS.get("optimizer-paths").claims)
    assert all(c.source for c in result.claims)


def test_a_check_that_misses_a_declared_claim_is_an_error(tmp_path, monkeypatch):
    spec = EXPERIMENTS.get("optimizer-paths")
    monkeypatch.setitem(EXPERIMENTS._items, spec.name, replace(spec, check=lambda m, c: spec.check(m, c)[:-1]))
    result = run_experiment(spec.name, tmp_path, quick=True, figures=False, log=None)
    assert result.error and "but the spec declares" in result.error


def test_statement_verdicts_follow_their_claims():
    s = ledger.Statement("S000-99", "000", "text", ("a/x", "b/y"))
    assert ledger.statement_verdict(s, {}) == "not run"
    assert ledger.statement_verdict(s, {"a/x": "PASS", "b/y": "PASS"}) == "PASS"
    assert ledger.statement_verdict(s, {"a/x": "PASS", "b/y": "FAIL"}) == "FAIL"
    assert ledger.statement_verdict(s, {"a/x": "PASS"}) == "PASS so far (1 of 2 claims run)"
    assert ledger.statement_verdict(s, {"b": "ERROR"}) == "ERROR"
    assert ledger.statement_verdict(ledger.Statement("S000-98", "000", "t", reason="no experiment yet"), {}) == \
        "no experiment yet"


def test_markdown_without_a_run_says_not_run():
    page = ledger.render_markdown()
    assert "no run" in page
    for s in ledger.STATEMENTS:
        line = next(line for line in page.splitlines() if line.startswith(f"| {s.id} |"))
        assert line.endswith("| not run |") if s.reason is None else s.reason in line


def test_docs_claims_md_is_the_rendered_ledger_of_the_run_it_names():
    text = DOC.read_text()
    verdicts, run = ledger.verdicts_from_markdown(text)
    assert run and "run" in run
    assert ledger.render_markdown(verdicts, run=run) == text
    for s in ledger.STATEMENTS:
        assert f"| {s.id} | {s.seed} |" in text
    for claim_id in ledger.registered_claims():
        assert f"`{claim_id}`" in text


def test_docs_claims_md_is_the_latest_full_run_when_that_run_is_here():
    folder = ROOT / "reports" / "latest"
    if not (folder / "optimizer-paths" / "metrics.json").exists():
        pytest.skip("no reports/latest run on this machine")
    results, run = claims_doc.load_run(folder)
    text = DOC.read_text()
    if run != ledger.verdicts_from_markdown(text)[1]:
        pytest.skip("reports/latest holds another run than the one docs/claims.md names")
    assert ledger.render_markdown(results, run=run) == text


def test_the_report_has_the_ledger_section_with_this_runs_verdicts(tmp_path):
    results, report = reproduce(["optimizer-paths"], tmp_path, quick=True, seed=3, log=None)
    page = report.read_text()
    assert '<h2 id="ledger">' in page
    for s in ledger.STATEMENTS:
        assert f"<td>{s.id}</td>" in page
    zigzag = next(c for c in results[0].claims if c.id == "optimizer-paths/sgd-zigzags")
    assert zigzag.source in page
    row = next(r for r in page.split("<tr>") if r.startswith("<td>S000-04</td>"))
    assert "<code>optimizer-paths/sgd-zigzags</code>" in row
    assert ("PASS" if zigzag.passed else "FAIL") in row
    other = next(r for r in page.split("<tr>") if r.startswith("<td>S000-08</td>"))  # optimizer-mnist: not run here
    assert "not run" in other
