"""The credential cache, shared with the AWS CLI's ``~/.aws/cli/cache``.

File names and content follow botocore exactly (reference §5): ``<sha1 of the AssumeRole
arguments>.json`` holding the STS response as one line of JSON. Unlike botocore, a cache that
cannot be read or written is never fatal: a bad entry is a miss, a failed write returns False
and logs one warning, and no log record or exception ever carries a secret.

This module sits on the cache-hit fast path: it imports neither requests nor botocore, imports
the lock code only when a lock is taken, and ``dateutil`` only for unusual ``Expiration`` formats.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Mapping, Optional

from .._files import O_BINARY, O_CLOEXEC, O_NOFOLLOW, read_small_file
from .._log import get_logger
from .entry import (  # noqa: F401 - the key and entry helpers are part of this API
    _MAX_ENTRY_BYTES,
    REQUIRED_FIELDS,
    _check_key,
    _parse_entry,
    _parse_time,
    _serialise,
    cache_key,
    default_cache_dir,
    entry_expiry,
    is_valid_entry,
)

try:
    from typing import Protocol
except ImportError:  # pragma: no cover
    Protocol = object  # type: ignore[assignment,misc]

__all__ = [
    "CredentialCache",
    "FileCache",
    "MemoryCache",
    "NoCache",
    "cache_key",
    "default_cache_dir",
    "entry_expiry",
    "is_valid_entry",
]

logger = get_logger(__name__)

_LOCK_SUFFIX = ".json.lock"


# --- the protocol ---------------------------------------------------------------------------


class CredentialCache(Protocol):
    """What the providers need from a cache. Keys are :func:`cache_key` values."""

    def load(self, key: str) -> Optional[Dict[str, Any]]: ...

    def store(self, key: str, data: Mapping[str, Any]) -> bool: ...

    def lock(self, key: str, timeout: float = 10.0) -> Any: ...

    def delete(self, key: str) -> bool: ...

    def keys(self) -> List[str]: ...


class _KeyLock:
    """A per-key lock that is re-entrant within one thread and can time out."""

    __slots__ = ("lock", "depth")

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.depth = 0


_KEY_LOCKS: Dict[str, _KeyLock] = {}  # shared by every FileCache on the same path
_KEY_LOCKS_GUARD = threading.Lock()


def _after_fork_in_child() -> None:
    """A lock held by a parent's thread at fork() would never be released in the child."""
    global _KEY_LOCKS_GUARD
    _KEY_LOCKS_GUARD = threading.Lock()
    _KEY_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _key_lock(table: Dict[str, _KeyLock], name: str) -> _KeyLock:
    with _KEY_LOCKS_GUARD:
        entry = table.get(name)
        if entry is None:
            entry = table[name] = _KeyLock()
        return entry


def _check_timeout(timeout: float) -> float:
    timeout = float(timeout)
    if not timeout >= 0:
        raise ValueError("lock timeout must be a non-negative number of seconds")
    return timeout


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
        _serialise(data)  # the same programming errors as the other caches
        return False

    @contextmanager
    def lock(self, key: str, timeout: float = 10.0) -> Iterator[bool]:
        _check_timeout(timeout)
        yield True

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
        self._locks: Dict[str, _KeyLock] = {}

    def load(self, key: str) -> Optional[Dict[str, Any]]:
        text = self._entries.get(key)
        if text is None:
            return None
        return _parse_entry(text.encode("ascii"), key, "memory")

    def store(self, key: str, data: Mapping[str, Any]) -> bool:
        self._entries[key] = _serialise(data)
        return True

    @contextmanager
    def lock(self, key: str, timeout: float = 10.0) -> Iterator[bool]:
        entry = _key_lock(self._locks, key)
        with _held(entry, key, _check_timeout(timeout), "memory") as held:
            yield held

    def delete(self, key: str) -> bool:
        return self._entries.pop(key, None) is not None

    def keys(self) -> List[str]:
        return sorted(self._entries)

    def __repr__(self) -> str:
        return f"MemoryCache(<{len(self._entries)} entries>)"


@contextmanager
def _held(entry: _KeyLock, key: str, timeout: float, where: str) -> Iterator[bool]:
    """Hold ``entry``'s thread lock; on timeout warn and go on without it (yield False)."""
    if timeout <= 0:
        acquired = entry.lock.acquire(blocking=False)
    else:
        acquired = entry.lock.acquire(timeout=min(timeout, threading.TIMEOUT_MAX))
    if not acquired:
        msg = "credential cache: waited %.1f s for the lock on %s in %s; going on without it"
        logger.warning(msg, timeout, key, where)
        yield False
        return
    entry.depth += 1
    try:
        yield True
    finally:
        entry.depth -= 1
        entry.lock.release()


class FileCache(_CacheBase):
    """``<directory>/<key>.json`` files, byte-compatible with botocore's ``JSONFileCache``.

    Locks are ``<key>.json.lock`` files (``flock`` on POSIX, ``filelock`` elsewhere, see
    :mod:`awsroles.cache.lock`; the kernel drops a lock when its holder dies). The CLI only ever
    opens ``<key>.json``, so it ignores them.
    """

    def __init__(self, directory: str) -> None:
        self.directory = os.fspath(directory)
        self._warned = False
        self._warn_guard = threading.Lock()

    def __repr__(self) -> str:
        return f"FileCache({self.directory!r})"

    def path(self, key: str) -> str:
        return os.path.join(self.directory, _check_key(key) + ".json")

    # reading ---------------------------------------------------------------------------------

    def load(self, key: str) -> Optional[Dict[str, Any]]:
        try:  # a FIFO or device planted at the path is refused, never waited on
            raw = read_small_file(self.path(key), _MAX_ENTRY_BYTES)
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.debug("credential cache miss for %s: cannot read (%s)", key, _errname(exc))
            return None
        if len(raw) > _MAX_ENTRY_BYTES:
            logger.debug("credential cache miss for %s: file too large", key)
            return None
        return _parse_entry(raw, key, self.directory)

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
        """Write atomically; False (and one warning per instance) when the disk refuses."""
        final = self.path(key)
        payload = _serialise(data).encode("ascii")
        tmp = None
        fd = -1
        try:
            self._ensure_directory()
            fd, tmp = self._create_temp(key)
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)  # exactly 0600 whatever the umask
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            os.close(fd)
            fd = -1
            os.replace(tmp, final)  # replaces a symlink at `final`, never writes through it
            tmp = None
            return True
        except OSError as exc:
            self._warn_unwritable(exc)
            return False
        finally:
            if fd >= 0:
                os.close(fd)
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    def _create_temp(self, key: str) -> tuple[int, str]:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_BINARY
        for _ in range(100):
            tmp = os.path.join(self.directory, f".{key}.{os.urandom(6).hex()}.tmp")
            try:
                return os.open(tmp, flags, 0o600), tmp
            except FileExistsError:  # O_EXCL: also refuses a planted symlink
                continue
        raise FileExistsError(errno.EEXIST, "no free temporary file name")  # pragma: no cover

    def _ensure_directory(self) -> None:
        """Create missing directories 0700 (botocore: umask default). Existing ones are kept."""
        if os.path.isdir(self.directory):
            return
        missing = []
        path = os.path.abspath(self.directory)
        while not os.path.lexists(path):
            missing.append(path)
            parent = os.path.dirname(path)
            if parent == path:  # pragma: no cover
                break
            path = parent
        for path in reversed(missing):
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                if not os.path.isdir(path):
                    raise
                continue
            if os.name != "nt":
                os.chmod(path, 0o700)  # the umask may have removed owner bits
        if not os.path.isdir(self.directory):
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", self.directory)

    def _warn_unwritable(self, exc: OSError) -> None:
        with self._warn_guard:
            first = not self._warned
            self._warned = True
        msg = "credential cache %s is not writable (%s); credentials kept in memory only"
        logger.log(30 if first else 10, msg, self.directory, _errname(exc))  # WARNING / DEBUG

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

    @contextmanager
    def lock(self, key: str, timeout: float = 10.0) -> Iterator[bool]:
        """Hold the cross-process lock for ``key``; yields False when it went on without it.

        Threads of this process queue on an in-process lock first, then processes on the lock
        file. A timeout or an unusable lock file logs a warning and proceeds unlocked, so a
        stuck holder can delay a caller by at most ``timeout`` seconds, never block it.
        """
        timeout = _check_timeout(timeout)
        lock_path = os.path.join(self.directory, _check_key(key) + _LOCK_SUFFIX)
        deadline = time.monotonic() + timeout
        entry = _key_lock(_KEY_LOCKS, os.path.abspath(lock_path))
        with _held(entry, key, timeout, self.directory) as held:
            if not held or entry.depth > 1:  # timed out, or re-entered by this thread
                yield held
                return
            file_lock = self._file_lock(lock_path, key, max(0.0, deadline - time.monotonic()))
            try:
                yield file_lock is not None
            finally:
                if file_lock is not None:
                    try:
                        file_lock.release()
                    except OSError as exc:  # pragma: no cover
                        logger.debug("credential cache: unlocking %s: %s", key, _errname(exc))

    def _file_lock(self, lock_path: str, key: str, timeout: float) -> Any:
        """The lock file is created 0600 and never through a planted symlink (_flock)."""
        from .lock import LockTimeout, acquire

        try:
            self._ensure_directory()
            return acquire(lock_path, timeout, poll_interval=0.05)
        except LockTimeout:
            msg = "credential cache: waited %.1f s for %s; going on without the lock"
            logger.warning(msg, timeout, lock_path)
        except ImportError:  # no flock here and filelock not installed: a broken install
            logger.warning("credential cache: filelock is not installed; not locking %s", key)
        except OSError as exc:
            self._warn_unwritable(exc)
        except Exception as exc:  # a lock library misbehaving must not stop resolution
            msg = "credential cache: cannot lock %s (%s); going on without the lock"
            logger.warning(msg, key, type(exc).__name__)
        return None


def _errname(exc: OSError) -> str:
    """An OSError described without its file names or arguments (which could be anything)."""
    code = errno.errorcode.get(exc.errno or 0, "")
    text = exc.strerror or type(exc).__name__
    return f"{code}: {text}" if code else text
