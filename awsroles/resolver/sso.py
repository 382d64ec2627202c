"""SSO role credentials through the shared cache, as the AWS CLI v2 keeps them.

The CLI v2 gives botocore's SSO provider a ``JSONFileCache`` on ``~/.aws/cli/cache``: the
portal's role credentials are an entry there, named by
:func:`awsroles.cache.key.sso_cache_key`, holding
``{"ProviderType": "sso", "Credentials": {AccessKeyId, SecretAccessKey, SessionToken,
Expiration, AccountId}}``. awsroles reads and writes the same entries with the same rules as
role entries (:class:`~awsroles.resolver.cached_fetch.CachedStsFetch`: judged by the refresh
windows, one portal call across processes under the entry's lock, atomic 0600 writes), so a
fresh process (every ``credential-process`` run) takes the entry instead of calling the
portal, and the CLI v2 and awsroles use each other's.
"""

from __future__ import annotations

from ..cache.key import sso_cache_key
from ..errors import MalformedResponseError
from ..providers.sso import METHOD, SsoFetcher, cache_identity
from ..timestamps import format_timestamp
from .cached_fetch import CachedStsFetch

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict

    from ..config.model import SsoSource
    from ..context import Context
    from ..credentials import Credentials
    from ..refresh.sync import RefreshableCredentials

__all__ = ["CachedSsoFetch", "cached_sso_credentials", "sso_entry", "sso_key"]


def sso_key(source: SsoSource) -> str:
    """The cache entry's name for ``source`` (InvalidConfigError when it is incomplete)."""
    return sso_cache_key(*cache_identity(source))


def sso_entry(creds: Credentials) -> Dict[str, Any]:
    """The entry botocore's SSO fetcher writes for ``creds`` (the portal always gives a
    session token and an expiry)."""
    assert creds.token is not None and creds.expiry is not None
    doc: Dict[str, Any] = {
        "AccessKeyId": creds.access_key,
        "SecretAccessKey": creds.secret_key,
        "SessionToken": creds.token,
        "Expiration": format_timestamp(creds.expiry),
    }
    if creds.account_id:
        doc["AccountId"] = creds.account_id
    return {"ProviderType": "sso", "Credentials": doc}


class CachedSsoFetch(CachedStsFetch):
    """The cache-first fetch with the SSO portal in STS's place."""

    method = METHOD

    def __init__(self, fetcher: SsoFetcher, ctx: Context) -> None:
        label = (
            f"SSO role {fetcher.role_name} in {fetcher.account_id} (profile '{fetcher.profile}')"
        )
        super().__init__(None, ctx, label)
        self._fetcher = fetcher
        self._key = sso_cache_key(
            fetcher.start_url, fetcher.role_name, fetcher.account_id, fetcher.session_name
        )

    def _call_sts(self) -> Credentials:
        from ..refresh.policy import Mode

        creds = self._fetcher(Mode.MANDATORY, None)
        try:
            self._ctx.services.cache.store(self.key, sso_entry(creds))
        except ValueError:
            raise MalformedResponseError(
                f"{self.label}: the portal answered with credentials the cache cannot hold."
            ) from None
        return creds


def cached_sso_credentials(source: SsoSource, ctx: Context) -> RefreshableCredentials:
    """Credentials for an SSO profile, through the shared cache: a RefreshableCredentials
    (method ``sso``) that takes a valid entry, else calls the portal on first use and again
    before expiry. Incomplete configuration raises InvalidConfigError at once."""
    fetch = CachedSsoFetch(SsoFetcher(source, ctx), ctx)
    return ctx.refreshable(fetch, method=METHOD, label=fetch.label, forget=fetch.forget)
