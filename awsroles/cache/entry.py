"""What the credential cache stores: the key (botocore's algorithm), the entry's validity,
its expiry, its exact bytes and the Credentials it holds (an entry is the STS response
document, so STS responses are read here too). Storage and locking are in
:mod:`awsroles.cache.store`."""

from __future__ import annotations

import os
from typing import Any, Dict, Mapping, Optional

from .._log import get_logger
from ..clock import datetime, timezone
from ..credentials import Credentials
from ..errors import MalformedResponseError

logger = get_logger("awsroles.cache.store")

#: The four strings every reader (botocore, the AWS CLI, awsroles) needs in ``Credentials``.
REQUIRED_FIELDS = ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")
#: Keys that vary per call and are never part of the cache key.
_PER_CALL_ARGS = ("TokenCode", "WebIdentityToken")
#: Entries are ~600 bytes; anything far larger is not ours.
_MAX_ENTRY_BYTES = 1 << 20

try:  # the builtin module: hashlib loads OpenSSL, a few ms on every warm start
    from _sha1 import sha1 as _sha1
except ImportError:  # pragma: no cover - interpreters without it
    from hashlib import sha1 as _sha1

try:  # json's own C scanner and string encoder, without the json package, whose import
    # compiles six regexes (about 2 ms of every warm start). The results are json's exactly.
    from _json import encode_basestring_ascii as _quote
    from _json import make_scanner as _make_scanner
except ImportError:  # pragma: no cover - interpreters without the C accelerator
    _quote = _make_scanner = None


class _Decoding:
    """What ``json.loads`` gives its scanner: JSONDecoder's defaults."""

    strict = True
    object_hook = object_pairs_hook = None
    parse_float = float
    parse_int = int
    #: NaN, Infinity, -Infinity: json's own shared float objects
    parse_constant = {
        "NaN": float("nan"),
        "Infinity": float("inf"),
        "-Infinity": -float("inf"),
    }.__getitem__


_scan = _make_scanner(_Decoding()) if _make_scanner is not None else None
_WS = " \t\n\r"  # json's WHITESPACE


def loads(raw: Any) -> Any:
    """``json.loads(raw)``: the same values and the same errors (JSONDecodeError, a
    ValueError), through json's C scanner. Bytes in anything but plain UTF-8 (a BOM, UTF-16,
    UTF-32), and other interpreters, go to json itself."""
    if isinstance(raw, (bytes, bytearray)):
        if _scan is None or raw[:1] in (b"\xef", b"\xfe", b"\xff") or b"\x00" in raw[:4]:
            return _json_module().loads(raw)
        text = raw.decode("utf-8", "surrogatepass")  # what json.loads does with UTF-8 bytes
    elif _scan is None or not isinstance(raw, str) or raw[:1] == "\ufeff":
        return _json_module().loads(raw)
    else:
        text = raw
    start = len(text) - len(text.lstrip(_WS))
    try:
        value, end = _scan(text, start)
    except StopIteration as exc:
        raise _json_module().JSONDecodeError("Expecting value", text, exc.value) from None
    rest = text[end:].lstrip(_WS)
    if rest:
        raise _json_module().JSONDecodeError("Extra data", text, len(text) - len(rest))
    return value


def _key_text(data: Mapping[str, Any]) -> str:
    """``json.dumps(data, sort_keys=True)``; built directly when every key is a str and
    every value a str or an int (all AssumeRole arguments but Policy and tags)."""
    if _quote is not None and all(
        type(k) is str and type(v) in (str, int) for k, v in data.items()
    ):
        items = sorted(data.items())
        return (
            "{"
            + ", ".join(
                f"{_quote(k)}: {_quote(v) if type(v) is str else int.__repr__(v)}" for k, v in items
            )
            + "}"
        )
    return _json_module().dumps(data, sort_keys=True)


def _json_module() -> Any:
    import json

    return json


# --- the key --------------------------------------------------------------------------------


def cache_key(args: Mapping[str, Any]) -> str:
    """botocore's ``BaseAssumeRoleCredentialFetcher._create_cache_key`` (reference §5.1).

    ``args`` are the AssumeRole (or AssumeRoleWithWebIdentity) keyword arguments. A falsy
    ``RoleSessionName`` is dropped, as botocore drops the name it generates in its place.
    ``TokenCode`` and ``WebIdentityToken`` are dropped too: botocore adds them only at call time.
    """
    if "RoleArn" not in args:
        raise ValueError("cache_key: the AssumeRole arguments must include RoleArn")
    data = {k: v for k, v in args.items() if k not in _PER_CALL_ARGS}
    if "RoleSessionName" in data and not data["RoleSessionName"]:
        del data["RoleSessionName"]
    if "Policy" in data:
        policy = data["Policy"]
        if not isinstance(policy, (str, bytes, bytearray)):
            raise TypeError("cache_key: Policy must be a JSON document string")
        data["Policy"] = loads(policy)
    text = _key_text(data)
    digest = _sha1(text.encode("utf-8")).hexdigest()
    return digest.replace(":", "_").replace(os.sep, "_").replace("/", "_")


def default_cache_dir(env: Mapping[str, str]) -> str:
    """The AWS CLI's ``~/.aws/cli/cache``, with ``~`` expanded from ``env`` as expanduser does."""
    if os.name == "nt":  # pragma: no cover - ntpath.expanduser rules
        home = env.get("USERPROFILE")
        if home is None and "HOMEPATH" in env:
            home = env.get("HOMEDRIVE", "") + env["HOMEPATH"]
        return os.path.join(home or "~", ".aws", "cli", "cache")
    home = env.get("HOME")
    if home is None:  # as posixpath.expanduser: the password database
        import pwd

        home = pwd.getpwuid(os.getuid()).pw_dir
    return home.rstrip("/") + "/.aws/cli/cache"


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not key or key[0] == "." or any(c in key for c in "/\\\0"):
        raise ValueError(f"not a usable cache key: {key!r}")
    return key


# --- entries --------------------------------------------------------------------------------


def _parse_time(value: str) -> datetime:
    """An ``Expiration`` string as an aware UTC datetime; ValueError when not possible. A
    naive time is an error here: botocore crashes on it, and the writer's zone is unknown."""
    from ..timestamps import parse_timestamp

    return parse_timestamp(value, naive_is_utc=False)


def entry_expiry(data: Mapping[str, Any]) -> datetime:
    """``data['Credentials']['Expiration']`` as an aware UTC datetime (ValueError if invalid)."""
    try:
        value = data["Credentials"]["Expiration"]
    except (KeyError, TypeError) as exc:
        raise ValueError("cache entry has no Credentials.Expiration") from exc
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
    if not isinstance(value, str):
        raise ValueError("Expiration is not a string")
    return _parse_time(value)


def _invalid_reason(data: Any) -> Optional[str]:
    if not isinstance(data, dict):
        return "not a JSON object"
    creds = data.get("Credentials")
    if not isinstance(creds, dict):
        return "no Credentials object"
    for name in REQUIRED_FIELDS:
        value = creds.get(name)
        if not isinstance(value, str) or not value:
            return f"Credentials.{name} missing or not a string"
    try:
        _parse_time(creds["Expiration"])
    except ValueError as exc:
        return str(exc)
    return None


def is_valid_entry(data: Any) -> bool:
    """True when botocore, the AWS CLI and awsroles can all use ``data`` as a cache entry."""
    return _invalid_reason(data) is None


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        from ..timestamps import format_timestamp

        return format_timestamp(value)  # naive values are taken as UTC
    raise TypeError(f"a {type(value).__name__} cannot be stored in the credential cache")


def _serialise(data: Mapping[str, Any]) -> str:
    """The exact text botocore/the CLI write: default separators, ASCII, no newline."""
    try:
        text = _json_module().dumps(data, default=_json_default)
    except (TypeError, ValueError) as exc:  # never echo the value: it holds secrets
        raise ValueError(f"cache entry is not JSON serialisable: {exc}") from None
    reason = _invalid_reason(loads(text))
    if reason is not None:
        raise ValueError(f"not a usable cache entry: {reason}")
    return text


def _parse_entry(raw: bytes, key: str, where: str) -> Optional[Dict[str, Any]]:
    try:
        data = loads(raw)
    except ValueError:  # UnicodeDecodeError is a ValueError too
        logger.debug("credential cache miss for %s in %s: not valid JSON", key, where)
        return None
    reason = _invalid_reason(data)
    if reason is not None:
        logger.debug("credential cache miss for %s in %s: %s", key, where, reason)
        return None
    return data


# --- entries as credentials -----------------------------------------------------------------


def account_from_arn(arn: Any) -> Optional[str]:
    """The account field of an ARN (botocore's ``ArnParser``), or None if not an ARN."""
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        return None
    parts = arn.split(":", 5)
    return parts[4] if len(parts) >= 6 else None


def credentials_from_response(
    data: Mapping[str, Any], method: str, *, where: Optional[str] = None
) -> Credentials:
    """Credentials from a parsed STS response or an AWS CLI / botocore cache entry.

    Raises MalformedResponseError naming the missing or bad field, never a value.
    """
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
