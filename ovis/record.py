"""Plain record classes: what the model and the engine had dataclasses for.

``dataclasses`` imports ``inspect`` and with it ``ast``, ``dis``,
``tokenize``, ``linecache``, ``copy``, ``weakref``... about fifteen modules
on every path that starts or stops a service, a few milliseconds here and
tens of them per module under an emulated CPU (anopa's stages start some 30
Pythons), and a dataclass instance carries a ``__dict__``.  A record class
declares its fields as ``__slots__`` (in ``__init__``'s positional order)
and writes its ``__init__``; these two bases give it, from ``__slots__``
alone, what the dataclass gave: equality, ``repr``, pickling, and
:func:`replace` / :func:`asdict` / :func:`fields`.

A class whose slots hold more than its fields (a cache) names its fields in
``_fields``.  :class:`Frozen` forbids assignment after ``__init__`` (which
sets through ``object.__setattr__``) and hashes its fields but those in
``_nohash``; :class:`Record` is mutable and unhashable, as a plain
dataclass is.
"""

from __future__ import annotations

from operator import attrgetter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar

    R = TypeVar("R", bound="Record")

_setattr = object.__setattr__


def _getter(names: tuple[str, ...]) -> Any:
    """A class attribute that gives an instance's values of *names* as a tuple.

    attrgetter of one name gives the value, not a 1-tuple; the lambdas are
    static so that ``self._values(self)`` does not bind them.
    """
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        name = names[0]
        return staticmethod(lambda self: (getattr(self, name),))
    return staticmethod(lambda self: ())


class Record:
    """Mutable record: ``==`` compares the fields, class and all; not hashable."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _values: Any = None  # attrgetter of the fields, set per class
    _index: dict[str, int] = {}  # field name -> position in __init__

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if "_fields" not in cls.__dict__:
            cls._fields = tuple(cls.__dict__.get("__slots__", ()))
        names = cls._fields
        cls._index = {n: i for i, n in enumerate(names)}
        cls._values = _getter(names)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values(self) == self._values(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (self.__class__.__qualname__ + "("
                + ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields) + ")")

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt through __init__ (fields in its positional order): works for
        # the frozen ones, whose __setattr__ a slot-state restore would hit.
        return (self.__class__, self._values(self))


class Frozen(Record):
    """Immutable record, hashable on its fields (but ``_nohash``)."""

    __slots__ = ()
    _nohash: tuple[str, ...] = ()
    _hashed: Any = None

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        names = tuple(n for n in cls._fields if n not in cls._nohash)
        cls._hashed = cls.__dict__["_values"] if names == cls._fields else _getter(names)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:
        return hash(self._hashed(self))


def fields(obj: Record | type[Record]) -> tuple[str, ...]:
    """The field names of a record (class or instance), in order."""
    return obj._fields


def asdict(obj: Record) -> dict[str, Any]:
    """Field name -> value (shallow: unlike dataclasses.asdict, no deep copy)."""
    return {n: getattr(obj, n) for n in obj._fields}


def replace(obj: R, **changes: Any) -> R:
    """A new record like *obj* with *changes* (dataclasses.replace: through ``__init__``)."""
    values = list(obj._values(obj))
    index = obj._index
    for n, v in changes.items():
        i = index.get(n)
        if i is None:
            raise TypeError(f"{obj.__class__.__qualname__} has no field {n!r}")
        values[i] = v
    return obj.__class__(*values)
