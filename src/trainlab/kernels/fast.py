"""Loads every fast kernel (each module registers its functions with :func:`trainlab.kernels.registry.fast`)."""

from trainlab.kernels import batchnorm, conv, elementwise, layout, pool

MODULES = (conv, batchnorm, pool, elementwise, layout)
