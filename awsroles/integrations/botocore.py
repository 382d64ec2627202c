"""awsroles inside botocore: its chain as botocore credential providers, in botocore's order,
and credential objects botocore can sign with."""

from __future__ import annotations

import botocore.credentials
import botocore.exceptions
import botocore.session

from .._log import get_logger
from ..context import DEFAULT_CACHE, DEFAULT_LOCK_TIMEOUT, Context, Services, Settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping, Optional, TextIO, Tuple, Union

    import boto3

    from ..config.files import SharedConfig
    from ..credentials import Credentials
    from ..protocols import Clock, CredentialCache, CredentialSource, Prompter, Transport
    from ..refresh.aio import AioCredentials

log = get_logger("awsroles")

__all__ = [
    "AwsRolesProvider",
    "install",
    "botocore_session",
    "BotocoreCredentials",
    "REPLACED",
]

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

    def get_frozen_credentials(self) -> Credentials:  # type: ignore[override]
        """awsroles' frozen set: a ``ReadOnlyCredentials``-compatible named tuple whose repr
        hides the secret, with ``expiry`` and ``method`` kept."""
        return self._source.get_frozen_credentials()

    def refresh_needed(self, refresh_in: Optional[int] = None) -> bool:
        check = getattr(self._source, "refresh_needed", None)
        return bool(check(refresh_in)) if check else False

    def invalidate(self, access_key: Optional[str] = None) -> bool:
        inv = getattr(self._source, "invalidate", None)
        return bool(inv(access_key)) if inv is not None else False

    def __repr__(self) -> str:
        return f"BotocoreCredentials({self._source!r})"


#: botocore's providers whose sources awsroles resolves itself (the environment, the shared
#: files with every kind of profile, the container endpoint and instance metadata). Others
#: (``ec2-credentials-file``, ``boto-config``, a user's own) keep their place.
REPLACED = frozenset(
    {
        "env",
        "assume-role",
        "assume-role-with-web-identity",
        "sso",
        "login",
        "shared-credentials-file",
        "custom-process",
        "config-file",
        "container-role",
        "iam-role",
    }
)


#: The two parts of awsroles' chain in a session: first, and where botocore asks the
#: container endpoint and instance metadata (last).
_FRONT = ("env", "profile")
_BACK = ("container-role", "iam-role")


class _Installed:
    """What one install() shares between its two providers and its event handlers: the
    credentials the session got from awsroles, if any."""

    credentials: Optional[Union[BotocoreCredentials, AioCredentials]] = None


class AwsRolesProvider(botocore.credentials.CredentialProvider):
    """Part of awsroles' chain as a botocore credential provider: ``part`` names the awsroles
    providers it runs (``env`` and ``profile`` first in the session's chain; ``container-role``
    and ``iam-role`` last, where botocore has them), with the AWS CLI's cache, one STS call
    across processes and refresh before expiry. None when they find nothing, so the
    providers after it in the session's chain still run.

    ``settings`` applies to every load (its ``profile`` is used when the session names
    none); ``services`` makes the services of one load (a new one each time, so the shared
    files are read again)."""

    METHOD = "awsroles"
    CANONICAL_NAME = "custom-awsroles"

    def __init__(
        self,
        session: Optional[botocore.session.Session] = None,
        settings: Optional[Settings] = None,
        services: Optional[Callable[[], Services]] = None,
        *,
        part: Tuple[str, ...] = ("env", "profile", "container-role", "iam-role"),
        installed: Optional[_Installed] = None,
    ) -> None:
        super().__init__()
        self._session = session
        self._settings = Settings() if settings is None else settings
        self._services = Services if services is None else services
        self._part = part
        self._installed = _Installed() if installed is None else installed
        if part == _BACK:
            self.METHOD = "awsroles-metadata"

    @property
    def credentials(self) -> Optional[Union[BotocoreCredentials, AioCredentials]]:
        """The credentials the session got from awsroles, if any."""
        return self._installed.credentials

    def _session_settings(self) -> Settings:
        """The settings, with what was set on the session itself (its profile and region)
        winning, as it does for botocore's own providers."""
        s = self._session
        settings = self._settings
        if s is None:
            return settings
        chosen = s.instance_variables()
        if chosen.get("profile") is not None:
            settings = settings.replace(profile=chosen["profile"])
        if chosen.get("region") is not None and settings.region is None:
            settings = settings.replace(region=chosen["region"])
        return settings

    def find(self) -> Optional[Tuple[CredentialSource, str]]:
        """awsroles' credential object and botocore's method name for it, or None when
        this part of the chain finds nothing."""
        from ..errors import NoCredentialsError
        from ..resolver.chain import CredentialChain, default_providers

        ctx = Context(self._session_settings(), self._services())
        providers = [p for p in default_providers(ctx) if p.name in self._part]
        try:
            found = CredentialChain(providers).resolve(ctx)
        except NoCredentialsError:
            return None  # botocore's remaining providers have their turn
        source = found.credentials
        return source, getattr(source, "method", None) or found.found.provider

    def load(self) -> Optional[BotocoreCredentials]:
        found = self.find()
        if found is None:
            return None
        creds = BotocoreCredentials(*found)
        self._installed.credentials = creds
        return creds


def _botocore_session_of(session: Any) -> botocore.session.Session:
    """The botocore Session itself, given one or a boto3 Session (which keeps it as
    ``_session``, with no public accessor)."""
    found: botocore.session.Session
    if hasattr(session, "get_component"):
        found = session
        return found
    inner = getattr(session, "_session", None)
    if inner is not None and hasattr(inner, "get_component"):
        found = inner
        return found
    raise TypeError(
        f"install() takes a botocore.session.Session or a boto3.Session, not "
        f"{type(session).__name__}"
    )


def install(
    session: Union[botocore.session.Session, boto3.Session],
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
    """Put awsroles' whole chain into ``session`` (a botocore or boto3 Session), in botocore's
    order: the environment and the shared files (every kind of profile, role chains on any
    base) first, the container endpoint and instance metadata last. botocore's providers for
    those sources are taken out; the others (``boto-config``, your own) keep their
    place and still run when awsroles finds nothing. Credentials passed to ``create_client()``
    or ``set_credentials()`` still win, as in botocore. An AWS call that reports the
    credentials expired marks them invalid, so the next call refreshes.

    ``profile`` is used when the session names none. The other parameters mean what they
    mean for ``awsroles.resolve()``. Returns the first of the two providers installed."""
    bs = _botocore_session_of(session)
    settings, services = chain_settings(
        profile=profile,
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
    installed, front = put_in(bs, settings, services, AwsRolesProvider)

    def on_before_sign(request: Any = None, request_signer: Any = None, **kwargs: Any) -> None:
        # Remember which set signs this request, so a late error about a set that has
        # already been replaced does not throw away the new one. Only when it is awsroles'
        # set: a client made with keys of its own signs with those (and its errors are not
        # about awsroles' set).
        creds = installed.credentials
        if creds is None or request is None or not isinstance(creds, BotocoreCredentials):
            return
        signs_with_ours = getattr(request_signer, "_credentials", None) is creds
        if signs_with_ours:  # the signer asks for the same frozen set right after this event
            request.context[SIGNING_KEY] = creds.get_frozen_credentials().access_key

    def on_after_call(
        parsed: Optional[Mapping[str, Any]] = None,
        context: Optional[Mapping[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        creds = installed.credentials
        found = expired_key(parsed, context)
        if found is not None and isinstance(creds, BotocoreCredentials):
            if creds.invalidate(found[1]):
                log.info(INVALIDATED, found[0])

    bs.register("before-sign", on_before_sign, unique_id="awsroles-signing-key")
    bs.register("after-call", on_after_call, unique_id="awsroles-invalidate")
    return front


#: Where a request's context keeps the access key that signed it.
SIGNING_KEY = "awsroles_access_key"
INVALIDATED = "awsroles: an AWS call reported %s; credentials will refresh"


def expired_key(
    parsed: Optional[Mapping[str, Any]], context: Optional[Mapping[str, Any]]
) -> Optional[Tuple[str, str]]:
    """(error code, access key) when a call signed with awsroles' set says it expired."""
    code = (parsed or {}).get("Error", {}).get("Code")
    used = (context or {}).get(SIGNING_KEY)
    return (code, used) if code in EXPIRED_CODES and used is not None else None


#: install()'s options that name what a load talks to (the rest are Settings).
_SERVICES = ("env", "clock", "transport", "cache", "prompter", "process_stderr", "config")


def chain_settings(**options: Any) -> Tuple[Settings, Callable[[], Services]]:
    """install()'s options as the settings of every load and a maker of its services (a new
    one each load, so the shared files are read again). A misspelt option is a TypeError
    naming it."""
    given = {k: options.pop(k) for k in list(options) if k in _SERVICES}
    settings = Settings(**options)

    def services() -> Services:
        return Services(**given)

    return settings, services


def put_in(
    bs: botocore.session.Session,
    settings: Settings,
    services: Callable[[], Services],
    provider: type[AwsRolesProvider],
) -> Tuple[_Installed, AwsRolesProvider]:
    """Replace ``bs``'s providers in ``REPLACED`` by two of ``provider`` (front and back);
    returns their shared state and the front one."""
    resolver = bs.get_component("credential_provider")
    ours = [p for p in resolver.providers if isinstance(p, AwsRolesProvider)]
    # installed again: the same shared state, which the event handlers (registered once,
    # under their unique ids) already hold
    installed = ours[0]._installed if ours else _Installed()
    front = provider(bs, settings, services, part=_FRONT, installed=installed)
    back = provider(bs, settings, services, part=_BACK, installed=installed)
    kept = [
        p
        for p in resolver.providers
        if p.METHOD not in REPLACED and not isinstance(p, AwsRolesProvider)
    ]
    resolver.providers = [front, *kept, back]
    return installed, front


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
