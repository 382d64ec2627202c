"""A strict local EC2 instance metadata service (IMDS) for tests: real HTTP on 127.0.0.1, or in
memory through ``FakeIMDS.transport()``.

    from awsroles.testing.fake_imds import FakeIMDS, TOKEN_PATH

    with FakeIMDS(role="web-server") as imds:
        env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url}   # botocore, boto3, awsroles
        ...                                                     # resolve credentials
        assert imds.count("PUT", TOKEN_PATH) == 1
        assert imds.credentials.access_key.startswith("ASIA")
        imds.rotate()               # new credentials (as IMDS does before expiry)
        imds.down = True            # stop listening: connections are refused
        imds.fail_next(2, 503)      # the next two requests answer 503
        imds.role = None            # no instance profile: 404

    imds = FakeIMDS(clock=frozen_clock)     # or without a socket:
    transport = imds.transport()            # an awsroles Transport answering the same way

Behaviour (as real IMDS, strictly):

* ``PUT /latest/api/token`` needs ``x-aws-ec2-metadata-token-ttl-seconds`` between 1 and 21600,
  else 400; with ``X-Forwarded-For`` it is 403. The answer carries the TTL header. Tokens expire
  after their TTL on the injected ``clock`` (then 401). ``token_status=403|404|405`` makes the
  token request fail that way (an IMDSv1-only service: set ``v1_allowed=True`` too).
* ``GET /latest/meta-data/iam/security-credentials/`` answers the role name;
  ``.../security-credentials/<role>`` the credentials JSON (``Code``, ``LastUpdated``, ``Type``,
  ``AccessKeyId``, ``SecretAccessKey``, ``Token``, ``Expiration``). A GET without a token is
  401 unless ``v1_allowed``; with an invalid or expired token it is always 401.
* Credentials live ``lifetime`` seconds (default 6 h) and are renewed on a GET once fewer than
  ``auto_rotate_before`` seconds are left (default 300, the 5 minutes AWS promises; None keeps
  serving them after expiry, as IMDS does when it cannot refresh them).
* ``slow`` seconds before each answer (only for paths starting with ``slow_path`` if set); in
  memory, a request whose timeout is shorter times out at once instead of sleeping.
* Every request is recorded in ``requests`` (method, path, status, auth, timeout) with no
  token value; ``count()`` filters them.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from ..clock import SYSTEM_CLOCK
from ..credentials import Credentials
from ._secrets import new_secret
from ._server import FakeHTTPServer, as_handled, read_timeout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..protocols import Clock

__all__ = ["FakeIMDS", "ImdsRequest", "TOKEN_PATH", "CREDENTIALS_PATH"]

TOKEN_PATH = "/latest/api/token"
CREDENTIALS_PATH = "/latest/meta-data/iam/security-credentials/"
_TTL = "x-aws-ec2-metadata-token-ttl-seconds"
_TOKEN = "x-aws-ec2-metadata-token"
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_FMT = "%Y-%m-%dT%H:%M:%SZ"


class ImdsRequest(NamedTuple):
    """One request. ``auth``: ``token`` (valid), ``bad-token`` (invalid or expired) or ``none``.
    ``timeout`` is the transport timeout (in-memory transport only, else None)."""

    method: str
    path: str
    status: int
    auth: str
    timeout: Any = None


class _Server(FakeHTTPServer):
    fake: FakeIMDS

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)  # a client that timed out is normal


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if 0 < length <= 65536:
            self.rfile.read(length)
        status, headers, body = self.server.fake._answer(self.command, self.path, self.headers)
        self.close_connection = True  # real IMDS answers "Connection: close"
        self.send_response_only(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.send_header("Server", "EC2ws")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _any  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class FakeIMDS:
    """The fake. Use as a context manager (or ``start()``/``stop()``) for a socket."""

    def __init__(
        self,
        *,
        role: Optional[str] = "fake-instance-role",
        clock: Clock = SYSTEM_CLOCK,
        lifetime: float = 6 * 3600,
        expiry: Optional[datetime] = None,
        v1_allowed: bool = False,
        token_status: Optional[int] = None,
        slow: float = 0.0,
        slow_path: Optional[str] = None,
        auto_rotate_before: Optional[float] = 300.0,
        account_id: Optional[str] = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.role, self.clock, self.lifetime = role, clock, lifetime
        self.v1_allowed, self.token_status = v1_allowed, token_status
        self.slow, self.slow_path = slow, slow_path
        self.auto_rotate_before, self.account_id = auto_rotate_before, account_id
        self.host, self._port = host, port
        self.requests: List[ImdsRequest] = []
        self._lock = threading.Lock()
        self._tokens: Dict[str, float] = {}  # token -> expiry (epoch seconds on self.clock)
        self._faults: List[Tuple[int, bytes, Optional[str]]] = []
        self._down = self._wanted = False
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._creds: Dict[str, str] = {}
        self.rotate(expiry=expiry)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeIMDS:
        self._wanted = True
        if not self._down:
            self._listen()
        return self

    def stop(self) -> None:
        self._wanted = False
        self._close()

    def _listen(self) -> None:
        if self._server is None:
            self._server = _Server((self.host, self._port), _Handler)
            self._server.fake = self
            self._port = self._server.server_address[1]  # the same port after down/up
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="FakeIMDS",
                daemon=True,
            )
            self._thread.start()

    def _close(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
            if thread is not None:
                thread.join(5)

    def __enter__(self) -> FakeIMDS:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def down(self) -> bool:
        return self._down

    @down.setter
    def down(self, value: bool) -> None:
        """True stops listening (connections are refused; the in-memory transport raises a
        connection error); False listens again on the same port."""
        self._down = bool(value)
        if self._down:
            self._close()
        elif self._wanted:
            self._listen()

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("FakeIMDS is not running; call start() or use 'with'")
        return self._port

    @property
    def url(self) -> str:
        """For ``AWS_EC2_METADATA_SERVICE_ENDPOINT``."""
        return f"http://{self.host}:{self.port}"

    # -- state ------------------------------------------------------------------------------

    def rotate(
        self, *, lifetime: Optional[float] = None, expiry: Optional[datetime] = None
    ) -> Credentials:
        """Issue new credentials (expiring at ``expiry``, else ``lifetime`` from now)."""
        now = self.clock.now().replace(microsecond=0)
        if expiry is None:
            expiry = now + timedelta(seconds=self.lifetime if lifetime is None else lifetime)
        creds = {
            "Code": "Success",
            "LastUpdated": now.strftime(_FMT),
            "Type": "AWS-HMAC",
            "AccessKeyId": "ASIA" + "".join(secrets.choice(_ALNUM) for _ in range(16)),
            "SecretAccessKey": new_secret(30),
            "Token": "IQoJb3JpZ2luX2VjE" + new_secret(300),
            "Expiration": expiry.strftime(_FMT),
        }
        if self.account_id:
            creds["AccountId"] = self.account_id
        with self._lock:
            self._creds = creds
        return self.credentials

    @property
    def credentials(self) -> Credentials:
        """The credentials IMDS serves now."""
        with self._lock:
            c = dict(self._creds)
        expiry = datetime.strptime(c["Expiration"], _FMT).replace(tzinfo=self.clock.now().tzinfo)
        return Credentials(
            c["AccessKeyId"], c["SecretAccessKey"], c["Token"], expiry, c.get("AccountId"), "imds"
        )

    def fail_next(
        self, n: int = 1, status: int = 500, body: bytes = b"", path: Optional[str] = None
    ) -> None:
        """The next ``n`` requests (whose path starts with ``path``, if given) get ``status``
        and ``body`` (a 200 with a bad body tests parsing)."""
        with self._lock:
            self._faults.extend([(status, body, path)] * n)

    def expire_tokens(self) -> None:
        """Forget every issued token: the next request with one gets 401."""
        with self._lock:
            self._tokens.clear()

    @property
    def tokens_issued(self) -> int:
        return self.count("PUT", TOKEN_PATH, status=200)

    def count(
        self,
        method: Optional[str] = None,
        path: Optional[str] = None,
        *,
        status: Optional[int] = None,
    ) -> int:
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (method is None or r.method == method)
                and (path is None or r.path == path)
                and (status is None or r.status == status)
            )

    def reset(self) -> None:
        """Forget recorded requests and pending faults (tokens and credentials stay)."""
        with self._lock:
            self.requests.clear()
            self._faults.clear()

    # -- the service ------------------------------------------------------------------------

    def _answer(
        self, method: str, path: str, headers: Any, timeout: Any = None
    ) -> Tuple[int, Dict[str, str], bytes]:
        if self.slow and (self.slow_path is None or path.startswith(self.slow_path)):
            if timeout is None:  # a real socket: really wait
                time.sleep(self.slow)
        status, out, body, auth = self._handle(method, path, headers)
        with self._lock:
            self.requests.append(ImdsRequest(method, path.split("?", 1)[0], status, auth, timeout))
        out.setdefault("Content-Type", "text/plain")
        return status, out, body

    def _handle(
        self, method: str, path: str, headers: Any
    ) -> Tuple[int, Dict[str, str], bytes, str]:
        path = path.split("?", 1)[0]
        now = self.clock.now().timestamp()
        token = headers.get(_TOKEN)
        with self._lock:
            valid = token is not None and self._tokens.get(token, 0.0) > now
            auth = "none" if token is None else ("token" if valid else "bad-token")
            fault = next((f for f in self._faults if f[2] is None or path.startswith(f[2])), None)
            if fault is not None:
                self._faults.remove(fault)
        if fault is not None:
            return fault[0], {}, fault[1], auth
        if path == TOKEN_PATH:
            if method != "PUT":
                return 405, {}, b"", auth
            return self._put_token(headers, now) + (auth,)
        if method != "GET":
            return 405, {}, b"", auth
        if not valid and (token is not None or not self.v1_allowed):
            return 401, {}, b"", auth
        if not path.startswith(CREDENTIALS_PATH) or self.role is None:
            return 404, {}, b"", auth
        name = path[len(CREDENTIALS_PATH) :]
        if name == "":
            return 200, {}, self.role.encode(), auth
        if name != self.role:
            return 404, {}, b"", auth
        if self.auto_rotate_before is not None:
            left = self.credentials.seconds_left(self.clock.now()) or 0.0
            if left < self.auto_rotate_before:
                self.rotate()
        with self._lock:
            body = json.dumps(self._creds, indent=2).encode()
        return 200, {}, body, auth

    def _put_token(self, headers: Any, now: float) -> Tuple[int, Dict[str, str], bytes]:
        if self.token_status is not None:
            return self.token_status, {}, b""
        if headers.get("X-Forwarded-For") is not None:
            return 403, {}, b""
        raw = headers.get(_TTL) or ""
        if not raw.isdigit() or not 1 <= int(raw) <= 21600:
            return 400, {}, b""
        token = new_secret(40, "AQAEA")
        with self._lock:
            self._tokens[token] = now + int(raw)
        return 200, {_TTL: raw}, token.encode()

    def transport(self) -> Any:
        """An in-memory ``awsroles.protocols.Transport`` answering as the server would (no
        socket; the server need not be started). ``down`` raises a connection error; ``slow``
        longer than the request's timeout raises a timeout at once."""
        from ..errors import TransportError
        from ..transport.base import HttpResponse

        def send(request: Any) -> Any:
            if self._down:
                raise TransportError(
                    f"could not connect to {request.url} (ConnectionError)", url=request.url
                )
            parts, _, headers = as_handled(request)
            timeout, read = request.timeout, read_timeout(request)
            if (
                self.slow
                and (self.slow_path is None or parts.path.startswith(self.slow_path))
                and read is not None
                and self.slow >= read
            ):
                with self._lock:
                    self.requests.append(
                        ImdsRequest(request.method, parts.path, 0, "timeout", timeout)
                    )
                raise TransportError(
                    f"timed out after {timeout}s talking to {request.url}",
                    url=request.url,
                    timeout=True,
                )
            status, out, body = self._answer(request.method, parts.path, headers, timeout)
            return HttpResponse(status, {k.lower(): v for k, v in out.items()}, body)

        return send
