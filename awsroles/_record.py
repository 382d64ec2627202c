"""Small records, instead of ``dataclasses`` on the warm-start path.

``dataclasses`` imports ``inspect`` and generates code for every class, paid by every
process that resolves a cached profile. A record declares its fields as annotations (with
class-level defaults, or :func:`field` for a fresh default per record) and gets a
keyword/positional ``__init__``, equality, hashing, a ``repr`` that leaves out ``_hidden``
fields, immutability and ``replace()``; a ``__post_init__`` runs after ``__init__`` when
defined. ``class Bag(Record, frozen=False)`` makes one whose fields may be reassigned (not
hashable). Type checkers see records as dataclasses (``dataclass_transform``).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, ClassVar, Dict, FrozenSet, Tuple, TypeVar

    from typing_extensions import dataclass_transform

    _R = TypeVar("_R", bound="Record")
else:

    def dataclass_transform(**kwargs):
        return lambda cls: cls


__all__ = ["Record", "field"]

_MISSING = object()


class _Factory:
    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def field(*, default_factory: Callable[[], Any]) -> Any:
    """A field whose default is made fresh for each record: ``field(default_factory=dict)``."""
    return _Factory(default_factory)


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class Record:
    _fields: ClassVar[Tuple[str, ...]] = ()
    _defaults: ClassVar[Dict[str, Any]] = {}
    #: field name -> zero-argument callable making a fresh default (e.g. ``dict``)
    _factories: ClassVar[Dict[str, Callable[[], Any]]] = {}
    #: fields left out of repr (secrets)
    _hidden: ClassVar[FrozenSet[str]] = frozenset()
    _frozen: ClassVar[bool] = True

    def __init_subclass__(cls, frozen: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = list(cls._fields)
        defaults = dict(cls._defaults)
        factories = dict(cls._factories)
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():
            if name.startswith("_") or "ClassVar" in str(annotation):
                continue
            if name not in fields:
                fields.append(name)
            if name in cls.__dict__:
                value = cls.__dict__[name]
                if isinstance(value, _Factory):
                    factories[name] = value.make
                else:
                    defaults[name] = value
                delattr(cls, name)  # the value lives on instances
        cls._fields = tuple(fields)
        cls._defaults = defaults
        cls._factories = factories
        cls._hidden = frozenset(cls.__dict__.get("_hidden", cls._hidden))
        cls._frozen = frozen
        if not frozen:  # mutable: not hashable
            type.__setattr__(cls, "__hash__", None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields = self._fields
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__name__}() takes at most {len(fields)} arguments")
        values = dict(zip(fields, args))
        for name, value in kwargs.items():
            if name not in fields:
                raise TypeError(f"{type(self).__name__}() got an unexpected argument {name!r}")
            if name in values:
                raise TypeError(f"{type(self).__name__}() got {name!r} twice")
            values[name] = value
        for name in fields:
            if name not in values:
                default = self._defaults.get(name, _MISSING)
                if default is not _MISSING:
                    values[name] = default
                elif name in self._factories:
                    values[name] = self._factories[name]()
                else:
                    raise TypeError(f"{type(self).__name__}() missing argument {name!r}")
        self.__dict__.update(values)
        post = getattr(self, "__post_init__", None)
        if post is not None:
            post()

    def _values(self) -> Tuple[Any, ...]:
        d = self.__dict__
        return tuple(d[name] for name in self._fields)

    def __setattr__(self, name: str, value: Any) -> None:
        if self._frozen:
            raise AttributeError(
                f"cannot assign to field {name!r}: {type(self).__name__} is frozen"
            )
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if self._frozen:
            raise AttributeError(f"cannot delete field {name!r}: {type(self).__name__} is frozen")
        object.__delattr__(self, name)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Record)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__,) + self._values())

    def __repr__(self) -> str:
        d = self.__dict__
        shown = ", ".join(f"{n}={d[n]!r}" for n in self._fields if n not in self._hidden)
        return f"{type(self).__name__}({shown})"

    def replace(self: _R, **changes: Any) -> _R:
        values = {name: self.__dict__[name] for name in self._fields}
        values.update(changes)
        return type(self)(**values)
