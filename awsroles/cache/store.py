"""Where entries are kept: the AWS CLI's directory (:class:`FileCache`), memory
(:class:`MemoryCache`) or nowhere (:class:`NoCache`), each with a per-entry lock.

File names and content follow botocore's ``JSONFileCache`` exactly (:mod:`.key`,
:mod:`.entry`). Unlike botocore, a cache that cannot be read or written is never fatal: a bad
entry is a miss, a failed write returns False and logs one warning, and no log record or
exception ever carries a secret.
"""

from __future__ import annotations

import errno
import os
import threading
import time

from .._files import atomic_write, make_private_dirs, read_small_file
from .._fork import track as reset_after_fork
from .._log import get_logger
from .entry import MAX_ENTRY_BYTES, parse_entry, serialise
from .key import check_key

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Set, Tuple

    from .lock import Handle

__all__ = ["FileCache", "MemoryCache", "NoCache"]

logger = get_logger("awsroles.cache")

_LOCK_SUFFIX = ".json.lock"


class _KeyLock:
    """A per-key lock that is re-entrant within one thread and can time out."""

    __slots__ = ("lock", "depth")

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.depth = 0


class _KeyLocks:
    """The in-process locks of one cache, by key; replaced in a forked child (a lock another
    thread held at fork() would never be released there)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: Dict[str, _KeyLock] = {}
        reset_after_fork(self)

    def _after_fork(self) -> None:
        self._guard = threading.Lock()
        self._locks = {}

    def get(self, name: str) -> _KeyLock:
        with self._guard:
            entry = self._locks.get(name)
            if entry is None:
                entry = self._locks[name] = _KeyLock()
            return entry


#: Shared by every FileCache, keyed by the lock file's absolute path.
_FILE_KEY_LOCKS = _KeyLocks()


def _check_timeout(timeout: float) -> float:
    timeout = float(timeout)
    if not timeout >= 0:
        raise ValueError("lock timeout must be a non-negative number of seconds")
    return timeout


class _Held:
    """``with cache.lock(key, timeout) as held``: the in-process lock, then (for the outermost
    holder in this thread) ``outer(seconds left)``, which may take a cross-process lock.
    ``held`` is False when either could not be had in time; the caller then goes on without
    it, so a stuck holder delays a caller by at most ``timeout``, never blocks it."""

    def __init__(
        self,
        entry: _KeyLock,
        key: str,
        timeout: float,
        where: str,
        outer: Optional[Callable[[float], Optional[Handle]]] = None,
    ) -> None:
        self._entry, self._key, self._where, self._outer = entry, key, where, outer
        self._timeout = timeout
        self._deadline = time.monotonic() + timeout
        self._acquired = False
        self._handle: Optional[Handle] = None

    def __enter__(self) -> bool:
        entry, timeout = self._entry, self._timeout
        if timeout <= 0:
            acquired = entry.lock.acquire(blocking=False)
        else:
            acquired = entry.lock.acquire(timeout=min(timeout, threading.TIMEOUT_MAX))
        if not acquired:
            msg = "credential cache: waited %.1f s for the lock on %s in %s; going on without it"
            logger.warning(msg, timeout, self._key, self._where)
            return False
        self._acquired = True
        entry.depth += 1
        if self._outer is None or entry.depth > 1:  # no file lock, or re-entered
            return True
        self._handle = self._outer(max(0.0, self._deadline - time.monotonic()))
        return self._handle is not None

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if not self._acquired:
            return
        if self._handle is not None:
            try:
                self._handle.release()
            except OSError as error:  # pragma: no cover
                logger.debug("credential cache: unlocking %s: %s", self._key, _errname(error))
        self._entry.depth -= 1
        self._entry.lock.release()


class _Unlocked:
    """The lock of a cache that keeps nothing: always held, nothing to wait for."""

    def __enter__(self) -> bool:
        return True

    def __exit__(self, *exc: object) -> None:
        return None


class _CacheBase:
    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def keys(self) -> List[str]:  # pragma: no cover - overridden
        raise NotImplementedError


class NoCache(_CacheBase):
    """Caches nothing: every load misses, every store is dropped, locks are no-ops."""

    def load(self, key: str) -> Optional[Dict[str, Any]]:
        return None

    def store(self, key: str, data: Mapping[str, Any]) -> bool:
        serialise(data)  # the same programming errors as the other caches
        return False

    def lock(self, key: str, timeout: float = 10.0) -> _Unlocked:
        _check_timeout(timeout)
        return _Unlocked()

    def delete(self, key: str) -> bool:
        return False

    def keys(self) -> List[str]:
        return []

    def __repr__(self) -> str:
        return "NoCache()"


class MemoryCache(_CacheBase):
    """An in-process cache holding the serialised text, so loads return fresh copies."""

    def __init__(self) -> None:
        self._entries: Dict[str, str] = {}
        self._locks = _KeyLocks()

    def load(self, key: str) -> Optional[Dict[str, Any]]:
        text = self._entries.get(key)
        if text is None:
            return None
        return parse_entry(text.encode("ascii"), key, "memory")

    def store(self, key: str, data: Mapping[str, Any]) -> bool:
        self._entries[key] = serialise(data)
        return True

    def lock(self, key: str, timeout: float = 10.0) -> _Held:
        return _Held(self._locks.get(key), key, _check_timeout(timeout), "memory")

    def delete(self, key: str) -> bool:
        return self._entries.pop(key, None) is not None

    def keys(self) -> List[str]:
        return sorted(self._entries)

    def __repr__(self) -> str:
        return f"MemoryCache(<{len(self._entries)} entries>)"


class FileCache(_CacheBase):
    """``<directory>/<key>.json`` files, byte-compatible with botocore's ``JSONFileCache``.

    Locks are ``<key>.json.lock`` files (``flock`` on POSIX, ``filelock`` elsewhere, see
    :mod:`awsroles.cache.lock`; the kernel drops a lock when its holder dies). The CLI only
    ever opens ``<key>.json``, so it ignores them.
    """

    def __init__(self, directory: str) -> None:
        self.directory = os.fspath(directory)
        self._checked = False

    def __repr__(self) -> str:
        return f"FileCache({self.directory!r})"

    def path(self, key: str) -> str:
        return os.path.join(self.directory, check_key(key) + ".json")

    # reading ---------------------------------------------------------------------------------

    def load(self, key: str) -> Optional[Dict[str, Any]]:
        if not self._checked:
            self._checked = True
            _check_directory(self.directory)
        try:  # a FIFO or device planted at the path is refused, never waited on
            raw = read_small_file(self.path(key), MAX_ENTRY_BYTES)
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.debug("credential cache miss for %s: cannot read (%s)", key, _errname(exc))
            return None
        if len(raw) > MAX_ENTRY_BYTES:
            logger.debug("credential cache miss for %s: file too large", key)
            return None
        return parse_entry(raw, key, self.directory)

    def keys(self) -> List[str]:
        try:
            names = os.listdir(self.directory)
        except OSError:
            return []
        return sorted(
            n[:-5] for n in names if n.endswith(".json") and not n.startswith(".") and len(n) > 5
        )

    # writing ---------------------------------------------------------------------------------

    def store(self, key: str, data: Mapping[str, Any]) -> bool:
        """Write atomically; False (and one warning per instance) when the disk refuses.
        Missing directories are created 0700 (botocore leaves them to the umask)."""
        final = self.path(key)
        payload = serialise(data).encode("ascii")
        try:
            make_private_dirs(self.directory)
            atomic_write(final, payload)
        except OSError as exc:
            self._warn_unwritable(exc)
            return False
        return True

    def _warn_unwritable(self, exc: OSError) -> None:
        msg = "credential cache %s is not writable (%s); credentials kept in memory only"
        level = _level("unwritable", self.directory)
        logger.log(level, msg, self.directory, _errname(exc))

    def delete(self, key: str) -> bool:
        """Remove ``<key>.json``. The lock file stays: removing it could break a holder's lock."""
        try:
            os.unlink(self.path(key))
        except FileNotFoundError:
            return False
        except OSError as exc:
            logger.debug("credential cache: cannot delete %s (%s)", key, _errname(exc))
            return False
        return True

    # locking ---------------------------------------------------------------------------------

    def lock(self, key: str, timeout: float = 10.0) -> _Held:
        """The cross-process lock for ``key``: threads of this process queue on an in-process
        lock first, then processes on the lock file. A timeout or an unusable lock file logs
        a warning and the caller goes on without it (``held`` is False)."""
        timeout = _check_timeout(timeout)
        lock_path = os.path.join(self.directory, check_key(key) + _LOCK_SUFFIX)
        entry = _FILE_KEY_LOCKS.get(os.path.abspath(lock_path))

        def file_lock(seconds: float) -> Optional[Handle]:
            return self._file_lock(lock_path, key, seconds)

        return _Held(entry, key, timeout, self.directory, file_lock)

    def _file_lock(self, lock_path: str, key: str, timeout: float) -> Optional[Handle]:
        """The lock file is created 0600 and never through a planted symlink (.lock)."""
        from .lock import LockTimeout, acquire

        try:
            make_private_dirs(self.directory)
        except OSError as exc:  # the cache itself cannot be written: one warning says so
            self._warn_unwritable(exc)
            return None
        if not self._checked:
            self._checked = True
            _check_directory(self.directory)
        try:
            return acquire(lock_path, timeout, poll_interval=0.05)
        except LockTimeout:
            msg = "credential cache: waited %.1f s for %s; going on without the lock"
            logger.warning(msg, timeout, lock_path)
        except ImportError:  # no flock here and filelock not installed: a broken install
            logger.warning("credential cache: filelock is not installed; not locking %s", key)
        except OSError as exc:  # a lock file owned by someone else, a planted symlink, ...
            why = (
                "it is a symbolic link, which awsroles never follows"
                if exc.errno == errno.ELOOP
                else _errname(exc)
            )
            msg = "credential cache: cannot use the lock file %s (%s); going on without the lock"
            logger.log(_level("lock file", self.directory), msg, lock_path, why)
        except Exception as exc:  # a lock library misbehaving must not stop resolution
            msg = "credential cache: cannot lock %s (%s); going on without the lock"
            logger.warning(msg, key, type(exc).__name__)
        return None


#: Cache directories already checked, and (kind, directory) pairs already warned about, in
#: this process: a long-running program resolving again and again warns once, not each time.
_CHECKED_DIRECTORIES: Set[str] = set()
_WARNED: Set[Tuple[str, str]] = set()
_ONCE = threading.Lock()


def _level(kind: str, directory: str) -> int:
    """WARNING the first time this process meets this kind of problem with ``directory``,
    DEBUG afterwards."""
    key = (kind, os.path.abspath(directory))
    with _ONCE:
        first = key not in _WARNED
        _WARNED.add(key)
    return 30 if first else 10


def _check_directory(directory: str) -> None:
    """Warn once per process when the cache directory is writable by other users (anyone
    could plant an entry there) or belongs to another user. It is used anyway, as botocore
    uses it; a missing directory is created private when an entry is first written."""
    if os.name == "nt":
        return
    directory = os.path.abspath(directory)
    with _ONCE:
        if directory in _CHECKED_DIRECTORIES:
            return
        _CHECKED_DIRECTORIES.add(directory)
    try:
        st = os.stat(directory)
    except OSError:
        return
    if st.st_mode & 0o002:
        why = "is writable by every user"
    elif st.st_uid != os.getuid():
        why = "belongs to another user"
    else:
        return
    logger.warning(
        "credential cache %s %s: another user could plant credentials there. awsroles uses "
        "it anyway; make it yours and private (chmod 700)",
        directory,
        why,
    )


def _errname(exc: OSError) -> str:
    """An OSError described without its file names or arguments (which could be anything)."""
    code = errno.errorcode.get(exc.errno or 0, "")
    text = exc.strerror or type(exc).__name__
    return f"{code}: {text}" if code else text
