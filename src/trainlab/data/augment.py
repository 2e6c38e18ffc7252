"""Data augmentation for NCHW image batches, vectorised over the batch and seeded.

Each transform is called as ``transform(x, rng)`` with ``x`` a float batch
``(N, C, H, W)`` (or ``(N, D)`` with ``image_shape=(C, H, W)``, or square
single-channel images inferred from ``D``) and ``rng`` a
``np.random.Generator``; it returns a new batch of the same shape and dtype.
Labels are never touched. Apply augmentation to training batches only.

Transforms are combined and built from configs by :mod:`trainlab.data.pipeline`
(``Compose``, ``build_pipeline(["shift:2", "rotate:10"])``).

References: Simard, Steinkraus, Platt, "Best practices for convolutional neural
networks applied to visual document analysis", ICDAR 2003 (elastic distortion);
Zhong et al., "Random Erasing Data Augmentation", AAAI 2020;
DeVries & Taylor, "Improved Regularization of CNNs with Cutout", 2017.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Sequence

import numpy as np

from trainlab.backend import get_array_module
from trainlab.data.warp import affine_coords, sample, shift_whole_pixels, smooth
from trainlab.errors import ConfigError, DTypeError, ShapeError
from trainlab.registry import Registry
from trainlab.validation import check_choice, check_int, check_real

TRANSFORMS: Registry[type] = Registry("augmentation")


def as_generator(rng) -> np.random.Generator:
    """``rng`` if it is a Generator, ``np.random.default_rng(rng)`` for an int seed."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ConfigError(f"augmentation needs a np.random.Generator or an int seed, got {type(rng).__name__}")


def to_nchw(x, image_shape: Sequence[int] | None = None):
    """View a batch as (N, C, H, W); return it and a function that restores the input shape."""
    if not np.issubdtype(x.dtype, np.floating):
        raise DTypeError(f"augmentation works on float batches, got dtype {x.dtype}")
    if x.ndim == 4:
        return x, lambda y: y
    if x.ndim == 2:
        n, d = x.shape
        if image_shape is None:
            side = math.isqrt(d)
            if side * side != d:
                raise ShapeError(f"cannot infer a square image from {d} features; pass image_shape=(C, H, W)")
            image_shape = (1, side, side)
        image_shape = tuple(int(s) for s in image_shape)
        if len(image_shape) != 3 or math.prod(image_shape) != d:
            raise ShapeError(f"image_shape {image_shape} does not hold {d} features")
        return x.reshape(n, *image_shape), lambda y: y.reshape(n, d)  # (N, D) <-> (N, C, H, W)
    raise ShapeError(f"augmentation expects (N, C, H, W) or (N, D) batches, got shape {x.shape}")


def _number(name: str, value: Any, lo: float | None = None, hi: float | None = None,
            integer: bool = False) -> float:
    if integer:
        return check_int("augmentation", name, value, low=int(lo or 0))
    return check_real("augmentation", name, value, low=lo, high=hi)


def _range(name: str, value: Any, center: float, lo: float = 0.0) -> tuple[float, float]:
    """A spread ``s`` means ``(center - s, center + s)``; a pair is taken as given."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ConfigError(f"{name} must be a number or a pair, got {value!r}")
        a, b = (_number(name, v, lo) for v in value)
        if a > b:
            raise ConfigError(f"{name} pair must be (low, high), got {value!r}")
        return a, b
    s = _number(name, value, 0.0)
    if center - s < lo:
        raise ConfigError(f"{name}={value} reaches below {lo}")
    return center - s, center + s


def _mode(value: Any) -> str:
    return check_choice("augmentation", "interpolation", value, ("bilinear", "nearest"))


class Transform:
    """Base class: validates arguments in ``__init__``, augments in ``apply``."""

    name: ClassVar[str] = ""
    #: Parameter names that "name:a,b" fills in order.
    positional: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **config: Any) -> None:
        self._config = config

    def get_config(self) -> dict:
        """``{"name": ..., **parameters}``, JSON-able; ``build_transform`` inverts it."""
        return {"name": self.name, **{k: list(v) if isinstance(v, tuple) else v for k, v in self._config.items()}}

    def __call__(self, x, rng, *, image_shape: Sequence[int] | None = None):
        x4, restore = to_nchw(x, image_shape)
        return restore(self.apply(x4, as_generator(rng)).astype(x.dtype, copy=False))

    def apply(self, x, rng: np.random.Generator):
        """Augment an (N, C, H, W) float batch."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._config.items())
        return f"{type(self).__name__}({args})"


def register_transform(name: str, *, aliases: tuple[str, ...] = ()):
    """Class decorator: make a transform buildable by name."""

    def decorate(cls: type) -> type:
        cls.name = name
        TRANSFORMS.add(name, cls, aliases=aliases)
        return cls

    return decorate


def _warp(x, rng, angle_deg: float, scale: tuple[float, float], shift: float, mode: str, fill: float):
    xp = get_array_module(x)
    n, _, h, w = x.shape
    angle = np.deg2rad(rng.uniform(-angle_deg, angle_deg, n)) if angle_deg else np.zeros(n)
    zoom = rng.uniform(scale[0], scale[1], n) if scale != (1.0, 1.0) else np.ones(n)
    dy, dx = rng.uniform(-shift, shift, size=(2, n)) if shift else np.zeros((2, n))
    ys, xs = affine_coords(xp, n, h, w, *(xp.asarray(a) for a in (angle, zoom, dy, dx)))
    return sample(x, ys, xs, mode=mode, fill=fill)


@register_transform("shift", aliases=("crop", "translate"))
class RandomShift(Transform):
    """Shift each image by a whole number of pixels in [-max_shift, max_shift] per axis.

    The same as a random crop after padding by ``max_shift``; uncovered pixels get ``fill``.
    """

    positional = ("max_shift", "fill")

    def __init__(self, max_shift: int = 2, fill: float = 0.0) -> None:
        super().__init__(max_shift=_number("max_shift", max_shift, 0, integer=True),
                         fill=_number("fill", fill))

    def apply(self, x, rng):
        c = self._config
        s = int(c["max_shift"])
        dy, dx = rng.integers(-s, s + 1, size=(2, x.shape[0]))
        return shift_whole_pixels(x, dy, dx, fill=c["fill"])


@register_transform("affine")
class RandomAffine(Transform):
    """Random rotation, zoom and sub-pixel shift in one resampling.

    Parameters
    ----------
    degrees : float
        Angle drawn from [-degrees, degrees].
    scale : float or (low, high)
        Zoom factor drawn from [1 - scale, 1 + scale] (or the pair).
    translate : float
        Shift in pixels drawn from [-translate, translate] per axis.
    interpolation : {"bilinear", "nearest"}
    fill : float
        Value for pixels mapped from outside the image.
    """

    positional = ("degrees", "scale", "translate")

    def __init__(self, degrees: float = 0.0, scale: float | Sequence[float] = 0.0, translate: float = 0.0,
                 interpolation: str = "bilinear", fill: float = 0.0) -> None:
        scale_range = _range("scale", scale, 1.0, lo=1e-3)
        super().__init__(degrees=_number("degrees", degrees, 0, 180), scale=scale_range,
                         translate=_number("translate", translate, 0), interpolation=_mode(interpolation),
                         fill=_number("fill", fill))

    def apply(self, x, rng):
        c = self._config
        return _warp(x, rng, c["degrees"], c["scale"], c["translate"], c["interpolation"], c["fill"])


@register_transform("rotate", aliases=("rotation",))
class RandomRotation(Transform):
    """Rotate each image about its centre by an angle drawn from [-degrees, degrees]."""

    positional = ("degrees", "interpolation")

    def __init__(self, degrees: float = 10.0, interpolation: str = "bilinear", fill: float = 0.0) -> None:
        super().__init__(degrees=_number("degrees", degrees, 0, 180), interpolation=_mode(interpolation),
                         fill=_number("fill", fill))

    def apply(self, x, rng):
        c = self._config
        return _warp(x, rng, c["degrees"], (1.0, 1.0), 0.0, c["interpolation"], c["fill"])


@register_transform("scale", aliases=("zoom",))
class RandomScale(Transform):
    """Zoom each image about its centre by a factor from [1 - scale, 1 + scale] (or the given pair)."""

    positional = ("scale", "interpolation")

    def __init__(self, scale: float | Sequence[float] = 0.1, interpolation: str = "bilinear",
                 fill: float = 0.0) -> None:
        super().__init__(scale=_range("scale", scale, 1.0, lo=1e-3), interpolation=_mode(interpolation),
                         fill=_number("fill", fill))

    def apply(self, x, rng):
        c = self._config
        return _warp(x, rng, 0.0, c["scale"], 0.0, c["interpolation"], c["fill"])


@register_transform("hflip", aliases=("flip", "horizontal-flip"))
class RandomHorizontalFlip(Transform):
    """Mirror each image left-right with probability ``p`` (leave it out for digits and text)."""

    positional = ("p",)

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p=_number("p", p, 0, 1))

    def apply(self, x, rng):
        xp = get_array_module(x)
        flip = xp.asarray(rng.random(x.shape[0]) < self._config["p"]).reshape(-1, 1, 1, 1)
        return xp.where(flip, x[..., ::-1], x)


@register_transform("noise", aliases=("gaussian-noise",))
class GaussianNoise(Transform):
    """Add N(0, std^2) noise to every pixel; optionally clip to ``clip=(low, high)``."""

    positional = ("std",)

    def __init__(self, std: float = 0.1, clip: Sequence[float] | None = None) -> None:
        if clip is not None:
            clip = _range("clip", list(clip), 0.0, lo=-math.inf)
        super().__init__(std=_number("std", std, 0), clip=clip)

    def apply(self, x, rng):
        xp = get_array_module(x)
        draw_dtype = np.float32 if x.dtype == np.float32 else np.float64
        noise = rng.standard_normal(x.shape, dtype=draw_dtype) * self._config["std"]
        out = x + xp.asarray(noise, dtype=x.dtype)
        clip = self._config["clip"]
        return out if clip is None else xp.clip(out, clip[0], clip[1])


@register_transform("brightness-contrast", aliases=("color-jitter",))
class BrightnessContrast(Transform):
    """Per image: scale the deviation from its mean by c in [1-contrast, 1+contrast], add b in [-brightness, brightness]."""

    positional = ("brightness", "contrast")

    def __init__(self, brightness: float = 0.2, contrast: float = 0.2, clip: Sequence[float] | None = None) -> None:
        if clip is not None:
            clip = _range("clip", list(clip), 0.0, lo=-math.inf)
        super().__init__(brightness=_number("brightness", brightness, 0),
                         contrast=_number("contrast", contrast, 0, 1), clip=clip)

    def apply(self, x, rng):
        xp = get_array_module(x)
        n = x.shape[0]
        c = self._config
        b = xp.asarray(rng.uniform(-c["brightness"], c["brightness"], n), dtype=x.dtype).reshape(n, 1, 1, 1)
        k = xp.asarray(rng.uniform(1 - c["contrast"], 1 + c["contrast"], n), dtype=x.dtype).reshape(n, 1, 1, 1)
        mean = x.mean(axis=(1, 2, 3), keepdims=True)
        # (x - mean) * k + mean + b, arranged so that k=1, b=0 returns x exactly.
        out = x * k + (mean * (1 - k) + b)
        return out if c["clip"] is None else xp.clip(out, c["clip"][0], c["clip"][1])


@register_transform("erase", aliases=("cutout", "random-erasing"))
class RandomErasing(Transform):
    """With probability ``p``, set a random rectangle of each image to ``value``.

    The rectangle covers a fraction of the image drawn from ``area`` with aspect
    ratio (height / width) log-uniform in ``ratio``, and lies fully inside.
    """

    positional = ("p", "value")

    def __init__(self, p: float = 0.5, value: float = 0.0, area: Sequence[float] = (0.02, 0.2),
                 ratio: Sequence[float] = (0.3, 3.3)) -> None:
        area_range = _range("area", list(area), 0.0)
        ratio_range = _range("ratio", list(ratio), 0.0, lo=1e-3)
        if area_range[1] > 1 or area_range[0] <= 0:
            raise ConfigError(f"area must lie in (0, 1], got {area!r}")
        super().__init__(p=_number("p", p, 0, 1), value=_number("value", value), area=area_range,
                         ratio=ratio_range)

    def apply(self, x, rng):
        xp = get_array_module(x)
        n, _, h, w = x.shape
        c = self._config
        area = rng.uniform(*c["area"], n) * h * w
        ratio = np.exp(rng.uniform(np.log(c["ratio"][0]), np.log(c["ratio"][1]), n))
        eh = np.clip(np.rint(np.sqrt(area * ratio)), 1, h).astype(np.int64)
        ew = np.clip(np.rint(np.sqrt(area / ratio)), 1, w).astype(np.int64)
        y0 = np.floor(rng.random(n) * (h - eh + 1)).astype(np.int64)
        x0 = np.floor(rng.random(n) * (w - ew + 1)).astype(np.int64)
        on = rng.random(n) < c["p"]
        rows = xp.arange(h).reshape(1, h, 1)
        cols = xp.arange(w).reshape(1, 1, w)
        y0, x0, eh, ew, on = (xp.asarray(a).reshape(n, 1, 1) for a in (y0, x0, eh, ew, on))
        mask = on & (rows >= y0) & (rows < y0 + eh) & (cols >= x0) & (cols < x0 + ew)  # (N, H, W)
        return xp.where(mask[:, None], xp.asarray(c["value"], dtype=x.dtype), x)


@register_transform("elastic", aliases=("elastic-distortion",))
class ElasticDistortion(Transform):
    """Warp each image by a random smooth displacement field (Simard et al., 2003).

    Displacements uniform in [-1, 1] per pixel and axis are blurred with a
    Gaussian of width ``sigma`` pixels, multiplied by ``alpha``, and the image is
    resampled at the displaced positions. alpha=34, sigma=4 suit 28x28 digits.
    """

    positional = ("alpha", "sigma")

    def __init__(self, alpha: float = 34.0, sigma: float = 4.0, interpolation: str = "bilinear",
                 fill: float = 0.0) -> None:
        super().__init__(alpha=_number("alpha", alpha, 0), sigma=_number("sigma", sigma, 0.1, 100),
                         interpolation=_mode(interpolation), fill=_number("fill", fill))

    def apply(self, x, rng):
        xp = get_array_module(x)
        n, _, h, w = x.shape
        c = self._config
        field = xp.asarray(rng.uniform(-1.0, 1.0, size=(2, n, h, w)))
        dy, dx = smooth(field, c["sigma"]) * c["alpha"]
        ys = xp.arange(h, dtype=np.float64).reshape(1, h, 1) + dy  # (N, H, W)
        xs = xp.arange(w, dtype=np.float64).reshape(1, 1, w) + dx
        return sample(x, ys, xs, mode=c["interpolation"], fill=c["fill"])
