"""trainlab: the techniques that make neural networks train well, on NumPy."""

__version__ = "0.1.0"
