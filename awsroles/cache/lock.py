"""The cross-process lock on a cache entry's ``<key>.json.lock`` file.

On POSIX this is the ``flock(2)`` call that ``filelock.UnixFileLock`` makes, on the same file,
so processes using either exclude each other; making it directly spares a cold start the
import of filelock, which is slow. Where ``flock`` is not available (Windows, or a file
system that refuses it) the lock is ``filelock.FileLock``, with its fallbacks.

The kernel drops an ``flock`` when its holder dies, so a killed holder never blocks anyone.
"""

from __future__ import annotations

import errno
import os
import time

from .._files import O_CLOEXEC, O_NOFOLLOW
from .._fork import on_fork

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol, Set

    class Handle(Protocol):
        """A held lock."""

        def release(self) -> None: ...


try:
    import fcntl

    _HAVE_FLOCK = True
except ImportError:  # pragma: no cover - Windows
    _HAVE_FLOCK = False

__all__ = ["LockTimeout", "acquire", "Handle"]

#: errno values meaning "this file system does not do flock": use filelock instead.
_UNSUPPORTED = frozenset(
    getattr(errno, name)
    for name in ("ENOSYS", "EOPNOTSUPP", "ENOTSUP", "ENOLCK", "EINVAL")
    if hasattr(errno, name)
)


class LockTimeout(Exception):
    """The lock was still held by another process when the timeout ran out."""


class _Flock:
    __slots__ = ("fd", "__weakref__")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        _HELD.add(self)

    def release(self) -> None:
        _HELD.discard(self)
        fd, self.fd = self.fd, -1
        if fd < 0:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def disown(self) -> None:
        """Close this process's descriptor without unlocking: the lock stays with the
        other processes that hold the same open file (a forked child's parent)."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)


#: The locks this process holds. A forked child inherits their descriptors, and a flock
#: belongs to the open file, so the child would hold the lock for as long as it lives, even
#: after the parent died: the child closes its copies at once (it never unlocks them).
_HELD: Set[_Flock] = set()


@on_fork
def _disown_inherited() -> None:
    for handle in list(_HELD):
        handle.disown()
    _HELD.clear()


class _FileLock:
    __slots__ = ("lock",)

    def __init__(self, lock: Any) -> None:
        self.lock = lock

    def release(self) -> None:
        self.lock.release()


def acquire(path: str, timeout: float, poll_interval: float = 0.05) -> Handle:
    """Lock ``path`` (created 0600 if missing, never through a symlink) within ``timeout``
    seconds; return a handle whose ``release()`` unlocks it. Raises :class:`LockTimeout`, or
    ``OSError`` when the file cannot be opened."""
    if not _HAVE_FLOCK:  # filelock would wait forever on a negative timeout: make it one try
        return _filelock(path, max(0.0, timeout), poll_interval)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return _Flock(fd)
            except OSError as exc:
                if exc.errno in _UNSUPPORTED:
                    os.close(fd)
                    fd = -1
                    return _filelock(path, max(0.0, deadline - time.monotonic()), poll_interval)
                if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES, errno.EINTR):
                    raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise LockTimeout(path)
            time.sleep(min(poll_interval, left))
    except BaseException:
        if fd >= 0:
            os.close(fd)
        raise


def _filelock(path: str, timeout: float, poll_interval: float) -> _FileLock:
    import filelock

    # Create the file first: 0600, and never through a symlink (older filelock versions follow
    # one). Then ask filelock for 0600 too: its default is 0644, which newer versions set on
    # every acquire; versions before 3.10 have no ``mode=`` (and leave the file as made).
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600))
    try:
        lock = filelock.FileLock(path, mode=0o600)
    except TypeError:
        lock = filelock.FileLock(path)
    try:
        lock.acquire(timeout=timeout, poll_interval=poll_interval)
    except filelock.Timeout:
        raise LockTimeout(path) from None
    return _FileLock(lock)
