"""Refreshable credentials with the 2026 cross-SDK refresh behaviour (docs/refresh.md).

A credential set is in one of three states, computed from the clock in one place
(:meth:`RefreshableCredentials.state`):

* ``fresh``   – more than the advisory window left: served lock-free, no refresh.
* ``stale``   – inside the advisory window: served at once, one background refresh started.
* ``invalid`` – nothing held yet, inside the mandatory window, or marked stale: the caller
  waits for a refresh (one at a time per object; other threads wait and reuse its result).

Windows: mandatory 60 s; advisory chosen from the lifetime the credentials had when obtained
(<= 20 min -> 5 min, 20-90 min -> 15 min, >= 90 min -> 60 min) unless set explicitly.

Failures: a *recoverable* error (connection, timeout, 5xx, throttling) while still-valid
credentials are held keeps serving them (static stability), logs one warning and backs off a
random 5-10 minutes. A non-recoverable error is raised to a waiting caller at once and
remembered for a few jittered seconds so a retry loop cannot hammer the endpoint.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any, Callable, Optional

from .._log import get_logger
from ..clock import SYSTEM_CLOCK, Clock, datetime
from ..credentials import Credentials
from ..errors import AwsRolesError, MFADeferred, RefreshError

log = get_logger("awsroles")

__all__ = ["RefreshableCredentials", "advisory_window_for", "MANDATORY_WINDOW"]

MANDATORY_WINDOW = 60.0
STATIC_STABILITY_BACKOFF = (300.0, 600.0)
ERROR_MEMORY = (2.0, 5.0)

#: Modes passed to the fetch function.
INITIAL, ADVISORY, MANDATORY, FORCED = "initial", "advisory", "mandatory", "forced"

Fetch = Callable[[str, Optional[Credentials]], Credentials]

#: Every live instance, so a forked child can replace locks the parent's threads held.
_INSTANCES: weakref.WeakSet[RefreshableCredentials] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for creds in list(_INSTANCES):
        creds._lock = threading.Lock()
        creds._scheduled = False  # the parent's worker thread does not exist here


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def advisory_window_for(lifetime_seconds: float) -> float:
    """The advisory window for credentials that had ``lifetime_seconds`` left when obtained."""
    if lifetime_seconds <= 20 * 60:
        return 5 * 60.0
    if lifetime_seconds < 90 * 60:
        return 15 * 60.0
    return 60 * 60.0


class RefreshableCredentials:
    """Credentials that refresh themselves before they expire; thread-safe.

    ``fetch(mode, current)`` returns a new :class:`Credentials`; ``mode`` is one of
    ``initial``, ``advisory`` (background, must not prompt), ``mandatory`` or ``forced``
    (after :meth:`invalidate`), and ``current`` is the set held now (or None).
    """

    def __init__(
        self,
        fetch: Fetch,
        *,
        method: str,
        clock: Clock = SYSTEM_CLOCK,
        advisory_timeout: Optional[float] = None,
        mandatory_timeout: Optional[float] = None,
        initial: Optional[Credentials] = None,
        background_refresh: bool = True,
        label: str = "",
    ) -> None:
        self._fetch = fetch
        self.method = method
        self._clock = clock
        self._explicit_advisory = advisory_timeout
        self._mandatory = MANDATORY_WINDOW if mandatory_timeout is None else mandatory_timeout
        self._background = background_refresh
        self._label = label or method
        self._lock = threading.Lock()
        self._current: Optional[Credentials] = None
        self._advisory = 0.0
        self._force = False
        self._retry_after = 0.0  # monotonic time before which no refresh is attempted
        self._error: Optional[BaseException] = None
        self._error_until = 0.0
        self._warned = False
        self._scheduled = False  # a background refresh is queued or running
        _INSTANCES.add(self)
        if initial is not None:
            self._install(initial)

    @classmethod
    def for_context(
        cls,
        fetch: Fetch,
        ctx: Any,
        *,
        method: str,
        label: str,
        initial: Optional[Credentials] = None,
    ) -> RefreshableCredentials:
        """One built with the resolution's clock, windows and background setting."""
        return cls(
            fetch,
            method=method,
            clock=ctx.clock,
            advisory_timeout=getattr(ctx, "advisory_timeout", None),
            mandatory_timeout=getattr(ctx, "mandatory_timeout", None),
            initial=initial,
            background_refresh=getattr(ctx, "background_refresh", True),
            label=label,
        )

    # --- public API ------------------------------------------------------------------------

    def get_frozen_credentials(self) -> Credentials:
        """A consistent credential set, refreshed first if it must be."""
        current = self._current
        state = self.state(current)
        if state == "fresh":
            return current  # type: ignore[return-value]
        if state == "stale":
            self._kick_background()
            return self._current or current  # type: ignore[return-value]
        return self._refresh_blocking(current)

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
        current = self._current
        return current.expiry if current is not None else None

    def state(self, current: Optional[Credentials] = None) -> str:
        """``fresh``, ``stale`` or ``invalid`` for the held (or given) credential set."""
        if current is None:
            current = self._current
        if current is None:
            return "invalid"
        if self._force:
            # marked unusable: refresh, unless a refresh just failed for a recoverable reason
            return "fresh" if self._clock.monotonic() < self._retry_after else "invalid"
        if current.expiry is None:
            return "fresh"
        left = (current.expiry - self._clock.now()).total_seconds()
        if left > self._advisory:
            return "fresh"
        if left > self._mandatory:
            if self._clock.monotonic() < self._retry_after:
                return "fresh"  # backing off after a failed refresh: keep serving quietly
            return "stale"
        if left > 0 and self._clock.monotonic() < self._retry_after:
            return "fresh"  # static stability: still valid, endpoint recently failed
        return "invalid"

    def refresh_needed(self) -> bool:
        return self.state() != "fresh"

    def invalidate(self, access_key: Optional[str] = None) -> bool:
        """Mark the held credentials unusable: the next use refreshes (once, single-flight).

        With ``access_key``, only if that is still the held set: a late error about a set
        that was already replaced changes nothing. Returns whether the mark was set."""
        current = self._current
        if access_key is not None and (current is None or current.access_key != access_key):
            return False
        self._force = True
        self._retry_after = 0.0
        return True

    def refresh(self, *, force: bool = False, min_left: Optional[float] = None) -> Credentials:
        """Refresh synchronously, for short-lived commands that would exit before a background
        refresh finished: fetch if nothing is held; refresh if the set is invalid (mandatory,
        may prompt for MFA), or stale, or has less than ``min_left`` seconds left, or always
        with ``force`` (advisory: never prompts; an MFA hop then keeps the held set)."""
        with self._lock:
            current = self._current
            if current is None:
                current = self._do_refresh(INITIAL, None)
            if self._force:
                return self._do_refresh(FORCED, current)
            state = self.state(current)
            if state == "invalid":
                return self._do_refresh(MANDATORY, current)
            if force or state == "stale" or self._short_of(current, min_left):
                return self._do_refresh(ADVISORY, current)
            return current

    def _short_of(self, current: Credentials, min_left: Optional[float]) -> bool:
        """True when ``current`` has less than ``min_left`` seconds left (None: no minimum)."""
        if min_left is None:
            return False
        left = current.seconds_left(self._clock.now())
        return left is not None and left < min_left

    def __repr__(self) -> str:
        current = self._current
        return f"RefreshableCredentials({self._label}, state={self.state(current)}, {current!r})"

    # --- internals -------------------------------------------------------------------------

    def _install(self, creds: Credentials) -> None:
        if creds.expiry is not None:
            lifetime = (creds.expiry - self._clock.now()).total_seconds()
            self._advisory = (
                self._explicit_advisory
                if self._explicit_advisory is not None
                else advisory_window_for(lifetime)
            )
        self._current = creds
        self._force = False
        self._retry_after = 0.0
        self._warned = False

    def _refresh_blocking(self, seen: Optional[Credentials]) -> Credentials:
        with self._lock:
            current = self._current
            if current is not seen and self.state(current) != "invalid":
                return current  # another thread refreshed while we waited
            now_mono = self._clock.monotonic()
            if self._error is not None and now_mono < self._error_until:
                import copy

                raise copy.copy(self._error).with_traceback(None)
            mode = FORCED if self._force else (MANDATORY if current is not None else INITIAL)
            return self._do_refresh(mode, current)

    def _do_refresh(self, mode: str, current: Optional[Credentials]) -> Credentials:
        try:
            new = self._fetch(mode, current)
            self._accept(new)
        except AwsRolesError as exc:
            if exc.recoverable and current is not None and self._still_valid(current):
                self._back_off(exc)
                return current
            self._remember(exc)
            raise
        return new

    def _accept(self, new: Credentials) -> None:
        if new.expiry is not None:
            left = (new.expiry - self._clock.now()).total_seconds()
            if left <= 0 or (left <= self._mandatory and self._current is not None):
                # Already expired, or so close that every use would refresh again: the
                # clock is off, or the source hands out stale credentials.
                error = RefreshError(
                    f"{self._label}: refreshed credentials expire at {new.expiry.isoformat()}, "
                    f"{int(left)} s from now by this machine's clock; check the clock, or the "
                    "source hands out old credentials."
                )
                current = self._current
                if current is not None and self._still_valid(current):
                    # nothing better came back, but what is held still works: serve it
                    # until it expires (botocore does too), trying again after a back-off
                    error.recoverable = True
                raise error
        self._error = None
        self._install(new)

    def _still_valid(self, creds: Credentials) -> bool:
        return creds.expiry is None or creds.expiry > self._clock.now()

    def _back_off(self, exc: BaseException) -> None:
        import random  # only after a failure: not loaded by every start

        delay = random.uniform(*STATIC_STABILITY_BACKOFF)
        current = self._current
        if current is not None and current.expiry is not None:
            # never back off past the start of the mandatory window (nor past expiry there)
            left = (current.expiry - self._clock.now()).total_seconds()
            until_window = left - self._mandatory
            delay = min(delay, until_window) if until_window > 0 else min(delay, max(left, 0.0))
        self._retry_after = self._clock.monotonic() + max(delay, 0.0)
        if not self._warned:
            self._warned = True
            log.warning(
                "%s: refresh failed (%s); serving the current credentials until %s and "
                "retrying in %d s",
                self._label,
                exc,
                self._current.expiry.isoformat() if self._current and self._current.expiry else "?",
                int(delay),
            )

    def _remember(self, exc: BaseException) -> None:
        if isinstance(exc, MFADeferred):
            return  # only means "not in the background": a foreground caller may prompt
        self._error = exc
        import random  # only after a failure

        self._error_until = self._clock.monotonic() + random.uniform(*ERROR_MEMORY)

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
        current = self._current
        if self.state(current) != "stale":
            return
        try:
            new = self._fetch(ADVISORY, current)
        except MFADeferred:
            self._back_off_until_mandatory(current)
            return
        except Exception as exc:
            # Recoverable or not, the held credentials are still good: keep serving them
            # and try again later (the mandatory window surfaces a lasting error to callers).
            self._back_off(exc)
            return
        if new is current or (
            current is not None and new.expiry is not None and current.expiry == new.expiry
        ):
            # Nothing newer was available without prompting (MFA): stop asking until the
            # mandatory window.
            self._back_off_until_mandatory(current)
            return
        try:
            self._accept(new)
        except RefreshError as exc:
            self._back_off(exc)

    def _back_off_until_mandatory(self, current: Optional[Credentials]) -> None:
        if current is not None and current.expiry is not None:
            left = (current.expiry - self._clock.now()).total_seconds()
            self._retry_after = self._clock.monotonic() + max(0.0, left - self._mandatory)
