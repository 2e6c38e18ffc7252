"""The layer protocol: parameters by name, ``forward(x, *, train)``, ``backward(dout)``.

A layer caches what its backward needs during ``forward`` and, in ``backward``,
*overwrites* the gradients of its parameters (it does not accumulate them), as
in the book: each layer is used once per forward pass. Containers
(:class:`Sequential` here; residual, branch-and-concatenate and dense blocks
later) are layers whose parameters are their children's, so an optimizer,
``save``/``load`` and ``fold_batchnorm`` see one flat, named list.

Reference: Saito, *Deep Learning from Scratch*, ch. 5 (layers with backward).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from trainlab.backend import DEFAULT_DTYPE
from trainlab.errors import ConfigError, DTypeError, ShapeError
from trainlab.registry import Registry

#: Layer classes by name, so an architecture stored as JSON can be rebuilt.
LAYER_TYPES: Registry[type] = Registry("layer type")

ForwardHook = Callable[[str, "Layer", Any], None]


def register_layer(cls: type) -> type:
    """Class decorator: make a layer type loadable from a checkpoint by its class name."""
    LAYER_TYPES.add(cls.__name__, cls)
    return cls


class Parameter:
    """A trainable array and its gradient.

    Parameters
    ----------
    data : ndarray
        The value, updated in place by optimizers.
    decay : bool, optional
        Whether coupled weight decay applies to it. Defaults to ``data.ndim >= 2``:
        weights of Linear and Conv layers decay, biases and BatchNorm's gamma/beta
        do not (the book's ``weight_decay`` acts on ``W`` only).
    """

    __slots__ = ("data", "grad", "decay")

    def __init__(self, data, *, decay: bool | None = None) -> None:
        self.data = data
        self.grad = None
        self.decay = bool(data.ndim >= 2) if decay is None else bool(decay)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self) -> int:
        return int(self.data.size)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype}, decay={self.decay})"


class Layer:
    """Base class of every layer and container.

    Subclasses call :meth:`add_parameter` / :meth:`add_buffer` / :meth:`add_child`
    in ``__init__``, implement ``forward`` and ``backward``, and return their
    constructor arguments from :meth:`get_config` (JSON values only).

    ``needs_input_grad``: when False, ``backward`` may skip computing ``dx`` and
    return None. The Trainer sets it on a model's first layer, whose input
    gradient nobody reads (for Linear that saves one of its three products).
    """

    needs_input_grad: bool = True
    #: True once a container's children were swapped after construction (see :func:`replace_children`).
    children_replaced: bool = False

    def __init__(self) -> None:
        self._params: dict[str, Parameter] = {}
        self._buffers: dict[str, Any] = {}
        self._children: dict[str, Layer] = {}
        #: Dotted position inside the model ("3", "block.1"), set by containers.
        self.path: str = ""

    # ---- registration -------------------------------------------------
    def add_parameter(self, name: str, data, *, decay: bool | None = None) -> Parameter:
        p = Parameter(data, decay=decay)
        self._params[name] = p
        return p

    def add_buffer(self, name: str, data) -> None:
        """A non-trainable array saved with the model (BatchNorm's running statistics)."""
        self._buffers[name] = data

    def get_buffer(self, name: str):
        return self._buffers[name]

    def set_buffer(self, name: str, data) -> None:
        if name not in self._buffers:
            raise KeyError(f"{self.describe()} has no buffer {name!r}")
        self._buffers[name] = data

    def add_child(self, name: str, layer: "Layer") -> "Layer":
        if not isinstance(layer, Layer):
            raise TypeError(f"{type(self).__name__}: child {name!r} is a {type(layer).__name__}, not a Layer")
        self._children[name] = layer
        layer._set_path(f"{self.path}.{name}" if self.path else name)
        return layer

    def _set_path(self, path: str) -> None:
        self.path = path
        for name, child in self._children.items():
            child._set_path(f"{path}.{name}")

    # ---- the protocol ---------------------------------------------------
    def forward(self, x, *, train: bool):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def __call__(self, x, *, train: bool = False):
        return self.forward(x, train=train)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON values; ``type(self)(**config)`` rebuilds the layer."""
        return {}

    # ---- traversal ------------------------------------------------------
    def children(self) -> Iterator[tuple[str, "Layer"]]:
        return iter(self._children.items())

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for name, p in self._params.items():
            yield prefix + name, p
        for cname, child in self._children.items():
            yield from child.named_parameters(f"{prefix}{cname}.")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        for name, b in self._buffers.items():
            yield prefix + name, b
        for cname, child in self._children.items():
            yield from child.named_buffers(f"{prefix}{cname}.")

    def modules(self) -> Iterator["Layer"]:
        """This layer and every layer below it, depth first."""
        yield self
        for _, child in self._children.items():
            yield from child.modules()

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    # ---- state ------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Every parameter and buffer by dotted name (copies)."""
        state = {name: np.array(p.data, copy=True) for name, p in self.named_parameters()}
        for name, b in self.named_buffers():
            state[name] = np.array(b, copy=True)
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy arrays into this layer's parameters and buffers; names and shapes must match."""
        expected = dict(self.named_parameters())
        buffers = {name: owner for name, owner in self._buffer_owners()}
        missing = (set(expected) | set(buffers)) - set(state)
        unexpected = set(state) - set(expected) - set(buffers)
        if missing or unexpected:
            raise ShapeError(
                f"state does not match {type(self).__name__}: "
                f"missing {sorted(missing)}, unexpected {sorted(unexpected)}"
            )
        for name, p in expected.items():
            value = state[name]
            if value.shape != p.data.shape:
                raise ShapeError(f"parameter {name!r}: expected shape {p.data.shape}, got {value.shape}")
            p.data = np.array(value, dtype=p.data.dtype, copy=True)
        for name, (owner, bname) in buffers.items():
            old = owner._buffers[bname]
            value = state[name]
            if value.shape != np.shape(old):
                raise ShapeError(f"buffer {name!r}: expected shape {np.shape(old)}, got {value.shape}")
            owner._buffers[bname] = np.array(value, dtype=np.asarray(old).dtype, copy=True)

    def _buffer_owners(self, prefix: str = ""):
        for name in self._buffers:
            yield prefix + name, (self, name)
        for cname, child in self._children.items():
            yield from child._buffer_owners(f"{prefix}{cname}.")

    def astype(self, dtype) -> "Layer":
        """Cast every parameter and floating buffer to ``dtype`` in place (float64 for gradient checks)."""
        for layer in self.modules():
            for p in layer._params.values():
                p.data = p.data.astype(dtype)
                p.grad = None
            for name, b in layer._buffers.items():
                if np.issubdtype(np.asarray(b).dtype, np.floating):
                    layer._buffers[name] = b.astype(dtype)
            if hasattr(layer, "dtype"):
                layer.dtype = np.dtype(dtype)
        return self

    def __getstate__(self):
        # What a forward pass kept for backward (``_cache``) is not part of the layer's state:
        # copies (fold_batchnorm, the Trainer's NaN probe) and pickles leave it behind.
        state = self.__dict__.copy()
        if "_cache" in state:
            state["_cache"] = None
        return state

    # ---- messages -----------------------------------------------------------
    def describe(self) -> str:
        """Name used in error messages, e.g. ``Linear at '3'``."""
        where = f" at {self.path!r}" if self.path else ""
        return f"{type(self).__name__}{where}"

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k not in ("layers",))

    def __repr__(self) -> str:
        if not self._children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in self._children.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)


def check_input(layer: Layer, x, *, ndim: int | tuple[int, ...], features: int | None = None,
                dtype=None, feature_axis: int = 1, what: str = "input") -> None:
    """Raise a clear ShapeError/DTypeError when ``x`` does not fit ``layer``.

    ``ndim`` is the accepted number of dimensions (or a tuple of them),
    ``features`` the size expected along ``feature_axis``, ``dtype`` the dtype
    of the layer's parameters.
    """
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise DTypeError(f"{layer.describe()}: {what} must be an array, got {type(x).__name__}")
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if x.ndim not in ndims:
        want = " or ".join(str(n) for n in ndims)
        raise ShapeError(
            f"{layer.describe()}: expected a {want}-D {what}, got shape {tuple(x.shape)}"
        )
    if features is not None and x.shape[feature_axis] != features:
        raise ShapeError(
            f"{layer.describe()}: expected {features} features on axis {feature_axis}, "
            f"got {what} of shape {tuple(x.shape)}"
        )
    if dtype is not None and x.dtype != dtype:
        if not np.issubdtype(x.dtype, np.floating):
            raise DTypeError(
                f"{layer.describe()}: {what} has dtype {x.dtype}; convert it with "
                f"x.astype(np.{np.dtype(dtype).name}) (and scale images to [0, 1])"
            )
        raise DTypeError(
            f"{layer.describe()}: {what} has dtype {x.dtype} but the layer's parameters are "
            f"{np.dtype(dtype).name}; cast the input or call model.astype(np.{x.dtype.name})"
        )


class Sequential(Layer):
    """Layers applied one after another; backward runs them in reverse.

    Forward hooks ``hook(path, layer, output)`` and backward hooks
    ``hook(path, layer, dx)`` run after each child, which is how experiments
    record per-layer activations and gradients without touching the layers.
    """

    def __init__(self, *layers: Layer) -> None:
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            self.add_child(str(i), layer)
        self.forward_hooks: list[ForwardHook] = []
        self.backward_hooks: list[ForwardHook] = []

    @property
    def layers(self) -> list[Layer]:
        return list(self._children.values())

    def __len__(self) -> int:
        return len(self._children)

    def __getitem__(self, i: int) -> Layer:
        return self.layers[i]

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def append(self, layer: Layer) -> "Sequential":
        self.add_child(str(len(self._children)), layer)
        return self

    def forward(self, x, *, train: bool):
        hooks = self.forward_hooks
        for layer in self._children.values():
            x = layer.forward(x, train=train)
            for hook in hooks:
                hook(layer.path, layer, x)
        return x

    def backward(self, dout):
        hooks = self.backward_hooks
        for layer in reversed(self._children.values()):
            dout = layer.backward(dout)
            for hook in hooks:
                hook(layer.path, layer, dout)
        return dout

    def get_config(self) -> dict[str, Any]:
        return {"layers": [layer_to_spec(layer) for layer in self._children.values()]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Sequential":
        return cls(*[layer_from_spec(spec) for spec in config["layers"]])


register_layer(Sequential)


def layer_to_spec(layer: Layer) -> dict[str, Any]:
    """``{"type": class name, "config": constructor arguments}`` for JSON.

    A container whose children were replaced after construction (``fold_batchnorm``
    rewrites the Sequentials inside residual and dense blocks) no longer matches
    what its constructor builds, so its spec also lists the actual children
    under ``"children"``; :func:`layer_from_spec` puts them back.
    """
    spec = {"type": type(layer).__name__, "config": layer.get_config()}
    if layer.children_replaced:
        spec["children"] = {name: layer_to_spec(child) for name, child in layer.children()}
    return spec


def layer_from_spec(spec: dict[str, Any]) -> Layer:
    """Rebuild a layer (with fresh parameters) from :func:`layer_to_spec`'s output."""
    cls = LAYER_TYPES.get(spec["type"])
    config = dict(spec.get("config", {}))
    layer = cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)
    if "children" in spec:
        replace_children(layer, {name: layer_from_spec(child) for name, child in spec["children"].items()})
    return layer


def replace_children(layer: Layer, children: dict[str, Layer]) -> None:
    """Swap ``layer``'s children for ``children`` (same names, in order) and mark it for :func:`layer_to_spec`."""
    if list(children) != list(layer._children):
        raise ValueError(f"{layer.describe()}: children {list(children)} do not match {list(layer._children)}")
    for name, child in children.items():
        layer.add_child(name, child)
    layer.children_replaced = True


def check_pair(value, name: str, owner: str, *, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints as ``(height, width)``, each >= ``minimum`` (ConfigError otherwise)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ConfigError(f"{owner}: {name} must be an int or a pair of ints, got {value!r}")
        items = tuple(value)
    else:
        items = (value, value)
    for v in items:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ConfigError(f"{owner}: {name} must be an int or a pair of ints, got {value!r}")
        if v < minimum:
            raise ConfigError(f"{owner}: {name} must be >= {minimum}, got {value!r}")
    return int(items[0]), int(items[1])


def resolve_dtype(dtype) -> np.dtype:
    """Parameters' dtype: float32 unless asked otherwise; only floating dtypes."""
    dt = np.dtype(DEFAULT_DTYPE if dtype is None else dtype)
    if not np.issubdtype(dt, np.floating):
        raise DTypeError(f"parameters must have a floating dtype, got {dt}")
    return dt
