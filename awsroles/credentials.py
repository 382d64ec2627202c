"""Immutable credential sets. Secrets never appear in repr() or str()."""

from __future__ import annotations

from datetime import datetime, timezone

from ._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

__all__ = ["Credentials", "redact"]


def redact(value: Optional[str], keep: int = 4) -> str:
    """Show at most the first ``keep`` characters of an identifier, never of a secret."""
    if value is None:
        return "None"
    if len(value) <= keep:
        return "****"
    return value[:keep] + "****"


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
