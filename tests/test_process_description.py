"""trainlab.process.cpu_description, blas_description and machine_speed: the processor, the BLAS kernels and
the machine's yardstick named in every speed record."""

import builtins

import numpy as np  # noqa: F401  (loads the BLAS library threadpoolctl reports)

from trainlab.kernels import threads
from trainlab.process import blas_description, cpu_description, machine_speed, runtime


def test_cpu_description_reads_the_first_processor_and_its_widest_vector_extension(tmp_path, monkeypatch):
    fake = tmp_path / "cpuinfo"
    fake.write_text("processor\t: 0\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: Test CPU 9000\n"
                    "flags\t\t: fpu sse4_2 avx avx2\n\n"
                    "processor\t: 1\ncpu family\t: 26\nmodel\t\t: 2\nmodel name\t: Other CPU\nflags\t\t: fpu avx512f\n")
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda path, *a, **k: real_open(fake if path == "/proc/cpuinfo" else path,
                                                                           *a, **k))
    assert cpu_description() == {"cpu": "Test CPU 9000", "simd": "avx2", "family": "25", "model": "17"}


def test_cpu_description_without_cpuinfo_still_answers(monkeypatch):
    def no_cpuinfo(path, *a, **k):
        raise OSError("no such file")

    monkeypatch.setattr(builtins, "open", no_cpuinfo)
    described = cpu_description()
    assert set(described) == {"cpu", "simd", "family", "model"}
    assert described["simd"] is None and described["family"] is None and described["model"] is None


def test_blas_description_names_the_library_numpy_loaded_and_the_forced_core_type(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Testcore")
    described = blas_description()
    assert set(described) == {"library", "version", "kernels", "coretype_env"}
    assert described["coretype_env"] == "Testcore"
    assert described["library"] is None or isinstance(described["library"], str)


def test_blas_description_without_threadpoolctl_answers_with_nones(monkeypatch):
    from trainlab.kernels import threads

    monkeypatch.setattr(threads, "blas_libraries", lambda: [])  # what it finds when threadpoolctl cannot look
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    assert blas_description() == {"library": None, "version": None, "kernels": None, "coretype_env": None}


def test_machine_speed_measures_a_product_and_a_copy_and_puts_blas_threads_back():
    before = [lib.num_threads for lib in threads.blas_libraries()]
    speed = machine_speed(repeats=1, size=64, copy_mib=1)
    assert set(speed) == {"gemm_gflops", "gemm_size", "blas_threads", "copy_gbps", "copy_mib"}
    assert speed["gemm_gflops"] > 0 and speed["copy_gbps"] > 0
    assert (speed["gemm_size"], speed["blas_threads"], speed["copy_mib"]) == (64, 1, 1)
    assert [lib.num_threads for lib in threads.blas_libraries()] == before


def test_machine_speed_inside_a_runtime_leaves_its_settings_alone():
    with runtime(2, blas_threads=2) as settings:
        inside = [lib.num_threads for lib in threads.blas_libraries()]
        machine_speed(repeats=1, size=32, copy_mib=1)
        assert [lib.num_threads for lib in threads.blas_libraries()] == inside
        assert threads.get_num_threads() == settings.threads


def test_the_speedrun_record_names_the_family_and_the_yardstick():
    from trainlab.speedrun.run import machine, machine_text

    m = machine()
    assert {"family", "model", "speed"} <= set(m)
    assert m["speed"]["gemm_gflops"] > 0
    text = machine_text(m)
    assert "GFLOP/s" in text and "GB/s" in text
    assert "GFLOP/s" not in machine_text({**m, "speed": None})  # older records have none
