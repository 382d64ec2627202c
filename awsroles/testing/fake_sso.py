"""A strict local IAM Identity Center (SSO) portal and sso-oidc token endpoint for tests.

    with FakeSSOPortal() as portal:
        portal.add_role("111122223333", "ReadOnly")
        portal.login(home, "my-sso", start_url="https://d-123.awsapps.com/start")
        env["AWS_ENDPOINT_URL_SSO"] = portal.url        # GetRoleCredentials
        env["AWS_ENDPOINT_URL_SSO_OIDC"] = portal.url   # CreateToken (token refresh)
        ...
        assert portal.count("GetRoleCredentials") == 1

``GET /federation/credentials?role_name=&account_id=`` checks the ``x-amz-sso_bearer_token``
header against the registered access tokens (unknown or expired: 401
``UnauthorizedException``), and the role against the registered (account, role) pairs (403
``ForbiddenException``). ``POST /token`` is sso-oidc ``CreateToken`` with
``grantType=refresh_token``. Errors are shaped like the real services' (``x-amzn-ErrorType``
header, JSON body). Every request is recorded in ``FakeSSOPortal.calls`` without the
access token, refresh token or client secret. ``write_token_cache()`` (in
``awsroles.testing.sso_cache``, re-exported here) writes a token file exactly as the AWS
CLI v2's ``aws sso login`` does.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import uuid
from datetime import datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from typing import Any, Dict, List, NamedTuple, Optional, Tuple, Union
from urllib.parse import parse_qsl, urlsplit

from ..clock import SYSTEM_CLOCK
from ..credentials import Credentials
from ._secrets import new_secret, remember
from ._server import FakeHTTPServer, LocalServer, as_handled
from .sso_cache import token_cache_path, write_token_cache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..protocols import Clock

__all__ = ["FakeSSOPortal", "SsoCall", "write_token_cache", "token_cache_path"]

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class SsoCall(NamedTuple):
    """One request. ``params`` hold role_name/account_id (GetRoleCredentials) or clientId
    and grantType (CreateToken), never a token or secret; ``token_known`` says whether the
    bearer (or refresh) token was one the fake knows."""

    operation: str
    params: Dict[str, str]
    status: int
    token_known: bool


class _Client(NamedTuple):
    client_secret: str
    expires_in: int
    rotate: bool

    def __repr__(self) -> str:  # the secret stays out of assertion messages
        return f"_Client(client_secret='****', expires_in={self.expires_in}, rotate={self.rotate})"


class _Server(FakeHTTPServer):
    fake: FakeSSOPortal


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:  # noqa: N802
        self._answer(b"")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(self.rfile.read(length) if 0 < length <= 65536 else b"")

    def _answer(self, body: bytes) -> None:
        status, headers, data = self.server.fake.handle(
            self.command, self.path, dict(self.headers.items()), body
        )
        self.send_response_only(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class FakeSSOPortal(LocalServer):
    """The fake portal. Use as a context manager, or ``start()``/``stop()``; or use
    ``transport()`` with no socket at all."""

    _server_class = _Server
    _handler_class = _Handler

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self._init_server(host, port)
        self.clock = clock
        self.calls: List[SsoCall] = []
        self._lock = threading.Lock()
        self._tokens: Dict[str, Optional[datetime]] = {}
        self._roles: Dict[Tuple[str, str], Tuple[Credentials, int, bool]] = {}
        self._clients: Dict[str, _Client] = {}
        self._refresh: Dict[str, str] = {}  # refresh token -> client id
        self._faults: List[Tuple[int, str, str, Optional[str]]] = []

    # -- configuration -----------------------------------------------------------------------

    def add_token(self, token: str, expires_at: Optional[datetime] = None) -> str:
        """Accept ``token`` as a bearer token (until ``expires_at``, if given)."""
        remember(token)
        with self._lock:
            self._tokens[token] = expires_at
        return token

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def add_role(
        self,
        account_id: str,
        role_name: str,
        *,
        duration: int = 3600,
        credentials: Optional[Credentials] = None,
        rotate: bool = False,
    ) -> Credentials:
        """Serve credentials for (account, role), ``duration`` seconds from each call. The
        same keys every call unless ``rotate`` (new keys per call). Returns the keys."""
        if credentials is None:
            digest = hashlib.sha1(f"{account_id}/{role_name}".encode()).digest()
            credentials = Credentials(
                "ASIA" + "".join(_ALNUM[b % 32] for b in digest[:16]),
                new_secret(30),
                new_secret(96),
                account_id=account_id,
                method="sso",
            )
        with self._lock:
            self._roles[(account_id, role_name)] = (credentials, duration, rotate)
        return credentials

    def add_client(
        self,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        *,
        expires_in: int = 8 * 3600,
        rotate_refresh_token: bool = True,
    ) -> None:
        """Accept CreateToken(refresh_token) for this registration; each success issues a
        new access token valid ``expires_in`` seconds (and a new refresh token)."""
        remember(client_secret, refresh_token)
        with self._lock:
            self._clients[client_id] = _Client(client_secret, expires_in, rotate_refresh_token)
            self._refresh[refresh_token] = client_id

    def login(
        self,
        home: Union[str, os.PathLike[str]],
        session_name_or_start_url: str,
        *,
        start_url: Optional[str] = None,
        region: str = "us-east-1",
        expires_in: int = 8 * 3600,
        refreshable: Optional[bool] = None,
    ) -> str:
        """What ``aws sso login`` leaves behind: a registered token in a CLI-shaped cache
        file. sso-session logins (anything not starting with ``http``) are refreshable by
        default. Returns the access token."""
        legacy = session_name_or_start_url.startswith(("http://", "https://"))
        if refreshable is None:
            refreshable = not legacy
        token = new_secret(48, "aoa")
        expires = self.clock.now() + timedelta(seconds=expires_in)
        self.add_token(token, expires)
        extra: Dict[str, Any] = {}
        if refreshable:
            client_id, secret, refresh = (
                new_secret(16),
                new_secret(32),
                new_secret(48, "aor"),
            )
            self.add_client(client_id, secret, refresh)  # refreshed tokens last 8 hours
            extra = {
                "client_id": client_id,
                "client_secret": secret,
                "refresh_token": refresh,
                "registration_expires_at": self.clock.now() + timedelta(days=90),
            }
        write_token_cache(
            home,
            session_name_or_start_url,
            token,
            expires,
            start_url=start_url,
            region=region,
            **extra,
        )
        return token

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        code: str = "InternalServerException",
        message: str = "An internal error occurred",
        operation: Optional[str] = None,
    ) -> None:
        """The next ``n`` requests (of ``operation``, or of any) get this error."""
        with self._lock:
            self._faults.extend([(status, code, message, operation)] * n)

    def count(self, operation: Optional[str] = None, *, status: Optional[int] = None) -> int:
        with self._lock:
            return sum(
                1
                for c in self.calls
                if (operation is None or c.operation == operation)
                and (status is None or c.status == status)
            )

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self._faults.clear()

    # -- request handling --------------------------------------------------------------------

    def handle(
        self, method: str, path: str, headers: Dict[str, str], body: bytes
    ) -> Tuple[int, Dict[str, str], bytes]:
        """Answer one request: ``(status, headers, body)``."""
        parts = urlsplit(path)
        lower = {k.lower(): v for k, v in headers.items()}
        if method == "GET" and parts.path == "/federation/credentials":
            op = "GetRoleCredentials"
            params = dict(parse_qsl(parts.query, keep_blank_values=True))
            shown: Dict[str, str] = {
                k: params.get(k, "") for k in ("role_name", "account_id") if k in params
            }
            status, doc, known = self._role_credentials(params, lower.get("x-amz-sso_bearer_token"))
        elif method == "POST" and parts.path == "/token":
            op = "CreateToken"
            status, doc, known, shown = self._create_token(body)
        else:
            op, shown, known = f"{method} {parts.path}", {}, False
            status, doc = 404, _err("UnknownOperationException", "Unknown operation")
        with self._lock:
            fault = next((f for f in self._faults if f[3] in (None, op)), None)
            if fault is not None:
                self._faults.remove(fault)
        if fault is not None:
            status, doc = fault[0], _err(fault[1], fault[2])
        with self._lock:
            self.calls.append(SsoCall(op, shown, status, known))
        if status >= 400 and op == "CreateToken":  # sso-oidc speaks OAuth errors
            oauth = _OAUTH.get(doc["__type"], "invalid_request")
            body_doc: Dict[str, Any] = {"error": oauth, "error_description": doc["message"]}
        else:
            body_doc = {k: v for k, v in doc.items() if k != "__type"}
        data = json.dumps(body_doc).encode()
        out = {
            "Content-Type": "application/json",
            "Content-Length": str(len(data)),
            "x-amzn-RequestId": str(uuid.uuid4()),
            "Date": formatdate(usegmt=True),
        }
        if status >= 400:
            out["x-amzn-ErrorType"] = f"{doc['__type']}:http://internal.amazon.com/coral/"
        return status, out, data

    def _token_ok(self, token: Optional[str]) -> bool:
        if not token:
            return False
        with self._lock:
            if token not in self._tokens:
                return False
            expires = self._tokens[token]
        return expires is None or self.clock.now() < expires

    def _role_credentials(
        self, params: Dict[str, str], token: Optional[str]
    ) -> Tuple[int, Dict[str, Any], bool]:
        if not params.get("role_name") or not params.get("account_id"):
            return 400, _err("InvalidRequestException", "Missing role_name or account_id"), False
        if not self._token_ok(token):
            return 401, _err("UnauthorizedException", "Session token not found or invalid"), False
        with self._lock:
            entry = self._roles.get((params["account_id"], params["role_name"]))
        if entry is None:
            return 403, _err("ForbiddenException", "No access"), True
        creds, duration, rotate = entry
        if rotate:
            creds = Credentials(
                "ASIA" + "".join(secrets.choice(_ALNUM) for _ in range(16)),
                new_secret(30),
                new_secret(96),
            )
        expires = self.clock.now() + timedelta(seconds=duration)
        doc = {
            "roleCredentials": {
                "accessKeyId": creds.access_key,
                "secretAccessKey": creds.secret_key,
                "sessionToken": creds.token,
                "expiration": int(expires.timestamp()) * 1000,
            }
        }
        return 200, doc, True

    def _create_token(self, body: bytes) -> Tuple[int, Dict[str, Any], bool, Dict[str, str]]:
        try:
            req = json.loads(body.decode("utf-8"))
            if not isinstance(req, dict):
                raise ValueError
        except ValueError:
            return 400, _err("InvalidRequestException", "Invalid JSON"), False, {}
        shown = {k: str(req.get(k, "")) for k in ("grantType", "clientId")}
        if req.get("grantType") != "refresh_token":
            return (
                400,
                _err("UnsupportedGrantTypeException", "Unsupported grant type"),
                False,
                shown,
            )
        with self._lock:
            client = self._clients.get(req.get("clientId") or "")
            owner = self._refresh.get(req.get("refreshToken") or "")
        if client is None or client.client_secret != req.get("clientSecret"):
            return 401, _err("InvalidClientException", "Invalid client"), False, shown
        if owner != req.get("clientId"):
            return 400, _err("InvalidGrantException", "Invalid refresh token"), False, shown
        token = new_secret(48, "aoa")
        self.add_token(token, self.clock.now() + timedelta(seconds=client.expires_in))
        doc: Dict[str, Any] = {
            "accessToken": token,
            "expiresIn": client.expires_in,
            "tokenType": "Bearer",
        }
        if client.rotate:
            new_refresh = new_secret(48, "aor")
            with self._lock:
                del self._refresh[req["refreshToken"]]
                self._refresh[new_refresh] = req["clientId"]
            doc["refreshToken"] = new_refresh
        return 200, doc, True, shown

    def transport(self) -> Any:
        """An in-memory ``awsroles.protocols.Transport`` answering as this server
        would (the server need not be started)."""
        from ..transport.base import HttpResponse

        def send(request: Any) -> Any:
            _, path, _ = as_handled(request)
            status, headers, data = self.handle(
                request.method, path, dict(request.headers), request.body or b""
            )
            return HttpResponse(
                status=status, headers={k.lower(): v for k, v in headers.items()}, body=data
            )

        return send


_OAUTH = {
    "InvalidGrantException": "invalid_grant",
    "InvalidClientException": "invalid_client",
    "UnsupportedGrantTypeException": "unsupported_grant_type",
}


def _err(code: str, message: str) -> Dict[str, str]:
    return {"__type": code, "message": message}
