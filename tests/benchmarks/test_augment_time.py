"""augment_time.py times the whole-pixel shift two ways; the two ways must give the same images."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def augment_time(benchmark_module):
    return benchmark_module("augment_time")


@pytest.mark.parametrize("s", [1, 2, 3])
def test_the_sampled_shift_and_the_padded_gather_agree(augment_time, s):
    from trainlab.data.warp import shift_whole_pixels

    rng = np.random.default_rng(s)
    x = rng.random((17, 2, 9, 11), dtype=np.float32)
    dy, dx = rng.integers(-s, s + 1, size=(2, 17))
    np.testing.assert_array_equal(augment_time.shift_by_sampling(x, dy, dx, fill=0.25),
                                  shift_whole_pixels(x, dy, dx, fill=0.25))


def test_the_script_prints_each_spec_and_both_ways(augment_time, monkeypatch, capsys, tmp_path):
    out_json = tmp_path / "augment.json"
    monkeypatch.setattr("sys.argv", ["augment_time.py", "--batch", "4", "--repeats", "2", "--specs", "shift:1", "hflip",
                                     "--json", str(out_json)])
    augment_time.main()
    out = capsys.readouterr().out
    for text in ("shift:1", "hflip", "the same images both ways: True", "shift_whole_pixels", "affine grid"):
        assert text in out
    import json

    record = json.loads(out_json.read_text())
    assert record["same_images_both_ways"] is True and record["batch"] == 4
    assert {"shift:1", "hflip", "whole-pixel shift 2: shift_whole_pixels"} <= set(record["ms_per_batch"])
