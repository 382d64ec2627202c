"""Replay recorded HTTP traffic as an awsroles transport, checking every request on the way.

The AWS SDKs' shared test scenarios record their HTTP exchanges in ``http-traffic.json``
(format ``V0``: ``Request`` / ``Data`` / ``Eof`` / ``Response`` events grouped by
``connection_id``). ``ReplayTransport`` serves the recorded responses **strictly in
order** (the n-th request gets the n-th exchange) and checks each request against the
recording, as the SDKs' own replaying client does:

    from awsroles.testing.replay import ReplayTransport

    replay = ReplayTransport.from_file("case/http-traffic.json", check_form_bodies=True)
    creds = awsroles.resolve(env=env, transport=replay, cache=None)
    creds.get_frozen_credentials()
    replay.assert_all_consumed()

Checked for each request:

* the method, and the URI: scheme, host (with port), path (``""`` is ``/``) and query (as a
  multiset of decoded pairs: their order carries no meaning). The fragment is ignored.
* the ``content-type`` and ``x-aws-ec2-metadata-token`` headers (``CHECKED_HEADERS``):
  present in the recording means sent with that value; absent means not sent. ``content-type``
  is compared by media type (``application/x-www-form-urlencoded; charset=utf-8``, what
  botocore sends, matches a recorded ``application/x-www-form-urlencoded``) unless
  ``strict_content_type=True``. Other headers (``authorization``, ``x-amz-date``,
  ``user-agent``, ``content-length``...) are not compared.
* with ``check_form_bodies=True``, a body recorded as ``application/x-www-form-urlencoded``
  (STS) is compared form-decoded and order-insensitively; ``ignore_form_fields`` leaves out
  fields that legitimately differ (a generated ``RoleSessionName``), and
  ``form_normalizers`` maps a field to a function applied to both sides before comparing
  (``{"WebIdentityToken": str.strip}``).

A request beyond the recording, or one that does not match, raises ``ReplayMismatch``
(an ``AssertionError``) and is also remembered, so ``ReplayTransport.assert_all_consumed()``
still fails if the code under test swallowed the exception. Mismatch messages name fields,
never the values of secret-bearing ones (web identity tokens, MFA codes, session tokens).

A recorded response is returned with its status, its headers (lower-cased, first value) and
its body; a stale ``content-length`` is recomputed from the body. A response recorded as an
error (``{"Err": ...}``) raises ``awsroles.errors.TransportError``, as a real connection
failure would.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import parse_qsl, urlsplit

from ..errors import TransportError
from ..transport.base import HttpRequest, HttpResponse

__all__ = ["ReplayMismatch", "RecordedExchange", "ReplayTransport", "load_traffic"]

#: Headers compared between the recording and the request (as upstream's replaying client).
CHECKED_HEADERS = ("content-type", "x-aws-ec2-metadata-token")
#: Form fields whose values never appear in a mismatch message.
_SAFE_FIELDS = frozenset(
    {"Action", "Version", "RoleArn", "RoleSessionName", "DurationSeconds", "ProviderId"}
)
_FORM = "application/x-www-form-urlencoded"


class ReplayMismatch(AssertionError):
    """A request the recording did not expect (wrong order, wrong URI, beyond the end...)."""


@dataclass(frozen=True)
class RecordedExchange:
    """One recorded request and its response. Header names are lower-case; request header
    values are lists (as recorded), response header values single strings."""

    method: str
    uri: str
    request_headers: Mapping[str, Sequence[str]] = field(default_factory=dict, repr=False)
    request_body: Optional[bytes] = field(default=None, repr=False)
    status: Optional[int] = 200
    response_headers: Mapping[str, str] = field(default_factory=dict)
    response_body: bytes = field(default=b"", repr=False)
    #: The recorded transport error (``{"Err": ...}``), when no response arrived.
    error: Optional[str] = None


def _data(value: Mapping[str, Any]) -> bytes:
    if "Utf8" in value:
        text: str = value["Utf8"]
        return text.encode("utf-8")
    if "Base64" in value:
        return base64.b64decode(value["Base64"])
    raise ValueError(f"unknown Data encoding: {sorted(value)}")


def load_traffic(doc: Mapping[str, Any]) -> List[RecordedExchange]:
    """The exchanges of an ``http-traffic.json`` document (``V0``), ordered by
    ``connection_id``."""
    version = doc.get("version", "V0")
    if version != "V0":
        raise ValueError(f"unsupported http-traffic version {version!r}")
    parts: Dict[int, Dict[str, Any]] = {}
    for event in doc.get("events", []):
        entry = parts.setdefault(int(event["connection_id"]), {})
        action = event["action"]
        if "Request" in action:
            entry["request"] = action["Request"]["request"]
        elif "Response" in action:
            entry["response"] = action["Response"]["response"]
        elif "Data" in action:
            direction = action["Data"]["direction"]
            key = "request_body" if direction == "Request" else "response_body"
            entry[key] = entry.get(key, b"") + _data(action["Data"]["data"])
        elif "Eof" not in action:
            raise ValueError(f"unknown traffic event: {sorted(action)}")
    exchanges = []
    for conn in sorted(parts):
        entry = parts[conn]
        if "request" not in entry:
            raise ValueError(f"connection {conn} has no recorded request")
        req = entry["request"]
        resp = entry.get("response", {"Err": "no response recorded"})
        sent = dict(
            method=req["method"].upper(),
            uri=req["uri"],
            request_headers={k.lower(): list(v) for k, v in req.get("headers", {}).items()},
            request_body=entry.get("request_body"),
        )
        if "Ok" in resp:
            ok = resp["Ok"]
            exchanges.append(
                RecordedExchange(
                    **sent,
                    status=int(ok["status"]),
                    response_headers={
                        k.lower(): (v[0] if isinstance(v, list) else v)
                        for k, v in ok.get("headers", {}).items()
                    },
                    response_body=entry.get("response_body", b""),
                )
            )
        else:
            err = resp.get("Err", resp.get("Error", resp))
            exchanges.append(
                RecordedExchange(
                    **sent,
                    status=None,
                    error=json.dumps(err) if not isinstance(err, str) else err,
                )
            )
    return exchanges


def _split(url: str) -> Tuple[str, str, str, List[Tuple[str, str]]]:
    parts = urlsplit(url)
    netloc = parts.netloc.lower()
    default_port = {"http": ":80", "https": ":443"}.get(parts.scheme.lower())
    if default_port and netloc.endswith(default_port):
        netloc = netloc[: -len(default_port)]
    query = sorted(parse_qsl(parts.query, keep_blank_values=True))
    return parts.scheme.lower(), netloc, parts.path or "/", query


def _safe_url(url: str) -> str:
    return url.split("?", 1)[0] + ("?..." if "?" in url else "")


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _form(body: Optional[bytes]) -> Dict[str, List[str]]:
    out: Dict[str, List[str]] = {}
    text = (body or b"").decode("utf-8", "replace")
    for key, value in parse_qsl(text, keep_blank_values=True):
        out.setdefault(key, []).append(value)
    return {k: sorted(v) for k, v in out.items()}


class ReplayTransport:
    """A transport (``callable(HttpRequest) -> HttpResponse``) serving recorded exchanges in
    order. See the module docstring for what is checked. Thread-safe: concurrent requests are
    numbered in the order they arrive."""

    CHECKED_HEADERS = CHECKED_HEADERS

    def __init__(
        self,
        exchanges: Iterable[RecordedExchange],
        *,
        check_form_bodies: bool = False,
        ignore_form_fields: Iterable[str] = (),
        form_normalizers: Optional[Mapping[str, Callable[[str], str]]] = None,
        strict_content_type: bool = False,
        name: str = "recording",
    ) -> None:
        self.exchanges: List[RecordedExchange] = list(exchanges)
        self.check_form_bodies = check_form_bodies
        self.ignore_form_fields = frozenset(ignore_form_fields)
        self.form_normalizers = dict(form_normalizers or {})
        self.strict_content_type = strict_content_type
        self.name = name
        #: Every request received, in order (matching or not).
        self.requests: List[HttpRequest] = []
        #: One message per mismatch, in order.
        self.failures: List[str] = []
        self._lock = threading.Lock()

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], **kw: Any) -> ReplayTransport:
        return cls(load_traffic(doc), **kw)

    @classmethod
    def from_file(cls, path: str, **kw: Any) -> ReplayTransport:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        kw.setdefault("name", path)
        return cls.from_json(doc, **kw)

    # --- the transport -------------------------------------------------------------------

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with self._lock:
            n = len(self.requests)
            self.requests.append(request)
            if n >= len(self.exchanges):
                return self._fail(
                    f"request #{n + 1} ({request.method} {_safe_url(request.url)}) is beyond "
                    f"the {len(self.exchanges)} recorded exchange(s)"
                )
            recorded = self.exchanges[n]
            problems = self._compare(request, recorded)
            if problems:
                return self._fail(f"request #{n + 1}: " + "; ".join(problems))
        if recorded.error is not None:
            raise TransportError(
                f"recorded connection error for {_safe_url(recorded.uri)}",
                url=_safe_url(recorded.uri),
            )
        headers = dict(recorded.response_headers)
        if "content-length" in headers:
            headers["content-length"] = str(len(recorded.response_body))
        assert recorded.status is not None
        return HttpResponse(recorded.status, headers, recorded.response_body)

    def _fail(self, message: str) -> HttpResponse:
        message = f"{self.name}: {message}"
        self.failures.append(message)
        raise ReplayMismatch(message)

    def _compare(self, request: HttpRequest, recorded: RecordedExchange) -> List[str]:
        problems = []
        if request.method.upper() != recorded.method:
            problems.append(f"method {request.method} != recorded {recorded.method}")
        got, want = _split(request.url), _split(recorded.uri)
        for label, a, b in zip(("scheme", "host", "path"), got[:3], want[:3]):
            if a != b:
                problems.append(f"{label} {a!r} != recorded {b!r}")
        if got[3] != want[3]:
            names = sorted({k for k, _ in got[3]} ^ {k for k, _ in want[3]}) or sorted(
                {k for k, _ in got[3]}
            )
            problems.append(f"query differs (parameters {names})")
        sent = {k.lower(): v for k, v in request.headers.items()}
        for header in self.CHECKED_HEADERS:
            expected = recorded.request_headers.get(header)
            actual = sent.get(header)
            if expected is None and actual is not None:
                problems.append(f"header {header} sent but not recorded")
            elif expected is not None and actual is None:
                problems.append(f"header {header} recorded but not sent")
            elif (
                expected is not None
                and actual is not None
                and not self._header_matches(header, actual, expected)
            ):
                shown = "" if header != "content-type" else f" ({actual!r} != {expected[0]!r})"
                problems.append(f"header {header} differs{shown}")
        if self.check_form_bodies:
            problems.extend(self._compare_form(request, recorded))
        return problems

    def _header_matches(self, header: str, actual: str, expected: Sequence[str]) -> bool:
        if header == "content-type" and not self.strict_content_type:
            return _media_type(actual) in {_media_type(v) for v in expected}
        return actual in expected

    def _compare_form(self, request: HttpRequest, recorded: RecordedExchange) -> List[str]:
        content_type = (recorded.request_headers.get("content-type") or [""])[0]
        if not content_type.lower().startswith(_FORM):
            return []
        got, want = _form(request.body), _form(recorded.request_body)
        for key, normalize in self.form_normalizers.items():
            for side in (got, want):
                if key in side:
                    side[key] = sorted(normalize(v) for v in side[key])
        problems = []
        for key in sorted(set(got) | set(want)):
            if key in self.ignore_form_fields or got.get(key) == want.get(key):
                continue
            if key not in got:
                problems.append(f"form field {key} recorded but not sent")
            elif key not in want:
                problems.append(f"form field {key} sent but not recorded")
            elif key in _SAFE_FIELDS:
                problems.append(f"form field {key}: {got[key]} != recorded {want[key]}")
            else:
                problems.append(f"form field {key} differs (value not shown)")
        return problems

    # --- after the run -------------------------------------------------------------------

    def assert_all_consumed(self) -> None:
        """Raise ``ReplayMismatch`` if any request mismatched (even one whose error the
        code under test caught) or if recorded exchanges were never requested."""
        with self._lock:
            failures = list(self.failures)
            left = self.exchanges[len(self.requests) :]
        if failures:
            raise ReplayMismatch("; ".join(failures))
        if left:
            listed = ", ".join(f"{e.method} {_safe_url(e.uri)}" for e in left)
            raise ReplayMismatch(
                f"{self.name}: {len(left)} recorded exchange(s) never requested: {listed}"
            )

    def __repr__(self) -> str:
        return (
            f"ReplayTransport({self.name!r}, {len(self.requests)}/{len(self.exchanges)} "
            f"requests, {len(self.failures)} mismatch(es))"
        )
