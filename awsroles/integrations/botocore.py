"""awsroles inside botocore: a CredentialProvider placed ahead of botocore's assume-role
provider, and credential objects botocore can sign with."""

from __future__ import annotations

import os
from typing import Any, Optional

import botocore.credentials
import botocore.exceptions
import botocore.session

from .._log import get_logger
from ..config.model import NamedSource, StaticKeys
from ..context import Context
from ..resolver.profile import ProfileProvider

log = get_logger("awsroles")

__all__ = ["AwsRolesProvider", "install", "botocore_session", "BotocoreCredentials"]

#: Error codes from any AWS call that mean "these credentials are no longer good".
EXPIRED_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired", "InvalidToken"}
)


class BotocoreCredentials(botocore.credentials.Credentials):
    """botocore's Credentials interface over an awsroles credential object."""

    def __init__(self, source: Any, method: str = "awsroles") -> None:  # noqa: D107
        self._source = source
        self.method = method

    # botocore reads these as attributes; each read goes through awsroles' refresh rules.
    @property
    def access_key(self):
        return self._source.get_frozen_credentials().access_key

    @property
    def secret_key(self):
        return self._source.get_frozen_credentials().secret_key

    @property
    def token(self):
        return self._source.get_frozen_credentials().token

    @property
    def account_id(self):
        return self._source.get_frozen_credentials().account_id

    def get_frozen_credentials(self):
        c = self._source.get_frozen_credentials()
        return botocore.credentials.ReadOnlyCredentials(
            c.access_key, c.secret_key, c.token, c.account_id
        )

    def refresh_needed(self, refresh_in=None) -> bool:
        check = getattr(self._source, "refresh_needed", None)
        return bool(check()) if check else False

    def invalidate(self, access_key: Optional[str] = None) -> bool:
        inv = getattr(self._source, "invalidate", None)
        return bool(inv(access_key)) if inv is not None else False

    def __repr__(self) -> str:
        return f"BotocoreCredentials({self._source!r})"


class AwsRolesProvider(botocore.credentials.CredentialProvider):
    """Resolves role profiles (``role_arn`` + ``source_profile``/``credential_source``) with
    awsroles: the AWS CLI's cache, one STS call across processes, refresh before expiry.
    Other profiles return None so botocore's own providers handle them."""

    METHOD = "awsroles-assume-role"
    CANONICAL_NAME = "custom-awsroles"

    def __init__(self, session: Optional[botocore.session.Session] = None, **options: Any):
        super().__init__()
        self._session = session
        self._options = options
        self.credentials: Optional[BotocoreCredentials] = None

    def _explicit_profile(self) -> Optional[str]:
        s = self._session
        if s is not None and "profile" in s.instance_variables():
            return s.get_config_variable("profile")
        return self._options.get("profile")

    def load(self):
        opts = dict(self._options)
        opts.pop("profile", None)
        ctx = Context(self._explicit_profile(), env=opts.pop("env", None) or os.environ, **opts)
        plan = ProfileProvider().plan(ctx)
        if plan is None or not plan.hops or not _supported(plan.base):
            return None
        from ..resolver.hops import resolve_plan

        self.credentials = BotocoreCredentials(resolve_plan(plan, ctx), method="assume-role")
        return self.credentials


def _supported(base: Any) -> bool:
    return isinstance(base, StaticKeys) or (
        isinstance(base, NamedSource) and base.name == "Environment"
    )


def install(session: botocore.session.Session, **options: Any) -> AwsRolesProvider:
    """Put awsroles into ``session``'s credential chain, ahead of botocore's assume-role
    provider, and mark the credentials stale when an AWS call reports them expired."""
    resolver = session.get_component("credential_provider")
    provider = AwsRolesProvider(session, **options)
    resolver.remove(provider.METHOD)
    try:
        resolver.insert_before("assume-role", provider)
    except botocore.exceptions.UnknownCredentialError:
        resolver.providers.insert(0, provider)

    def on_before_sign(request=None, **kwargs):
        # Remember which set signs this request, so a late error about a set that has
        # already been replaced does not throw away the new one.
        if provider.credentials is not None and request is not None:
            # the signer asks for the same frozen set right after this event
            frozen = provider.credentials.get_frozen_credentials()
            request.context["awsroles_access_key"] = frozen.access_key

    def on_after_call(parsed=None, context=None, **kwargs):
        code = (parsed or {}).get("Error", {}).get("Code")
        if code in EXPIRED_CODES and provider.credentials is not None:
            used = (context or {}).get("awsroles_access_key")
            if provider.credentials.invalidate(used):
                log.info("awsroles: an AWS call reported %s; credentials will refresh", code)

    session.register("before-sign", on_before_sign, unique_id="awsroles-signing-key")
    session.register("after-call", on_after_call, unique_id="awsroles-invalidate")
    return provider


def botocore_session(profile: Optional[str] = None, **options: Any) -> botocore.session.Session:
    """A botocore Session whose role profiles resolve through awsroles."""
    session = botocore.session.Session(profile=profile)
    install(session, **options)
    return session
