"""Small immutable records, instead of ``dataclasses`` on the warm-start path.

``dataclasses`` imports ``inspect`` and generates code for every class: about 1 ms per class
and 10 ms for the import, paid by every process that resolves a cached profile. A record
declares its fields as annotations (with class-level defaults) and gets a keyword/positional
``__init__``, equality, hashing, a ``repr`` that leaves out ``_hidden`` fields, immutability
and ``replace()``; a ``__post_init__`` runs after ``__init__`` when defined.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Dict, FrozenSet, Tuple

__all__ = ["Record", "MutableRecord"]

_MISSING = object()


class Record:
    _fields: ClassVar[Tuple[str, ...]] = ()
    _defaults: ClassVar[Dict[str, Any]] = {}
    #: field name -> zero-argument callable making a fresh default (e.g. ``dict``)
    _factories: ClassVar[Dict[str, Callable[[], Any]]] = {}
    #: fields left out of repr (secrets)
    _hidden: ClassVar[FrozenSet[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = list(cls._fields)
        defaults = dict(cls._defaults)
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():
            if name.startswith("_") or "ClassVar" in str(annotation):
                continue
            if name not in fields:
                fields.append(name)
            if name in cls.__dict__:
                defaults[name] = cls.__dict__[name]
                delattr(cls, name)  # the value lives on instances
        cls._fields = tuple(fields)
        cls._defaults = defaults
        cls._hidden = frozenset(cls.__dict__.get("_hidden", cls._hidden))

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
        raise AttributeError(f"cannot assign to field {name!r}: {type(self).__name__} is frozen")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: {type(self).__name__} is frozen")

    def __eq__(self, other: Any) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__,) + self._values())

    def __repr__(self) -> str:
        d = self.__dict__
        shown = ", ".join(f"{n}={d[n]!r}" for n in self._fields if n not in self._hidden)
        return f"{type(self).__name__}({shown})"

    def replace(self, **changes: Any) -> Any:
        values = {name: self.__dict__[name] for name in self._fields}
        values.update(changes)
        return type(self)(**values)


class MutableRecord(Record):
    """A record whose fields may be reassigned (not hashable)."""

    __hash__ = None  # type: ignore[assignment]

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        object.__delattr__(self, name)
