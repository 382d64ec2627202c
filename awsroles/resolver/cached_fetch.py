"""The cache-first fetch shared by every STS-issued credential (role hops, web identity).

A fetch looks in the cache first; only when the entry is missing or too old does it take the
cache's cross-process lock, look again (another process may have just written it) and call
STS through the subclass's ``_call_sts``, then write the entry. The entry is judged the way
held credentials are (:func:`awsroles.refresh.policy.entry_usable`): usable unless inside its
mandatory window; during a refresh, only an entry newer than what is held and outside its own
advisory window counts.
"""

from __future__ import annotations

from .._log import get_logger
from ..cache.key import cache_key
from ..errors import MalformedResponseError, MFADeferred
from ..refresh.policy import Mode, entry_usable
from ..sts.wire import credentials_from_response

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any, Mapping, Optional

    from ..context import Context
    from ..credentials import Credentials
    from ..protocols import Clock
    from ..sts.wire import StsResponse

log = get_logger("awsroles")

__all__ = ["CachedStsFetch", "generated_session_name"]


def generated_session_name(clock: Clock) -> str:
    """botocore's default name, fixed when the provider loads; never part of the cache key."""
    return f"botocore-session-{int(clock.now().timestamp())}"


#: Clock skew (seconds) beyond which lifetimes are judged by STS's clock, with one warning.
SKEW_TOLERANCE = 60.0
#: Beyond this the clock is not "off" but wrong (or the answer replayed): warn, do not adjust.
SKEW_LIMIT = 3600.0
_skew_warned = False
#: The last skew measured in this process (STS's clock minus ours), applied to cache entries.
_skew = 0.0


def _judge_by_server_clock(
    creds: Credentials, data: Mapping[str, Any], now: datetime, label: str
) -> Credentials:
    """Credentials whose expiry is moved by the skew between this machine's clock and STS's
    (from the response's Date header), so refresh windows hold when the local clock is off.
    The cache keeps STS's own Expiration; only the in-process copy is moved."""
    global _skew_warned, _skew
    try:
        date = data["ResponseMetadata"]["HTTPHeaders"]["date"]
        from email.utils import parsedate_to_datetime

        server_now = parsedate_to_datetime(date)
    except Exception:  # no or unreadable Date header: nothing to judge by
        return creds
    if creds.expiry is None or server_now.tzinfo is None:
        return creds
    skew = (server_now - now).total_seconds()  # > 0: this machine is behind STS
    _skew = skew if SKEW_TOLERANCE < abs(skew) <= SKEW_LIMIT else 0.0
    if abs(skew) <= SKEW_TOLERANCE:
        return creds
    if not _skew_warned:
        _skew_warned = True
        log.warning(
            "%s: this machine's clock is %d s %s STS's; %s",
            label,
            abs(int(skew)),
            "behind" if skew > 0 else "ahead of",
            "credential lifetimes are judged by STS's clock. Fix the clock: signed requests "
            "fail once it is 5 minutes off."
            if _skew
            else "that is too far off to correct for. Fix the clock.",
        )
    return _shift(creds, _skew)


def _shift(creds: Credentials, skew: float) -> Credentials:
    """``creds`` with the expiry moved by ``skew``; an expiry so far out (year 9999) that the
    move would leave the calendar stays where it is: a few minutes do not matter there."""
    if not skew or creds.expiry is None:
        return creds
    from datetime import timedelta

    try:
        return creds.replace(expiry=creds.expiry - timedelta(seconds=skew))
    except OverflowError:
        return creds


class CachedStsFetch:
    """Base of a RefreshableCredentials fetch function backed by the shared cache."""

    #: botocore's METHOD for the credentials this fetch produces.
    method = "assume-role"
    #: Extra factor on the context's lock timeout (an MFA prompt may be slow).
    lock_factor = 1

    def __init__(self, cache_args: Optional[Mapping[str, Any]], ctx: Context, label: str) -> None:
        self._ctx = ctx
        self.label = label
        self._key = cache_key(cache_args) if cache_args is not None else None

    @property
    def key(self) -> str:
        """The entry's name: from the arguments given, or :meth:`_cache_args` when they are
        only known once the source is (an MFA session is keyed by the source's key id)."""
        if self._key is None:
            self._key = cache_key(self._cache_args())
        return self._key

    def _cache_args(self) -> Mapping[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _call_sts(self) -> Credentials:  # pragma: no cover - abstract
        raise NotImplementedError

    def _keep(self, response: StsResponse) -> Credentials:
        """The credentials of an STS response, written to the cache once they parse."""
        creds = response.credentials(self.method)  # MalformedResponseError if unusable
        creds = _judge_by_server_clock(creds, response.data, self._ctx.clock.now(), self.label)
        try:
            self._ctx.services.cache.store(self.key, response.data)
        except ValueError:
            raise MalformedResponseError(
                f"{self.label}: STS answered with a document the cache cannot hold."
            ) from None
        return creds

    def forget(self, access_key: str) -> None:
        """Delete the cache entry when it holds ``access_key`` (it was rejected, or
        invalidated): no process takes it again. An entry holding another set is left
        alone."""
        cache = self._ctx.services.cache
        timeout = self._ctx.settings.lock_timeout * self.lock_factor
        with cache.lock(self.key, timeout):  # not another process's entry written meanwhile
            entry = cache.load(self.key)
            held = (entry or {}).get("Credentials", {}).get("AccessKeyId")
            if held == access_key and cache.delete(self.key):
                msg = "%s: deleted cache entry %s.json (its set was rejected)"
                log.info(msg, self.label, self.key)

    def cached(self) -> Optional[Credentials]:
        """The entry's credentials when a first fetch would take them (nothing is called)."""
        return self._from_cache(Mode.INITIAL, None)

    def _from_cache(self, mode: Mode, current: Optional[Credentials]) -> Optional[Credentials]:
        entry = self._ctx.services.cache.load(self.key)
        if entry is None:
            return None
        try:
            creds = _shift(credentials_from_response(entry, self.method), _skew)
        except MalformedResponseError:
            return None
        settings = self._ctx.settings
        if entry_usable(
            creds,
            mode,
            current,
            self._ctx.clock,
            advisory=settings.advisory_timeout,
            mandatory=settings.mandatory_timeout,
        ):
            log.debug("%s: using cached credentials %s.json", self.label, self.key)
            return creds
        return None

    def __call__(self, mode: Mode, current: Optional[Credentials]) -> Credentials:
        hit = self._from_cache(mode, current)
        if hit is not None:
            return hit
        timeout = self._ctx.settings.lock_timeout * self.lock_factor
        with self._ctx.services.cache.lock(self.key, timeout):
            hit = self._from_cache(mode, current)
            if hit is not None:
                return hit
            if mode == Mode.ADVISORY:
                from .mfa import no_prompt

                try:
                    with no_prompt():
                        return self._call_sts()
                except MFADeferred:
                    # Nothing newer without a prompt: keep the current set until the
                    # mandatory window, where a prompt is allowed.
                    if current is None:
                        raise
                    return current
            return self._call_sts()
