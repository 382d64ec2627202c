"""The refresh policy: when held credentials are fresh, stale or invalid, what a refresh may
return, and what a failed refresh does. Pure: no locks, no threads, no I/O. The thread driver
(:mod:`.sync`) and any other driver hold a :class:`RefreshState` and follow it, so the rules
exist once (docs/concepts.md, "Refresh windows").

* **Windows.** Mandatory: 60 s before expiry; inside it a caller waits for a refresh.
  Advisory: chosen from the lifetime the credentials had when obtained (<= 20 min: 5 min,
  20-90 min: 15 min, >= 90 min: 60 min) unless set explicitly; inside it a caller gets the
  held set at once and one refresh runs.
* **Static stability.** A recoverable failure (connection, timeout, 5xx, throttling) while
  the held set is still valid keeps serving it, warns once and backs off a random 5-10
  minutes (never past the start of the mandatory window).
* **Error memory.** A non-recoverable failure is raised to the caller and remembered for a
  few jittered seconds, so a retry loop cannot hammer the endpoint.
* **Cache entries** are judged with the same windows (:func:`entry_usable`).
"""

from __future__ import annotations

import enum

from .._log import get_logger
from ..errors import MFADeferred, RefreshError, SourceRejected

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional

    from ..credentials import Credentials
    from ..protocols import Clock

    #: ``fetch(mode, current)``: new credentials; ``current`` is the set held now (or None).
    Fetch = Callable[["Mode", Optional[Credentials]], Credentials]

__all__ = [
    "State",
    "Mode",
    "RefreshState",
    "advisory_window_for",
    "entry_usable",
    "MANDATORY_WINDOW",
]

log = get_logger("awsroles")

#: Seconds before expiry inside which a caller waits for a refresh.
MANDATORY_WINDOW = 60.0
#: Seconds (uniform random between the two) before retrying after a recoverable failure.
STATIC_STABILITY_BACKOFF = (300.0, 600.0)
#: Seconds (uniform random between the two) a non-recoverable error is raised again at once.
ERROR_MEMORY = (2.0, 5.0)


class State(str, enum.Enum):
    """What the held credentials need: nothing, a background refresh, or a refresh first."""

    FRESH = "fresh"
    STALE = "stale"
    INVALID = "invalid"


class Mode(str, enum.Enum):
    """Why a fetch is made; passed to the fetch function. ``ADVISORY`` fetches run in the
    background and must never prompt; ``FORCED`` follows an invalidation (the held set was
    rejected, so a fetch must not return it again)."""

    INITIAL = "initial"
    ADVISORY = "advisory"
    MANDATORY = "mandatory"
    FORCED = "forced"


def advisory_window_for(lifetime_seconds: float) -> float:
    """The advisory window for credentials that had ``lifetime_seconds`` left when obtained."""
    if lifetime_seconds <= 20 * 60:
        return 5 * 60.0
    if lifetime_seconds < 90 * 60:
        return 15 * 60.0
    return 60 * 60.0


def _uniform(bounds: tuple[float, float]) -> float:
    import random  # only after a failure: not loaded by every start

    return random.uniform(*bounds)


def entry_usable(
    creds: Credentials,
    mode: Mode,
    current: Optional[Credentials],
    clock: Clock,
    *,
    advisory: Optional[float] = None,
    mandatory: Optional[float] = None,
) -> bool:
    """Whether ``creds`` (read from a cache entry) may be used for a fetch in ``mode`` while
    ``current`` is held. An entry is judged by the time it has left when read: unusable
    inside its mandatory window; during a refresh, only an entry newer than ``current`` and
    outside its own advisory window counts; after an invalidation, only one with another key."""
    if creds.expiry is None:
        return True
    left = (creds.expiry - clock.now()).total_seconds()
    if left <= (MANDATORY_WINDOW if mandatory is None else mandatory):
        return False
    if mode == Mode.INITIAL or current is None:
        return True
    if mode == Mode.FORCED:
        return creds.access_key != current.access_key
    newer = current.expiry is None or creds.expiry > current.expiry
    window = advisory_window_for(left) if advisory is None else advisory
    return newer and left > window


class RefreshState:
    """One refreshable credential set: what is held, its windows, and what the last refresh
    left behind (a back-off, a remembered error, an invalidation). Its drivers serialise
    every change; reading :meth:`state` needs no lock."""

    def __init__(
        self,
        clock: Clock,
        *,
        advisory: Optional[float] = None,
        mandatory: Optional[float] = None,
        label: str = "",
    ) -> None:
        self.clock = clock
        self.label = label
        self.current: Optional[Credentials] = None
        self._explicit_advisory = advisory
        self.mandatory = MANDATORY_WINDOW if mandatory is None else mandatory
        self.advisory = 0.0
        self.forced = False  # invalidated: the next use refreshes
        self.retry_after = 0.0  # monotonic time before which no refresh is attempted
        self._error: Optional[BaseException] = None
        self._error_until = 0.0
        self._warned = False

    # --- reading ----------------------------------------------------------------------------

    def state(self, current: Optional[Credentials] = None) -> State:
        """The state of the held (or the given) credential set."""
        if current is None:
            current = self.current
        if current is None:
            return State.INVALID
        backing_off = self.clock.monotonic() < self.retry_after
        if self.forced:
            # marked unusable: refresh, unless a refresh just failed for a recoverable reason
            return State.FRESH if backing_off else State.INVALID
        if current.expiry is None:
            return State.FRESH
        left = (current.expiry - self.clock.now()).total_seconds()
        if left > self.advisory:
            return State.FRESH
        if left > self.mandatory:
            return State.FRESH if backing_off else State.STALE
        if left > 0 and backing_off:
            return State.FRESH  # static stability: still valid, endpoint recently failed
        return State.INVALID

    def blocking_mode(self) -> Mode:
        """The mode of a refresh a caller waits for."""
        if self.forced:
            return Mode.FORCED
        return Mode.MANDATORY if self.current is not None else Mode.INITIAL

    def still_valid(self, creds: Credentials) -> bool:
        return creds.expiry is None or creds.expiry > self.clock.now()

    def short_of(self, creds: Credentials, min_left: Optional[float]) -> bool:
        """True when ``creds`` has less than ``min_left`` seconds left (None: no minimum)."""
        if min_left is None:
            return False
        left = creds.seconds_left(self.clock.now())
        return left is not None and left < min_left

    def recalled_error(self) -> Optional[BaseException]:
        """A copy of the error of a refresh that failed moments ago, to raise again."""
        if self._error is None or self.clock.monotonic() >= self._error_until:
            return None
        import copy

        return copy.copy(self._error).with_traceback(None)

    # --- changing ---------------------------------------------------------------------------

    def accept(self, new: Credentials) -> None:
        """Hold ``new``; RefreshError when it is already expired, or (with a set held) so
        close to expiry that every use would refresh again. The error is recoverable when
        the held set still works: static stability then keeps serving it."""
        if new.expiry is not None:
            left = (new.expiry - self.clock.now()).total_seconds()
            if left <= 0 or (left <= self.mandatory and self.current is not None):
                error = RefreshError(
                    f"{self.label}: refreshed credentials expire at {new.expiry.isoformat()}, "
                    f"{int(left)} s from now by this machine's clock; check the clock, or the "
                    "source hands out old credentials."
                )
                if self.current is not None and self.still_valid(self.current):
                    error.recoverable = True
                raise error
        self._error = None
        self.install(new)

    def install(self, creds: Credentials) -> None:
        """Hold ``creds``; its advisory window is chosen now, from its lifetime."""
        if creds.expiry is not None:
            lifetime = (creds.expiry - self.clock.now()).total_seconds()
            explicit = self._explicit_advisory
            self.advisory = explicit if explicit is not None else advisory_window_for(lifetime)
        self.current = creds
        self.forced = False
        self.retry_after = 0.0
        self._warned = False

    def invalidate(self, access_key: Optional[str] = None) -> bool:
        """Mark the held set unusable, so the next use refreshes. With ``access_key``, only if
        that is still the held set. Returns whether the mark was set."""
        current = self.current
        if access_key is not None and (current is None or current.access_key != access_key):
            return False
        self.forced = True
        self.retry_after = 0.0
        return True

    def failed(self, exc: BaseException, current: Optional[Credentials]) -> bool:
        """A refresh a caller waited for failed with ``exc``. True: keep serving ``current``
        (a recoverable failure while it is still valid: back off). False: the caller raises
        ``exc``, which is remembered for a few seconds."""
        recoverable = getattr(exc, "recoverable", False)
        if recoverable and current is not None and self.still_valid(current):
            self.back_off(exc)
            return True
        # "not in the background": a caller may prompt; "source rejected": fetched again now
        if not isinstance(exc, (MFADeferred, SourceRejected)):
            self._error = exc
            self._error_until = self.clock.monotonic() + _uniform(ERROR_MEMORY)
        return False

    def advisory_failed(self, exc: BaseException) -> None:
        """A background refresh failed: the held set is still good, so serve it and try again
        later (the mandatory window surfaces a lasting error to callers)."""
        if isinstance(exc, MFADeferred):
            self.back_off_until_mandatory()
        else:
            self.back_off(exc)

    def advisory_result(self, new: Credentials, current: Optional[Credentials]) -> None:
        """Take the result of a background refresh. Nothing newer (an MFA role that cannot be
        refreshed without a prompt): stop asking until the mandatory window."""
        if new is current or (
            current is not None and new.expiry is not None and current.expiry == new.expiry
        ):
            self.back_off_until_mandatory()
            return
        try:
            self.accept(new)
        except RefreshError as exc:
            self.back_off(exc)

    def back_off(self, exc: BaseException) -> None:
        delay = _uniform(STATIC_STABILITY_BACKOFF)
        current = self.current
        if current is not None and current.expiry is not None:
            # never back off past the start of the mandatory window (nor past expiry there)
            left = (current.expiry - self.clock.now()).total_seconds()
            until_window = left - self.mandatory
            delay = min(delay, until_window) if until_window > 0 else min(delay, max(left, 0.0))
        self.retry_after = self.clock.monotonic() + max(delay, 0.0)
        if not self._warned:
            self._warned = True
            expiry = current.expiry.isoformat() if current and current.expiry else "?"
            log.warning(
                "%s: refresh failed (%s); serving the current credentials until %s and "
                "retrying in %d s",
                self.label,
                exc,
                expiry,
                int(delay),
            )

    def back_off_until_mandatory(self) -> None:
        current = self.current
        if current is not None and current.expiry is not None:
            left = (current.expiry - self.clock.now()).total_seconds()
            self.retry_after = self.clock.monotonic() + max(0.0, left - self.mandatory)
