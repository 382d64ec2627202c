"""A local credential server: awsroles' credentials for other processes, in the format of the
ECS container credentials endpoint, which every AWS SDK and the AWS CLI can read
(``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and ``AWS_CONTAINER_AUTHORIZATION_TOKEN``).

    server = CredentialServer(awsroles.resolve(profile="dev")).start()
    env = {**os.environ, **server.environment()}   # for a child process
    ...
    server.stop()

It listens on 127.0.0.1 only, on a free port unless one is given: the SDKs accept a full URI
over plain HTTP only for loopback addresses, and nothing off the machine can reach it. Every
request must carry the server's token (32 random bytes) in ``Authorization``, so another local
user, or a web page that makes the browser call localhost, gets 401 and nothing else. Each GET
of ``/`` answers with the current credentials of one credential object, so refresh windows,
single flight and static stability work as everywhere in awsroles; the server refreshes a
little before the clients' own refresh window, so what they get lasts them. Each request is
logged at INFO (client, status, expiry), never a key or token.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .._log import get_logger
from ..errors import AwsRolesError, InvalidConfigError, printable
from ..timestamps import format_timestamp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Optional, Tuple

    from ..credentials import Credentials
    from ..protocols import CredentialSource

__all__ = ["CredentialServer", "HOST"]

log = get_logger("awsroles.server")

#: The only address the server binds.
HOST = "127.0.0.1"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    owner: CredentialServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # a client that hung up
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    timeout = 30  # a client that opens a connection and sends nothing does not hold a thread

    def do_GET(self) -> None:  # noqa: N802
        status, body = self.server.owner.answer(self.path, self.headers.get("Authorization"))
        self._send(status, body)

    def _refuse(self) -> None:
        self._send(405, {"code": "MethodNotAllowed", "message": "Use GET."})

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815

    def _send(self, status: int, body: Dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response_only(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        expiry = body.get("Expiration", "-")
        log.info(
            "%s GET %s %d (expires %s)", self.client_address[0], _path(self.path), status, expiry
        )

    def log_message(self, format: str, *args: Any) -> None:  # the access log is ours
        pass


def _path(path: str) -> str:
    # the path only: a client may put anything in a query, and the log is not for secrets
    return printable(path.split("?", 1)[0][:200])


class CredentialServer:
    """Serves ``source``'s credentials on ``http://127.0.0.1:<port>/`` to holders of the token.

    ``port`` 0 picks a free port. ``min_left``: a set with less than this many seconds left is
    refreshed before it is handed out (clients refresh 15 minutes before expiry, as botocore
    does, and would otherwise ask again at once). Long-lived keys are refused: the container
    credentials format carries temporary credentials, and the SDKs reject an answer without
    a session token."""

    def __init__(
        self, source: CredentialSource, *, port: int = 0, min_left: float = 15 * 60
    ) -> None:
        self.source = source
        self.min_left = min_left
        #: What a client must send in ``Authorization``.
        self.token = secrets.token_urlsafe(32)
        self._port = port
        self._httpd: Optional[_HTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> CredentialServer:
        """Check the credentials once (a broken profile fails here, not in the client), then
        listen."""
        first = self.current()
        if first.token is None:
            raise InvalidConfigError(
                "these are long-lived keys; the credential server hands out temporary "
                "credentials only (the AWS SDKs refuse an answer without a session token).",
                hint="Serve a role profile, or ride an MFA session "
                "(awsroles_mfa_session_seconds) to get temporary credentials from these keys.",
            )
        httpd = _HTTPServer((HOST, self._port), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="awsroles-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and wait for the serving thread (requests in progress finish)."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> CredentialServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the credential server is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def environment(self) -> Dict[str, str]:
        """The two variables a client needs."""
        return {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": self.url,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": self.token,
        }

    # --- answers -----------------------------------------------------------------------------

    def current(self) -> Credentials:
        """The set to hand out now: refreshed first when it has less than ``min_left`` left."""
        from ..refresh.sync import RefreshableCredentials

        source = self.source
        if isinstance(source, RefreshableCredentials):
            frozen = source.get_frozen_credentials()  # fresh or stale: at once
            if frozen.expiry is not None and source.refresh_needed(self.min_left):
                frozen = source.refresh(min_left=self.min_left)
            return frozen
        return source.get_frozen_credentials()

    def answer(self, path: str, authorization: Optional[str]) -> Tuple[int, Dict[str, Any]]:
        """(status, JSON body) for a GET of ``path`` with that ``Authorization`` header."""
        if not authorization or not hmac.compare_digest(
            authorization.encode("utf-8", "replace"), self.token.encode()
        ):
            return 401, {
                "code": "Unauthorized",
                "message": "A valid authorization token is "
                "required (AWS_CONTAINER_AUTHORIZATION_TOKEN).",
            }
        if path.split("?", 1)[0] != "/":
            return 404, {"code": "NotFound", "message": "Credentials are served on /."}
        try:
            creds = self.current()
        except AwsRolesError as exc:
            # The container provider reports the message; awsroles' messages hold no secret.
            log.warning("credential server: %s", exc)  # one line, escaped, no secret
            return 503, {"code": type(exc).__name__, "message": str(exc)}
        body: Dict[str, Any] = {
            "AccessKeyId": creds.access_key,
            "SecretAccessKey": creds.secret_key,
            "Token": creds.token,
        }
        if creds.expiry is not None:
            body["Expiration"] = format_timestamp(creds.expiry)
        if creds.account_id:
            body["AccountId"] = creds.account_id
        return 200, body

    def __repr__(self) -> str:
        where = self.url if self._httpd is not None else "stopped"
        return f"CredentialServer({where}, token=****)"
