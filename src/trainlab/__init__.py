"""trainlab: the techniques that make neural networks train well, on NumPy."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # ``trainlab.runtime`` without importing NumPy at ``import trainlab`` (the command line
    # sets BLAS's thread variables before NumPy loads).
    if name == "runtime":
        from trainlab.process import runtime

        return runtime
    raise AttributeError(f"module 'trainlab' has no attribute {name!r}")
