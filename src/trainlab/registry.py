"""A name -> object table that lists the valid names when a lookup fails."""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from trainlab.errors import UnknownNameError

T = TypeVar("T")


def normalise_name(name: str) -> str:
    """Lower-case a name and treat '-', '_' and ' ' alike ('Leaky_ReLU' == 'leaky-relu')."""
    return name.strip().lower().replace("_", "-").replace(" ", "-")


class Registry(Generic[T]):
    """Named objects of one kind (optimizers, initialisers, schedules, ...).

    Parameters
    ----------
    kind : str
        What the registry holds, used in error messages ("optimizer").
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def add(self, name: str, item: T, *, aliases: tuple[str, ...] = ()) -> T:
        key = normalise_name(name)
        if key in self._items or key in self._aliases:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._items[key] = item
        for alias in aliases:
            self._aliases[normalise_name(alias)] = key
        return item

    def register(self, name: str, *, aliases: tuple[str, ...] = ()) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def decorate(item: T) -> T:
            return self.add(name, item, aliases=aliases)

        return decorate

    def canonical(self, name: str) -> str:
        """The registered name for ``name`` or an alias of it."""
        if not isinstance(name, str):
            raise UnknownNameError(
                f"{self.kind} name must be a string, got {type(name).__name__}; "
                f"valid names: {', '.join(self.names())}"
            )
        key = normalise_name(name)
        key = self._aliases.get(key, key)
        if key not in self._items:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; valid names: {', '.join(self.names())}"
            )
        return key

    def get(self, name: str) -> T:
        return self._items[self.canonical(name)]

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._items)

    def names_in_order(self) -> list[str]:
        """Registered names in the order they were added."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = normalise_name(name)
        return key in self._items or key in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
