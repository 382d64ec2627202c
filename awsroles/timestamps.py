"""One parser for the expiry times credential documents carry (STS, cache entries, IMDS,
containers, credential_process, SSO tokens, AWS_CREDENTIAL_EXPIRATION)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = ["parse_timestamp"]

_FAST = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6})\d*)?"
    r"(Z|UTC|GMT|[+-]\d\d:?\d\d)\Z"
)


def parse_timestamp(value: Any, *, naive_is_utc: bool = True) -> datetime:
    """An aware UTC datetime, or ValueError when ``value`` is not a usable time (not a
    string, unreadable, out of range, or naive when ``naive_is_utc`` is False).

    What the AWS CLI, botocore and the services write (``…Z``, ``…UTC``, ``…+00:00``) takes a
    fast path; anything else goes to ``dateutil``, as botocore does."""
    if isinstance(value, datetime):
        dt = value
    elif not isinstance(value, str):
        raise ValueError("not a date and time")
    else:
        text = value.strip()
        m = _FAST.match(text)
        if m is not None:
            *fields, frac, zone = m.groups()
            try:
                micro = int(frac.ljust(6, "0")) if frac else 0
                dt = datetime(*map(int, fields), micro, tzinfo=timezone.utc)  # type: ignore[misc]
                if zone[0] in "+-":
                    digits = zone[1:].replace(":", "")
                    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
                    dt = dt - offset if zone[0] == "+" else dt + offset
                return dt
            except (ValueError, OverflowError):
                pass  # let dateutil decide
        from dateutil.parser import parse  # slow import, only for unusual formats

        try:
            dt = parse(text)
        except (ValueError, OverflowError, TypeError) as exc:
            raise ValueError("not a date and time") from exc
    if dt.tzinfo is None or dt.utcoffset() is None:
        if not naive_is_utc:
            raise ValueError("no time zone")
        return dt.replace(tzinfo=timezone.utc)
    try:
        return dt.astimezone(timezone.utc)
    except (ValueError, OverflowError) as exc:
        raise ValueError("out of range") from exc
