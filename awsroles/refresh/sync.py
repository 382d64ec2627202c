"""Refreshable credentials for threaded code: the refresh policy of ``policy``, driven
with a lock and a background worker.

* ``fresh``: served lock-free, no refresh.
* ``stale``: served at once; one background refresh starts (``background``).
* ``invalid`` (nothing held yet, inside the mandatory window, or invalidated): the caller
  waits for a refresh; one runs at a time per object, and the threads that waited reuse its
  result.
"""

from __future__ import annotations

import threading

from .._fork import track as reset_after_fork
from ..errors import AwsRolesError
from .policy import Mode, RefreshState, State

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any, Callable, Optional

    from ..credentials import Credentials
    from ..protocols import Clock
    from .policy import Fetch

__all__ = ["RefreshableCredentials"]


class RefreshableCredentials:
    """Credentials that refresh themselves before they expire; thread-safe.

    ``fetch(mode, current)`` returns a new ``Credentials``;
    ``mode`` is a ``Mode`` (``ADVISORY`` runs in the background
    and must not prompt) and ``current`` is the set held now (or None). ``forget(access_key)``,
    when given, is told of a set that was invalidated (to drop it from a shared cache).

    It has botocore's ``Credentials`` surface (``access_key``, ``secret_key``, ``token``,
    ``method``, ``get_frozen_credentials()``, ``refresh_needed()``,
    ``get_deferred_property()``), so botocore can sign with it as it is.
    """

    def __init__(
        self,
        fetch: Fetch,
        *,
        method: str,
        clock: Optional[Clock] = None,
        advisory_timeout: Optional[float] = None,
        mandatory_timeout: Optional[float] = None,
        initial: Optional[Credentials] = None,
        background_refresh: bool = True,
        label: str = "",
        forget: Optional[Callable[[str], None]] = None,
    ) -> None:
        if clock is None:
            from ..clock import SYSTEM_CLOCK

            clock = SYSTEM_CLOCK
        self._fetch = fetch
        self._forget = forget
        self.method = method
        self._background = background_refresh
        self._policy = RefreshState(
            clock, advisory=advisory_timeout, mandatory=mandatory_timeout, label=label or method
        )
        self._lock = threading.Lock()
        self._scheduled = False  # a background refresh is queued or running
        reset_after_fork(self)
        if initial is not None:
            self._policy.install(initial)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._scheduled = False  # the parent's worker thread does not exist here

    # --- public API ------------------------------------------------------------------------

    def get_frozen_credentials(self) -> Credentials:
        """A consistent credential set, refreshed first if it must be."""
        current = self._policy.current
        state = self._policy.state(current)
        if state is State.FRESH and current is not None:
            return current
        if state is State.STALE and current is not None:
            self._kick_background()
            return self._policy.current or current
        return self._refresh_blocking()

    def get_frozen_credentials_nowait(self) -> Optional[Credentials]:
        """The set ``get_frozen_credentials()`` would return if it can be had without waiting
        for any I/O: the held set when fresh, or when stale and the background worker
        refreshes it (one refresh is then scheduled). None when the caller would wait (nothing
        held, inside the mandatory window, invalidated, or an inline refresh is due). For
        event-loop drivers, which run the waiting path off the loop."""
        current = self._policy.current
        if current is None:
            return None
        state = self._policy.state(current)
        if state is State.FRESH:
            return current
        if state is State.STALE and self._background:
            self._kick_background()
            return self._policy.current or current
        return None

    @property
    def access_key(self) -> str:
        return self.get_frozen_credentials().access_key

    @property
    def secret_key(self) -> str:
        return self.get_frozen_credentials().secret_key

    @property
    def token(self) -> Optional[str]:
        return self.get_frozen_credentials().token

    @property
    def account_id(self) -> Optional[str]:
        return self.get_frozen_credentials().account_id

    @property
    def expiry(self) -> Optional[datetime]:
        current = self._policy.current
        return current.expiry if current is not None else None

    def state(self, current: Optional[Credentials] = None) -> State:
        """``fresh``, ``stale`` or ``invalid`` for the held (or given) credential set."""
        return self._policy.state(current)

    def refresh_needed(self, refresh_in: Optional[float] = None) -> bool:
        """Whether the held set is due for a refresh; with ``refresh_in`` (botocore's
        parameter), whether it has less than that many seconds left."""
        current = self._policy.current
        if refresh_in is not None and current is not None:
            return self._policy.short_of(current, refresh_in)
        return self.state() is not State.FRESH

    def get_deferred_property(self, property_name: str) -> Callable[[], Any]:
        """botocore's: a function that reads the property (refreshing first if due) when
        called, as botocore reads ``account_id`` for endpoint rules."""
        return lambda: getattr(self, property_name, None)

    def invalidate(self, access_key: Optional[str] = None) -> bool:
        """Mark the held credentials unusable: the next use refreshes (once, single-flight),
        and never takes the rejected set again from a shared cache.

        With ``access_key``, only if that is still the held set: a late error about a set
        that was already replaced changes nothing. Returns whether the mark was set."""
        current = self._policy.current
        marked = self._policy.invalidate(access_key)
        if marked and self._forget is not None and current is not None:
            self._forget(current.access_key)
        return marked

    def refresh(self, *, force: bool = False, min_left: Optional[float] = None) -> Credentials:
        """Refresh synchronously, for short-lived commands that would exit before a background
        refresh finished: fetch if nothing is held; refresh if the set is invalid (mandatory,
        may prompt for MFA), or stale, or has less than ``min_left`` seconds left, or always
        with ``force`` (advisory: never prompts; an MFA hop then keeps the held set)."""
        policy = self._policy
        with self._lock:
            current = policy.current
            if current is None:
                current = self._do_refresh(Mode.INITIAL, None)
            if policy.forced:
                return self._do_refresh(Mode.FORCED, current)
            state = policy.state(current)
            if state is State.INVALID:
                return self._do_refresh(Mode.MANDATORY, current)
            if force or state is State.STALE or policy.short_of(current, min_left):
                return self._do_refresh(Mode.ADVISORY, current)
            return current

    def __repr__(self) -> str:
        current = self._policy.current
        state = self._policy.state(current).value
        return f"RefreshableCredentials({self._policy.label}, state={state}, {current!r})"

    # --- internals -------------------------------------------------------------------------

    def _refresh_blocking(self) -> Credentials:
        policy = self._policy
        with self._lock:
            current = policy.current
            if current is not None and policy.state(current) is not State.INVALID:
                # Settled while we waited: another thread refreshed, or its refresh failed
                # for a recoverable reason and the held set is served for the back-off.
                return current
            error = policy.recalled_error()
            if error is not None:
                raise error
            return self._do_refresh(policy.blocking_mode(), current)

    def _do_refresh(self, mode: Mode, current: Optional[Credentials]) -> Credentials:
        try:
            new = self._fetch(mode, current)
            self._policy.accept(new)
        except AwsRolesError as exc:
            if self._policy.failed(exc, current) and current is not None:
                return current  # static stability
            raise
        return new

    def _kick_background(self) -> None:
        if not self._background:
            if self._lock.acquire(blocking=False):
                try:
                    self._advisory_refresh_locked()
                finally:
                    self._lock.release()
            return
        if self._scheduled:  # lock-free fast path: one refresh already queued or running
            return
        from . import background  # loaded by the first advisory refresh, not by every start

        self._scheduled = True
        if not background.schedule(id(self), self._advisory_refresh):
            self._scheduled = False

    def _advisory_refresh(self) -> None:
        try:
            with self._lock:
                self._advisory_refresh_locked()
        finally:
            self._scheduled = False

    def _advisory_refresh_locked(self) -> None:
        policy = self._policy
        current = policy.current
        if policy.state(current) is not State.STALE:
            return
        try:
            new = self._fetch(Mode.ADVISORY, current)
        except Exception as exc:
            # Recoverable or not, the held credentials are still good: keep serving them.
            policy.advisory_failed(exc)
            return
        policy.advisory_result(new, current)
