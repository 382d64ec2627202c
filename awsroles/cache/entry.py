"""What an entry holds: the JSON the AWS CLI and botocore write, checked and produced exactly.

An entry is one line of JSON whose ``Credentials`` object has ``AccessKeyId``,
``SecretAccessKey``, ``SessionToken`` and ``Expiration`` (an ISO 8601 string): the four fields
every reader (botocore, the AWS CLI, awsroles) needs. Anything else in it is kept as written.
Reading the credentials out of an entry is the STS wire format's business
(:func:`awsroles.sts.wire.credentials_from_response`): an entry is an STS response.
"""

from __future__ import annotations

from .._log import get_logger
from .._untrusted import json_loads
from ..credentials import first_unusable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any, Dict, Mapping, Optional

__all__ = [
    "REQUIRED_FIELDS",
    "MAX_ENTRY_BYTES",
    "loads",
    "serialise",
    "parse_entry",
    "entry_expiry",
    "is_valid_entry",
]

logger = get_logger("awsroles.cache")

#: The four strings every reader needs in ``Credentials``.
REQUIRED_FIELDS = ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")
#: Entries are about 600 bytes; anything far larger is not one.
MAX_ENTRY_BYTES = 1 << 20


def loads(raw: bytes | str) -> Any:
    """The JSON value of ``raw``; a ValueError when it is not JSON, or nests too deeply."""
    return json_loads(raw)


def _parse_time(value: str) -> datetime:
    """An ``Expiration`` string as an aware UTC datetime; ValueError when not possible. A
    naive time is an error here: botocore crashes on it, and the writer's zone is unknown."""
    from ..timestamps import parse_timestamp

    return parse_timestamp(value, naive_is_utc=False)


def entry_expiry(data: Mapping[str, Any]) -> datetime:
    """``data['Credentials']['Expiration']`` as an aware UTC datetime (ValueError if invalid)."""
    from ..timestamps import parse_timestamp

    try:
        value = data["Credentials"]["Expiration"]
    except (KeyError, TypeError) as exc:
        raise ValueError("cache entry has no Credentials.Expiration") from exc
    if not isinstance(value, str):
        return parse_timestamp(value)  # a datetime (from code), or a ValueError
    return _parse_time(value)


def _invalid_reason(data: object) -> Optional[str]:
    if not isinstance(data, dict):
        return "not a JSON object"
    creds = data.get("Credentials")
    if not isinstance(creds, dict):
        return "no Credentials object"
    for name in REQUIRED_FIELDS:
        value = creds.get(name)
        if not isinstance(value, str) or not value:
            return f"Credentials.{name} missing or not a string"
    problem = first_unusable({f"Credentials.{n}": creds[n] for n in REQUIRED_FIELDS[:3]})
    if problem is not None:
        return problem
    try:
        _parse_time(creds["Expiration"])
    except ValueError as exc:
        return str(exc)
    return None


def is_valid_entry(data: object) -> bool:
    """True when botocore, the AWS CLI and awsroles can all use ``data`` as a cache entry."""
    return _invalid_reason(data) is None


def _json_default(value: object) -> str:
    from datetime import datetime

    if isinstance(value, datetime):
        from ..timestamps import format_timestamp

        return format_timestamp(value)  # naive values are taken as UTC
    raise TypeError(f"a {type(value).__name__} cannot be stored in the credential cache")


def serialise(data: Mapping[str, Any]) -> str:
    """The exact text botocore and the AWS CLI write: default separators, ASCII, no newline.
    A ValueError (never quoting a value: it holds secrets) when it is not a usable entry."""
    import json

    try:
        text = json.dumps(data, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cache entry is not JSON serialisable: {exc}") from None
    reason = _invalid_reason(json_loads(text))
    if reason is not None:
        raise ValueError(f"not a usable cache entry: {reason}")
    return text


def parse_entry(raw: bytes, key: str, where: str) -> Optional[Dict[str, Any]]:
    """The entry in ``raw``, or None (logged at DEBUG) when it is not a usable one."""
    try:
        data = loads(raw)
    except ValueError:  # UnicodeDecodeError is a ValueError too
        logger.debug("credential cache miss for %s in %s: not valid JSON", key, where)
        return None
    reason = _invalid_reason(data)
    if reason is not None or not isinstance(data, dict):
        logger.debug("credential cache miss for %s in %s: %s", key, where, reason)
        return None
    return data
