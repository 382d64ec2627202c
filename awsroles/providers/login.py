"""``login_session`` profiles: the AWS credentials that ``aws login`` (sign-in with console
credentials) caches, refreshed through the sign-in service; METHOD ``login``.

The profile holds ``login_session = <principal ARN>``; the session lives in
``~/.aws/login/cache/<sha256>.json`` (:mod:`awsroles.providers.login_token`, with the DPoP
proof and the endpoint rules). Its
``accessToken`` *is* the AWS credentials (about 15 minutes long). When they have less than
five minutes left (botocore's ``LoginCredentialFetcher`` threshold), one call::

    POST https://<region>.signin.aws.amazon.com/v1/token
    Content-Type: application/json
    DPoP: <ES256 proof signed with the cached dpopKey>

    {"clientId": "...", "refreshToken": "...", "grantType": "refresh_token"}

answers new credentials, ``expiresIn`` seconds and the next refresh token, which are written
back to the file. The endpoint follows botocore's configured-endpoint rules for the
``signin`` service (``AWS_ENDPOINT_URL_SIGNIN``, ``AWS_ENDPOINT_URL``, ``[services X]``
``signin.endpoint_url``, the profile's ``endpoint_url``), else the service's endpoint rules
for the region (the same region STS calls use: code, ``AWS_DEFAULT_REGION``, ``AWS_REGION``,
the selected profile's ``region``).

Unlike botocore, the read-refresh-write runs under a lock file next to the session
(``<sha256>.json.lock``, which the AWS CLI ignores), so two processes never spend the same
refresh token, and a process that waited takes the session the other one wrote. A 5xx,
throttling or a connection failure is retried, then recoverable (static stability keeps
serving credentials that are still valid); an expired or revoked session (a 4xx) is a
:class:`LoginRefreshRequired` telling the user to run ``aws login`` again.
"""

from __future__ import annotations

import json
import os
import random

from .._log import get_logger
from .._untrusted import json_loads
from ..credentials import Credentials, first_unusable
from ..errors import CredentialRetrievalError, InvalidConfigError, MalformedResponseError
from ..transport.base import HttpRequest
from ..transport.retry import Retry, full_jitter, with_retries
from .login_token import (
    METHOD,
    TOKEN_PATH,
    LoginDependencyError,
    LoginError,
    LoginRefreshRequired,
    LoginTokenError,
    credentials_of_token,
    dpop_proof,
    load_dpop_key,
    login_cache_key,
    login_hint,
    login_token_path,
    read_login_token,
    require_cryptography,
    signin_endpoint,
    write_login_token,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

    from ..config.model import LoginSource
    from ..context import Context
    from ..refresh.policy import Mode
    from ..refresh.sync import RefreshableCredentials
    from ..transport.base import HttpResponse

log = get_logger("awsroles")

__all__ = [
    "METHOD",
    "REFRESH_WINDOW",
    "LoginError",
    "LoginTokenError",
    "LoginRefreshRequired",
    "LoginDependencyError",
    "LoginFetcher",
    "login_credentials",
    "signin_endpoint",
    "describe_login",
]

#: Seconds: a session with less left is refreshed (botocore's ``_REFRESH_THRESHOLD``).
REFRESH_WINDOW = 5 * 60
_ATTEMPTS = 3
#: The longest ``expiresIn`` believed (the service documents 15 minutes).
_MAX_LIFETIME = 12 * 3600

# --- the fetch ------------------------------------------------------------------------------


class LoginFetcher:
    """The fetch function of a login profile's RefreshableCredentials: the cached session
    while it has more than :data:`REFRESH_WINDOW` left, else a refresh under the lock."""

    def __init__(self, source: LoginSource, ctx: Context) -> None:
        session = source.session.strip()
        if not session:
            raise InvalidConfigError(
                "login_session is empty.",
                profile=source.profile,
                key="login_session",
                hint=login_hint(source.profile),
            )
        self.source = source
        self.profile = source.profile
        self.session = session
        self._ctx = ctx
        self.path = login_token_path(ctx.env, session)
        self._url: Optional[str] = None

    def __repr__(self) -> str:
        return f"LoginFetcher(profile={self.profile!r}, path={self.path!r})"

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = signin_endpoint(self._ctx)[0].rstrip("/") + TOKEN_PATH
        return self._url

    def read(self) -> Tuple[Dict[str, Any], Credentials]:
        return read_login_token(self.path, profile=self.profile, session=self.session)

    def cached(self) -> Optional[Credentials]:
        """The session's credentials when they have not expired yet (served first, as
        botocore serves them; the refresh policy decides when to refresh)."""
        _, creds = self.read()
        assert creds.expiry is not None  # read_login_token requires expiresAt
        return creds if creds.expiry > self._ctx.clock.now() else None

    def _usable(self, creds: Credentials, mode: Mode, current: Optional[Credentials]) -> bool:
        """Whether the file's credentials answer this fetch without calling the service:
        outside the refresh window, and newer than the held set (another process refreshed),
        or another set than the one just rejected."""
        from ..refresh.policy import MANDATORY_WINDOW, entry_usable

        window = max(REFRESH_WINDOW, self._ctx.settings.mandatory_timeout or MANDATORY_WINDOW)
        return entry_usable(
            creds, mode, current, self._ctx.clock, advisory=window, mandatory=window
        )

    def __call__(self, mode: Mode, current: Optional[Credentials]) -> Credentials:
        from ..cache.store import FileCache

        _, creds = self.read()
        if self._usable(creds, mode, current):
            return creds
        key = login_cache_key(self.session)
        timeout = self._ctx.settings.lock_timeout
        with FileCache(os.path.dirname(self.path)).lock(key, timeout=timeout):
            doc, creds = self.read()  # another process may have refreshed it meanwhile
            if self._usable(creds, mode, current):
                log.debug("profile '%s': login session refreshed by another process", self.profile)
                return creds
            new = self._refresh(doc)
            try:
                write_login_token(self.path, new)
            except OSError as exc:
                log.warning(
                    "profile '%s': login session refreshed but not saved to %s (%s); using it "
                    "in memory",
                    self.profile,
                    self.path,
                    exc.strerror or type(exc).__name__,
                )
            log.info("profile '%s': login session refreshed", self.profile)
            return self._credentials_of(new)

    def _credentials_of(self, doc: Dict[str, Any]) -> Credentials:
        where = {"profile": self.profile}
        return credentials_of_token(doc["accessToken"], self.path, where)

    def _refresh(self, doc: Dict[str, Any]) -> Dict[str, Any]:
        """CreateOAuth2Token with the refresh token and a fresh DPoP proof per attempt; the
        document to write back."""
        import uuid

        key = load_dpop_key(doc["dpopKey"], path=self.path, profile=self.profile)
        url = self.url
        body = json.dumps(
            {
                "clientId": doc["clientId"],
                "refreshToken": doc["refreshToken"],
                "grantType": "refresh_token",
            }
        ).encode("utf-8")
        clock = self._ctx.clock

        def attempt(number: int) -> Dict[str, Any]:
            proof = dpop_proof(
                key, url, issued_at=int(clock.now().timestamp()), jti=str(uuid.uuid4())
            )
            request = HttpRequest(
                "POST",
                url,
                headers={
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                    "DPoP": proof,
                },
                body=body,
                timeout=(10.0, 30.0),
                max_body=64 * 1024,
            )
            try:
                response = self._ctx.services.transport(request)
            except CredentialRetrievalError as exc:  # TransportError: recoverable
                raise Retry(exc) from None
            if response.status == 200:
                return self._parse(response.body, doc)
            error = self._error(response, doc)
            if error.recoverable:
                raise Retry(error, throttled=response.status == 429)
            raise error

        return with_retries(
            attempt,
            attempts=_ATTEMPTS,
            backoff=full_jitter(1.0, 4.0, random.random),
            sleep=clock.sleep,
        )

    def _error(self, response: HttpResponse, doc: Dict[str, Any]) -> LoginError:
        status = response.status
        code, error, message = _error_fields(response)
        answer = response.body.decode("utf-8", "replace") + code
        if doc["refreshToken"] in answer or doc["clientId"] in answer:
            # never repeat a request's secrets, whatever the service echoes (checked on the
            # whole answer: a cut field could hold part of one)
            code = error = message = ""
        reason = error or code
        said = f" ({reason}: {message})" if message else f" ({reason})" if reason else ""
        where: Dict[str, Any] = {"profile": self.profile, "status": status, "code": reason}
        if status >= 500 or status == 429 or code == "TooManyRequestsError":
            return LoginError(
                f"the sign-in service answered HTTP {status}{said}.", recoverable=True, **where
            )
        if error == "INSUFFICIENT_PERMISSIONS":
            return LoginError(
                f"the sign-in service refused to refresh the session{said}: the signed-in "
                "identity may lack permission for the signin:CreateOAuth2Token action.",
                hint=f"Grant it, then run `aws login --profile {self.profile}` and try again.",
                **where,
            )
        if not 400 <= status < 500:  # a redirect or the like: nothing the user did
            return LoginError(f"the sign-in service answered HTTP {status}{said}.", **where)
        return LoginRefreshRequired(
            f"the sign-in service refused the refresh token (HTTP {status}{said}): the login "
            "session has expired or was revoked, or the credentials behind it changed.",
            hint=login_hint(self.profile),
            **where,
        )

    def _parse(self, body: bytes, doc: Dict[str, Any]) -> Dict[str, Any]:
        from ..timestamps import format_timestamp

        try:
            out = json_loads(body.decode("utf-8"))
            token = out["accessToken"]
            fields = {k: token[k] for k in ("accessKeyId", "secretAccessKey", "sessionToken")}
            expires_in = out["expiresIn"]
            refresh = out.get("refreshToken", doc["refreshToken"])
            if (
                not all(isinstance(v, str) and v for v in fields.values())
                or first_unusable(fields) is not None
                or type(expires_in) is not int
                or not 0 < expires_in <= _MAX_LIFETIME
                or not isinstance(refresh, str)
                or not refresh
            ):
                raise TypeError
        except (ValueError, KeyError, TypeError, AttributeError):
            raise MalformedResponseError(
                "the sign-in service answered CreateOAuth2Token with an unexpected document "
                "(not shown).",
                provider=METHOD,
                profile=self.profile,
            ) from None
        from datetime import timedelta

        expires = self._ctx.clock.now() + timedelta(seconds=expires_in)
        access: Dict[str, Any] = dict(fields)
        old = doc["accessToken"]
        if "accountId" in old:
            access["accountId"] = old["accountId"]
        access["expiresAt"] = format_timestamp(expires)
        new = dict(doc)  # every other field kept, in its place (botocore's dict.update)
        new["accessToken"] = access
        new["refreshToken"] = refresh
        return new


def _error_fields(response: HttpResponse) -> Tuple[str, str, str]:
    """``(error type, OAuth error, message)`` of an error answer: the type from the
    ``x-amzn-errortype`` header or the body's ``__type``; ``error`` and ``message`` from the
    JSON body (each "" when absent)."""
    code = response.headers.get("x-amzn-errortype", "").split(":", 1)[0]
    error = message = ""
    try:
        doc = json_loads(response.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        doc = None
    if isinstance(doc, dict):
        if not code and isinstance(doc.get("__type"), str):
            code = doc["__type"].rsplit("#", 1)[-1]
        if isinstance(doc.get("error"), str):
            error = doc["error"]
        if isinstance(doc.get("message"), str):
            message = doc["message"]
    return code[:100], error[:100], message[:200]


def login_credentials(source: LoginSource, ctx: Context) -> RefreshableCredentials:
    """Credentials for a ``login_session`` profile: a :class:`RefreshableCredentials`
    (method ``login``) holding the cached session's credentials while they are valid and
    refreshing them through the sign-in service. Raises :class:`LoginDependencyError`
    without ``cryptography`` and :class:`LoginTokenError` when the session cannot be read."""
    require_cryptography(source.profile)
    fetcher = LoginFetcher(source, ctx)
    return ctx.refreshable(
        fetcher,
        method=METHOD,
        label=f"aws login session (profile '{source.profile}')",
        initial=fetcher.cached(),
    )


def describe_login(source: LoginSource, ctx: Context) -> List[str]:
    """Lines for ``explain``: where the session is and its state, where a refresh would go,
    and whether ``cryptography`` is installed. Offline, and without secrets."""
    import importlib.util

    try:
        fetcher = LoginFetcher(source, ctx)
    except InvalidConfigError as exc:
        return [str(exc)]
    lines = []
    try:
        _, creds = fetcher.read()
    except LoginTokenError as exc:
        lines.append(f"{fetcher.path}: {exc.message} {exc.hint}")
    else:
        assert creds.expiry is not None
        left = (creds.expiry - ctx.clock.now()).total_seconds()
        when = creds.expiry.isoformat()
        if left > REFRESH_WINDOW:
            lines.append(f"{fetcher.path}: valid until {when}, {int(left // 60)} min left")
        else:
            state = "expired" if left <= 0 else "expiring"
            lines.append(f"{fetcher.path}: {state} ({when}); will be refreshed")
    try:
        url, where = signin_endpoint(ctx)
        lines.append(f"refresh: {url.rstrip('/')}{TOKEN_PATH} ({where})")
    except InvalidConfigError as exc:
        lines.append(f"refresh: not possible: {exc}")
    try:
        found = importlib.util.find_spec("cryptography") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        lines.append(
            "cryptography is not installed: this profile fails until it is "
            f"({LoginDependencyError.__name__}); pip install 'awsroles[login]'"
        )
    return lines
