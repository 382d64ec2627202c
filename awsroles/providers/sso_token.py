"""The SSO access token that ``aws sso login`` leaves in ``~/.aws/sso/cache``, and its refresh
through sso-oidc ``CreateToken``.

* File: ``<HOME>/.aws/sso/cache/<sha1>.json``, the SHA-1 of the sso-session name, or of the
  start URL for legacy profiles (no ``sso_session``). ``accessToken`` and ``expiresAt`` are
  required.
* sso-session profiles: within 15 minutes of ``expiresAt`` the token is refreshed with the
  ``refreshToken``, ``clientId`` and ``clientSecret`` stored next to it (while
  ``registrationExpiresAt`` is in the future) and written back atomically, 0600, with
  ``expiresAt`` as ``%Y-%m-%dT%H:%M:%SZ``, as botocore does. Unlike botocore, the
  read-refresh-write runs under a lock file (``<sha1>.json.lock``, ignored by the AWS CLI), so
  two processes never spend the same refresh token, and a refresh token the service did not
  rotate is kept rather than dropped.
* Legacy profiles are never refreshed (botocore's rule).

The access token, the refresh token and the client secret never appear in a log record, an
exception or a repr.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta

from .._files import NotARegularFile, atomic_write, make_private_dirs, read_small_file
from .._log import get_logger
from .._untrusted import json_loads
from ..credentials import unusable
from ..errors import CredentialRetrievalError
from ..timestamps import format_timestamp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Mapping, Optional, Tuple

    from ..transport.base import HttpResponse

log = get_logger("awsroles")

__all__ = [
    "REFRESH_WINDOW",
    "SsoTokenError",
    "sso_cache_dir",
    "token_cache_key",
    "token_path",
    "login_hint",
    "read_token",
    "SsoTokenSource",
]

METHOD = "sso"
#: botocore refreshes an sso-session token when less than this is left (seconds).
REFRESH_WINDOW = 15 * 60
_MAX_BYTES = 1024 * 1024


class SsoTokenError(CredentialRetrievalError):
    """The SSO token is missing, unreadable or expired: the user must log in again.
    ``recoverable`` only when the token expired while the refresh endpoint was unreachable."""

    def __init__(self, message: str, *, recoverable: bool = False, **kw: Any) -> None:
        self.recoverable = recoverable
        super().__init__(message, provider=METHOD, **kw)


# --- where the token lives ------------------------------------------------------------------


def sso_cache_dir(env: Mapping[str, str]) -> str:
    """``~/.aws/sso/cache`` (botocore and the AWS CLI v2 hard-code it)."""
    from ..config.paths import expanduser_home

    return os.path.join(expanduser_home(env), ".aws", "sso", "cache")


def token_cache_key(session_name: Optional[str], start_url: str) -> str:
    """botocore's ``SSOTokenLoader._generate_cache_key``."""
    import hashlib

    text = session_name if session_name is not None else start_url
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def token_path(env: Mapping[str, str], session_name: Optional[str], start_url: str) -> str:
    return os.path.join(sso_cache_dir(env), token_cache_key(session_name, start_url) + ".json")


def login_hint(profile: str, session_name: Optional[str]) -> str:
    if session_name is not None:
        return (
            f"Run `aws sso login --sso-session {session_name}` "
            f"(or `aws sso login --profile {profile}`) and try again."
        )
    return f"Run `aws sso login --profile {profile}` and try again."


# --- reading --------------------------------------------------------------------------------


def parse_time(value: Any) -> datetime:
    """An ``expiresAt``-style value as an aware UTC datetime (ValueError if it is not one).
    A value without a zone is read as UTC (botocore's dateutil comparison would crash)."""
    from ..timestamps import parse_timestamp

    if not isinstance(value, str) or not value.strip():
        raise ValueError("not a date string")
    return parse_timestamp(value)


def read_token(
    path: str, *, profile: str, session_name: Optional[str], start_url: str
) -> Tuple[Dict[str, Any], datetime]:
    """The token document at ``path`` and its expiry. Raises :class:`SsoTokenError` with the
    ``aws sso login`` hint when it is missing or unusable (never quoting its content)."""
    hint = login_hint(profile, session_name)
    what = f"sso-session '{session_name}'" if session_name is not None else f"start URL {start_url}"
    try:  # a FIFO planted at the path is refused, never waited on
        raw = read_small_file(path, _MAX_BYTES)
    except FileNotFoundError:
        raise SsoTokenError(
            f"no SSO token for {what} (looked for {path}): you are not logged in.",
            profile=profile,
            hint=hint,
        ) from None
    except NotARegularFile:
        raise SsoTokenError(
            f"the SSO token path {path} is not a regular file.", profile=profile, hint=hint
        ) from None
    except OSError as exc:
        raise SsoTokenError(
            f"cannot read the SSO token file {path} ({exc.strerror}).", profile=profile, hint=hint
        ) from None
    bad = SsoTokenError(
        f"the SSO token file {path} is not a token the AWS CLI wrote (content not shown).",
        profile=profile,
        hint=hint,
    )
    if len(raw) > _MAX_BYTES:
        raise bad
    try:
        data = json_loads(raw.decode("utf-8-sig"))
    except ValueError:
        raise bad from None
    if not isinstance(data, dict):
        raise bad
    token = data.get("accessToken")
    if not isinstance(token, str) or not token:
        raise SsoTokenError(
            f"the SSO token file {path} has no accessToken.", profile=profile, hint=hint
        )
    why = unusable(token)
    if why is not None:  # it goes into a request header: refuse it here, naming the file
        raise SsoTokenError(
            f"the accessToken in the SSO token file {path} contains {why} (not shown).",
            profile=profile,
            hint=hint,
        )
    try:
        expires = parse_time(data.get("expiresAt"))
    except ValueError:
        raise SsoTokenError(
            f"the SSO token file {path} has no valid expiresAt.", profile=profile, hint=hint
        ) from None
    return data, expires


def write_token(path: str, data: Mapping[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically, 0600 from creation (OSError on failure)."""
    make_private_dirs(os.path.dirname(path))
    atomic_write(path, json.dumps(data).encode("utf-8"))


# --- the token source -----------------------------------------------------------------------


class SsoTokenSource:
    """Hands out a valid access token for one SSO configuration, refreshing sso-session
    tokens the way botocore's ``SSOTokenProvider`` does. ``oidc_url`` is called (once) only
    when a refresh is attempted."""

    def __init__(
        self,
        ctx: Any,
        *,
        profile: str,
        session_name: Optional[str],
        start_url: str,
        sso_region: str,
        oidc_url: Callable[[], str],
    ) -> None:
        self._ctx = ctx
        self.profile = profile
        self.session_name = session_name
        self.start_url = start_url
        self.sso_region = sso_region
        self._oidc_url = oidc_url
        self.path = token_path(ctx.env, session_name, start_url)

    def __repr__(self) -> str:
        return f"SsoTokenSource(profile={self.profile!r}, path={self.path!r})"

    def _read(self) -> Tuple[Dict[str, Any], datetime]:
        return read_token(
            self.path,
            profile=self.profile,
            session_name=self.session_name,
            start_url=self.start_url,
        )

    def token(self) -> str:
        """A token that has not expired, or :class:`SsoTokenError`."""
        data, expires = self._read()
        now = self._ctx.clock.now()
        failure: Optional[BaseException] = None
        if self.session_name is not None and (expires - now).total_seconds() < REFRESH_WINDOW:
            data, expires, failure = self._refresh_locked()
            now = self._ctx.clock.now()
        if expires <= now:
            recoverable = isinstance(failure, CredentialRetrievalError) and failure.recoverable
            why = ""
            if failure is not None:
                why = f"; refreshing it failed ({getattr(failure, 'message', failure)})"
            raise SsoTokenError(
                f"the SSO token for {self._what()} expired at {format_timestamp(expires)}{why}.",
                recoverable=recoverable,
                profile=self.profile,
                hint=login_hint(self.profile, self.session_name),
            )
        token: str = data["accessToken"]  # a non-empty string: read_token checked it
        return token

    def _what(self) -> str:
        if self.session_name is not None:
            return f"sso-session '{self.session_name}'"
        return f"start URL {self.start_url}"

    def _refresh_locked(self) -> Tuple[Dict[str, Any], datetime, Optional[BaseException]]:
        from ..cache.store import FileCache

        key = token_cache_key(self.session_name, self.start_url)
        timeout = self._ctx.settings.lock_timeout
        with FileCache(os.path.dirname(self.path)).lock(key, timeout=timeout):
            data, expires = self._read()  # another process may have refreshed it meanwhile
            if (expires - self._ctx.clock.now()).total_seconds() >= REFRESH_WINDOW:
                return data, expires, None
            try:
                new = self._create_token(data)
            except CredentialRetrievalError as exc:
                log.warning("%s: refreshing the SSO token failed: %s", self._what(), exc)
                return data, expires, exc
            if new is None:
                return data, expires, None
            try:
                write_token(self.path, new)
            except OSError as exc:
                log.warning(
                    "%s: SSO token refreshed but not saved to %s (%s); using it in memory",
                    self._what(),
                    self.path,
                    exc.strerror or type(exc).__name__,
                )
            log.info("%s: SSO token refreshed", self._what())
            return new, parse_time(new["expiresAt"]), None

    def _create_token(self, data: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """sso-oidc CreateToken with the stored refresh token; None when the file holds no
        usable registration (botocore's conditions)."""
        needed = ("refreshToken", "clientId", "clientSecret", "registrationExpiresAt")
        missing = [k for k in needed if not isinstance(data.get(k), str) or not data.get(k)]
        if missing:
            log.info("%s: SSO token cannot be refreshed (missing %s)", self._what(), missing)
            return None
        try:
            registration_expires = parse_time(data["registrationExpiresAt"])
        except ValueError:
            return None
        now = self._ctx.clock.now()
        if registration_expires <= now:
            log.info("%s: SSO client registration expired; not refreshing", self._what())
            return None
        body = json.dumps(
            {
                "grantType": "refresh_token",
                "clientId": data["clientId"],
                "clientSecret": data["clientSecret"],
                "refreshToken": data["refreshToken"],
            }
        ).encode("utf-8")
        url = self._oidc_url().rstrip("/") + "/token"
        from ..transport.base import HttpRequest

        request = HttpRequest(
            "POST",
            url,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            body=body,
            timeout=(10.0, 30.0),
            max_body=64 * 1024,
        )
        response = self._ctx.services.transport(request)
        if response.status != 200:
            code = _error_code(response)
            error = CredentialRetrievalError(
                f"sso-oidc CreateToken answered HTTP {response.status} {code}".rstrip() + ".",
                provider=METHOD,
                profile=self.profile,
            )
            if response.status >= 500 or response.status == 429:
                error.recoverable = True
            raise error
        try:
            doc = json_loads(response.body.decode("utf-8"))
            access = doc["accessToken"]
            expires_in = doc["expiresIn"]
            if (
                not isinstance(access, str)
                or not access
                or unusable(access) is not None
                or type(expires_in) is not int
                or not 0 < expires_in <= 366 * 24 * 3600
            ):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            from ..errors import MalformedResponseError

            raise MalformedResponseError(
                "sso-oidc CreateToken answered with an unexpected document.",
                provider=METHOD,
                profile=self.profile,
            ) from None
        expires = now + timedelta(seconds=expires_in)
        new: Dict[str, Any] = {
            "startUrl": self.start_url,
            "region": self.sso_region,
            "accessToken": access,
            "expiresAt": format_timestamp(expires),
            "clientId": data["clientId"],
            "clientSecret": data["clientSecret"],
            "registrationExpiresAt": data["registrationExpiresAt"],
            "refreshToken": doc.get("refreshToken") or data["refreshToken"],
        }
        for k, v in data.items():  # keep fields a newer CLI may have written
            new.setdefault(k, v)
        return new


def _error_code(response: HttpResponse) -> str:
    header = response.headers.get("x-amzn-errortype", "")
    if header:
        return header.split(":", 1)[0]
    try:
        doc = json_loads(response.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return ""
    if isinstance(doc, dict):
        code = doc.get("__type") or doc.get("error") or ""
        if isinstance(code, str):
            return code.rsplit("#", 1)[-1][:100]
    return ""
