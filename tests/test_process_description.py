"""trainlab.process.cpu_description: the processor named in every speed record."""

import builtins

from trainlab.process import cpu_description


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
