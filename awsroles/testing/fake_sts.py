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

import threading
import time
import uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from typing import Any, Dict, List, NamedTuple, Optional, Tuple
from urllib.parse import parse_qsl

from ..clock import SYSTEM_CLOCK
from ..credentials import Credentials
from ._server import FakeHTTPServer, LocalServer, as_handled
from ._sts_accounts import Accounts, FakeRole, Request
from ._sts_wire import _AUTH, _error_xml, _fail, _ok_xml, _StsError, caller_xml

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..protocols import Clock

__all__ = ["FakeSTS", "StsCall", "FakeRole"]

_REDACTED = ("TokenCode", "WebIdentityToken")
_ACTIONS = ("AssumeRole", "AssumeRoleWithWebIdentity", "GetSessionToken", "GetCallerIdentity")


class StsCall(NamedTuple):
    """One request: ``params`` are the form fields, secrets replaced by ``****``."""

    action: str
    params: Dict[str, str]
    access_key: Optional[str]
    status: int


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
        #: Seconds the credentials AssumeRole issues last, whatever DurationSeconds asked
        #: (None: as asked): for tests in which credentials must end while they run.
        self.lifetime: Optional[float] = None
        self.calls: List[StsCall] = []
        self._lock = threading.Lock()  # calls and faults; the accounts have their own
        self._accounts = Accounts()
        self._faults: List[Tuple[int, str, str, Optional[str]]] = []
        if web_identity_token:
            self.add_web_identity_token(web_identity_token)

    # -- configuration -----------------------------------------------------------------------

    def add_user(
        self, access_key: str, secret_key: str, account: str = "123456789012", name: str = "alice"
    ) -> Credentials:
        """Register long-lived keys; returns them as ``Credentials``."""
        self._accounts.add_user(access_key, secret_key, account, name)
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
        self._accounts.add_role(
            role_arn, FakeRole(external_id, mfa_serial, mfa_code, max_session_duration, deny)
        )

    def add_mfa_device(self, serial: str, code: str) -> None:
        """The code the MFA device ``serial`` shows: GetSessionToken (and AssumeRole) with
        another code for it are refused. A device never added accepts any 6 digits."""
        self._accounts.add_mfa_device(serial, code)

    def deny_role(self, role_arn: str) -> None:
        self.add_role(role_arn, deny=True)

    def expire(self, access_key: str) -> None:
        """Treat the credentials this server issued under ``access_key`` as expired from now
        on: calls signed with them get ``ExpiredToken``, as when a session is revoked or the
        caller's clock is off. A KeyError for a key the server does not know."""
        self._accounts.expire(access_key, self.clock.now())

    def add_web_identity_token(
        self,
        token: str,
        *,
        subject: str = "system:serviceaccount:ns:sa",
        audience: str = "sts.amazonaws.com",
        provider: Optional[str] = None,
    ) -> None:
        self._accounts.add_web_identity_token(token, subject, audience, provider)

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
        req = Request(method, path, headers)
        try:
            if length > 65536:
                raise _fail("too_large")
            with self._lock:
                fault = next((f for f in self._faults if f[3] in (None, action)), None)
                if fault is not None:
                    self._faults.remove(fault)
            if fault is not None:
                raise _StsError(fault[0], fault[1], fault[2])
            if params.get("Version") != "2011-06-15" or action not in _ACTIONS:
                raise _fail("action", value=action, version=params.get("Version"))
            accounts, now = self._accounts, self.clock.now()
            if action == "AssumeRoleWithWebIdentity":
                inner = accounts.web_identity(params, now, self.strict_roles)
            else:
                caller = accounts.authenticate(req, raw, m, now)
                if action == "AssumeRole":
                    inner = accounts.assume_role(
                        params, caller, now, self.strict_roles, self.lifetime
                    )
                elif action == "GetSessionToken":
                    inner = accounts.get_session_token(params, caller, now)
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
