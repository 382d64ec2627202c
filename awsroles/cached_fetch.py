"""The cache-first fetch shared by every STS-issued credential (role hops, web identity).

A fetch looks in the cache first; only when the entry is missing or too old does it take the
cache's cross-process lock, look again (another process may have just written it) and call
STS through the subclass's ``_call_sts``, then write the entry. The entry is judged the way
held credentials are (decisions §4): usable unless inside its mandatory window; during a
refresh, only an entry newer than what is held and outside its own advisory window counts.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from ._log import get_logger
from .credentials import Credentials
from .errors import MalformedResponseError, MFADeferred
from .refresh import ADVISORY, FORCED, INITIAL, advisory_window_for

log = get_logger("awsroles")

__all__ = ["CachedStsFetch", "generated_session_name"]


def generated_session_name(clock) -> str:
    """botocore's default name, fixed when the provider loads; never part of the cache key."""
    return f"botocore-session-{int(clock.now().timestamp())}"


class CachedStsFetch:
    """Base of a RefreshableCredentials fetch function backed by the shared cache."""

    #: botocore's METHOD for the credentials this fetch produces.
    method = "assume-role"
    #: Extra factor on the context's lock timeout (an MFA prompt may be slow).
    lock_factor = 1

    def __init__(self, cache_args: Mapping[str, Any], ctx, label: str) -> None:
        from .cache import cache_key

        self._ctx = ctx
        self.label = label
        self.key = cache_key(cache_args)

    def _call_sts(self) -> Credentials:  # pragma: no cover - abstract
        raise NotImplementedError

    def _keep(self, response: Any) -> Credentials:
        """The credentials of an STS response, written to the cache once they parse."""
        creds = response.credentials(self.method)  # MalformedResponseError if unusable
        try:
            self._ctx.cache.store(self.key, response.data)
        except ValueError:
            raise MalformedResponseError(
                f"{self.label}: STS answered with a document the cache cannot hold."
            ) from None
        return creds

    def _usable(self, creds: Credentials, mode: str, current: Optional[Credentials]) -> bool:
        if creds.expiry is None:
            return True
        left = (creds.expiry - self._ctx.clock.now()).total_seconds()
        mandatory = 60.0 if self._ctx.mandatory_timeout is None else self._ctx.mandatory_timeout
        if left <= mandatory:
            return False
        if mode == INITIAL or current is None:
            return True
        if mode == FORCED:
            return creds.access_key != current.access_key
        newer = current.expiry is None or creds.expiry > current.expiry
        advisory = self._ctx.advisory_timeout
        if advisory is None:
            advisory = advisory_window_for(left)
        return newer and left > advisory

    def _from_cache(self, mode: str, current: Optional[Credentials]) -> Optional[Credentials]:
        entry = self._ctx.cache.load(self.key)
        if entry is None:
            return None
        from .sts_xml import credentials_from_response

        try:
            creds = credentials_from_response(entry, self.method)
        except MalformedResponseError:
            return None
        if self._usable(creds, mode, current):
            log.debug("%s: using cached credentials %s.json", self.label, self.key)
            return creds
        return None

    def __call__(self, mode: str, current: Optional[Credentials]) -> Credentials:
        hit = self._from_cache(mode, current)
        if hit is not None:
            return hit
        with self._ctx.cache.lock(self.key, self._ctx.lock_timeout * self.lock_factor):
            hit = self._from_cache(mode, current)
            if hit is not None:
                return hit
            if mode == ADVISORY:
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
