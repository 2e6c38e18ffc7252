"""Search spaces: parsing, validation before any trial, and the random sampler's log-uniform draws."""

import json

import numpy as np
import pytest

from trainlab.errors import ConfigError
from trainlab.search.objective import BOOK_PARAMETERS
from trainlab.search.space import BOOK_SPACE, SearchSpace, load_space


def test_book_space_round_trips():
    space = SearchSpace(BOOK_SPACE, BOOK_PARAMETERS)
    assert space.names == ["lr", "weight_decay"]
    assert space["lr"].log and space["lr"].type == "float"
    assert SearchSpace(space.to_dict(), BOOK_PARAMETERS).to_dict() == space.to_dict()


def test_types_come_from_the_objective_or_the_values():
    space = SearchSpace({"hidden": {"choices": [50, 100]}, "layers": {"low": 2, "high": 6},
                         "dropout": {"low": 0, "high": 0.5}, "optimizer": {"choices": ["sgd", "adam"]}},
                        BOOK_PARAMETERS)
    assert [space[n].type for n in space.names] == ["int", "int", "float", "str"]
    free = SearchSpace({"a": {"low": 1, "high": 4}, "b": {"low": 0, "high": 1.5}, "c": {"choices": [True, "x"]}})
    assert [free[n].type for n in free.names] == ["int", "float", "any"]


@pytest.mark.parametrize("spec, message", [
    ({"momentum": {"low": 0.1, "high": 0.9}}, "unknown hyperparameter 'momentum'"),
    ({"lr": {"low": 1e-2, "high": 1e-6}}, "greater than high"),
    ({"lr": {"low": 0.0, "high": 1e-2}}, "must be > 0"),
    ({"weight_decay": {"low": 0.0, "high": 1e-4, "log": True}}, "log scale needs positive bounds"),
    ({"hidden": {"choices": []}}, "choices is empty"),
    ({"hidden": {"choices": 50}}, "must be a list"),
    ({"hidden": {"choices": [50.5, 100]}}, "integer hyperparameter"),
    ({"layers": {"low": 2.0, "high": 6}}, "integer hyperparameter"),
    ({"lr": {"low": "1e-6", "high": 1e-2}}, "expected a number"),
    ({"lr": {"low": True, "high": 1e-2}}, "expected a number"),
    ({"lr": {"low": 1e-6}}, "missing 'high'"),
    ({"lr": {"low": 1e-6, "high": 1e-2, "log": "yes"}}, "log must be true or false"),
    ({"lr": {"low": 1e-6, "high": 1e-2, "scale": "log"}}, "unknown key"),
    ({"lr": {"low": 1e-6, "high": 1e-2, "log": True, "step": 1e-6}}, "cannot be combined"),
    ({"lr": {"low": 1e-6, "high": float("nan")}}, "finite"),
    ({"lr": [1e-6, 1e-2]}, "expected an object"),
    ({"optimizer": {"choices": ["sgd", "nope"]}}, "unknown choice 'nope'"),
    ({"dropout": {"low": 0.0, "high": 1.0}}, "must be < 1"),
    ({"lr": {"choices": [0.1], "low": 0.1}}, "cannot be combined"),
    ({"lr": {"low": 1e-6, "high": 1e-2, "type": "int"}}, "is a float hyperparameter"),
    ({}, "empty"),
])
def test_bad_specs_raise_config_error(spec, message):
    with pytest.raises(ConfigError, match=message):
        SearchSpace(spec, BOOK_PARAMETERS)


def test_load_from_file_and_inline_json(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps(BOOK_SPACE))
    assert load_space(path, BOOK_PARAMETERS).to_dict() == load_space(json.dumps(BOOK_SPACE)).to_dict()
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_space("{lr: 1}")
    with pytest.raises(ConfigError, match="no such search-space file"):
        load_space(tmp_path / "missing.json")


def test_bad_space_fails_before_the_study_exists(tmp_path):
    pytest.importorskip("optuna")
    from trainlab.search import run_search

    out = tmp_path / "search"
    with pytest.raises(ConfigError, match="greater than high"):
        run_search({"lr": {"low": 1.0, "high": 0.1}}, n_trials=2, out_dir=out, verbose=False)
    assert not out.exists()


def _ks_uniform(u) -> float:
    """Kolmogorov-Smirnov distance between the sample ``u`` (in [0, 1]) and U(0, 1)."""
    u = np.sort(np.asarray(u))
    n = u.size
    return float(max((np.arange(1, n + 1) / n - u).max(), (u - np.arange(n) / n).max()))


def test_random_sampler_draws_log_uniform_in_range():
    """The book's draw 10**U(-6, -2): log10 of 2000 draws is uniform (KS distance below the 1% level)."""
    optuna = pytest.importorskip("optuna")
    from trainlab.search.worker import make_sampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = SearchSpace(BOOK_SPACE, BOOK_PARAMETERS)
    study = optuna.create_study(sampler=make_sampler("random", seed=3), direction="maximize")
    n = 2000
    draws = {name: [] for name in space.names}
    for _ in range(n):
        trial = study.ask(space.distributions())
        for name in space.names:
            draws[name].append(trial.params[name])
        study.tell(trial, 0.0)
    for name, (low, high) in (("lr", (1e-6, 1e-2)), ("weight_decay", (1e-8, 1e-4))):
        values = np.array(draws[name])
        assert values.min() >= low and values.max() <= high
        u = (np.log10(values) - np.log10(low)) / (np.log10(high) - np.log10(low))
        assert _ks_uniform(u) < 1.63 / np.sqrt(n), name
        # A uniform draw on the linear scale would put ~99% of the values in the top decade.
        assert 0.2 < np.mean(values < np.sqrt(low * high)) < 0.8
