"""Settings of the EC2 instance metadata (IMDS) provider, read and validated in one place, and
the documents IMDS answers with (token TTL, role name, credentials JSON), parsed strictly.

Each setting is read separately: the environment variable if it is set (and not blank), else the
selected profile's key (botocore's rule). Invalid values raise
:class:`~awsroles.errors.InvalidConfigError` naming the variable or the key; botocore crashes
(``int('0.5')``) or silently ignores some of them.

=========================================  ======================================  =============
environment variable                       profile key                             default
=========================================  ======================================  =============
``AWS_EC2_METADATA_DISABLED``              (env only)                              false
``AWS_EC2_METADATA_V1_DISABLED``           ``ec2_metadata_v1_disabled``            false
``AWS_EC2_METADATA_SERVICE_ENDPOINT``      ``ec2_metadata_service_endpoint``       (mode's)
``AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE`` ``ec2_metadata_service_endpoint_mode``  IPv4
``AWS_IMDS_USE_IPV6`` (legacy)             ``imds_use_ipv6``                       false
``AWS_METADATA_SERVICE_TIMEOUT``           ``metadata_service_timeout``            1 (seconds)
``AWS_METADATA_SERVICE_NUM_ATTEMPTS``      ``metadata_service_num_attempts``       1
=========================================  ======================================  =============

Endpoint precedence (the shared ``imds-endpoint-tests.json`` vectors): an explicit ``endpoint=``
in code, then the endpoint variable, then the profile's endpoint key, then the mode (explicit
``mode=``, variable, key, then the legacy IPv6 switch). A configured endpoint beats every mode.
"""

from __future__ import annotations

import ipaddress
import math
import re
from urllib.parse import urlsplit

from .._log import get_logger
from .._record import Record
from .._untrusted import json_loads
from ..credentials import Credentials, first_unusable
from ..errors import InvalidConfigError, MalformedResponseError
from ..transport.retry import Retry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any, Dict, Mapping, Optional, Tuple

    from ..transport.base import HttpResponse

log = get_logger("awsroles")

__all__ = ["ImdsConfig", "resolve_imds_config", "IPV4_BASE", "IPV6_BASE", "TOKEN_PATH"]

IPV4_BASE = "http://169.254.169.254/"
IPV6_BASE = "http://[fd00:ec2::254]/"
TOKEN_PATH = "latest/api/token"
DEFAULT_TIMEOUT = 1.0
DEFAULT_ATTEMPTS = 1
_MODES = {"ipv4": IPV4_BASE, "ipv6": IPV6_BASE}
_HOST_LABELS = re.compile(r"^((?!-)[A-Z\d-]{1,63}(?<!-)\.)*((?!-)[A-Z\d-]{1,63}(?<!-))$", re.I)
_BAD_URI_CHARS = set(' <>"{}|\\^`')

DISABLED_VAR = "AWS_EC2_METADATA_DISABLED"
V1_DISABLED = ("AWS_EC2_METADATA_V1_DISABLED", "ec2_metadata_v1_disabled")
ENDPOINT = ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "ec2_metadata_service_endpoint")
MODE = ("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "ec2_metadata_service_endpoint_mode")
USE_IPV6 = ("AWS_IMDS_USE_IPV6", "imds_use_ipv6")
TIMEOUT = ("AWS_METADATA_SERVICE_TIMEOUT", "metadata_service_timeout")
ATTEMPTS = ("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "metadata_service_num_attempts")


class ImdsConfig(Record):
    """The resolved settings. ``base_url`` is used as configured; paths are joined with one
    ``/`` in between, as botocore does (``http://host:456`` -> ``http://host:456/latest/...``).
    ``*_source`` name where a value came from (a variable, ``profile 'p' key 'k'``, ``code``
    or ``default``), for messages and ``explain``."""

    disabled: bool = False
    base_url: str = IPV4_BASE
    v1_disabled: bool = False
    timeout: float = DEFAULT_TIMEOUT
    attempts: int = DEFAULT_ATTEMPTS
    endpoint_source: str = "default"
    v1_source: str = "default"

    def url(self, path: str) -> str:
        sep = "" if self.base_url.endswith("/") else "/"
        return f"{self.base_url}{sep}{path}"

    @property
    def token_url(self) -> str:
        return self.url(TOKEN_PATH)

    @property
    def display_url(self) -> str:
        return self.base_url.rstrip("/")


class _Settings:
    """Env first, then the selected profile; blank values count as unset."""

    def __init__(self, env: Mapping[str, str], profile: Mapping[str, str], name: str) -> None:
        self.env, self.profile, self.profile_name = env, profile, name

    def get(self, names: Tuple[str, str]) -> Tuple[Optional[str], str, Dict[str, Any]]:
        var, key = names
        value = self.env.get(var)
        if isinstance(value, str) and value.strip():
            return value.strip(), var, {"key": var}
        value = self.profile.get(key)
        if isinstance(value, str) and value.strip():
            where = {"key": key, "profile": self.profile_name}
            return value.strip(), f"profile '{self.profile_name}' key '{key}'", where
        return None, "default", {}


def _bool(value: Optional[str], source: str) -> bool:
    """botocore's ``ensure_boolean``: only a case-insensitive ``true`` is true. Anything other
    than true/false is read the same way but warned about (botocore is silent)."""
    if value is None:
        return False
    low = value.lower()
    if low not in ("true", "false"):
        log.warning("%s = %r is read as false: write true or false.", source, value)
    return low == "true"


def is_disabled(env: Mapping[str, str]) -> bool:
    """``AWS_EC2_METADATA_DISABLED`` (environment only, case-insensitive ``true``)."""
    value = env.get(DISABLED_VAR)
    return isinstance(value, str) and value.strip().lower() == "true"


def url_problem(value: str) -> Optional[str]:
    """Why ``value`` is not a usable endpoint URL, or None when it is."""
    bad = next((c for c in value if ord(c) < 32 or ord(c) == 127 or c in _BAD_URI_CHARS), None)
    if bad is not None:
        return f"invalid uri character {bad!r}"
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return "it must start with http:// or https://"
    if not host:
        return "it has no host"
    if parts.netloc.rsplit("@", 1)[-1].startswith("["):
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return f"{host!r} is not an IPv6 address"
        return None
    if len(host) > 255 or not _HOST_LABELS.match(host.rstrip(".")):
        return f"{host!r} is not a valid host name"
    return None


def _mode(value: str, source: str, where: Dict[str, Any]) -> str:
    low = value.lower()
    if low not in _MODES:
        raise InvalidConfigError(
            f"`{value}` is not a valid endpoint mode. Valid values (case-insensitive): IPv4, IPv6.",
            hint=f"Set {source} to IPv4 or IPv6." if source != "code" else None,
            **where,
        )
    return low


def _timeout(value: Optional[str], where: Dict[str, Any]) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not math.isfinite(number) or number <= 0:
        raise InvalidConfigError(
            f"must be a positive number of seconds, got {value!r}.",
            hint="For example 1 or 0.5.",
            **where,
        )
    return number


def _attempts(value: Optional[str], where: Dict[str, Any]) -> int:
    if value is None:
        return DEFAULT_ATTEMPTS
    if not re.fullmatch(r"\+?\d+", value) or int(value) < 1:
        raise InvalidConfigError(
            f"must be a whole number of attempts, 1 or more, got {value!r}.",
            hint="For example 1 or 3.",
            **where,
        )
    return int(value)


def resolve_imds_config(
    env: Mapping[str, str],
    profile: Optional[Mapping[str, str]] = None,
    *,
    profile_name: str = "default",
    endpoint: Optional[str] = None,
    mode: Optional[str] = None,
) -> ImdsConfig:
    """Resolve and validate every IMDS setting. ``endpoint``/``mode`` are explicit settings from
    code (the vectors' ``endpoint_override``/``mode_override``)."""
    s = _Settings(env, profile or {}, profile_name)
    if is_disabled(env):
        return ImdsConfig(disabled=True, endpoint_source=DISABLED_VAR)

    # The mode is validated even when an endpoint wins (botocore and the vectors do the same).
    if mode is not None:
        chosen_mode, mode_source = _mode(mode, "code", {"key": "mode"}), "code"
    else:
        raw, mode_source, where = s.get(MODE)
        if raw is not None:
            chosen_mode = _mode(raw, mode_source, where)
        else:
            raw, mode_source, _ = s.get(USE_IPV6)
            chosen_mode = "ipv6" if _bool(raw, mode_source) else "ipv4"
            if raw is None:
                mode_source = "default"

    configured: Optional[str]
    if endpoint is not None:
        configured, source, where = endpoint, "code", {"key": "endpoint"}
    else:
        configured, source, where = s.get(ENDPOINT)
    if configured is not None:
        base = configured
        problem = url_problem(base)
        if problem is not None:
            raise InvalidConfigError(
                f"{base!r} is not a valid EC2 instance metadata endpoint: {problem}.",
                hint="For example http://169.254.169.254 or http://[fd00:ec2::254].",
                **where,
            )
        if chosen_mode == "ipv6" and mode_source != "code" and source != "code":
            log.warning("%s and %s are both set; using the endpoint %s.", source, mode_source, base)
    else:
        base, source = (
            _MODES[chosen_mode],
            (mode_source if mode_source == "default" else f"{mode_source} ({chosen_mode})"),
        )

    v1_raw, v1_source, _ = s.get(V1_DISABLED)
    timeout_raw, _, timeout_where = s.get(TIMEOUT)
    attempts_raw, _, attempts_where = s.get(ATTEMPTS)
    return ImdsConfig(
        disabled=False,
        base_url=base,
        v1_disabled=_bool(v1_raw, v1_source),
        timeout=_timeout(timeout_raw, timeout_where),
        attempts=_attempts(attempts_raw, attempts_where),
        endpoint_source=source,
        v1_source=v1_source,
    )


# --- the documents IMDS answers with ------------------------------------------------------

_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}\Z")
_REQUIRED = ("AccessKeyId", "SecretAccessKey", "Token", "Expiration")
METHOD = "iam-role"
TOKEN_TTL = 21600


def token_ttl(raw: Optional[str]) -> float:
    try:
        ttl = int(raw) if raw is not None else TOKEN_TTL
    except ValueError:
        ttl = TOKEN_TTL
    return float(ttl if 0 < ttl <= TOKEN_TTL else TOKEN_TTL)


def role_name(resp: HttpResponse, url: str) -> str:
    name = resp.text  # the whole body, as botocore; validated instead of pasted into a URL
    if not _ROLE_NAME.fullmatch(name):
        raise MalformedResponseError(
            f"GET {url} did not return an IAM role name ({len(name)} characters).",
            provider=METHOD,
        )
    return name


def json_doc(resp: HttpResponse, url: str) -> Dict[str, Any]:
    """The JSON object of an answer; :class:`~awsroles.transport.retry.Retry` when it is
    not one (botocore asks again)."""
    try:
        doc = json_loads(resp.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict):
        what = "JSON" if doc is None else "a JSON object"
        raise Retry(MalformedResponseError(f"GET {url} did not return {what}.", provider=METHOD))
    return doc


def credentials_from(doc: Mapping[str, Any], role: str) -> Credentials:
    missing = [k for k in _REQUIRED if not isinstance(doc.get(k), str) or not doc.get(k)]
    if missing:
        detail = ""
        if isinstance(doc.get("Code"), str):  # e.g. AssumeRoleUnauthorizedAccess
            detail = f" (Code {doc['Code']!r}: {str(doc.get('Message', ''))[:200]!r})"
        raise MalformedResponseError(
            f"the credentials of role {role!r} lack {', '.join(missing)}{detail}.",
            provider=METHOD,
        )
    problem = first_unusable({k: doc[k] for k in ("AccessKeyId", "SecretAccessKey", "Token")})
    if problem is not None:
        raise MalformedResponseError(
            f"the credentials of role {role!r}: {problem} (not shown).", provider=METHOD
        )
    account = doc.get("AccountId")
    return Credentials(
        access_key=doc["AccessKeyId"],
        secret_key=doc["SecretAccessKey"],
        token=doc["Token"],
        expiry=parse_expiry(doc["Expiration"], role),
        account_id=account if isinstance(account, str) and account.isdigit() else None,
        method=METHOD,
    )


def parse_expiry(raw: str, role: str) -> datetime:
    from ..timestamps import parse_timestamp

    try:
        return parse_timestamp(raw)
    except ValueError:
        raise MalformedResponseError(
            f"the credentials of role {role!r} have an unreadable Expiration {str(raw)[:40]!r}.",
            provider=METHOD,
        ) from None
