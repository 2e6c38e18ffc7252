"""Dropout: inverted (PyTorch, the default) and the book's non-inverted form."""

from __future__ import annotations

from typing import Any

import numpy as np

from trainlab.layers.base import Layer, check_input, register_layer
from trainlab.validation import check_real


@register_layer
class Dropout(Layer):
    """Zero each activation with probability ``p`` during training.

    - ``inverted=True`` (default, PyTorch): train ``x * mask / (1 - p)``,
      eval ``x``. The expected activation is the same in both modes.
    - ``inverted=False`` (the book, sec. 6.4.3): train ``x * mask``,
      eval ``x * (1 - p)``. Note the book's code multiplies by the *keep*
      ratio at test time, ``1 - dropout_ratio``.

    Set ``freeze_mask = True`` to reuse the last mask on the next forward
    pass (for gradient checks, which need a fixed function).

    Parameters
    ----------
    p : float in [0, 1)
        Probability of dropping an activation.
    inverted : bool, default True
    rng : numpy.random.Generator, optional
        Source of the masks; a fresh unseeded one when omitted.

    Reference: Srivastava et al., 2014.
    """

    def __init__(self, p: float = 0.5, *, inverted: bool = True,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.p = check_real("Dropout", "p", p, low=0.0, high=1.0, high_open=True)
        self.inverted = bool(inverted)
        self.rng = np.random.default_rng() if rng is None else rng
        self.freeze_mask = False
        self.mask = None

    def forward(self, x, *, train: bool):
        check_input(self, x, ndim=tuple(range(1, 8)))
        keep = 1.0 - self.p
        if not train:
            self._scale = None
            return x if self.inverted else x * x.dtype.type(keep)
        if self.p == 0.0:
            self._scale = None
            return x
        if not (self.freeze_mask and self.mask is not None and self.mask.shape == x.shape):
            keep_mask = self.rng.random(x.shape, dtype=np.float32) >= self.p
            # The inverted form folds 1/keep into the mask once, so forward and
            # backward are one multiplication each.
            self.mask = keep_mask.astype(x.dtype) / x.dtype.type(keep) if self.inverted else keep_mask.astype(x.dtype)
        self._scale = self.mask
        return x * self.mask

    def backward(self, dout):
        if self._scale is None:
            return dout if self.inverted else dout * dout.dtype.type(1.0 - self.p)
        return dout * self._scale

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p, "inverted": self.inverted}
