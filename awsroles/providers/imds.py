"""Credentials from the EC2 instance metadata service (IMDSv2): botocore's ``iam-role`` provider.

Each retrieval is botocore's: ``PUT latest/api/token``, ``GET .../security-credentials/``
(the role name), ``GET .../security-credentials/<role>``, with the IMDSv1 fallback, retry rule
and outcomes of botocore. Differences (docs/differences.md): the token is kept per process
(:func:`client_for`) until 5 minutes before its TTL, so a refresh costs 2 requests, not 3 (a 401
takes one new token); the role name is *not* cached, so an instance-profile change is seen at
once, as in every SDK. Refresh errors are typed and recoverable, so still-valid credentials
survive an IMDS outage (botocore raises instead, even in the advisory window).
Credentials IMDS returns expired or inside the mandatory window are served with an expiry 10-15
minutes ahead (next attempt after 5-10 minutes) with one warning; botocore extends anything under
17-25 minutes. Settings are validated (:mod:`.imds_config`) and bodies bounded to 64 KiB.
"""

from __future__ import annotations

import random
import re
import threading
from collections import OrderedDict
from datetime import timedelta

from .._fork import track as reset_after_fork
from .._log import get_logger
from ..credentials import Credentials
from ..errors import CredentialRetrievalError, MalformedResponseError, TransportError
from ..refresh.policy import MANDATORY_WINDOW, STATIC_STABILITY_BACKOFF, advisory_window_for
from ..refresh.sync import RefreshableCredentials
from ..transport.base import HttpRequest, HttpResponse
from ..transport.retry import Retry, no_delay, with_retries
from .base import Applies, NotApplicable
from .imds_config import (
    DISABLED_VAR,
    TOKEN_PATH,
    TOKEN_TTL,
    V1_DISABLED,
    ImdsConfig,
    credentials_from,
    json_doc,
    resolve_imds_config,
    role_name,
    token_ttl,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Tuple, Union

    from ..context import Context
    from ..protocols import Clock, CredentialSource, Transport
    from ..refresh.policy import Mode

    Parse = Callable[[HttpResponse, str], Any]

log = get_logger("awsroles")

__all__ = ["ImdsProvider", "ImdsClient", "ImdsV1DisabledError", "METHOD", "CREDENTIALS_PATH"]

METHOD = "iam-role"
#: Why a timeout is the usual outcome in a container: the token's answer does not make it back.
UNREACHABLE_HINT = (
    "In a container on EC2, instance metadata answers only when the instance's metadata hop "
    "limit is 2 or more; or give the container its own credentials"
)
CREDENTIALS_PATH = "latest/meta-data/iam/security-credentials/"
TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "x-aws-ec2-metadata-token"
TOKEN_MARGIN = 300.0  # a held token is replaced this long before its TTL ends
MAX_BODY = 64 * 1024
#: Next attempt after extending expired IMDS credentials: static stability's back-off.
STABILITY_DELAY = STATIC_STABILITY_BACKOFF
_TOKEN = re.compile(r"^[\x21-\x7e]{1,4096}$")


class ImdsV1DisabledError(CredentialRetrievalError):
    """No IMDSv2 token could be had and IMDSv1 is disabled. Stops the chain, as in botocore.
    ``recoverable`` is True when the token request failed for lack of an answer (so a refresh
    keeps serving still-valid credentials) and False when IMDS refused tokens."""

    def __init__(self, message: str, *, recoverable: bool = False, **kw: Any) -> None:
        self.recoverable = recoverable
        super().__init__(message, **kw)


class _NoToken(Exception):
    """No IMDSv2 token: ``reason`` says why; ``recoverable`` when it was for lack of an
    answer (a refresh then keeps serving still-valid credentials)."""

    def __init__(self, reason: str, recoverable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.recoverable = recoverable


class ImdsClient:
    """Talks to IMDS for one set of settings; holds the session token. Thread-safe."""

    def __init__(self, config: ImdsConfig, transport: Transport, clock: Clock) -> None:
        self.config = config
        self._transport = transport
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Optional[str] = None
        self._token_until = 0.0  # monotonic
        from .._version import __version__

        self._ua = f"awsroles/{__version__}"
        reset_after_fork(self)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        held = "held" if self._token is not None else "none"
        return f"ImdsClient({self.config.display_url}, token={held})"

    # --- HTTP ------------------------------------------------------------------------------

    def _send(self, method: str, path: str, headers: Dict[str, str]) -> HttpResponse:
        url = self.config.url(path)
        headers = dict(headers, **{"User-Agent": self._ua})
        request = HttpRequest(
            method, url, headers=headers, timeout=self.config.timeout, max_body=MAX_BODY
        )
        try:
            resp = self._transport(request)
        except TransportError as exc:
            log.debug("IMDS %s %s failed: %s", method, url, exc.message)
            raise
        log.debug("IMDS %s %s -> %s", method, url, resp.status)
        if len(resp.body) > MAX_BODY:
            raise MalformedResponseError(
                f"the answer to {method} {url} is larger than {MAX_BODY} bytes; refusing it.",
                provider=METHOD,
            )
        return resp

    # --- token -----------------------------------------------------------------------------

    def token(self) -> Tuple[Optional[str], Optional[_NoToken]]:
        """The held token, or a new one; ``(None, why)`` when IMDSv1 fallback applies."""
        with self._lock:
            if self._token is not None and self._clock.monotonic() < self._token_until:
                return self._token, None
            self._token = None
            return self._fetch_token()

    def drop_token(self, token: str) -> None:
        with self._lock:
            if self._token == token:
                self._token = None

    def _fetch_token(self) -> Tuple[Optional[str], Optional[_NoToken]]:
        def attempt(number: int) -> str:
            started = self._clock.monotonic()
            try:
                resp = self._send("PUT", TOKEN_PATH, {TTL_HEADER: str(TOKEN_TTL)})
            except TransportError as exc:
                if exc.timeout:  # botocore: a read timeout falls back at once
                    raise _NoToken(f"the token request timed out: {exc.message}", True) from None
                raise Retry(_NoToken(f"the token request failed: {exc.message}", True)) from None
            if resp.status == 200:
                token = resp.text.strip()
                if not _TOKEN.match(token):
                    raise _NoToken("the token response was empty or not a token", True)
                ttl = token_ttl(resp.headers.get(TTL_HEADER))
                self._token = token
                self._token_until = started + ttl - min(TOKEN_MARGIN, ttl / 2)
                return token
            if resp.status in (403, 404, 405):
                raise _NoToken(f"IMDS answered {resp.status} to the token request", False)
            if resp.status == 400:
                raise MalformedResponseError(
                    f"IMDS rejected the token request to {self.config.token_url} (HTTP 400).",
                    provider=METHOD,
                    hint="IMDS answers 400 when the TTL header is missing or invalid, e.g. "
                    "dropped by a proxy; reach it directly (NO_PROXY=169.254.169.254).",
                )
            raise Retry(_NoToken(f"IMDS answered {resp.status} to the token request", True))

        try:
            token = with_retries(
                attempt, attempts=self.config.attempts, backoff=no_delay, sleep=self._clock.sleep
            )
        except _NoToken as why:
            return None, why
        return token, None

    def _require_token(self) -> Optional[str]:
        token, why = self.token()
        if token is None:
            assert why is not None
            if self.config.v1_disabled:
                raise ImdsV1DisabledError(
                    f"could not get an IMDSv2 token ({why.reason}) and IMDSv1 is disabled "
                    f"by {self.config.v1_source}.",
                    recoverable=why.recoverable,
                    provider=METHOD,
                    key=V1_DISABLED[0] if self.config.v1_source == V1_DISABLED[0] else None,
                )
            log.debug("IMDS: no token (%s); falling back to IMDSv1", why.reason)
        return token

    # --- GETs ------------------------------------------------------------------------------

    def _get(
        self, path: str, token: Optional[str], parse: Parse, retoken: List[bool]
    ) -> Tuple[Any, Optional[str]]:
        """botocore's GET rule: non-200, empty or unparsable answers and connection errors are
        retried up to the attempts, with no delay. A 401 on a held token takes one new token
        per retrieval (``retoken``) and repeats the request, using no attempt."""
        url = self.config.url(path)
        held = [token]

        def attempt(number: int) -> Any:
            while True:
                current = held[0]
                headers = {TOKEN_HEADER: current} if current is not None else {}
                try:
                    resp = self._send("GET", path, headers)
                except TransportError as exc:
                    raise Retry(exc) from None
                if resp.status == 401 and current is not None and retoken:
                    retoken.clear()
                    self.drop_token(current)
                    held[0] = self._require_token()
                    continue
                break
            if resp.status != 200 or not resp.body:
                what = f"HTTP {resp.status}" if resp.status != 200 else "an empty body"
                raise Retry(
                    MalformedResponseError(
                        f"IMDS answered {what} to GET {url}{_hint(resp.status, path, current)}",
                        provider=METHOD,
                    )
                )
            return parse(resp, url)  # Retry for a document botocore retries (bad JSON)

        value = with_retries(
            attempt, attempts=self.config.attempts, backoff=no_delay, sleep=self._clock.sleep
        )
        return value, held[0]

    def fetch(self) -> Tuple[Credentials, str]:
        """One retrieval: ``(credentials, role name)``; raises typed errors."""
        token, retoken = self._require_token(), [True]
        role, token = self._get(CREDENTIALS_PATH, token, role_name, retoken)
        doc, token = self._get(CREDENTIALS_PATH + role, token, json_doc, retoken)
        return credentials_from(doc, role), role


def _hint(status: int, path: str, token: Optional[str]) -> str:
    if status == 404 and path == CREDENTIALS_PATH:
        return ": no IAM role is attached to this instance (no instance profile)."
    if status == 404:
        return ": the role is no longer attached to this instance."
    if status == 401:
        return " (IMDS requires an IMDSv2 token)." if token is None else " (token refused)."
    return "."


# --- one client per settings, transport and clock, for the life of the process ------------------


class _Clients:
    """The clients of this process, by settings, transport and clock (least recently used
    dropped beyond a few)."""

    _MAX = 16

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: OrderedDict[Tuple[ImdsConfig, int, int], ImdsClient] = OrderedDict()
        reset_after_fork(self)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # the clients reset their own locks

    def get(self, config: ImdsConfig, transport: Transport, clock: Clock) -> ImdsClient:
        key = (config, id(transport), id(clock))
        with self._lock:
            client = self._clients.get(key)
            # The entry keeps transport and clock alive, so their ids cannot be reused meanwhile.
            if client is None or client._transport is not transport or client._clock is not clock:
                client = self._clients[key] = ImdsClient(config, transport, clock)
            self._clients.move_to_end(key)
            while len(self._clients) > self._MAX:
                self._clients.popitem(last=False)
            return client


_CLIENTS = _Clients()


def client_for(config: ImdsConfig, transport: Transport, clock: Clock) -> ImdsClient:
    """The process-wide client (and so the held token) for these settings."""
    return _CLIENTS.get(config, transport, clock)


class _Stability:
    """Extends credentials IMDS returns already expired (or inside the mandatory window)."""

    def __init__(self, clock: Clock, mandatory: float, advisory: Optional[float]) -> None:
        self.clock, self.mandatory, self.advisory = clock, mandatory, advisory
        self.extending = False

    def apply(self, new: Credentials, current: Optional[Credentials]) -> Credentials:
        now = self.clock.now()
        if new.expiry is None or (new.expiry - now).total_seconds() > self.mandatory:
            self.extending = False
            return new
        delay = random.uniform(*STABILITY_DELAY)
        # Stale (advisory) exactly `delay` from now: the extended set lives delay + window,
        # so its advisory window is the one of that short a lifetime, unless set explicitly.
        advisory = self.advisory
        if advisory is None:
            advisory = advisory_window_for(STABILITY_DELAY[1] + MANDATORY_WINDOW)
        window = max(advisory, self.mandatory)
        expiry = now + timedelta(seconds=delay + window)
        if not self.extending:
            self.extending = True
            log.warning(
                "%s: the instance metadata service returned credentials expiring at %s, "
                "probably because it cannot refresh them; serving the last credentials until "
                "%s and asking again in %d s.",
                METHOD,
                new.expiry.isoformat(),
                expiry.isoformat(),
                int(delay),
            )
        return (current if current is not None else new).replace(expiry=expiry)


class ImdsProvider:
    """The ``iam-role`` provider. ``endpoint``/``mode`` are explicit settings from code; they
    beat the profile and the environment, except that a configured endpoint beats ``mode``."""

    name = METHOD

    def __init__(self, *, endpoint: Optional[str] = None, mode: Optional[str] = None) -> None:
        self._endpoint, self._mode = endpoint, mode
        #: Why the last load found no credentials (the reason of its NotApplicable answer).
        self.last_reason: Optional[str] = None

    def __repr__(self) -> str:
        return f"ImdsProvider(endpoint={self._endpoint!r}, mode={self._mode!r})"

    def config(self, ctx: Context) -> ImdsConfig:
        """The resolved settings; raises InvalidConfigError (offline)."""
        return resolve_imds_config(
            ctx.env,
            ctx.selected_profile_values(),
            profile_name=ctx.profile_name,
            endpoint=self._endpoint,
            mode=self._mode,
        )

    def find(self, ctx: Context) -> Union[Applies, NotApplicable]:
        """Applies unless disabled; whether IMDS answers is known only by asking (loading).
        Raises InvalidConfigError for bad settings (offline)."""
        cfg = self.config(ctx)
        if cfg.disabled:
            return NotApplicable(METHOD, f"disabled by {DISABLED_VAR}")
        version = "IMDSv2 only" if cfg.v1_disabled else "IMDSv2"
        return Applies(
            METHOD, f"will query {cfg.display_url} ({version})", lambda: self._try(ctx, cfg)
        )

    def _try(self, ctx: Context, cfg: ImdsConfig) -> Union[CredentialSource, NotApplicable]:
        """Credentials, or NotApplicable when IMDS is unreachable, has no role or answers
        nonsense (botocore's outcomes: the chain goes on). ImdsV1DisabledError is raised."""
        try:
            return self._load(ctx, cfg)
        except ImdsV1DisabledError:
            raise
        except CredentialRetrievalError as exc:
            reason = exc.message
            if isinstance(exc, TransportError) and exc.timeout:
                reason = f"{reason.rstrip('.')}. {UNREACHABLE_HINT}"
            self.last_reason = reason
            log.debug("IMDS: no credentials: %s", reason)
            return NotApplicable(METHOD, reason)

    def load_or_raise(self, ctx: Context) -> RefreshableCredentials:
        """Credentials, raising the reason when there are none (for
        ``credential_source = Ec2InstanceMetadata``, where no credentials is an error)."""
        cfg = self.config(ctx)
        if cfg.disabled:
            raise CredentialRetrievalError(
                f"instance metadata is disabled by {DISABLED_VAR}.",
                provider=METHOD,
                key=DISABLED_VAR,
            )
        return self._load(ctx, cfg)

    def _load(self, ctx: Context, cfg: ImdsConfig) -> RefreshableCredentials:
        client = client_for(cfg, ctx.services.transport, ctx.clock)
        settings = ctx.settings
        mandatory, advisory = settings.mandatory_timeout, settings.advisory_timeout
        stability = _Stability(
            ctx.clock, MANDATORY_WINDOW if mandatory is None else mandatory, advisory
        )
        creds, role = client.fetch()
        first = stability.apply(creds, None)
        log.info("awsroles: found credentials from IAM role %s", role)
        self.last_reason = None

        def fetch(mode: Mode, current: Optional[Credentials]) -> Credentials:
            new, _ = client.fetch()
            return stability.apply(new, current)

        return ctx.refreshable(
            fetch,
            method=METHOD,
            initial=first,
            label=f"{METHOD} (EC2 instance metadata, role {role})",
        )
