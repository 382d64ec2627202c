"""awsroles inside botocore: a CredentialProvider placed ahead of botocore's assume-role
provider, and credential objects botocore can sign with."""

from __future__ import annotations

import botocore.credentials
import botocore.exceptions
import botocore.session

from .._log import get_logger
from ..config.model import NamedSource, StaticKeys
from ..context import DEFAULT_CACHE, DEFAULT_LOCK_TIMEOUT, Context, Services, Settings
from ..providers.base import Applies, NotApplicable
from ..resolver.profile import ProfileProvider

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping, Optional, TextIO

    from ..config.files import SharedConfig
    from ..config.model import BaseSource
    from ..protocols import Clock, CredentialCache, CredentialSource, Prompter, Transport

log = get_logger("awsroles")

__all__ = ["AwsRolesProvider", "install", "botocore_session", "BotocoreCredentials"]

#: Error codes from any AWS call that mean "these credentials are no longer good".
EXPIRED_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired", "InvalidToken"}
)


class BotocoreCredentials(botocore.credentials.Credentials):
    """botocore's Credentials interface over an awsroles credential object."""

    def __init__(self, source: CredentialSource, method: str = "awsroles") -> None:
        self._source = source
        self.method = method

    # botocore declares plain attributes; each read here goes through the refresh rules
    @property
    def access_key(self) -> str:  # type: ignore[override]
        return self._source.get_frozen_credentials().access_key

    @property
    def secret_key(self) -> str:  # type: ignore[override]
        return self._source.get_frozen_credentials().secret_key

    @property
    def token(self) -> Optional[str]:  # type: ignore[override]
        return self._source.get_frozen_credentials().token

    @property
    def account_id(self) -> Optional[str]:
        return self._source.get_frozen_credentials().account_id

    def get_frozen_credentials(self) -> botocore.credentials.ReadOnlyCredentials:
        c = self._source.get_frozen_credentials()
        return botocore.credentials.ReadOnlyCredentials(
            c.access_key, c.secret_key, c.token, c.account_id
        )

    def refresh_needed(self, refresh_in: Optional[int] = None) -> bool:
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
    Other profiles return None so botocore's own providers handle them.

    ``settings`` applies to every load (its ``profile`` is used when the session names
    none); ``services`` makes the services of one load (a new one each time, so the shared
    files are read again)."""

    METHOD = "awsroles-assume-role"
    CANONICAL_NAME = "custom-awsroles"

    def __init__(
        self,
        session: Optional[botocore.session.Session] = None,
        settings: Optional[Settings] = None,
        services: Optional[Callable[[], Services]] = None,
    ) -> None:
        super().__init__()
        self._session = session
        self._settings = Settings() if settings is None else settings
        self._services = Services if services is None else services
        self.credentials: Optional[BotocoreCredentials] = None

    def _profile(self) -> Optional[str]:
        s = self._session
        if s is not None and "profile" in s.instance_variables():
            profile: Optional[str] = s.get_config_variable("profile")
            return profile
        return self._settings.profile

    def load(self) -> Optional[BotocoreCredentials]:
        ctx = Context(self._settings.replace(profile=self._profile()), self._services())
        found = ProfileProvider().find(ctx)
        if not isinstance(found, Applies) or found.plan is None:
            return None
        if not found.plan.hops or not _supported(found.plan.base):
            return None
        loaded = found.load()
        if isinstance(loaded, NotApplicable):
            return None
        self.credentials = BotocoreCredentials(loaded, method="assume-role")
        return self.credentials


def _supported(base: BaseSource) -> bool:
    return isinstance(base, StaticKeys) or (
        isinstance(base, NamedSource) and base.name == "Environment"
    )


def install(
    session: botocore.session.Session,
    *,
    profile: Optional[str] = None,
    region: Optional[str] = None,
    sts_endpoint_url: Optional[str] = None,
    role_options: Optional[Mapping[str, Any]] = None,
    advisory_timeout: Optional[float] = None,
    mandatory_timeout: Optional[float] = None,
    background_refresh: bool = True,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    process_timeout: Optional[float] = None,
    env: Optional[Mapping[str, str]] = None,
    clock: Optional[Clock] = None,
    transport: Optional[Transport] = None,
    cache: Optional[CredentialCache] = DEFAULT_CACHE,
    prompter: Optional[Prompter] = None,
    process_stderr: Optional[TextIO] = None,
    config: Optional[SharedConfig] = None,
) -> AwsRolesProvider:
    """Put awsroles into ``session``'s credential chain, ahead of botocore's assume-role
    provider, and mark the credentials stale when an AWS call reports them expired.

    ``profile`` is used when the session names none. The other parameters mean what they
    mean for ``awsroles.resolve()``."""
    settings = Settings(
        profile=profile,
        region=region,
        sts_endpoint_url=sts_endpoint_url,
        role_options=role_options,
        advisory_timeout=advisory_timeout,
        mandatory_timeout=mandatory_timeout,
        background_refresh=background_refresh,
        lock_timeout=lock_timeout,
        process_timeout=process_timeout,
    )

    def services() -> Services:
        return Services(
            env=env,
            clock=clock,
            transport=transport,
            cache=cache,
            prompter=prompter,
            process_stderr=process_stderr,
            config=config,
        )

    resolver = session.get_component("credential_provider")
    provider = AwsRolesProvider(session, settings, services)
    resolver.remove(provider.METHOD)
    try:
        resolver.insert_before("assume-role", provider)
    except botocore.exceptions.UnknownCredentialError:
        resolver.providers.insert(0, provider)

    def on_before_sign(request: Any = None, **kwargs: Any) -> None:
        # Remember which set signs this request, so a late error about a set that has
        # already been replaced does not throw away the new one.
        if provider.credentials is not None and request is not None:
            # the signer asks for the same frozen set right after this event
            frozen = provider.credentials.get_frozen_credentials()
            request.context["awsroles_access_key"] = frozen.access_key

    def on_after_call(
        parsed: Optional[Mapping[str, Any]] = None,
        context: Optional[Mapping[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        code = (parsed or {}).get("Error", {}).get("Code")
        if code in EXPIRED_CODES and provider.credentials is not None:
            used = (context or {}).get("awsroles_access_key")
            if provider.credentials.invalidate(used):
                log.info("awsroles: an AWS call reported %s; credentials will refresh", code)

    session.register("before-sign", on_before_sign, unique_id="awsroles-signing-key")
    session.register("after-call", on_after_call, unique_id="awsroles-invalidate")
    return provider


def botocore_session(
    profile: Optional[str] = None,
    *,
    region: Optional[str] = None,
    sts_endpoint_url: Optional[str] = None,
    role_options: Optional[Mapping[str, Any]] = None,
    advisory_timeout: Optional[float] = None,
    mandatory_timeout: Optional[float] = None,
    background_refresh: bool = True,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    process_timeout: Optional[float] = None,
    env: Optional[Mapping[str, str]] = None,
    clock: Optional[Clock] = None,
    transport: Optional[Transport] = None,
    cache: Optional[CredentialCache] = DEFAULT_CACHE,
    prompter: Optional[Prompter] = None,
    process_stderr: Optional[TextIO] = None,
    config: Optional[SharedConfig] = None,
) -> botocore.session.Session:
    """A botocore Session for ``profile`` whose role profiles resolve through awsroles
    (``install()``; the parameters mean what they mean for ``awsroles.resolve()``)."""
    session = botocore.session.Session(profile=profile)
    install(
        session,
        region=region,
        sts_endpoint_url=sts_endpoint_url,
        role_options=role_options,
        advisory_timeout=advisory_timeout,
        mandatory_timeout=mandatory_timeout,
        background_refresh=background_refresh,
        lock_timeout=lock_timeout,
        process_timeout=process_timeout,
        env=env,
        clock=clock,
        transport=transport,
        cache=cache,
        prompter=prompter,
        process_stderr=process_stderr,
        config=config,
    )
    return session
