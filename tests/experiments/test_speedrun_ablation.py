"""speedrun-ablation: a quick synthetic run, every claim decided both ways, bad settings."""

import copy
import json

import pytest

from trainlab.errors import TrainlabError
from trainlab.experiments import EXPERIMENTS, run_experiment
from trainlab.experiments.speedrun_ablation import CLAIMS, VARIANTS, Config, check

QUICK = EXPERIMENTS.get("speedrun-ablation").make_config(quick=True)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    return run_experiment("speedrun-ablation", out, quick=True, log=None), out


def test_quick_run_writes_metrics_and_the_figure(result):
    res, out = result
    assert res.error is None, res.error
    saved = json.loads((out / res.folder / "metrics.json").read_text())
    assert saved["config"]["dataset"] == "synthetic" and res.figures == ["speedrun_ablation.png"]
    variants = res.metrics["variants"]
    assert list(variants) == ["recipe", "no-batchnorm", "init-0.01", "plain-sgd", "constant-lr", "no-augmentation",
                              "no-weight-decay"]
    for v in variants.values():
        assert 0.0 <= v["test_acc"] <= 1.0 and 1 <= v["steps"] <= v["planned_steps"]
        # Each run ends at its budget (one step past it at most) or at the end of its epochs.
        assert v["stopped_at_budget"] or v["steps"] == v["planned_steps"]
    assert [c.id for c in res.claims] == list(CLAIMS)


def _metrics(recipe, **others):
    variants = {"recipe": {"test_acc": recipe, "steps": 10, "epochs": 1.0, "changed": "none"}}
    for key, (name, _) in VARIANTS.items():
        variants[name] = {"test_acc": others.get(name, recipe), "steps": 10, "epochs": 1.0, "changed": name}
    return {"dataset": "mnist", "budget_seconds": 4.0, "variants": variants}


def test_every_claim_passes_when_each_technique_is_worth_its_points():
    config = Config()
    worse = {name: 0.95 - 0.011 - 0.01 * i for i, (name, _) in enumerate(VARIANTS.values())}
    assert all(c.passed for c in check(_metrics(0.95, **worse), config))


def test_every_claim_fails_when_the_variants_do_as_well():
    claims = check(_metrics(0.95), Config())
    assert not any(c.passed for c in claims)
    assert all(c.values["points"] == 0.0 for c in claims)


def test_a_claim_is_decided_against_its_own_declared_threshold():
    config = Config(min_points_batchnorm=2.0)
    metrics = _metrics(0.95, **{"no-batchnorm": 0.935})   # worth 1.5 points
    by_key = {c.id.split("/")[1]: c for c in check(metrics, config)}
    assert not by_key["batchnorm-worth"].passed and by_key["batchnorm-worth"].values["threshold"] == 2.0
    assert check(copy.deepcopy(metrics), Config(min_points_batchnorm=1.4))[0].passed


@pytest.mark.parametrize("changes", [{"budget_seconds": 0.0}, {"n_train": 0}, {"dataset": "cifar"},
                                     {"stages": ((8,), (8,), (8,))}, {"augment": "spin:3"}])
def test_bad_settings_are_errors(changes):
    with pytest.raises(TrainlabError):
        Config(**{**vars(QUICK), **changes})
