"""trainlab.process.cpu_description and blas_description: the processor and BLAS kernels named in every speed record."""

import builtins

import numpy as np  # noqa: F401  (loads the BLAS library threadpoolctl reports)

from trainlab.process import blas_description, cpu_description


def test_cpu_description_reads_the_first_processor_and_its_widest_vector_extension(tmp_path, monkeypatch):
    fake = tmp_path / "cpuinfo"
    fake.write_text("processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: fpu sse4_2 avx avx2\n\n"
                    "processor\t: 1\nmodel name\t: Other CPU\nflags\t\t: fpu avx512f\n")
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda path, *a, **k: real_open(fake if path == "/proc/cpuinfo" else path,
                                                                           *a, **k))
    assert cpu_description() == {"cpu": "Test CPU 9000", "simd": "avx2"}


def test_cpu_description_without_cpuinfo_still_answers(monkeypatch):
    def no_cpuinfo(path, *a, **k):
        raise OSError("no such file")

    monkeypatch.setattr(builtins, "open", no_cpuinfo)
    described = cpu_description()
    assert set(described) == {"cpu", "simd"} and described["simd"] is None


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
