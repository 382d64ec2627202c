"""Immutable credential sets. Secrets never appear in repr() or str()."""

from __future__ import annotations

from datetime import datetime, timezone

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Mapping, Optional, Tuple

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
    if value.isascii() and value.isprintable():  # the usual key or token, without a loop
        return None
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


if TYPE_CHECKING:
    _Tuple = Tuple[str, str, Optional[str], Optional[str]]
else:
    _Tuple = tuple

_FIELDS = ("access_key", "secret_key", "token", "account_id")


class Credentials(_Tuple):
    """One consistent set of AWS credentials, immutable.

    It is botocore's ``ReadOnlyCredentials`` as well: a named tuple of ``access_key``,
    ``secret_key``, ``token`` and ``account_id``, so ``ak, sk, token, account = creds`` and
    ``creds[0]`` work, and it compares equal to a ``ReadOnlyCredentials`` of the same values.
    Two more attributes ride along outside the tuple: ``expiry``, an aware UTC datetime or
    None (long-lived keys), and ``method``, the provider that produced them (``env``,
    ``shared-credentials-file``, ``assume-role``, ...), as botocore's ``Credentials.method``.
    The secret key and token never appear in ``repr()`` or ``str()``.
    """

    _fields = _FIELDS
    expiry: Optional[datetime]
    method: str

    def __new__(
        cls,
        access_key: str,
        secret_key: str,
        token: Optional[str] = None,
        expiry: Optional[datetime] = None,
        account_id: Optional[str] = None,
        method: str = "explicit",
    ) -> Credentials:
        self = super().__new__(cls, (access_key, secret_key, token, account_id))
        if expiry is not None and expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=timezone.utc)
        object.__setattr__(self, "expiry", expiry)
        object.__setattr__(self, "method", method)
        return self

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Credentials are immutable: use replace({name}=...)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Credentials are immutable: {name} cannot be deleted")

    def __reduce__(self) -> Tuple[Any, ...]:  # pickle and copy: the extras too
        return (_rebuild, (tuple(self), self.expiry, self.method))

    @property
    def access_key(self) -> str:
        return self[0]

    @property
    def secret_key(self) -> str:
        return self[1]

    @property
    def token(self) -> Optional[str]:
        return self[2]

    @property
    def account_id(self) -> Optional[str]:
        return self[3]

    def replace(self, **changes: Any) -> Credentials:
        """A copy with ``changes`` (any of the constructor's parameters) applied."""
        values: Dict[str, Any] = dict(zip(_FIELDS, self))
        values.update(expiry=self.expiry, method=self.method)
        values.update(changes)
        return Credentials(**values)

    _replace = replace  # namedtuple's name

    def _asdict(self) -> Dict[str, Optional[str]]:
        """The four tuple fields by name, as a named tuple's ``_asdict()``."""
        return dict(zip(_FIELDS, self))

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

    # --- botocore's Credentials surface: a set can be handed to botocore as it is ----------

    def get_frozen_credentials(self) -> Credentials:
        return self

    def get_deferred_property(self, property_name: str) -> Callable[[], Any]:
        """botocore's: a function that reads the property when called."""
        return lambda: getattr(self, property_name, None)

    def refresh_needed(self, refresh_in: Optional[int] = None) -> bool:
        return False

    def seconds_left(self, now: datetime) -> Optional[float]:
        if self.expiry is None:
            return None
        return (self.expiry - now).total_seconds()


def _rebuild(
    values: Tuple[str, str, Optional[str], Optional[str]],
    expiry: Optional[datetime],
    method: str,
) -> Credentials:
    access_key, secret_key, token, account_id = values
    return Credentials(access_key, secret_key, token, expiry, account_id, method)
