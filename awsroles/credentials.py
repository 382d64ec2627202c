"""Immutable credential sets. Secrets never appear in repr() or str()."""

from __future__ import annotations

from datetime import datetime, timezone

from ._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, Optional

__all__ = ["Credentials", "redact", "unusable", "first_unusable"]


def redact(value: Optional[str], keep: int = 4) -> str:
    """Show at most the first ``keep`` characters of an identifier, never of a secret."""
    if value is None:
        return "None"
    if len(value) <= keep:
        return "****"
    return value[:keep] + "****"


def unusable(value: str) -> Optional[str]:
    """Why ``value`` cannot be an access key, secret key or session token, or None when it
    can: a NUL, a control character or an unpaired surrogate (bytes that were not text) can
    go neither into an environment variable nor onto a terminal. Such a value is refused
    where it is read, naming where it came from, never the value."""
    for ch in value:
        code = ord(ch)
        if 31 < code < 127:
            continue
        if code == 0:
            return "a NUL character"
        if code < 32 or 127 <= code < 160:
            return "a control character"
        if 0xD800 <= code <= 0xDFFF:
            return "an unpaired surrogate (bytes that were not text)"
    return None


def first_unusable(fields: Mapping[str, Optional[str]]) -> Optional[str]:
    """``"<name> contains <what>"`` for the first of ``fields`` (name -> value, None skipped)
    that :func:`unusable` refuses, or None when all can be used."""
    for name, value in fields.items():
        why = unusable(value) if value is not None else None
        if why is not None:
            return f"{name} contains {why}"
    return None


class Credentials(Record):
    """One consistent set of AWS credentials.

    ``expiry`` is an aware UTC datetime or None (long-lived keys). ``method`` names the provider
    that produced them (``env``, ``shared-credentials-file``, ``assume-role``, ...), as botocore's
    ``Credentials.method`` does. It duck-types as botocore's ``ReadOnlyCredentials``
    (``access_key``, ``secret_key``, ``token``, ``account_id``).
    """

    _hidden = frozenset({"secret_key", "token"})

    access_key: str
    secret_key: str
    token: Optional[str] = None
    expiry: Optional[datetime] = None
    account_id: Optional[str] = None
    method: str = "explicit"

    def __post_init__(self) -> None:
        if self.expiry is not None and self.expiry.tzinfo is None:
            object.__setattr__(self, "expiry", self.expiry.replace(tzinfo=timezone.utc))

    def __repr__(self) -> str:
        parts = [f"access_key='{redact(self.access_key)}'", "secret_key='****'"]
        if self.token is not None:
            parts.append("token='****'")
        if self.expiry is not None:
            parts.append(f"expiry='{self.expiry.isoformat()}'")
        if self.account_id is not None:
            parts.append(f"account_id='{self.account_id}'")
        parts.append(f"method='{self.method}'")
        return f"Credentials({', '.join(parts)})"

    __str__ = __repr__

    def get_frozen_credentials(self) -> Credentials:
        return self

    def seconds_left(self, now: datetime) -> Optional[float]:
        if self.expiry is None:
            return None
        return (self.expiry - now).total_seconds()
