"""SigV4 for the requests awsroles signs: one POST with a form body to STS.

This is ``botocore.auth.SigV4Auth`` restricted to what awsroles sends (no query-string
signing, no presigning, no streaming payloads), written with the standard library so a
process that must call STS does not pay for importing botocore's signing stack, a slow
import on a cold start. It produces byte-for-byte the headers botocore produces for
the same request, credentials, region and time: ``tests/test_sigv4.py`` checks that against
``botocore.auth`` on generated inputs, so botocore stays the reference.

Nothing here logs: the canonical request holds the session token, the signing key derives
from the secret key.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timezone
from hashlib import sha256
from urllib.parse import quote, urlsplit

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Mapping, Optional, Tuple
    from urllib.parse import SplitResult

__all__ = ["sign"]

ALGORITHM = "AWS4-HMAC-SHA256"
#: botocore's SIGNED_HEADERS_BLACKLIST: hop-by-hop headers and ones proxies rewrite.
UNSIGNED_HEADERS = frozenset(
    (
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    )
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    access_key: str,
    secret_key: str,
    token: Optional[str],
    region: str,
    service: str,
    now: datetime,
) -> Dict[str, str]:
    """Return ``headers`` plus ``X-Amz-Date``, ``X-Amz-Security-Token`` (when there is a
    token) and ``Authorization``, as botocore's ``SigV4Auth.add_auth`` sets them."""
    timestamp = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "x-amz-date")}
    out["X-Amz-Date"] = timestamp
    if token:
        out = {k: v for k, v in out.items() if k.lower() != "x-amz-security-token"}
        out["X-Amz-Security-Token"] = token
    parts = urlsplit(url)
    signed = _headers_to_sign(out, parts)
    names = ";".join(name for name, _ in signed)
    canonical = "\n".join(
        (
            method.upper(),
            quote(_remove_dot_segments(parts.path), safe="/~"),
            _canonical_query(parts.query),
            "".join(f"{name}:{value}\n" for name, value in signed),
            names,
            sha256(body).hexdigest(),
        )
    )
    scope = f"{timestamp[:8]}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        (ALGORITHM, timestamp, scope, sha256(canonical.encode("utf-8")).hexdigest())
    )
    key = f"AWS4{secret_key}".encode()
    for part in (timestamp[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), sha256).digest()
    signature = hmac.new(key, string_to_sign.encode("utf-8"), sha256).hexdigest()
    out["Authorization"] = (
        f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={names}, Signature={signature}"
    )
    return out


def _headers_to_sign(headers: Mapping[str, str], parts: SplitResult) -> List[Tuple[str, str]]:
    """Lower-cased names, sorted; values trimmed with inner runs of spaces collapsed; repeated
    names joined by commas; ``host`` from the URL unless a Host header is given."""
    values: Dict[str, List[str]] = {}
    for name, value in headers.items():
        lname = name.lower()
        if lname not in UNSIGNED_HEADERS:
            values.setdefault(lname, []).append(" ".join(value.split()))
    if "host" not in values:
        values["host"] = [_host(parts)]
    return [(name, ",".join(values[name])) for name in sorted(values)]


def _host(parts: SplitResult) -> str:
    """botocore's ``_host_from_url``: lower-case, default port dropped, no userinfo."""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{port}"
    return host


def _canonical_query(query: str) -> str:
    """botocore's ``_canonical_query_string_url``: pairs as written, sorted."""
    if not query:
        return ""
    pairs = []
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        pairs.append((key, value))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 plus collapsing repeated slashes (botocore's ``normalize_url_path``)."""
    if not path:
        return "/"
    out: List[str] = []
    for segment in path.split("/"):
        if segment and segment != ".":
            if segment == "..":
                if out:
                    out.pop()
            else:
                out.append(segment)
    first = "/" if path[0] == "/" else ""
    last = "/" if path[-1] == "/" and out else ""
    return first + "/".join(out) + last
