"""Execute a Plan: base credentials, then each role hop through STS, each hop cached.

Every hop is its own :class:`RefreshableCredentials` whose fetch function is a
:class:`HopFetcher`. A fetch looks in the cache first; only when the entry is missing or too
old does it take the cache's cross-process lock, look again (another process may have just
written it), resolve the *source* credentials (the inner hop, or the base), ask for an MFA code
if the hop has ``mfa_serial``, call STS and write the entry. So a valid cache entry for the
outermost hop is the whole cost of a warm start: no source provider runs, no STS client is
built, requests is not imported.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Optional

from .config.plan import NamedSource, Plan, RoleHop, StaticKeys
from .credentials import Credentials
from .errors import MalformedResponseError
from .mfa import MFADeferred, get_token_code, no_prompt
from .refresh import ADVISORY, FORCED, INITIAL, RefreshableCredentials, advisory_window_for

log = logging.getLogger("awsroles")

__all__ = ["resolve_plan", "HopFetcher", "base_credentials"]

ASSUME_ROLE = "assume-role"


def generated_session_name(clock) -> str:
    """botocore's default name, fixed when the provider loads; never part of the cache key."""
    return f"botocore-session-{int(clock.now().timestamp())}"


class HopFetcher:
    """The fetch function of one role hop's RefreshableCredentials."""

    def __init__(self, hop: RoleHop, source: Callable[[], Credentials], ctx) -> None:
        from .cache import cache_key

        self.hop = hop
        self._source = source
        self._ctx = ctx
        self.key = cache_key(hop.cache_args())
        self.session_name = hop.role_session_name or generated_session_name(ctx.clock)

    # The cache entry is judged the way held credentials are (decisions §4): usable unless
    # inside its mandatory window; during a refresh, only an entry newer than what we hold
    # and outside its own advisory window counts as a refresh.
    def _usable(self, creds: Credentials, mode: str, current: Optional[Credentials]) -> bool:
        if creds.expiry is None:
            return True
        left = (creds.expiry - self._ctx.clock.now()).total_seconds()
        mandatory = self._ctx.mandatory_timeout or 60.0
        if left <= mandatory:
            return False
        if mode == INITIAL or current is None:
            return True
        if mode == FORCED:
            return creds.access_key != current.access_key
        newer = current.expiry is None or creds.expiry > current.expiry
        advisory = self._ctx.advisory_timeout or advisory_window_for(left)
        return newer and left > advisory

    def _from_cache(self, mode: str, current: Optional[Credentials]) -> Optional[Credentials]:
        entry = self._ctx.cache.load(self.key)
        if entry is None:
            return None
        from .sts import credentials_from_response

        try:
            creds = credentials_from_response(entry, ASSUME_ROLE)
        except MalformedResponseError:
            return None
        if self._usable(creds, mode, current):
            log.debug("profile '%s': using cached credentials %s.json", self.hop.profile, self.key)
            return creds
        return None

    def __call__(self, mode: str, current: Optional[Credentials]) -> Credentials:
        hit = self._from_cache(mode, current)
        if hit is not None:
            return hit
        timeout = self._ctx.lock_timeout * (5 if self.hop.mfa_serial else 1)
        with self._ctx.cache.lock(self.key, timeout):
            hit = self._from_cache(mode, current)
            if hit is not None:
                return hit
            if mode == ADVISORY:
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

    def _call_sts(self) -> Credentials:
        source = self._source()
        token_code = None
        if self.hop.mfa_serial:
            token_code = get_token_code(self.hop.mfa_serial, self._ctx.prompter, self.hop.profile)
        hop = self.hop
        params = hop.params(self.session_name, token_code)
        started = time.monotonic()
        response = self._ctx.sts_client().assume_role(source, params)
        log.info(
            "profile '%s': assumed %s in %.0f ms",
            hop.profile,
            hop.role_arn,
            (time.monotonic() - started) * 1000,
        )
        self._ctx.cache.store(self.key, response.data)
        return response.credentials(ASSUME_ROLE)


def base_credentials(base: Any, ctx) -> Callable[[], Credentials]:
    """A zero-argument callable returning the base source's current credentials."""
    if isinstance(base, StaticKeys):
        creds = Credentials(
            access_key=base.access_key,
            secret_key=base.secret_key,
            token=base.token,
            account_id=base.account_id,
            method=base.method,
        )
        return lambda: creds
    if isinstance(base, NamedSource):
        from .providers.sources import named_source

        return named_source(base, ctx)
    from .providers.sources import other_source

    return other_source(base, ctx)


def resolve_plan(plan: Plan, ctx) -> Any:
    """Credentials for ``plan``: plain Credentials when there is no hop and the base is
    static, otherwise a RefreshableCredentials for the outermost hop."""
    source = base_credentials(plan.base, ctx)
    if not plan.hops:
        creds_or_obj = source()
        return creds_or_obj
    current: Any = None
    for hop in plan.hops:
        fetcher = HopFetcher(hop, source, ctx)
        current = RefreshableCredentials(
            fetcher,
            method=ASSUME_ROLE,
            clock=ctx.clock,
            advisory_timeout=ctx.advisory_timeout,
            mandatory_timeout=ctx.mandatory_timeout,
            background_refresh=ctx.background_refresh,
            label=f"profile '{hop.profile}' ({hop.role_arn})",
        )
        source = current.get_frozen_credentials
    return current
