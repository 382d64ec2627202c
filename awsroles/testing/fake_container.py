"""A strict local container credentials endpoint (ECS task role / EKS Pod Identity agent).

    from awsroles.context import Context, Services
    from awsroles.providers.container import ContainerProvider
    from awsroles.testing.fake_container import FakeContainerEndpoint

    with FakeContainerEndpoint(token="pod-token", lifetime=3600) as fake:
        env = {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.url,  # http://127.0.0.1:<port>/v1/credentials
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": "pod-token",
        }
        creds = ContainerProvider().find(Context(services=Services(env=env))).load()
        assert creds.access_key == fake.credentials.access_key
        assert fake.count() == 1 and fake.requests[0].auth == "ok"
        fake.fail_next(2, 503)  # the next two answers are 503s
        fake.rotate()  # a new credential set from now on

Without a socket, ``FakeContainerEndpoint(...).transport()`` answers the same way in memory
(pass it as ``Services(transport=...)``; any host and scheme reach it, so RELATIVE_URI works).

Rules: only ``GET`` (else 405) on ``path`` (else 404; the query string is ignored). When a
token is expected, a request without ``Authorization`` gets 401 and a wrong one 403. Each set
of credentials lives ``lifetime`` seconds by the injected ``clock``; the same set is served
until fewer than ``rotate_within`` seconds are left (or ``rotate()`` is called), as the ECS
agent does. ``slow`` delays every answer by that many seconds (in memory: a timeout when it is
at least the request's read timeout). Every request is recorded in ``requests`` with
whether its ``Authorization`` matched; the token itself is never stored.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from datetime import timedelta
from email.utils import formatdate
from typing import Any, Dict, List, NamedTuple, Optional, Tuple
from urllib.parse import urlsplit

from ..clock import SYSTEM_CLOCK
from ..credentials import Credentials
from ._secrets import new_secret, remember
from ._server import FakeHandler, FakeHTTPServer, LocalServer, as_handled, read_timeout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..protocols import Clock

__all__ = ["FakeContainerEndpoint", "ContainerRequest"]

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class ContainerRequest(NamedTuple):
    """One request. ``auth`` is ``ok``, ``missing``, ``wrong`` or ``not-required``;
    ``status`` is 0 when the in-memory transport simulated a timeout."""

    method: str
    path: str
    auth: str
    status: int
    accept: Optional[str]

    @property
    def authorized(self) -> bool:
        return self.auth in ("ok", "not-required")


class _Server(FakeHTTPServer):
    fake: FakeContainerEndpoint


class _Handler(FakeHandler):
    server: _Server

    def _serve(self) -> None:
        self.drain_body()
        fake = self.server.fake
        if fake.slow:
            time.sleep(fake.slow)
        self.reply(*fake.handle(self.command, self.path, self.headers))

    do_GET = do_PUT = do_POST = do_DELETE = _serve


class FakeContainerEndpoint(LocalServer):
    """The fake endpoint. Use as a context manager, or call ``start()`` / ``stop()``."""

    _server_class = _Server
    _handler_class = _Handler

    def __init__(
        self,
        *,
        token: Optional[str] = "fake-container-token",
        path: str = "/v1/credentials",
        lifetime: float = 3600,
        rotate_within: float = 900,
        clock: Clock = SYSTEM_CLOCK,
        account_id: Optional[str] = "123456789012",
        role_arn: str = "arn:aws:iam::123456789012:role/fake-task-role",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        #: The ``Authorization`` value required; None accepts any request.
        self.token = token
        remember(token)
        self.path = path
        self.lifetime = float(lifetime)
        self.rotate_within = float(rotate_within)
        self.clock = clock
        self.account_id = account_id
        self.role_arn = role_arn
        #: Seconds to wait before each answer.
        self.slow = 0.0
        self.requests: List[ContainerRequest] = []
        self._init_server(host, port)
        self._lock = threading.Lock()
        self._faults: List[Tuple[int, Optional[bytes]]] = []
        self._current: Optional[Credentials] = None
        self._issued = 0

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "not started"
        return f"FakeContainerEndpoint({where}, requests={len(self.requests)})"

    @property
    def url(self) -> str:
        """The full URL, for ``AWS_CONTAINER_CREDENTIALS_FULL_URI``."""
        return self.base_url + self.path

    # -- control -----------------------------------------------------------------------------

    @property
    def credentials(self) -> Credentials:
        """The set served now (issued on first use)."""
        with self._lock:
            return self._serving()

    @property
    def issued(self) -> int:
        """How many credential sets have been issued."""
        return self._issued

    def rotate(self) -> Credentials:
        """Issue a new credential set now; it is served from the next request on."""
        with self._lock:
            self._current = self._new_set()
            return self._current

    def fail_next(self, n: int = 1, status: int = 500, body: Optional[bytes] = None) -> None:
        """The next ``n`` requests get ``status`` with ``body`` (default: a JSON error
        document). ``fail_next(1, 200, b"garbage")`` sends a malformed success."""
        with self._lock:
            self._faults.extend([(status, body)] * n)

    def count(self, *, status: Optional[int] = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if status is None or r.status == status)

    def reset(self) -> None:
        """Forget recorded requests and pending faults (the credential set stays)."""
        with self._lock:
            self.requests.clear()
            self._faults.clear()

    # -- request handling --------------------------------------------------------------------

    def _new_set(self) -> Credentials:
        self._issued += 1
        expiry = (self.clock.now() + timedelta(seconds=self.lifetime)).replace(microsecond=0)
        return Credentials(
            access_key="ASIA" + "".join(secrets.choice(_ALNUM) for _ in range(16)),
            secret_key=new_secret(30),
            token=new_secret(96),
            expiry=expiry,
            account_id=self.account_id,
            method="container-role",
        )

    def _serving(self) -> Credentials:
        current = self._current
        if (
            current is None
            or current.expiry is None
            or (current.expiry - self.clock.now()).total_seconds() < self.rotate_within
        ):
            current = self._current = self._new_set()
        return current

    def _auth_state(self, given: Optional[str]) -> str:
        expected = self.token
        if expected is None:
            return "not-required"
        if given is None:
            return "missing"
        ok = secrets.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
        return "ok" if ok else "wrong"

    def handle(self, method: str, path: str, headers: Any) -> Tuple[int, Dict[str, str], bytes]:
        """Answer one request: ``(status, headers, body)``. ``headers`` is any mapping with
        ``get`` (case-insensitive, like ``http.client.HTTPMessage``)."""
        auth = self._auth_state(headers.get("Authorization"))
        with self._lock:
            fault = self._faults.pop(0) if self._faults else None
            if fault is not None:
                status, body = fault
                if body is None:
                    body = _error(status, "InjectedFault", "injected by fail_next")
            elif method != "GET":
                status, body = 405, _error(405, "MethodNotAllowed", "use GET")
            elif urlsplit(path).path != self.path:
                status, body = 404, _error(404, "NotFound", "no credentials at this path")
            elif auth == "missing":
                status, body = 401, _error(401, "Unauthorized", "Authorization header missing")
            elif auth == "wrong":
                status, body = 403, _error(403, "AccessDenied", "invalid Authorization token")
            else:
                status, body = 200, self._document(self._serving())
            self.requests.append(
                ContainerRequest(method, path, auth, status, headers.get("Accept"))
            )
        out = {
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "Date": formatdate(usegmt=True),
        }
        return status, out, body

    def _document(self, creds: Credentials) -> bytes:
        doc = {
            "RoleArn": self.role_arn,
            "AccessKeyId": creds.access_key,
            "SecretAccessKey": creds.secret_key,
            "Token": creds.token,
            "Expiration": (creds.expiry or self.clock.now()).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if creds.account_id is not None:
            doc["AccountId"] = creds.account_id
        return json.dumps(doc).encode()

    def transport(self) -> Any:
        """An in-memory ``awsroles.protocols.Transport`` answering as the server
        would, with no socket (the server need not be started)."""
        from ..errors import TransportError
        from ..transport.base import HttpResponse

        def send(request: Any) -> Any:
            timeout, read = request.timeout, read_timeout(request)
            parts, path, headers = as_handled(request)
            if self.slow and read is not None and self.slow >= read:
                auth = self._auth_state(request.headers.get("Authorization"))
                with self._lock:
                    self.requests.append(
                        ContainerRequest(request.method, parts.path, auth, 0, None)
                    )
                raise TransportError(
                    f"timed out after {timeout}s talking to {request.url.split('?')[0]}",
                    url=request.url.split("?")[0],
                    timeout=True,
                )
            status, out, body = self.handle(request.method, path, headers)
            return HttpResponse(status, {k.lower(): v for k, v in out.items()}, body)

        return send


def _error(status: int, code: str, message: str) -> bytes:
    return json.dumps({"code": code, "message": message}).encode()
