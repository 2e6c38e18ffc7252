"""Augmentation pipelines: ``Compose`` and building transforms from a config.

A config is a list whose items are transform objects, strings ``"name"`` /
``"name:arg,arg,key=value"`` (positional values fill the transform's main
parameters in order), or dicts ``{"name": ..., **params}``::

    build_pipeline(["shift:2", "rotate:10", {"name": "erase", "p": 0.5}])
    build_pipeline("shift:2 rotate:10")   # one string: items split on spaces or ';'

``Compose.get_config()`` gives the list-of-dicts form back (JSON-able), and
``build_pipeline`` of that list rebuilds the same pipeline.
"""

from __future__ import annotations

import inspect
from typing import Any, Iterable, Iterator, Sequence

from trainlab.data.augment import TRANSFORMS, Transform
from trainlab.errors import ConfigError


class Compose(Transform):
    """Apply transforms in order; the pipeline is itself a transform.

    Parameters
    ----------
    transforms : iterable
        Transform objects or config items (see :func:`build_transform`).
    image_shape : (C, H, W), optional
        Layout of flattened (N, D) batches.
    """

    name = "compose"

    def __init__(self, transforms: Iterable[Any] = (), image_shape: Sequence[int] | None = None) -> None:
        self.transforms = [build_transform(t) for t in transforms]
        self.image_shape = None if image_shape is None else tuple(int(s) for s in image_shape)
        super().__init__()

    def __call__(self, x, rng, *, image_shape: Sequence[int] | None = None):
        if not self.transforms:
            return x
        return super().__call__(x, rng, image_shape=image_shape or self.image_shape)

    def apply(self, x, rng):
        for t in self.transforms:
            x = t.apply(x, rng)
        return x

    def get_config(self) -> list[dict]:  # type: ignore[override]
        return [t.get_config() for t in self.transforms]

    def __len__(self) -> int:
        return len(self.transforms)

    def __iter__(self) -> Iterator[Transform]:
        return iter(self.transforms)

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


AugmentationPipeline = Compose


def _parse_value(text: str) -> Any:
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip()


def _from_string(item: str) -> Transform:
    name, _, rest = item.partition(":")
    cls = TRANSFORMS.get(name)
    kwargs: dict[str, Any] = {}
    for i, token in enumerate(t for t in rest.split(",") if t.strip()):
        if "=" in token:
            key, _, value = token.partition("=")
            kwargs[key.strip()] = _parse_value(value)
        elif i < len(cls.positional):
            kwargs[cls.positional[i]] = _parse_value(token)
        else:
            raise ConfigError(f"{item!r}: {cls.name} takes at most {len(cls.positional)} "
                              f"positional values ({', '.join(cls.positional)})")
    return _construct(cls, kwargs, item)


def _construct(cls: type, kwargs: dict, origin: Any) -> Transform:
    try:
        return cls(**kwargs)
    except TypeError as exc:
        valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        raise ConfigError(f"{origin!r}: bad parameters for {cls.name} ({exc}); valid: {', '.join(valid)}") from None


def build_transform(item: Any) -> Transform:
    """One transform from a Transform, ``"name[:args]"`` string or ``{"name": ..., ...}`` dict."""
    if isinstance(item, Transform):
        return item
    if isinstance(item, str):
        return _from_string(item)
    if isinstance(item, dict):
        if "name" not in item:
            raise ConfigError(f"augmentation dict needs a 'name': {item!r}")
        params = {k: v for k, v in item.items() if k != "name"}
        return _construct(TRANSFORMS.get(item["name"]), params, item)
    raise ConfigError(f"cannot build an augmentation from {item!r}")


def build_pipeline(config: Any = None, image_shape: Sequence[int] | None = None) -> Compose:
    """A :class:`Compose` from a config: None, a list of items, or one string of items
    separated by ``;`` or spaces (``"shift:2 rotate:10"``)."""
    if config is None:
        return Compose([], image_shape)
    if isinstance(config, Compose):
        return config
    if isinstance(config, str):
        config = [s for s in config.replace(";", " ").split() if s]
    elif isinstance(config, (Transform, dict)):
        config = [config]
    return Compose(config, image_shape)
