"""IAM Identity Center (SSO) role credentials, METHOD ``sso``.

The profile names ``sso_account_id`` and ``sso_role_name``; ``sso_start_url`` and
``sso_region`` come from the profile (legacy) or from its ``[sso-session NAME]`` section (the
plan merges them). With the access token that ``aws sso login`` cached
(:mod:`awsroles.providers.sso_token`), one unsigned call::

    GET https://portal.sso.<sso_region>.amazonaws.com/federation/credentials
        ?role_name=<role>&account_id=<account>
    x-amz-sso_bearer_token: <access token>

returns ``roleCredentials`` (``expiration`` in epoch milliseconds). The endpoint follows
botocore's configured-endpoint rules for the ``sso`` service: ``AWS_ENDPOINT_URL_SSO``, then
``AWS_ENDPOINT_URL``, then the profile's ``[services X]`` ``sso.endpoint_url``, then the
profile's ``endpoint_url`` (all skipped with ``ignore_configured_endpoint_urls``), else
``portal.sso[-fips].<region>.<dns suffix>``; sso-oidc (token refresh) the same way with
``AWS_ENDPOINT_URL_SSO_OIDC`` and ``sso_oidc``.

The role credentials are kept in the shared cache as the AWS CLI v2 keeps them
(:mod:`awsroles.resolver.sso`); :func:`sso_credentials` alone keeps them in memory, as plain
botocore does. The first portal call happens on first use. A 401 means the token is no longer
valid: a typed error with the ``aws sso login`` hint. 5xx, throttling and connection
failures are retried, then raised as recoverable errors (static stability applies).
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timezone
from urllib.parse import quote

from .._log import get_logger
from .._untrusted import json_loads
from ..config.model import SsoSource
from ..credentials import Credentials, first_unusable
from ..errors import (
    CredentialRetrievalError,
    InvalidConfigError,
    MalformedResponseError,
    ServiceError,
)
from ..refresh.sync import RefreshableCredentials
from ..transport.base import HttpRequest
from ..transport.retry import Retry, full_jitter, with_retries
from .sso_token import SsoTokenError, SsoTokenSource, login_hint, parse_time, read_token

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Optional, Tuple

    from ..context import Context
    from ..refresh.policy import Mode
    from ..transport.base import HttpResponse

log = get_logger("awsroles")

__all__ = [
    "METHOD",
    "REQUIRED_KEYS",
    "SsoPortalError",
    "SsoTokenError",
    "sso_credentials",
    "sso_endpoint",
    "SsoFetcher",
    "check_sso",
    "cache_identity",
]

METHOD = "sso"
REQUIRED_KEYS = ("sso_start_url", "sso_region", "sso_role_name", "sso_account_id")
_ATTEMPTS = 3
_HEADER = "x-amz-sso_bearer_token"


_REGION = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?")


def _checked_region(region: str, profile: str) -> str:
    """sso_region goes into the portal's host name, with the bearer token: only a region
    name may (botocore's ``validate_region_name`` pattern)."""
    if not _REGION.fullmatch(region or ""):
        raise InvalidConfigError(
            f"sso_region {region!r} is not a region name.",
            profile=profile,
            key="sso_region",
            hint="Write for example: sso_region = us-east-1",
        )
    return region


class SsoPortalError(ServiceError):
    """The SSO portal refused GetRoleCredentials or kept failing. ``status`` and ``code`` are
    the portal's (``UnauthorizedException``, ``ForbiddenException``, ...)."""

    PROVIDER = METHOD


# --- endpoints ------------------------------------------------------------------------------


def sso_endpoint(ctx: Context, region: str, service: str = "sso") -> Tuple[str, str]:
    """``(url, where it came from)`` for ``service`` ``sso`` (the portal) or ``sso-oidc``:
    the configured endpoint (:func:`awsroles.config.endpoints.configured_endpoint`), else
    ``portal.sso[-fips].<region>.<dns suffix>`` / ``oidc[-fips]...``."""
    from ..config.endpoints import configured_endpoint, flag, partition

    env = ctx.env
    profile = ctx.selected_profile_values()
    name = ctx.profile_name
    found = configured_endpoint(
        service, profile=profile, env=env, services=ctx.config.services, profile_name=name
    )
    if found is not None:
        return found
    fips = flag(env, "AWS_USE_FIPS_ENDPOINT", profile, "use_fips_endpoint", name)
    dual = flag(env, "AWS_USE_DUALSTACK_ENDPOINT", profile, "use_dualstack_endpoint", name)
    _, dns, dual_dns = partition(region)
    host = "portal.sso" if service == "sso" else "oidc"
    if fips:
        host += "-fips"
    return f"https://{host}.{region}.{dual_dns if dual else dns}", "endpoint rules"


# --- the fetch ------------------------------------------------------------------------------


def _settings(source: SsoSource) -> Dict[str, str]:
    settings = dict(source.settings)
    missing = [k for k in REQUIRED_KEYS if not (settings.get(k) or "").strip()]
    if missing:
        session = settings.get("sso_session")
        where = (
            f"[sso-session {session}]"
            if session
            and missing[0]
            in (
                "sso_start_url",
                "sso_region",
            )
            else "the profile"
        )
        raise InvalidConfigError(
            "the profile is configured to use SSO but is missing required configuration: "
            + ", ".join(missing)
            + ".",
            profile=source.profile,
            key=missing[0],
            hint=f"Add them to {where}, or run `aws configure sso`.",
        )
    return {k: v.strip() if isinstance(v, str) else v for k, v in settings.items()}


def cache_identity(source: SsoSource) -> Tuple[str, str, str, Optional[str]]:
    """What names the role's entry in the shared cache: ``(start URL, role name, account id,
    sso-session name or None)``. InvalidConfigError when the profile is incomplete."""
    s = _settings(source)
    session = s.get("sso_session") or None
    return s["sso_start_url"], s["sso_role_name"], s["sso_account_id"], session


def _ms_to_datetime(value: object) -> datetime:
    if type(value) not in (int, float) or not isinstance(value, (int, float)):
        raise TypeError("expiration is not a number")
    return datetime.fromtimestamp(int(value // 1000), tz=timezone.utc)


class SsoFetcher:
    """The fetch function of the SSO RefreshableCredentials: token, then GetRoleCredentials."""

    def __init__(self, source: SsoSource, ctx: Context) -> None:
        s = _settings(source)
        self.source = source
        self._ctx = ctx
        self.profile = source.profile
        self.session_name: Optional[str] = s.get("sso_session") or None
        self.start_url: str = s["sso_start_url"]
        self.region: str = _checked_region(s["sso_region"], source.profile)
        self.role_name: str = s["sso_role_name"]
        self.account_id: str = s["sso_account_id"]
        self.tokens = SsoTokenSource(
            ctx,
            profile=source.profile,
            session_name=self.session_name,
            start_url=self.start_url,
            sso_region=self.region,
            oidc_url=lambda: sso_endpoint(ctx, self.region, "sso-oidc")[0],
        )
        self._url: Optional[str] = None

    def __repr__(self) -> str:
        return (
            f"SsoFetcher(profile={self.profile!r}, account={self.account_id!r}, "
            f"role={self.role_name!r})"
        )

    @property
    def url(self) -> str:
        if self._url is None:
            base = sso_endpoint(self._ctx, self.region, "sso")[0].rstrip("/")
            query = (
                f"role_name={quote(self.role_name, safe='-_.~')}"
                f"&account_id={quote(self.account_id, safe='-_.~')}"
            )
            self._url = f"{base}/federation/credentials?{query}"
        return self._url

    def __call__(self, mode: Mode, current: Optional[Credentials]) -> Credentials:
        token = self.tokens.token()
        request = HttpRequest(
            "GET",
            self.url,
            headers={_HEADER: token, "Accept": "application/json"},
            timeout=(10.0, 30.0),
            max_body=64 * 1024,
        )

        def attempt(number: int) -> Credentials:
            try:
                response = self._ctx.services.transport(request)
            except CredentialRetrievalError as exc:  # TransportError: recoverable
                raise Retry(exc) from None
            if response.status == 200:
                return self._parse(response.body)
            error = self._error(response)
            if error.recoverable:
                raise Retry(error)
            raise error

        return with_retries(
            attempt,
            attempts=_ATTEMPTS,
            backoff=full_jitter(1.0, 4.0, random.random),
            sleep=self._ctx.clock.sleep,
        )

    def _error(self, response: HttpResponse) -> SsoPortalError:
        from .sso_token import _error_code

        status = response.status
        code = _error_code(response)
        portal_message = ""
        try:
            doc = json_loads(response.body.decode("utf-8"))
            if isinstance(doc, dict) and isinstance(doc.get("message"), str):
                portal_message = doc["message"][:200]
        except (ValueError, UnicodeDecodeError):
            pass
        said = f" ({code}: {portal_message})" if portal_message else f" ({code})" if code else ""
        where: Dict[str, Any] = {"profile": self.profile}
        target = f"role '{self.role_name}' in account {self.account_id}"
        if status == 401:
            return SsoPortalError(
                f"the SSO portal rejected the access token{said}: the SSO session has expired "
                "or was signed out.",
                status=status,
                code=code,
                hint=login_hint(self.profile, self.session_name),
                **where,
            )
        if status == 403:
            return SsoPortalError(
                f"the SSO portal refused {target}{said}.",
                status=status,
                code=code,
                hint="Check sso_account_id and sso_role_name (the role must be assigned to "
                "you in IAM Identity Center); if they are right, "
                + login_hint(self.profile, self.session_name)[0].lower()
                + login_hint(self.profile, self.session_name)[1:],
                **where,
            )
        if status == 404:
            return SsoPortalError(
                f"the SSO portal does not know {target}{said}.",
                status=status,
                code=code,
                hint="Check sso_account_id and sso_role_name.",
                **where,
            )
        recoverable = status >= 500 or status == 429 or code == "TooManyRequestsException"
        return SsoPortalError(
            f"the SSO portal answered HTTP {status} for {target}{said}.",
            status=status,
            code=code,
            recoverable=recoverable,
            **where,
        )

    def _parse(self, body: bytes) -> Credentials:
        try:
            doc = json_loads(body.decode("utf-8"))
            rc = doc["roleCredentials"]
            access, secret, token = rc["accessKeyId"], rc["secretAccessKey"], rc["sessionToken"]
            if not all(isinstance(v, str) and v for v in (access, secret, token)):
                raise TypeError
            if first_unusable({"a": access, "s": secret, "t": token}) is not None:
                raise ValueError("characters that credentials cannot hold")
            expiry = _ms_to_datetime(rc["expiration"])
        except (ValueError, KeyError, TypeError, OverflowError, OSError):
            raise MalformedResponseError(
                "the SSO portal answered GetRoleCredentials with an unexpected document "
                "(not shown).",
                provider=METHOD,
                profile=self.profile,
            ) from None
        log.info(
            "profile '%s': SSO credentials for role %s in account %s",
            self.profile,
            self.role_name,
            self.account_id,
        )
        return Credentials(
            access_key=access,
            secret_key=secret,
            token=token,
            expiry=expiry,
            account_id=self.account_id,
            method=METHOD,
        )


def sso_credentials(source: SsoSource, ctx: Context) -> RefreshableCredentials:
    """Credentials for an SSO profile: a :class:`RefreshableCredentials` (method ``sso``)
    that calls the portal on first use and again before expiry. Incomplete configuration
    raises :class:`InvalidConfigError` at once."""
    fetcher = SsoFetcher(source, ctx)
    return ctx.refreshable(
        fetcher,
        method=METHOD,
        label=f"SSO role {fetcher.role_name} in {fetcher.account_id} (profile '{source.profile}')",
    )


def check_sso(source: SsoSource, ctx: Context) -> Tuple[bool, str]:
    """An offline answer for ``explain``: is the configuration complete, and is there an
    unexpired token (or a refreshable sso-session token) on disk? Never calls out."""
    try:
        fetcher = SsoFetcher(source, ctx)
    except InvalidConfigError as exc:
        return False, str(exc)
    tokens = fetcher.tokens
    try:
        data, expires = read_token(
            tokens.path,
            profile=source.profile,
            session_name=tokens.session_name,
            start_url=tokens.start_url,
        )
    except SsoTokenError as exc:
        return False, f"{exc.message} {exc.hint}"
    now = ctx.clock.now()
    what = f"role {fetcher.role_name} in {fetcher.account_id}"
    if expires > now:
        return True, f"SSO {what}; token valid until {expires.isoformat()}"
    if tokens.session_name is not None and data.get("refreshToken"):
        try:
            registered = parse_time(data.get("registrationExpiresAt")) > now
        except ValueError:
            registered = False
        if registered:
            return True, f"SSO {what}; token expired, will try to refresh it"
    return False, f"SSO token expired at {expires.isoformat()}; " + login_hint(
        source.profile, tokens.session_name
    )
