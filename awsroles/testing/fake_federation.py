"""A strict local AWS federation endpoint (``signin.aws.amazon.com/federation``) for tests.

    from awsroles.testing.fake_federation import FakeFederation

    with FakeSTS() as sts, FakeFederation(sts=sts) as fed:
        env["AWSROLES_FEDERATION_URL"] = fed.url   # http://127.0.0.1:<port>/federation
        ...  # awsroles console --profile dev
        assert fed.count("getSigninToken") == 1
        assert fed.requests[0].session_id == <the role's access key id>

``GET <path>?Action=getSigninToken&Session=<JSON>[&SessionDuration=N]`` answers
``{"SigninToken": "..."}`` when ``Session`` is a JSON object whose ``sessionId``,
``sessionKey`` and ``sessionToken`` are non-empty strings and ``SessionDuration``, if given, is
a whole number from 900 to 43200; anything else is a 400, as AWS answers it. Given ``sts``, the
credentials must also be a role session that FakeSTS issued and still honours: they are checked
with a GetCallerIdentity through ``sts.transport()`` (so ``sts.calls`` records one
``GetCallerIdentity`` per check), and a user's keys or a GetSessionToken session are refused,
as AWS refuses them for the console. ``GET <path>?Action=login&SigninToken=...&Destination=...``
redirects (302) to the destination for a token this endpoint issued, else 400.

Every request is recorded in ``requests``: the access key id, which Session fields were
present, the SessionDuration and the status; the secret key, session token and sign-in token are
never stored there. Issued sign-in tokens are in ``tokens`` (they are secrets: for assertions).
"""

from __future__ import annotations

import json
import threading
from typing import Any, Dict, List, NamedTuple, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

from .._untrusted import json_loads
from ._secrets import new_secret
from ._server import FakeHandler, FakeHTTPServer, LocalServer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .fake_sts import FakeSTS

__all__ = ["FakeFederation", "FederationRequest"]

_FIELDS = ("sessionId", "sessionKey", "sessionToken")


class FederationRequest(NamedTuple):
    """One request. ``fields``: the Session JSON's keys that held a non-empty string;
    ``session_id``: its access key id (not a secret); ``reason``: why it was refused."""

    action: str
    session_id: Optional[str]
    fields: Tuple[str, ...]
    session_duration: Optional[str]
    destination: Optional[str]
    status: int
    reason: str = ""


class _Server(FakeHTTPServer):
    fake: FakeFederation


class _Handler(FakeHandler):
    server: _Server

    def _serve(self) -> None:
        self.drain_body()
        self.reply(*self.server.fake.handle(self.command, self.path))

    do_GET = do_POST = do_PUT = do_DELETE = _serve


class _Refused(Exception):
    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


class FakeFederation(LocalServer):
    """The fake endpoint. Use as a context manager, or call ``start()`` / ``stop()``."""

    _server_class = _Server
    _handler_class = _Handler

    def __init__(
        self,
        *,
        sts: Optional[FakeSTS] = None,
        path: str = "/federation",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.sts = sts
        self.path = path
        self.requests: List[FederationRequest] = []
        #: The sign-in tokens issued, oldest first.
        self.tokens: List[str] = []
        self._init_server(host, port)
        self._lock = threading.Lock()
        self._faults: List[Tuple[int, Optional[bytes]]] = []

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "not started"
        return f"FakeFederation({where}, requests={len(self.requests)})"

    @property
    def url(self) -> str:
        """The endpoint, for ``AWSROLES_FEDERATION_URL``."""
        return self.base_url + self.path

    # -- control -----------------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 500, body: Optional[bytes] = None) -> None:
        """The next ``n`` requests get ``status`` with ``body`` (default: a short text).
        ``fail_next(1, 200, b"garbage")`` sends a malformed success."""
        with self._lock:
            self._faults.extend([(status, body)] * n)

    def count(self, action: Optional[str] = None, *, status: Optional[int] = None) -> int:
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (action is None or r.action == action) and (status is None or r.status == status)
            )

    def reset(self) -> None:
        """Forget recorded requests and pending faults (issued tokens stay valid)."""
        with self._lock:
            self.requests.clear()
            self._faults.clear()

    # -- request handling --------------------------------------------------------------------

    def handle(self, method: str, target: str) -> Tuple[int, Dict[str, str], bytes]:
        """Answer one request: ``(status, headers, body)``."""
        parts = urlsplit(target)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        action = params.get("Action", "")
        record: Dict[str, Any] = {"session_id": None, "fields": (), "destination": None}
        headers = {"Content-Type": "text/plain"}
        with self._lock:
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None:
            status, reason = fault[0], "fail_next"
            body = fault[1] if fault[1] is not None else b"injected fault"
        else:
            try:
                status, body = self._answer(method, parts.path, action, params, record, headers)
                reason = ""
            except _Refused as refused:
                status, body, reason = refused.status, refused.reason.encode(), refused.reason
        with self._lock:
            self.requests.append(
                FederationRequest(
                    action,
                    record["session_id"],
                    record["fields"],
                    params.get("SessionDuration"),
                    record["destination"],
                    status,
                    reason,
                )
            )
        headers["Content-Length"] = str(len(body))
        return status, headers, body

    def _answer(
        self,
        method: str,
        path: str,
        action: str,
        params: Dict[str, str],
        record: Dict[str, Any],
        headers: Dict[str, str],
    ) -> Tuple[int, bytes]:
        if method != "GET":
            raise _Refused("use GET", 405)
        if path != self.path:
            raise _Refused("no federation endpoint at this path", 404)
        if action == "getSigninToken":
            token = self._signin_token(params, record)
            headers["Content-Type"] = "application/json"
            return 200, json.dumps({"SigninToken": token}).encode()
        if action == "login":
            headers["Location"] = self._login(params, record)
            return 302, b""
        raise _Refused(f"unknown Action {action!r}")

    def _signin_token(self, params: Dict[str, str], record: Dict[str, Any]) -> str:
        try:
            session = json_loads(params.get("Session", ""))
        except ValueError:
            session = None
        if not isinstance(session, dict):
            raise _Refused("Session is not a JSON object")
        record["fields"] = tuple(
            f for f in _FIELDS if isinstance(session.get(f), str) and session[f]
        )
        if isinstance(session.get("sessionId"), str):
            record["session_id"] = session["sessionId"]
        if len(record["fields"]) != len(_FIELDS):
            raise _Refused("Session needs sessionId, sessionKey and sessionToken")
        duration = params.get("SessionDuration")
        if duration is not None and not (duration.isdigit() and 900 <= int(duration) <= 43200):
            raise _Refused("SessionDuration must be a whole number from 900 to 43200")
        if self.sts is not None:
            self._check_with_sts(session)
        token = new_secret(48, "fake-signin-")
        with self._lock:
            self.tokens.append(token)
        return token

    def _check_with_sts(self, session: Dict[str, str]) -> None:
        """The credentials are a role session the FakeSTS honours: its own answer to
        GetCallerIdentity signed with them, through its public in-memory transport."""
        from ..credentials import Credentials
        from ..errors import AwsRolesError
        from ..sts.client import StsClient
        from ..sts.endpoint import StsEndpoint

        assert self.sts is not None
        client = StsClient(
            StsEndpoint(self.sts.url, "us-east-1", "fake federation"),
            transport=self.sts.transport(),
            clock=self.sts.clock,
            max_attempts=1,
        )
        creds = Credentials(session["sessionId"], session["sessionKey"], session["sessionToken"])
        try:
            arn = client.get_caller_identity(creds).get("Arn", "")
        except AwsRolesError as exc:
            raise _Refused(f"the credentials were refused by STS ({type(exc).__name__})") from None
        if ":assumed-role/" not in arn and ":federated-user/" not in arn:
            raise _Refused("the credentials are not a role or federated session")

    def _login(self, params: Dict[str, str], record: Dict[str, Any]) -> str:
        destination = params.get("Destination", "")
        record["destination"] = destination
        with self._lock:
            known = params.get("SigninToken") in self.tokens
        if not known:
            raise _Refused("unknown SigninToken")
        if urlsplit(destination).scheme not in ("http", "https"):
            raise _Refused("Destination is not a URL")
        return destination
