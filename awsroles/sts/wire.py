"""STS responses: query-protocol XML → dicts shaped exactly like botocore's parsed responses,
and those dicts (or AWS CLI / botocore cache entries) → :class:`Credentials`.

Keys follow the STS output-shape order (not the XML order), values are the wire strings
(``Expiration`` stays e.g. ``2026-11-22T19:02:23Z``, as the AWS CLI writes it to its cache),
``PackedPolicySize`` is an int. ``ResponseMetadata`` is added by the caller.
"""

from __future__ import annotations

from ..credentials import Credentials, first_unusable, redact
from ..errors import MalformedResponseError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any, Dict, List, Optional, Tuple

__all__ = [
    "parse_result",
    "parse_error",
    "account_from_arn",
    "parse_expiration",
    "credentials_from_response",
    "StsResponse",
    "OUTPUT_SHAPES",
]

_CREDENTIALS = ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")
_USER = ("AssumedRoleId", "Arn")

#: Output members in shape order: name -> ("string" | "integer" | tuple of struct members).
OUTPUT_SHAPES: Dict[str, Tuple[Tuple[str, Any], ...]] = {
    "AssumeRole": (
        ("Credentials", _CREDENTIALS),
        ("AssumedRoleUser", _USER),
        ("PackedPolicySize", "integer"),
        ("SourceIdentity", "string"),
    ),
    "AssumeRoleWithWebIdentity": (
        ("Credentials", _CREDENTIALS),
        ("SubjectFromWebIdentityToken", "string"),
        ("AssumedRoleUser", _USER),
        ("PackedPolicySize", "integer"),
        ("Provider", "string"),
        ("Audience", "string"),
        ("SourceIdentity", "string"),
    ),
    "GetSessionToken": (("Credentials", _CREDENTIALS),),
    "GetCallerIdentity": (("UserId", "string"), ("Account", "string"), ("Arn", "string")),
}
_REQUIRED = {
    "AssumeRole": ("Credentials",),
    "GetSessionToken": ("Credentials",),
    "AssumeRoleWithWebIdentity": ("Credentials",),
    "GetCallerIdentity": ("Arn",),
}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(node: Any) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for child in node:
        out.setdefault(_local(child.tag), child)
    return out


def _parse_xml(body: bytes) -> Optional[Any]:
    """The element tree of an STS answer, or None when it is not one. STS answers in UTF-8
    without a DOCTYPE; anything else is refused before the parser sees it: a body in another
    encoding (where a DOCTYPE check on the bytes would see nothing) or declaring one, and any
    DOCTYPE or entity declaration (no entity is ever expanded)."""
    import xml.etree.ElementTree as ET  # only when an STS answer is parsed

    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
    if text.lstrip().startswith("<?xml"):  # the declaration: it may name UTF-8 only
        end = text.find("?>")
        if end < 0 or not _declares_utf8(text[:end]):
            return None
        text = text[end + 2 :]
    if "<!DOCTYPE" in text or "<!ENTITY" in text or "\x00" in text:
        return None  # (NULs: UTF-16 or -32 read as UTF-8, which expat would detect as such)
    try:
        parser = ET.XMLParser(encoding="utf-8")  # whatever the document says or looks like
        parser.feed(text.encode("utf-8"))
        return parser.close()
    except (ET.ParseError, ValueError):
        return None


def _declares_utf8(declaration: str) -> bool:
    """Whether an XML declaration names UTF-8 (or ASCII, a part of it), or no encoding."""
    at = declaration.find("encoding")
    if at < 0:
        return True
    value = declaration[at + len("encoding") :].lstrip(" =\t\r\n")
    name = value[1:].split(value[:1], 1)[0] if value[:1] in ("'", '"') else ""
    return name.lower() in ("utf-8", "utf8", "us-ascii", "ascii")


def parse_result(operation: str, body: bytes) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """Return (result dict in shape order, ResponseMetadata children) for a 200 response.

    Raises MalformedResponseError (naming the operation, never a value) when the body is not
    a well-formed ``<{operation}Response>`` with the required members.
    """

    def bad(why: str) -> MalformedResponseError:
        return MalformedResponseError(f"STS {operation} returned a 200 response that {why}.")

    root = _parse_xml(body)
    if root is None:
        raise bad("is not well-formed XML")
    if _local(root.tag) != f"{operation}Response":
        raise bad(f"is a <{_local(root.tag)}> document, not <{operation}Response>")
    top = _children(root)
    result = top.get(f"{operation}Result")
    if result is None:
        raise bad(f"has no <{operation}Result> element")
    nodes = _children(result)
    data: Dict[str, Any] = {}
    for name, kind in OUTPUT_SHAPES[operation]:
        node = nodes.get(name)
        if node is None:
            continue
        if kind == "integer":
            try:
                data[name] = int((node.text or "").strip())
            except ValueError:
                raise bad(f"has a non-integer {name}") from None
        elif kind == "string":
            data[name] = node.text or ""
        else:
            sub = _children(node)
            data[name] = {m: (sub[m].text or "") for m in kind if m in sub}
    for name in _REQUIRED[operation]:
        if name not in data:
            raise bad(f"has no {name}")
    if "Credentials" in data:
        missing = [m for m in _CREDENTIALS if not data["Credentials"].get(m)]
        if missing:
            raise bad(f"lacks Credentials.{', Credentials.'.join(missing)}")
    meta: Dict[str, str] = {}
    if "ResponseMetadata" in top:
        for child in top["ResponseMetadata"]:
            meta[_local(child.tag)] = child.text or ""
    return data, meta


def parse_error(body: bytes) -> Tuple[Optional[str], Optional[str], Optional[str], Optional[str]]:
    """(Code, Message, Type, RequestId) from ``<ErrorResponse>``; Nones when not parseable."""
    root = _parse_xml(body)
    if root is None:
        return None, None, None, None
    top = _children(root)
    error = top.get("Error")
    if error is None and "Errors" in top:  # EC2-style wrapper, tolerated
        error = _children(top["Errors"]).get("Error")
    request_id = top.get("RequestId")
    rid = request_id.text if request_id is not None else None
    if error is None:
        return None, None, None, rid
    fields: List[Optional[str]] = []
    parts = _children(error)
    for name in ("Code", "Message", "Type"):
        node = parts.get(name)
        fields.append(node.text if node is not None else None)
    return fields[0], fields[1], fields[2], rid


def account_from_arn(arn: object) -> Optional[str]:
    """The account field of an ARN (botocore's ``ArnParser``), or None if not an ARN."""
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        return None
    parts = arn.split(":", 5)
    return parts[4] if len(parts) >= 6 else None


def credentials_from_response(
    data: object, method: str, *, where: Optional[str] = None
) -> Credentials:
    """Credentials from a parsed STS response, which is also what an AWS CLI or botocore
    cache entry holds. Raises MalformedResponseError naming the missing or bad field, never
    a value."""
    from collections.abc import Mapping

    from ..timestamps import parse_timestamp

    origin = where or "STS response"

    def bad(why: str) -> MalformedResponseError:
        return MalformedResponseError(f"{origin}: {why}")

    if not isinstance(data, Mapping):
        raise bad("is not a JSON object")
    creds = data.get("Credentials")
    if not isinstance(creds, Mapping):
        raise bad("has no Credentials object")
    values = {}
    for name in ("AccessKeyId", "SecretAccessKey", "SessionToken"):
        value = creds.get(name)
        if not isinstance(value, str) or not value:
            raise bad(f"Credentials.{name} is missing or not a string")
        values[name] = value
    problem = first_unusable({f"Credentials.{n}": v for n, v in values.items()})
    if problem is not None:
        raise bad(f"{problem} (not shown)")
    try:
        expiry = parse_timestamp(creds.get("Expiration"))
    except ValueError:
        raise bad("Credentials.Expiration is missing or not a timestamp") from None
    account = creds.get("AccountId")
    if not isinstance(account, str) or not account:
        user = data.get("AssumedRoleUser")
        account = account_from_arn(user.get("Arn")) if isinstance(user, Mapping) else None
    return Credentials(
        values["AccessKeyId"],
        values["SecretAccessKey"],
        values["SessionToken"],
        expiry,
        account or None,
        method,
    )


def parse_expiration(value: Any) -> datetime:
    """An aware UTC datetime from ``…Z``, ``…UTC``, ``…+00:00`` (what the CLI and botocore
    write), or anything else ``dateutil`` reads. Raises ValueError."""
    from ..timestamps import parse_timestamp

    return parse_timestamp(value)


class StsResponse:
    """A successful AssumeRole / AssumeRoleWithWebIdentity / GetSessionToken answer.

    ``data`` is the dict botocore would return (and the AWS CLI would cache), keys in the STS
    output-shape order, ``Expiration`` as the wire string. repr() shows no secret.
    """

    __slots__ = ("data", "operation")

    def __init__(self, data: Dict[str, Any], operation: str = "AssumeRole") -> None:
        self.data = data
        self.operation = operation

    def credentials(self, method: str) -> Credentials:
        return credentials_from_response(self.data, method)

    @property
    def request_id(self) -> Optional[str]:
        value = self.data.get("ResponseMetadata", {}).get("RequestId")
        return value if isinstance(value, str) else None

    @property
    def retry_attempts(self) -> int:
        return int(self.data.get("ResponseMetadata", {}).get("RetryAttempts", 0))

    def __repr__(self) -> str:
        creds = self.data.get("Credentials", {})
        user = self.data.get("AssumedRoleUser", {})
        return (
            f"StsResponse(operation={self.operation!r}, "
            f"access_key='{redact(creds.get('AccessKeyId'))}', secret_key='****', "
            f"session_token='****', expiration={creds.get('Expiration')!r}, "
            f"arn={user.get('Arn')!r}, request_id={self.request_id!r})"
        )

    __str__ = __repr__
