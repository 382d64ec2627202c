"""A strict local AWS sign-in token endpoint (``aws login`` sessions) for tests.

    with FakeSignin(clock=clock) as signin:
        session = signin.login(home, "arn:aws:iam::111122223333:user/me")  # the cache file
        env["AWS_ENDPOINT_URL_SIGNIN"] = signin.url
        ...
        assert signin.count(status=200) == 1 and signin.calls[0].proof == "ok"

``POST /v1/token`` is ``CreateOAuth2Token`` with ``grantType = refresh_token``. Every request
must carry a ``DPoP`` proof, which is verified as the service does: a compact JWS whose header
is ``typ: dpop+jwt``, ``alg: ES256`` and a P-256 public ``jwk`` (no private part), whose ES256
signature verifies against that key, and whose claims say ``htm: POST``, ``htu``: the URL the
request was sent to (without query), ``iat`` within ``max_skew`` seconds of the fake's clock,
and a ``jti`` never seen before. A refresh token issued by :meth:`FakeSignin.login` is bound to
the session's key (its RFC 7638 thumbprint), as the service binds it, and is spent by its use:
each success issues new AWS credentials and a new refresh token. (The real service tolerates a
replay of a refresh token for a while; the fake refuses it, so a double spend shows.)

Errors are shaped like the service's: an ``x-amzn-ErrorType`` header and a JSON body
``{"error": <OAuth2 code>, "message": ...}``: 401 ``AccessDeniedException`` /
``TOKEN_EXPIRED`` for an unknown, spent or revoked refresh token, 403 for
``USER_CREDENTIALS_CHANGED`` / ``INSUFFICIENT_PERMISSIONS`` (:meth:`FakeSignin.revoke`), 400
``ValidationException`` / ``INVALID_REQUEST`` for a bad body or proof, and whatever
:meth:`FakeSignin.fail_next` asks for. :meth:`FakeSignin.script` queues exact answers for
exact requests (the shared SDK vectors' ``mockApiCalls``).

Every request is recorded in ``FakeSignin.calls`` without its refresh token, credentials or
proof: the client id, grant type, status, whether the token was known, and the verdict on the
proof with its public layout.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import uuid
from collections import deque
from datetime import datetime, timedelta
from email.utils import formatdate
from typing import Any, Callable, Deque, Dict, List, NamedTuple, Optional, Set, Tuple
from urllib.parse import urlsplit

from ..clock import SYSTEM_CLOCK
from ..credentials import Credentials
from ._secrets import new_secret, remember
from ._server import FakeHandler, FakeHTTPServer, LocalServer, as_handled
from .login_cache import SAME_DEVICE_CLIENT, PathLike, new_dpop_key, write_login_cache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..protocols import Clock

__all__ = ["FakeSignin", "SigninCall", "LoginSession", "verify_dpop", "jwk_thumbprint"]

TOKEN_PATH = "/v1/token"
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
#: OAuth2 error code -> (HTTP status, error type), as the sign-in service maps them.
_ERRORS = {
    "TOKEN_EXPIRED": (401, "AccessDeniedException"),
    "AUTHCODE_EXPIRED": (401, "AccessDeniedException"),
    "USER_CREDENTIALS_CHANGED": (403, "AccessDeniedException"),
    "INSUFFICIENT_PERMISSIONS": (403, "AccessDeniedException"),
    "INVALID_REQUEST": (400, "ValidationException"),
    "server_error": (500, "InternalServerException"),
}


class SigninCall(NamedTuple):
    """One request. ``proof`` is ``"ok"`` or why the DPoP proof was refused; ``layout`` is
    the proof's public shape (header keys, JWK keys, claim names) for comparisons; ``jkt``
    the thumbprint of its key. ``reason`` says why the request was refused."""

    grant_type: str
    client_id: str
    status: int
    token_known: bool
    proof: str
    layout: Tuple[Tuple[str, ...], ...] = ()
    jkt: str = ""
    reason: str = ""


class LoginSession(NamedTuple):
    """What :meth:`FakeSignin.login` left behind. ``dpop_key`` is the PEM private key."""

    path: str
    session: str
    credentials: Credentials
    refresh_token: str
    dpop_key: str
    jkt: str

    def __repr__(self) -> str:  # secrets stay out of assertion messages
        return f"LoginSession(path={self.path!r}, access_key={self.credentials.access_key!r})"


class _Grant(NamedTuple):
    client_id: str
    jkt: Optional[str]
    account_id: Optional[str]
    revoked: Optional[str]  # the OAuth2 error it is refused with, or None

    def __repr__(self) -> str:
        return f"_Grant(client_id={self.client_id!r}, revoked={self.revoked!r})"


class _Script(NamedTuple):
    token_input: Dict[str, Any]
    status: int
    reply: Optional[Dict[str, Any]]

    def __repr__(self) -> str:
        return f"_Script(status={self.status})"


class _Refused(Exception):
    def __init__(self, error: str, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.error, self.message = error, message
        self.status = status if status is not None else _ERRORS.get(error, (400, ""))[0]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    if not isinstance(text, str) or not text or "=" in text:
        raise ValueError("not base64url without padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwk_thumbprint(jwk: Dict[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of an EC public JWK (what a refresh token is bound to)."""
    text = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    return _b64url(hashlib.sha256(text.encode("utf-8")).digest())


def verify_dpop(
    proof: str, *, method: str, url: str, now: datetime, max_skew: float = 300.0
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Verify a DPoP proof for ``method`` ``url`` at ``now``: ``(header, claims)``, or
    ValueError saying what is wrong (never quoting the proof). ``jti`` uniqueness is the
    caller's to check."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    parts = proof.split(".") if isinstance(proof, str) else []
    if len(parts) != 3:
        raise ValueError("not a compact JWS (three base64url parts)")
    try:
        header = json.loads(_b64url_decode(parts[0]))
        claims = json.loads(_b64url_decode(parts[1]))
        signature = _b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError):
        raise ValueError("a part is not base64url JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("header or claims are not JSON objects")
    if header.get("typ") != "dpop+jwt" or header.get("alg") != "ES256":
        raise ValueError("header typ/alg are not dpop+jwt/ES256")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise ValueError("jwk is not an EC P-256 key")
    if "d" in jwk:
        raise ValueError("jwk carries the private key")
    try:
        x, y = _b64url_decode(jwk.get("x", "")), _b64url_decode(jwk.get("y", ""))
        if len(x) != 32 or len(y) != 32:
            raise ValueError
        numbers = ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
        )
        key = numbers.public_key()
    except (ValueError, TypeError, AttributeError):
        raise ValueError("jwk x/y are not a point of P-256") from None
    if len(signature) != 64:
        raise ValueError("the signature is not 64 bytes (r || s)")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        key.verify(der, f"{parts[0]}.{parts[1]}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise ValueError("the signature does not verify with the jwk") from None
    if claims.get("htm") != method:
        raise ValueError(f"htm is not {method}")
    if claims.get("htu") != url.split("?", 1)[0]:
        raise ValueError("htu is not the URL the request was sent to")
    iat = claims.get("iat")
    if type(iat) is not int or abs(iat - now.timestamp()) > max_skew:
        raise ValueError("iat is not a time within the allowed skew")
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        raise ValueError("jti is missing")
    return header, claims


class _Server(FakeHTTPServer):
    fake: FakeSignin


class _Handler(FakeHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if 0 < length <= 65536 else b""
        if length > 65536:
            self.close_connection = True
        url = f"http://{self.headers.get('Host', '')}{self.path}"
        self.reply(*self.server.fake.handle("POST", url, dict(self.headers.items()), body))

    def do_GET(self) -> None:  # noqa: N802
        self.drain_body()
        url = f"http://{self.headers.get('Host', '')}{self.path}"
        self.reply(*self.server.fake.handle("GET", url, dict(self.headers.items()), b""))


class FakeSignin(LocalServer):
    """The fake token endpoint. Use as a context manager, or ``start()``/``stop()``; or use
    ``transport()`` with no socket at all (then the proof's ``htu`` must be the URL the
    client used, e.g. ``https://us-east-1.signin.aws.amazon.com/v1/token``)."""

    _server_class = _Server
    _handler_class = _Handler

    def __init__(
        self,
        *,
        clock: Clock = SYSTEM_CLOCK,
        host: str = "127.0.0.1",
        port: int = 0,
        expires_in: int = 900,
        max_skew: float = 300.0,
        on_issue: Optional[Callable[[Credentials], None]] = None,
    ) -> None:
        self._init_server(host, port)
        #: Told of every credential set issued, by :meth:`login` or a refresh (a FakeSTS may
        #: need to know them).
        self.on_issue = on_issue
        self.clock = clock
        self.expires_in = expires_in
        self.max_skew = max_skew
        self.calls: List[SigninCall] = []
        #: The AWS credentials issued by refreshes, oldest first (secrets: for assertions).
        self.issued: List[Credentials] = []
        self._lock = threading.Lock()
        self._grants: Dict[str, _Grant] = {}
        self._jtis: Set[str] = set()
        self._faults: Deque[Tuple[int, str, str, Optional[bytes]]] = deque()
        self._scripts: Deque[_Script] = deque()

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "not started"
        return f"FakeSignin({where}, calls={len(self.calls)})"

    # -- configuration -----------------------------------------------------------------------

    def add_refresh_token(
        self,
        token: str,
        *,
        client_id: str = SAME_DEVICE_CLIENT,
        jkt: Optional[str] = None,
        account_id: Optional[str] = None,
    ) -> None:
        """Honour ``token`` once, for ``client_id`` and, with ``jkt``, only with proofs made
        by that key."""
        remember(token)
        with self._lock:
            self._grants[token] = _Grant(client_id, jkt, account_id, None)

    def login(
        self,
        home: Optional[PathLike] = None,
        session: str = "arn:aws:iam::111122223333:user/tester",
        *,
        account_id: Optional[str] = "111122223333",
        expires_in: Optional[int] = None,
        expires_at: Optional[datetime] = None,
        client_id: str = SAME_DEVICE_CLIENT,
        cache_dir: Optional[PathLike] = None,
        id_token: Optional[str] = "eyJhbGciOiJFUzM4NCJ9.e30.c2lnbmF0dXJl",
    ) -> LoginSession:
        """What ``aws login`` leaves behind: credentials valid ``expires_in`` seconds (or
        until ``expires_at``, which may be past), a refresh token bound to a new DPoP key, in
        a CLI-shaped cache file under ``home`` (or ``cache_dir``)."""
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        pem = new_dpop_key()
        remember(*[line for line in pem.splitlines() if not line.startswith("-----")])
        key: Any = load_pem_private_key(pem.encode("ascii"), password=None)
        numbers = key.public_key().public_numbers()
        jkt = jwk_thumbprint(
            {
                "kty": "EC",
                "crv": "P-256",
                "x": _b64url(numbers.x.to_bytes(32, "big")),
                "y": _b64url(numbers.y.to_bytes(32, "big")),
            }
        )
        if expires_at is None:
            expires_at = self.clock.now() + timedelta(seconds=expires_in or self.expires_in)
        creds = self._new_credentials(account_id, expires_at)
        if self.on_issue is not None:
            self.on_issue(creds)
        refresh = new_secret(48, "ASOR")
        self.add_refresh_token(refresh, client_id=client_id, jkt=jkt, account_id=account_id)
        path = write_login_cache(
            home,
            session,
            access_key=creds.access_key,
            secret_key=creds.secret_key,
            session_token=creds.token or "",
            account_id=account_id,
            expires_at=expires_at,
            refresh_token=refresh,
            dpop_key=pem,
            client_id=client_id,
            id_token=id_token,
            cache_dir=cache_dir,
        )
        return LoginSession(path, session, creds, refresh, pem, jkt)

    def revoke(self, refresh_token: str, error: str = "TOKEN_EXPIRED") -> None:
        """From now on ``refresh_token`` is refused with ``error`` (``TOKEN_EXPIRED``,
        ``USER_CREDENTIALS_CHANGED`` or ``INSUFFICIENT_PERMISSIONS``)."""
        with self._lock:
            grant = self._grants.get(refresh_token)
            if grant is not None:
                self._grants[refresh_token] = grant._replace(revoked=error)
            else:
                self._grants[refresh_token] = _Grant("", None, None, error)

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        error: str = "server_error",
        message: str = "An internal error occurred",
        body: Optional[bytes] = None,
    ) -> None:
        """The next ``n`` requests get ``status`` (with ``body`` as it is, if given)."""
        with self._lock:
            self._faults.extend([(status, error, message, body)] * n)

    def script(
        self,
        token_input: Dict[str, Any],
        *,
        status: int = 200,
        reply: Optional[Dict[str, Any]] = None,
    ) -> None:
        """Answer the next request with ``status`` and ``reply`` (the token output document)
        if its JSON body is exactly ``token_input``; else 400. Proofs are still verified."""
        remember(*[v for v in token_input.values() if isinstance(v, str)])
        with self._lock:
            self._scripts.append(_Script(dict(token_input), status, reply))

    def scripts_left(self) -> int:
        with self._lock:
            return len(self._scripts)

    def count(self, *, status: Optional[int] = None) -> int:
        with self._lock:
            return sum(1 for c in self.calls if status is None or c.status == status)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self._faults.clear()
            self._scripts.clear()

    # -- request handling --------------------------------------------------------------------

    def _new_credentials(self, account_id: Optional[str], expires: datetime) -> Credentials:
        import secrets

        return Credentials(
            "ASIA" + "".join(secrets.choice(_ALNUM) for _ in range(16)),
            new_secret(30),
            new_secret(96),
            expiry=expires,
            account_id=account_id,
            method="login",
        )

    def handle(
        self, method: str, url: str, headers: Dict[str, str], body: bytes
    ) -> Tuple[int, Dict[str, str], bytes]:
        """Answer one request to ``url``: ``(status, headers, body)``."""
        lower = {k.lower(): v for k, v in headers.items()}
        record: Dict[str, Any] = {"grant_type": "", "client_id": "", "token_known": False}
        record.update(proof="not checked", layout=(), jkt="", reason="")
        with self._lock:  # a fault answers before anything is checked or spent
            fault = self._faults.popleft() if self._faults else None
        raw: Optional[bytes] = None
        if fault is not None:
            status, error, message, raw = fault
            doc: Dict[str, Any] = {"error": error, "message": message}
            record["reason"] = "fail_next"
        else:
            try:
                if urlsplit(url).path != TOKEN_PATH or method != "POST":
                    raise _Refused("RESOURCE_NOT_FOUND", "Unknown operation", 404)
                request = self._body(body, lower, record)
                jkt = self._proof(lower.get("dpop"), url, record)
                status, doc = self._answer(request, jkt, record)
            except _Refused as refused:
                record["reason"] = refused.message
                status = refused.status
                doc = {"error": refused.error, "message": refused.message}
        with self._lock:
            self.calls.append(SigninCall(status=status, **record))
        data = raw if raw is not None else json.dumps(doc).encode()
        out = {
            "Content-Type": "application/json",
            "Content-Length": str(len(data)),
            "x-amzn-RequestId": str(uuid.uuid4()),
            "Date": formatdate(usegmt=True),
        }
        if status >= 400:
            kind = _ERRORS.get(str(doc.get("error")), (0, ""))[1]
            if status == 429:
                kind = "TooManyRequestsError"
            out["x-amzn-ErrorType"] = kind or ("ValidationException" if status < 500 else "")
            if not out["x-amzn-ErrorType"]:
                out["x-amzn-ErrorType"] = "InternalServerException"
        return status, out, data

    def _body(self, body: bytes, headers: Dict[str, str], record: Dict[str, Any]) -> Any:
        if headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise _Refused("INVALID_REQUEST", "Content-Type must be application/json")
        try:
            request = json.loads(body.decode("utf-8"))
            if not isinstance(request, dict):
                raise ValueError
        except (ValueError, UnicodeDecodeError):
            raise _Refused("INVALID_REQUEST", "The body is not a JSON object") from None
        record["grant_type"] = str(request.get("grantType", ""))
        record["client_id"] = str(request.get("clientId", ""))
        return request

    def _proof(self, proof: Optional[str], url: str, record: Dict[str, Any]) -> str:
        if not proof:
            record["proof"] = "missing"
            raise _Refused("INVALID_REQUEST", "The DPoP header is missing")
        remember(proof.rsplit(".", 1)[-1])  # the signature: a leak of the proof shows
        try:
            header, claims = verify_dpop(
                proof, method="POST", url=url, now=self.clock.now(), max_skew=self.max_skew
            )
        except ValueError as exc:
            record["proof"] = str(exc)
            raise _Refused("INVALID_REQUEST", "Invalid DPoP proof") from None
        with self._lock:
            replayed = claims["jti"] in self._jtis
            self._jtis.add(claims["jti"])
        if replayed:
            record["proof"] = "jti replayed"
            raise _Refused("INVALID_REQUEST", "Invalid DPoP proof")
        record["proof"] = "ok"
        record["layout"] = (tuple(header), tuple(header["jwk"]), tuple(claims))
        record["jkt"] = jkt = jwk_thumbprint(header["jwk"])
        return jkt

    def _answer(
        self, request: Dict[str, Any], jkt: str, record: Dict[str, Any]
    ) -> Tuple[int, Dict[str, Any]]:
        with self._lock:
            script = self._scripts.popleft() if self._scripts else None
        if script is not None:
            if request != script.token_input:
                raise _Refused("INVALID_REQUEST", "The request differs from the script")
            record["token_known"] = True
            if script.status != 200:
                error = next((e for e, (s, _) in _ERRORS.items() if s == script.status), "")
                raise _Refused(error or "INVALID_REQUEST", "Scripted failure", script.status)
            return 200, dict(script.reply or {})
        if request.get("grantType") != "refresh_token":
            raise _Refused("INVALID_REQUEST", "Unsupported grant type")
        token = request.get("refreshToken")
        if not isinstance(token, str):
            raise _Refused("INVALID_REQUEST", "refreshToken is missing")
        with self._lock:
            grant = self._grants.get(token)
        if grant is None:
            raise _Refused("TOKEN_EXPIRED", "The refresh token is not valid")
        if grant.revoked:
            record["token_known"] = True
            raise _Refused(grant.revoked, "The session has ended")
        if grant.client_id != request.get("clientId"):
            raise _Refused("INVALID_REQUEST", "The client id does not match the token")
        if grant.jkt is not None and grant.jkt != jkt:
            raise _Refused("INVALID_REQUEST", "The DPoP key does not match the token")
        record["token_known"] = True
        new_refresh = new_secret(48, "ASOR")
        with self._lock:
            if self._grants.pop(token, None) is None:  # spent by a concurrent request
                raise _Refused("TOKEN_EXPIRED", "The refresh token is not valid")
            self._grants[new_refresh] = grant
        expires = self.clock.now() + timedelta(seconds=self.expires_in)
        creds = self._new_credentials(grant.account_id, expires)
        with self._lock:
            self.issued.append(creds)
        if self.on_issue is not None:
            self.on_issue(creds)
        doc = {
            "accessToken": {
                "accessKeyId": creds.access_key,
                "secretAccessKey": creds.secret_key,
                "sessionToken": creds.token,
            },
            "tokenType": "aws_sigv4",
            "expiresIn": self.expires_in,
            "refreshToken": new_refresh,
        }
        return 200, doc

    @property
    def url(self) -> str:
        """The endpoint, for ``AWS_ENDPOINT_URL_SIGNIN`` (requests go to ``url + /v1/token``)."""
        return self.base_url

    def transport(self) -> Any:
        """An in-memory ``awsroles.protocols.Transport`` answering as this server would (the
        server need not be started)."""
        from ..transport.base import HttpResponse

        def send(request: Any) -> Any:
            parts, _path, _headers = as_handled(request)
            url = f"{parts.scheme}://{parts.netloc}{parts.path}"
            if parts.query:
                url += "?" + parts.query
            status, headers, data = self.handle(
                request.method, url, dict(request.headers), request.body or b""
            )
            return HttpResponse(
                status=status, headers={k.lower(): v for k, v in headers.items()}, body=data
            )

        return send
