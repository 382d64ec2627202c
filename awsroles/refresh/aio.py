"""Refreshable credentials for asyncio: the thread driver (:mod:`.sync`) with an awaitable
front, so the refresh policy, the locks and the shared cache are exactly the sync side's.

* ``fresh``, or ``stale`` with the background worker on: served at once on the loop (a stale
  set schedules one background refresh, as in threaded code).
* anything else (nothing held, inside the mandatory window, invalidated, an inline refresh):
  the wait runs on a worker thread, never on the loop. One such wait runs at a time per
  object; every task that asks meanwhile awaits the same one, and a task cancelled while
  waiting leaves it running for the others.

Worker threads come from one small pool per process, so the loop's default executor stays
free for the application.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from .._fork import track as reset_after_fork
from ..credentials import Credentials
from .sync import RefreshableCredentials

TYPE_CHECKING = False
if TYPE_CHECKING:
    from concurrent.futures import Future
    from datetime import datetime
    from typing import Any, Awaitable, Callable, Optional, TypeVar

    from ..protocols import CredentialSource

    T = TypeVar("T")

__all__ = ["AioCredentials", "run_off_loop"]

#: Threads that wait for refreshes (and first resolutions) on behalf of event loops. Each
#: credential object has at most one waiting at a time.
_MAX_WORKERS = 32


class _Pool:
    def __init__(self) -> None:
        self._reset()
        reset_after_fork(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._executor: Optional[ThreadPoolExecutor] = None

    def _after_fork(self) -> None:
        self._reset()  # the parent's threads do not exist in the child

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(_MAX_WORKERS, thread_name_prefix="awsroles")
            return self._executor.submit(fn, *args, **kwargs)


_POOL = _Pool()


async def run_off_loop(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on awsroles' worker threads; the loop runs on meanwhile."""
    return await asyncio.wrap_future(_POOL.submit(fn, *args, **kwargs))


class AioCredentials:
    """Credentials for asyncio code: ``await get_frozen_credentials()`` follows the same
    refresh rules as ``RefreshableCredentials.get_frozen_credentials()`` and never blocks the
    event loop on I/O or a lock.

    It has aiobotocore's credentials surface (``method``, ``await get_frozen_credentials()``,
    ``await get_access_key()`` and the like, ``refresh_needed()``), so aiobotocore can sign
    with it as it is. It may be awaited from any event loop and any thread.
    """

    def __init__(self, source: CredentialSource, method: Optional[str] = None) -> None:
        #: The synchronous credential object this one drives.
        self.source = source
        self.method: str = method or getattr(source, "method", None) or "awsroles"
        self._lock = threading.Lock()
        self._waiting: Optional[Future[Credentials]] = None
        reset_after_fork(self)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._waiting = None  # its thread does not exist in the child

    async def get_frozen_credentials(self) -> Credentials:
        """A consistent credential set, refreshed first if it must be."""
        source = self.source
        if isinstance(source, Credentials):
            return source  # long-lived keys: nothing to refresh
        if isinstance(source, RefreshableCredentials):
            served = source.get_frozen_credentials_nowait()
            if served is not None:
                return served
        # One wait per object; shielded, so a cancelled task does not cancel it for others.
        return await asyncio.shield(asyncio.wrap_future(self._wait()))

    def _wait(self) -> Future[Credentials]:
        with self._lock:
            waiting = self._waiting
            if waiting is None or waiting.done():
                waiting = self._waiting = _POOL.submit(self.source.get_frozen_credentials)
            return waiting

    async def get_access_key(self) -> str:
        return (await self.get_frozen_credentials()).access_key

    async def get_secret_key(self) -> str:
        return (await self.get_frozen_credentials()).secret_key

    async def get_token(self) -> Optional[str]:
        return (await self.get_frozen_credentials()).token

    async def get_account_id(self) -> Optional[str]:
        return (await self.get_frozen_credentials()).account_id

    def get_deferred_property(self, property_name: str) -> Callable[[], Awaitable[Any]]:
        """botocore's deferred read, as aiobotocore takes it: a function whose call gives an
        awaitable of the property (``account_id``: ``get_account_id()``)."""
        getter: Callable[[], Awaitable[Any]] = getattr(self, f"get_{property_name}")
        return getter

    @property
    def expiry(self) -> Optional[datetime]:
        """When the held set expires (None for long-lived keys, or before the first fetch)."""
        return getattr(self.source, "expiry", None)

    def refresh_needed(self, refresh_in: Optional[float] = None) -> bool:
        """Whether the held set is due for a refresh (``refresh_in``: whether it has less
        than that many seconds left)."""
        check = getattr(self.source, "refresh_needed", None)
        return bool(check(refresh_in)) if check is not None else False

    async def invalidate(self, access_key: Optional[str] = None) -> bool:
        """Mark the held set unusable (with ``access_key``: only if it is still held); the
        next use refreshes once and never takes the rejected set again from the shared cache.
        Returns whether the mark was set."""
        invalidate = getattr(self.source, "invalidate", None)
        if invalidate is None:
            return False
        # dropping the rejected set from the shared cache takes the entry's file lock
        return bool(await run_off_loop(invalidate, access_key))

    def __repr__(self) -> str:
        return f"AioCredentials({self.source!r})"
