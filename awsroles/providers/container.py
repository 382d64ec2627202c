"""Container credentials: ECS task roles and EKS Pod Identity (botocore's ``container-role``).

Configured by the environment only, as botocore does:

* ``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`` (wins when present): ``http://169.254.170.2`` +
  the value, which must start with ``/`` (the query string is kept).
* ``AWS_CONTAINER_CREDENTIALS_FULL_URI``: ``https`` to any host; plain ``http`` only to a
  loopback address (127.0.0.0/8, ::1, the name ``localhost``), ``169.254.170.2``,
  ``169.254.170.23`` or ``fd00:ec2::23``. Names are never resolved (botocore does not either).
* ``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`` (read again at every fetch; EKS rotates it), else
  ``AWS_CONTAINER_AUTHORIZATION_TOKEN``: sent as the ``Authorization`` header. Whitespace around
  the token in the *file* (a trailing newline) is dropped: HTTP ignores it in a header value
  anyway. A CR or LF inside a token is refused.

Each fetch is ``GET`` with ``Accept: application/json``, a 2 s connect and 2 s read timeout, no
redirects, no proxies and a 64 KiB body limit. Up to 3 attempts, 1 s apart (through
``ctx.clock.sleep``, never after the last), for connection errors, timeouts, 5xx, 429 and a
body that is not JSON; other 4xx are answered at once. No message carries the token or the
response body (which may hold credentials).
"""

from __future__ import annotations

from .._log import get_logger
from .._record import Record
from .._untrusted import json_loads
from ..credentials import Credentials, first_unusable
from ..errors import (
    CredentialRetrievalError,
    MalformedResponseError,
    TransportError,
)
from ..refresh.policy import Mode
from ..refresh.sync import RefreshableCredentials
from ..transport.base import HttpRequest
from ..transport.retry import Retry, fixed, with_retries
from .base import Applies, NotApplicable
from .container_config import (  # noqa: F401 - part of this module's API
    FULL_URI,
    METHOD,
    RELATIVE_URI,
    TOKEN,
    TOKEN_FILE,
    ContainerEndpoint,
    read_authorization,
    resolve_container_uri,
    resolve_endpoint,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any, Dict, Mapping, Optional, Union

    from ..context import Context
    from ..protocols import Clock, Transport
    from ..transport.base import Timeout

log = get_logger("awsroles")

__all__ = [
    "METHOD",
    "CANONICAL_NAME",
    "ContainerProvider",
    "ContainerEndpoint",
    "ContainerEndpointError",
    "ContainerFetcher",
    "resolve_endpoint",
    "resolve_container_uri",
    "read_authorization",
]

CANONICAL_NAME = "EcsContainer"  # the credential_source value
TIMEOUT = (2.0, 2.0)  # connect, read: botocore's TIMEOUT_SECONDS = 2
ATTEMPTS = 3
RETRY_SLEEP = 1.0
MAX_BODY = 64 * 1024
_REQUIRED = ("AccessKeyId", "SecretAccessKey", "Token", "Expiration")


class ContainerEndpointError(CredentialRetrievalError):
    """The endpoint answered with an HTTP error. ``status`` is the HTTP status; the error is
    ``recoverable`` (static stability applies) for 5xx and 429 only."""

    def __init__(self, message: str, *, status: int, recoverable: bool = False, **kw: Any) -> None:
        self.status = status
        self.recoverable = recoverable
        super().__init__(message, provider=METHOD, **kw)


# --- fetching -----------------------------------------------------------------------------

_DIRECT: Optional[Transport] = None


def _transport(ctx: Context) -> Transport:
    """The resolution's transport; the shared default is swapped for one that ignores the
    proxy and CA variables (as botocore does here): the token must never go to a proxy."""
    global _DIRECT
    from ..transport import default_transport

    transport = ctx.services.transport
    if transport is default_transport():
        if _DIRECT is None:
            from ..transport.stdlib import StdlibTransport

            _DIRECT = StdlibTransport(trust_env=False)
        transport = _DIRECT
    return transport


class _Options(Record):
    timeout: Timeout
    attempts: int
    retry_sleep: float


class _Failure(Exception):
    """One failed attempt; turned into a typed error once retrying is over."""

    def __init__(
        self, kind: str, *, status: int = 0, detail: str = "", timeout: bool = False
    ) -> None:
        super().__init__(kind)
        self.kind, self.status, self.detail, self.timeout = kind, status, detail, timeout

    @property
    def retry(self) -> bool:
        return self.kind in ("transport", "garbage") or self.status >= 500 or self.status == 429


class ContainerFetcher:
    """The refresh function: one fetch (with retries) per call, the token re-read each time."""

    def __init__(
        self,
        endpoint: ContainerEndpoint,
        env: Mapping[str, str],
        transport: Transport,
        clock: Clock,
        *,
        timeout: Timeout = TIMEOUT,
        attempts: int = ATTEMPTS,
        retry_sleep: float = RETRY_SLEEP,
    ) -> None:
        self.endpoint = endpoint
        self._env = env
        self._transport = transport
        self._clock = clock
        self._timeout = timeout
        self._attempts = max(1, attempts)
        self._retry_sleep = retry_sleep

    def __repr__(self) -> str:
        return f"ContainerFetcher({self.endpoint.display})"

    def __call__(
        self, mode: Mode = Mode.INITIAL, current: Optional[Credentials] = None
    ) -> Credentials:
        token, token_var = read_authorization(self._env)
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = token
        request = HttpRequest(
            "GET",
            self.endpoint.url,
            headers=headers,
            timeout=self._timeout,
            max_body=MAX_BODY,
            allow_redirects=False,
        )
        shown = self.endpoint.display

        def attempt(number: int) -> Dict[str, Any]:
            try:
                return self._attempt(request)
            except _Failure as failure:
                if not failure.retry or number >= self._attempts:
                    raise self._error(failure, number, token_var) from None
                log.debug(
                    "container-role: attempt %d of %d to %s failed (%s); retrying in %.1f s",
                    number,
                    self._attempts,
                    shown,
                    failure.status or failure.kind,
                    self._retry_sleep,
                )
                raise Retry(failure) from None

        doc = with_retries(
            attempt,
            attempts=self._attempts,
            backoff=fixed(self._retry_sleep),
            sleep=self._clock.sleep,
        )
        creds = _credentials(doc)
        log.debug("container-role: credentials from %s expire at %s", shown, creds.expiry)
        return creds

    def _attempt(self, request: HttpRequest) -> Dict[str, Any]:
        try:
            response = self._transport(request)
        except TransportError as exc:
            raise _Failure("transport", detail=exc.message, timeout=exc.timeout) from None
        if response.status != 200:
            raise _Failure("status", status=response.status)
        if len(response.body) > MAX_BODY:
            raise _Failure("garbage", detail=f"sent more than {MAX_BODY} bytes")
        try:
            doc = json_loads(response.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            doc = None
        if not isinstance(doc, dict):
            raise _Failure("garbage", detail="did not answer with a JSON object")
        return doc

    def _error(self, failure: _Failure, attempts: int, token_var: Optional[str]) -> Exception:
        shown = self.endpoint.display
        tries = f" ({attempts} attempts)" if attempts > 1 else ""
        if failure.kind == "transport":
            return TransportError(
                f"could not get credentials from the container endpoint {shown}{tries}: "
                f"{failure.detail}",
                provider=METHOD,
                url=shown,
                timeout=failure.timeout,
            )
        if failure.kind == "garbage":
            return MalformedResponseError(
                f"the container endpoint {shown} {failure.detail}{tries}.", provider=METHOD
            )
        return _status_error(failure.status, shown, self.endpoint.variable, token_var, tries)


def _status_error(
    status: int, shown: str, uri_var: str, token_var: Optional[str], tries: str = ""
) -> ContainerEndpointError:
    recoverable = status >= 500 or status == 429
    if status in (401, 403):
        hint = (
            f"The endpoint refused the token from {token_var}."
            if token_var
            else f"No token was sent: set {TOKEN_FILE} or {TOKEN}."
        )
    elif status == 404:
        hint = f"Check the path in {uri_var}."
    elif 300 <= status < 400:
        hint = "Redirects are not followed."
    elif status == 429:
        hint = "The endpoint is rate limiting requests; try again later."
    elif recoverable:
        hint = "The endpoint is failing; try again later."
    else:
        hint = None
    return ContainerEndpointError(
        f"the container endpoint {shown} answered HTTP {status}{tries}.",
        status=status,
        recoverable=recoverable,
        hint=hint,
    )


def _credentials(doc: Mapping[str, Any]) -> Credentials:
    for name in _REQUIRED:
        value = doc.get(name)
        if not isinstance(value, str) or not value:
            raise MalformedResponseError(
                f"the container endpoint's answer has no {name} (or it is not a string).",
                provider=METHOD,
            )
    problem = first_unusable({k: doc[k] for k in ("AccessKeyId", "SecretAccessKey", "Token")})
    if problem is not None:
        raise MalformedResponseError(
            f"the container endpoint's answer: {problem} (not shown).", provider=METHOD
        )
    expiry = _parse_expiration(doc["Expiration"])
    account = doc.get("AccountId")
    return Credentials(
        access_key=doc["AccessKeyId"],
        secret_key=doc["SecretAccessKey"],
        token=doc["Token"],
        expiry=expiry,
        account_id=account if isinstance(account, str) and account else None,
        method=METHOD,
    )


def _parse_expiration(raw: str) -> datetime:
    from ..timestamps import parse_timestamp

    try:
        return parse_timestamp(raw)
    except ValueError:
        raise MalformedResponseError(
            "the container endpoint's Expiration is not an ISO 8601 date and time.",
            provider=METHOD,
        ) from None


# --- the provider -------------------------------------------------------------------------


class ContainerProvider:
    """ECS task role / EKS Pod Identity credentials (botocore's ``ContainerProvider``).

    It applies when either URI variable is present; loading fetches at once and returns
    :class:`RefreshableCredentials` whose refresh repeats the fetch. The keyword arguments
    are for tests: the defaults are botocore's."""

    name = METHOD

    def __init__(
        self,
        *,
        timeout: Timeout = TIMEOUT,
        attempts: int = ATTEMPTS,
        retry_sleep: float = RETRY_SLEEP,
    ) -> None:
        self._options = _Options(timeout=timeout, attempts=attempts, retry_sleep=retry_sleep)

    def find(self, ctx: Context) -> Union[Applies, NotApplicable]:
        """Offline. Raises what loading would raise for a bad URI or an unusable token (the
        token file is read, its content never shown)."""
        env = ctx.env
        endpoint = resolve_endpoint(env)
        if endpoint is None:
            return NotApplicable(METHOD, f"neither {RELATIVE_URI} nor {FULL_URI} is set")
        reason = f"{endpoint.variable} is set ({endpoint.display})"
        if endpoint.variable == RELATIVE_URI and FULL_URI in env:
            reason += f"; {FULL_URI} is ignored"
        _, token_var = read_authorization(env)
        if token_var == TOKEN_FILE:
            reason += f"; token from {TOKEN_FILE} ({env[TOKEN_FILE]})"
        elif token_var is not None:
            reason += f"; token from {TOKEN}"
        fetch = self._fetcher(ctx, endpoint)
        return Applies(METHOD, reason, lambda: self._load(ctx, fetch))

    def fetcher(self, ctx: Context) -> Optional[ContainerFetcher]:
        """The fetch function for ``ctx``'s environment, None when not configured."""
        endpoint = resolve_endpoint(ctx.env)
        return None if endpoint is None else self._fetcher(ctx, endpoint)

    def _fetcher(self, ctx: Context, endpoint: ContainerEndpoint) -> ContainerFetcher:
        options = self._options
        return ContainerFetcher(
            endpoint,
            ctx.env,
            _transport(ctx),
            ctx.clock,
            timeout=options.timeout,
            attempts=options.attempts,
            retry_sleep=options.retry_sleep,
        )

    def _load(self, ctx: Context, fetch: ContainerFetcher) -> RefreshableCredentials:
        """Fetch now; the credentials refresh by fetching again."""
        first = fetch(Mode.INITIAL, None)
        log.debug("container-role: credentials from %s", fetch.endpoint.display)
        return ctx.refreshable(
            fetch,
            method=METHOD,
            initial=first,
            label=f"container credentials ({fetch.endpoint.display})",
        )
