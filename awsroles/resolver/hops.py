"""Execute a Plan: base credentials, then each role hop through STS, each hop cached.

Every hop is its own :class:`RefreshableCredentials` whose fetch function is a
:class:`HopFetcher` (cache first, see :mod:`.cached_fetch`). Only when STS must be called does
it resolve the *source* credentials (the inner hop, or the base) and ask for an MFA code if
the hop has ``mfa_serial``. So a valid cache entry for the outermost hop is the whole cost of
a warm start: no source provider runs, no STS client is built, no HTTP code is imported.

Chains of any depth resolve without deep recursion: before a hop calls STS it makes the links
below it fresh from the innermost outwards, so each of them finds its own source fresh and
goes at most one level down.

A hop with ``awsroles_mfa_session_seconds`` rides an MFA session (:mod:`.mfa_session`): one
more link between its source and itself, asked for a code only when it must be made.

When STS rejects a hop's source credentials as expired (they were revoked, or this machine's
clock is off), the inner link is invalidated, in memory and on disk, and the hop is tried
once more with credentials fetched again. If fetching the inner link again finds *its* source
rejected too (every session of the chain revoked), the recovery walks down and back up the
chain one link at a time from the hop that started it, never one refresh inside another, and
each link is fetched again at most once.
"""

from __future__ import annotations

import contextvars
import time

from .._log import get_logger
from ..config.model import StaticKeys
from ..errors import ExpiredTokenError, SourceRejected, retyped
from ..sts.params import AssumeRoleParams, cache_args
from .cached_fetch import CachedStsFetch, generated_session_name
from .link import Link

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Sequence

    from ..config.model import Plan, RoleHop
    from ..context import Context
    from ..credentials import Credentials
    from ..protocols import CredentialSource

log = get_logger("awsroles")

__all__ = ["execute_plan", "HopFetcher", "ASSUME_ROLE"]

ASSUME_ROLE = "assume-role"

#: Set while a hop walks its chain to fetch rejected sources again: an inner hop whose own
#: source is rejected then hands the walk back (SourceRejected) instead of nesting its own.
_RECOVERING: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "awsroles_recovering", default=False
)


class HopFetcher(CachedStsFetch):
    """The fetch function of one role hop's RefreshableCredentials. ``below`` is the chain
    under the hop, innermost first: the base, then the hops before this one."""

    method = ASSUME_ROLE

    def __init__(self, hop: RoleHop, below: Sequence[Link], ctx: Context) -> None:
        super().__init__(cache_args(hop), ctx, f"profile '{hop.profile}'")
        self.hop = hop
        self._below = tuple(below)
        self.session_name = hop.role_session_name or generated_session_name(ctx.clock)

    def _source(self) -> Credentials:
        """The source credentials. The links below are made fresh from the outermost one
        that can answer without its own source (held, or in the cache) outwards: a deep
        chain never recurses link into link, and nothing under a usable entry is loaded."""
        below = self._below
        start = next((i for i in range(len(below) - 1, 0, -1) if below[i].ready()), 0)
        for link in below[start:-1]:
            link.credentials.get_frozen_credentials()
        return below[-1].credentials.get_frozen_credentials()

    def _call_sts(self) -> Credentials:
        source = self._source()
        try:
            return self._assume(source)
        except ExpiredTokenError as exc:
            if not self._below[-1].invalidate(source):
                raise  # long-lived keys: nothing to fetch again
            log.warning(
                "%s: STS rejected the source credentials as expired; fetching them again",
                self.label,
            )
            if _RECOVERING.get():  # an outer hop is walking the chain: it fetches the source
                raise retyped(exc, SourceRejected) from None
        token = _RECOVERING.set(True)
        try:
            self._fetch_below_again()
        finally:
            _RECOVERING.reset(token)
        return self._assume(self._source())

    def _fetch_below_again(self) -> None:
        """Make the links below fresh after the innermost-but-one was invalidated: fetch it
        again; when STS rejects *its* source too, step down to that one, then back up. Each
        link is fetched again at most once; a source that cannot be fetched again (long-lived
        keys) or is rejected twice ends in ExpiredTokenError."""
        below = self._below
        level = len(below) - 1
        rejected = {level}
        while level < len(below):
            try:
                below[level].credentials.get_frozen_credentials()
            except SourceRejected as exc:
                level -= 1  # below[level] invalidated its own source: fetch that one first
                if level in rejected:
                    raise retyped(exc, ExpiredTokenError) from None
                rejected.add(level)
                continue
            level += 1

    def _assume(self, source: Credentials) -> Credentials:
        hop = self.hop
        token_code = None
        if hop.mfa_serial and not hop.mfa_session_seconds:
            from .mfa import get_token_code

            token_code = get_token_code(
                hop.mfa_serial,
                hop.profile,
                prompter=self._ctx.services.prompter,
                mfa_process=hop.mfa_process,
                ctx=self._ctx,
            )
        params = AssumeRoleParams.for_hop(hop, self.session_name, token_code)
        if hop.mfa_session_seconds:  # the session's credentials carry the MFA context
            params = params.replace(serial_number=None)
        started = time.monotonic()
        response = self._ctx.sts_client().assume_role(source, params)
        log.info(
            "profile '%s': assumed %s in %.0f ms",
            hop.profile,
            hop.role_arn,
            (time.monotonic() - started) * 1000,
        )
        return self._keep(response)


def execute_plan(plan: Plan, ctx: Context) -> CredentialSource:
    """Credentials for ``plan``: the base's credential object when there is no hop,
    otherwise a RefreshableCredentials for the outermost hop."""
    if isinstance(plan.base, StaticKeys):  # the usual base of a role chain: nothing to load
        first = Link(plan.base.credentials())
    else:
        from .sources import Lazy, base_link

        first = base_link(plan.base, ctx)
        if not plan.hops and isinstance(first.credentials, Lazy):
            return first.credentials.get()
    if not plan.hops:
        return first.credentials
    chain: List[Link] = [first]
    # A cold chain with an MFA hop anywhere holds the outer locks through the prompt: let
    # other processes wait for it rather than give up and call STS themselves.
    mfa = any(hop.mfa_serial for hop in plan.hops)
    for hop in plan.hops:
        if hop.mfa_session_seconds:
            from .mfa_session import session_link

            chain.append(session_link(hop, chain[-1], ctx))
        fetcher = HopFetcher(hop, chain, ctx)
        fetcher.lock_factor = 5 if mfa else 1
        label = f"profile '{hop.profile}' ({hop.role_arn})"
        creds = ctx.refreshable(fetcher, method=ASSUME_ROLE, label=label, forget=fetcher.forget)
        chain.append(Link(creds, fetcher))
    return chain[-1].credentials
