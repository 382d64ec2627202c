"""A strict local STS for tests and demos: real HTTP on 127.0.0.1, real SigV4 checks.

    with FakeSTS() as sts:
        base = sts.add_user("AKIAEXAMPLEBASE00001", "base-secret")
        sts.add_role("arn:aws:iam::123456789012:role/Admin", external_id="ext-1")
        ...  # point clients at sts.url (AWS_ENDPOINT_URL_STS=sts.url)
        assert sts.count("AssumeRole") == 1

AssumeRole, GetSessionToken and GetCallerIdentity must carry a valid SigV4 signature by a
known key: a user added with ``FakeSTS.add_user()`` or credentials this server issued (so role
chains work), which carry the MFA context when they come from GetSessionToken with a code.
AssumeRoleWithWebIdentity is unsigned and accepts the configured tokens. Responses are shaped
like real STS (namespace, ``RequestId``, ``x-amzn-RequestId``, ``text/xml``), and so are the
error codes and messages. Every request is recorded in ``FakeSTS.calls`` with
``TokenCode`` and ``WebIdentityToken`` redacted. The server is a ``ThreadingHTTPServer``, so
many threads and processes may call it at once. Only the standard library and botocore.auth.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
import uuid
from datetime import timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from typing import Any, Dict, List, NamedTuple, Optional, Tuple
from urllib.parse import parse_qsl

from ..clock import SYSTEM_CLOCK
from ..credentials import Credentials
from ._secrets import new_secret, remember
from ._server import FakeHTTPServer, LocalServer, as_handled
from ._sts_wire import (
    _AUTH,
    ROLE_ARN,
    _error_xml,
    _fail,
    _ok_xml,
    _signature_ok,
    _StsError,
    _validation,
    assume_role_xml,
    caller_xml,
    check_common,
    check_session_duration,
    check_token_code,
    issued_xml,
    session_xml,
    web_identity_xml,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..protocols import Clock

__all__ = ["FakeSTS", "StsCall", "FakeRole"]

_REDACTED = ("TokenCode", "WebIdentityToken")
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class StsCall(NamedTuple):
    """One request: ``params`` are the form fields, secrets replaced by ``****``."""

    action: str
    params: Dict[str, str]
    access_key: Optional[str]
    status: int


class FakeRole(NamedTuple):
    external_id: Optional[str] = None
    mfa_serial: Optional[str] = None
    mfa_code: Optional[str] = None
    max_session_duration: int = 43200
    deny: bool = False


class _Principal(NamedTuple):
    access_key: str
    secret_key: str
    token: Optional[str]
    account: str
    arn: str
    user_id: str
    expires: Optional[float]  # epoch seconds, temporary credentials only
    mfa: bool = False  # an MFA session's credentials (GetSessionToken with a code)

    def __repr__(self) -> str:  # secret key and token stay out of assertion messages
        return f"_Principal({self.access_key!r}, {self.arn!r})"


class _Req(NamedTuple):
    """The parts of a request the checks read (an HTTP handler has the same attributes)."""

    command: str
    path: str
    headers: Any


def _stable_id(prefix: str, text: str) -> str:
    digest = hashlib.sha1(text.encode()).digest()
    return prefix + "".join(_ALNUM[b % 32] for b in digest[:17])


class _Server(FakeHTTPServer):
    fake: FakeSTS


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: _Server

    def do_POST(self) -> None:  # noqa: N802
        self.server.fake._handle(self)

    def do_GET(self) -> None:  # noqa: N802
        self.server.fake._reply(self, 405, _error_xml("MethodNotAllowed", "Use POST.", "r"), "r")

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class FakeSTS(LocalServer):
    """The fake server. Use as a context manager, or call ``start()`` / ``stop()``."""

    _server_class = _Server
    _handler_class = _Handler

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock = SYSTEM_CLOCK,
        web_identity_token: Optional[str] = "fake-web-identity-token",
        strict_roles: bool = False,
    ) -> None:
        self._init_server(host, port)
        self.clock = clock
        #: Unknown roles are denied when True; otherwise any well-formed role ARN works.
        self.strict_roles = strict_roles
        #: Seconds to wait before answering each request.
        self.delay = 0.0
        self.calls: List[StsCall] = []
        self._lock = threading.Lock()
        self._keys: Dict[str, _Principal] = {}
        self._roles: Dict[str, FakeRole] = {}
        self._mfa_codes: Dict[str, str] = {}
        self._faults: List[Tuple[int, str, str, Optional[str]]] = []
        self._web_tokens: Dict[str, Tuple[str, str, Optional[str]]] = {}
        if web_identity_token:
            self.add_web_identity_token(web_identity_token)

    # -- configuration -----------------------------------------------------------------------

    def add_user(
        self, access_key: str, secret_key: str, account: str = "123456789012", name: str = "alice"
    ) -> Credentials:
        """Register long-lived keys; returns them as ``Credentials``."""
        remember(secret_key)
        with self._lock:
            self._keys[access_key] = _Principal(
                access_key,
                secret_key,
                None,
                account,
                f"arn:aws:iam::{account}:user/{name}",
                _stable_id("AIDA", f"{account}/{name}"),
                None,
            )
        return Credentials(access_key, secret_key, method="explicit")

    def add_role(
        self,
        role_arn: str,
        *,
        external_id: Optional[str] = None,
        mfa_serial: Optional[str] = None,
        mfa_code: Optional[str] = None,
        max_session_duration: int = 43200,
        deny: bool = False,
    ) -> None:
        """Rules for one role: a required ExternalId, a required MFA device and code, a
        MaxSessionDuration, or deny every AssumeRole."""
        with self._lock:
            self._roles[role_arn] = FakeRole(
                external_id, mfa_serial, mfa_code, max_session_duration, deny
            )
            if mfa_serial is not None and mfa_code is not None:
                self._mfa_codes[mfa_serial] = mfa_code

    def add_mfa_device(self, serial: str, code: str) -> None:
        """The code the MFA device ``serial`` shows: GetSessionToken (and AssumeRole) with
        another code for it are refused. A device never added accepts any 6 digits."""
        with self._lock:
            self._mfa_codes[serial] = code

    def deny_role(self, role_arn: str) -> None:
        self.add_role(role_arn, deny=True)

    def expire(self, access_key: str) -> None:
        """Treat the credentials this server issued under ``access_key`` as expired from now
        on: calls signed with them get ``ExpiredToken``, as when a session is revoked or the
        caller's clock is off. A KeyError for a key the server does not know."""
        with self._lock:
            principal = self._keys[access_key]
            self._keys[access_key] = principal._replace(expires=self.clock.now().timestamp())

    def add_web_identity_token(
        self,
        token: str,
        *,
        subject: str = "system:serviceaccount:ns:sa",
        audience: str = "sts.amazonaws.com",
        provider: Optional[str] = None,
    ) -> None:
        remember(token)
        with self._lock:
            self._web_tokens[token] = (subject, audience, provider)

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        code: str = "ServiceUnavailable",
        message: str = "Service is unavailable",
        action: Optional[str] = None,
    ) -> None:
        """The next ``n`` requests (of ``action``, or of any action) get this error."""
        with self._lock:
            self._faults.extend([(status, code, message, action)] * n)

    def throttle_next(self, n: int = 1, action: Optional[str] = None) -> None:
        self.fail_next(n, 400, "Throttling", "Rate exceeded", action)

    def count(self, action: Optional[str] = None, *, status: Optional[int] = None) -> int:
        with self._lock:
            return sum(
                1
                for c in self.calls
                if (action is None or c.action == action) and (status is None or c.status == status)
            )

    def reset(self) -> None:
        """Forget recorded calls and pending faults (users, roles and issued keys stay)."""
        with self._lock:
            self.calls.clear()
            self._faults.clear()

    # -- request handling --------------------------------------------------------------------

    def _reply(self, h: BaseHTTPRequestHandler, status: int, body: str, request_id: str) -> None:
        data = body.encode()
        try:
            h.send_response_only(status)
            h.send_header("x-amzn-RequestId", request_id)
            h.send_header("Content-Type", "text/xml")
            h.send_header("Content-Length", str(len(data)))
            h.send_header("Date", formatdate(self.clock.now().timestamp(), usegmt=True))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            h.close_connection = True

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if 0 < length <= 65536 else b""
        if length > 65536:
            h.close_connection = True  # the unread body must not become the next request
        status, body, request_id = self.handle(h.command, h.path, h.headers, raw, length)
        self._reply(h, status, body, request_id)

    def handle(
        self, method: str, path: str, headers: Any, raw: bytes, length: Optional[int] = None
    ) -> Tuple[int, str, str]:
        """Answer one request: ``(status, XML body, request id)``. ``headers`` is any
        case-insensitive mapping (an ``http.client.HTTPMessage``). Used by the HTTP server
        and by ``transport()``."""
        request_id = str(uuid.uuid4())
        length = len(raw) if length is None else length
        if self.delay:
            time.sleep(self.delay)
        params = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        action = params.get("Action", "")
        m = _AUTH.match(headers.get("Authorization") or "")
        access_key = m.group(1) if m else None
        req = _Req(method, path, headers)
        try:
            if length > 65536:
                raise _fail("too_large")
            with self._lock:
                fault = next((f for f in self._faults if f[3] in (None, action)), None)
                if fault is not None:
                    self._faults.remove(fault)
            if fault is not None:
                raise _StsError(fault[0], fault[1], fault[2])
            if params.get("Version") != "2011-06-15" or action not in (
                "AssumeRole",
                "AssumeRoleWithWebIdentity",
                "GetSessionToken",
                "GetCallerIdentity",
            ):
                raise _fail("action", value=action, version=params.get("Version"))
            if action == "AssumeRoleWithWebIdentity":
                inner = self._web_identity(params)
            else:
                caller = self._authenticate(req, raw, m)
                if action == "AssumeRole":
                    inner = self._assume_role(params, caller)
                elif action == "GetSessionToken":
                    inner = self._get_session_token(params, caller)
                else:
                    inner = caller_xml(caller)
            status, body = 200, _ok_xml(action, inner, request_id)
        except _StsError as err:
            kind = "Receiver" if err.status >= 500 else "Sender"
            status, body = err.status, _error_xml(err.code, err.message, request_id, kind)
        shown = {k: ("****" if k in _REDACTED else v) for k, v in params.items()}
        with self._lock:
            self.calls.append(StsCall(action, shown, access_key, status))
        return status, body, request_id

    def transport(self) -> Any:
        """An in-memory ``awsroles.protocols.Transport`` answering as this server would,
        with no socket: pass it as ``transport=`` (the server need not be started)."""
        from ..transport.base import HttpResponse

        def send(request: Any) -> Any:
            parts, path, headers = as_handled(request)
            if "Host" not in headers:
                headers["Host"] = parts.netloc
            status, body, request_id = self.handle(
                request.method, path, headers, request.body or b""
            )
            data = body.encode()
            return HttpResponse(
                status=status,
                headers={
                    "x-amzn-requestid": request_id,
                    "content-type": "text/xml",
                    "content-length": str(len(data)),
                    "date": formatdate(self.clock.now().timestamp(), usegmt=True),
                },
                body=data,
            )

        return send

    def _authenticate(self, h: _Req, body: bytes, m: Optional[re.Match[str]]) -> _Principal:
        if not h.headers.get("Authorization"):
            raise _fail("no_auth")
        if m is None:
            raise _fail("bad_auth")
        key, day, region, service, signed, signature = m.groups()
        with self._lock:
            principal = self._keys.get(key)
        token = h.headers.get("X-Amz-Security-Token")
        if principal is None or (principal.token is not None and token != principal.token):
            raise _fail("bad_key")
        if principal.expires is not None and self.clock.now().timestamp() >= principal.expires:
            raise _fail("expired")
        amz_date = h.headers.get("X-Amz-Date") or ""
        if service != "sts":
            raise _fail("service")
        if not amz_date.startswith(day) or "host" not in signed.split(";"):
            raise _fail("date")
        if not _signature_ok(h, body, principal, region, signed.split(";"), amz_date, signature):
            raise _fail("signature")
        return principal

    def _issue(self, role_arn: str, session: str, duration: int) -> Tuple[_Principal, str]:
        match = ROLE_ARN.match(role_arn)
        if match is None:  # check_common refuses such an ARN before this is reached
            raise _validation(role_arn, "roleArn", "a role ARN")
        acct, role_name = match.groups()
        now = self.clock.now()
        expires = now + timedelta(seconds=duration)
        with self._lock:
            while True:
                key = "ASIA" + "".join(secrets.choice(_ALNUM) for _ in range(16))
                if key not in self._keys:
                    break
            p = _Principal(
                key,
                new_secret(30),
                new_secret(96),
                acct,
                f"arn:aws:sts::{acct}:assumed-role/{role_name}/{session}",
                f"{_stable_id('AROA', role_arn)}:{session}",
                expires.timestamp(),
            )
            self._keys[key] = p
        return p, issued_xml(p, expires)

    def _role(self, role_arn: str) -> Optional[FakeRole]:
        with self._lock:
            role = self._roles.get(role_arn)
        if role is None and self.strict_roles:
            role = FakeRole(deny=True)
        return role

    def _assume_role(self, params: Dict[str, str], caller: _Principal) -> str:
        role_arn, session, duration = check_common(params)
        code = check_token_code(params.get("TokenCode"))
        role = self._role(role_arn) or FakeRole()
        denied = _fail("denied", value=caller.arn, role=role_arn)
        if role.deny or (
            role.external_id is not None and params.get("ExternalId") != role.external_id
        ):
            raise denied
        if role.mfa_serial is not None and not (caller.mfa and code is None):
            # an MFA session's credentials carry the MFA context: no code needed
            if params.get("SerialNumber") != role.mfa_serial or code is None:
                raise denied
            if role.mfa_code is not None and code != role.mfa_code:
                raise _fail("mfa")
        if ":assumed-role/" in caller.arn and duration > 3600:
            raise _fail("chaining")
        if duration > role.max_session_duration:
            raise _fail("max")
        return assume_role_xml(self._issue(role_arn, session, duration)[1], params)

    def _get_session_token(self, params: Dict[str, str], caller: _Principal) -> str:
        """An MFA (or plain) session for an IAM user's long-lived keys; refused with session
        credentials, as real STS refuses it."""
        if caller.token is not None:
            raise _fail("session_creds")
        duration = check_session_duration(params)
        serial, code = params.get("SerialNumber"), check_token_code(params.get("TokenCode"))
        if (serial is None) != (code is None):
            raise _fail("mfa_both")
        if serial is not None:
            with self._lock:
                expected = self._mfa_codes.get(serial)
            if expected is not None and code != expected:
                raise _fail("mfa")
        expires = self.clock.now() + timedelta(seconds=duration)
        with self._lock:
            while True:
                key = "ASIA" + "".join(secrets.choice(_ALNUM) for _ in range(16))
                if key not in self._keys:
                    break
            p = caller._replace(
                access_key=key,
                secret_key=new_secret(30),
                token=new_secret(96),
                expires=expires.timestamp(),
                mfa=serial is not None,
            )
            self._keys[key] = p
        return session_xml(p, expires)

    def _web_identity(self, params: Dict[str, str]) -> str:
        role_arn, session, duration = check_common(params)
        token = params.get("WebIdentityToken") or ""
        with self._lock:
            claims = self._web_tokens.get(token) or self._web_tokens.get(token.strip())
        if claims is None:
            raise _fail("jwt")
        role = self._role(role_arn) or FakeRole()
        if role.deny:
            raise _fail("web_denied")
        if duration > role.max_session_duration:
            raise _fail("max")
        subject, audience, provider = claims
        acct = role_arn.split(":")[4]
        provider = provider or f"arn:aws:iam::{acct}:oidc-provider/oidc.example.com"
        _, xml = self._issue(role_arn, session, duration)
        return web_identity_xml(xml, subject, audience, provider)
