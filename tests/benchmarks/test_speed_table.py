"""speed_table.py reads bench_cnn.py's JSON files, earlier and current, and never picks between two figures."""

import pytest


@pytest.fixture(scope="module")
def speed_table(benchmark_module):
    return benchmark_module("speed_table")


def comparison(ratio):
    return {"trainlab_samples_per_s": [ratio * 100.0], "pytorch_samples_per_s": [100.0],
            "ratio_best": ratio, "ratio_median": ratio}


def memory(trainlab, pytorch):
    return {"trainlab": {"peak_mib": trainlab}, "pytorch": {"peak_mib": pytorch}, "ratio_peak": trainlab / pytorch}


def current(**models):
    return {"format": 2, "rounds": 3, "batch": 100, "torch_threads": 2, "threads": [2, 1], "test_images": 10000,
            "eval_batch": 1000, "models": models}


def earlier(threads, **ratios):
    return {"rounds": 7, "batch": 100, "torch_threads": threads,
            "models": {n: comparison(r) for n, r in ratios.items()}}


def rows(text):
    return {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}


def test_every_measure_at_each_thread_count(speed_table):
    bench = current(densenet={"train": {"2": comparison(1.25), "1": comparison(1.5)},
                              "inference": {"2": comparison(2.0)}, "memory": {"2": memory(60.0, 240.0)}})
    text = speed_table.table([("bench_all.json", bench)])
    header = text.splitlines()[0]
    assert header == ("| network | train, 2 threads | train, 1 thread | inference, 2 threads "
                      "| peak memory, 2 threads |")
    assert rows(text)["DenseNet"] == ("| DenseNet | 1.25x (median 1.25x) | 1.50x (median 1.50x) | "
                                      "2.00x (median 2.00x) | 0.25x (60 vs 240 MiB) |")


def test_earlier_files_give_training_at_their_thread_count(speed_table):
    text = speed_table.table([("two.json", earlier(2, **{"simple-convnet": 1.23})),
                              ("one.json", earlier(1, **{"simple-convnet": 1.37, "deep-convnet": 0.76}))])
    assert rows(text)["SimpleConvNet"] == "| SimpleConvNet | 1.23x (median 1.23x) | 1.37x (median 1.37x) |"
    assert rows(text)["DeepConvNet"] == "| DeepConvNet | not measured | 0.76x (median 0.76x) |"


def test_rows_follow_the_benchmark_order_and_missing_figures_say_so(speed_table):
    bench = current(resnet20={"train": {"2": comparison(0.9)}}, mlp={"train": {"2": comparison(1.5)},
                                                                    "memory": {"2": memory(50.0, 300.0)}})
    text = speed_table.table([("a.json", bench)])
    names = list(rows(text))[1:]  # after the header
    assert names[-2:] == ["MLP 784-100x4-10", "ResNet-20"]
    assert rows(text)["ResNet-20"].endswith("| 0.90x (median 0.90x) | not measured |")


def test_the_same_figure_in_two_files_is_an_error(speed_table):
    with pytest.raises(ValueError, match="simple-convnet train at 2 thread"):
        speed_table.table([("a.json", earlier(2, **{"simple-convnet": 1.2})),
                           ("b.json", current(**{"simple-convnet": {"train": {"2": comparison(1.3)}}}))])
