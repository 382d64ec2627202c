"""The one place that makes awsroles safe across ``fork()``.

A forked child has only the thread that called ``fork()``: a lock another thread held at that
moment is held forever in the child, and worker threads, queued jobs and pooled sockets are
the parent's. Objects and modules that own such state register here; after a fork the child
runs every registered reset once, before any of its own code.

* :func:`track` an object whose class defines ``_after_fork()`` (held weakly).
* :func:`on_fork` a function that resets module-level state.
"""

from __future__ import annotations

import os
import weakref

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Protocol

    class ForkAware(Protocol):
        def _after_fork(self) -> None: ...


__all__ = ["track", "on_fork"]

_objects: weakref.WeakSet[ForkAware] = weakref.WeakSet()
_functions: list[Callable[[], None]] = []


def track(obj: ForkAware) -> None:
    """Call ``obj._after_fork()`` in every child forked while ``obj`` is alive."""
    _objects.add(obj)


def on_fork(reset: Callable[[], None]) -> Callable[[], None]:
    """Call ``reset()`` in every forked child (usable as a decorator)."""
    _functions.append(reset)
    return reset


def _in_child() -> None:
    for reset in list(_functions):
        reset()
    for obj in list(_objects):
        obj._after_fork()


if hasattr(os, "register_at_fork"):  # POSIX; Windows has no fork()
    os.register_at_fork(after_in_child=_in_child)
