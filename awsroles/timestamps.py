"""One parser for the expiry times credential documents carry (STS, cache entries, IMDS,
containers, credential_process, SSO tokens, AWS_CREDENTIAL_EXPIRATION), and the one format
awsroles writes them in."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional, Tuple

__all__ = ["parse_timestamp", "format_timestamp"]


def format_timestamp(when: datetime) -> str:
    """``2030-01-01T01:00:00Z``, as STS, botocore and the AWS CLI write it: UTC (a naive time
    is taken as UTC), whole seconds (rounded down: never later than the real time)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


#: The formats the SDKs write, compiled on first use (the common ones never need it: _fixed).
_FAST = (
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6})\d*)?"
    r"(Z|UTC|GMT|[+-]\d\d:?\d\d)\Z"
)
#: ``YYYY-MM-DDTHH:MM:SS`` followed by one of these: what the AWS CLI, botocore and STS write.
_FIXED_ZONES = ("Z", "UTC", "+00:00")


def _fixed(text: str) -> Optional[Tuple[Optional[str], ...]]:
    """``_FAST``'s groups for ``YYYY-MM-DDTHH:MM:SS`` + ``Z``/``UTC``/``+00:00``, found
    without a regex (compiling one would slow down every warm start); None for
    anything else. Digits are ``str.isdecimal``, which is what ``\\d`` matches."""
    if len(text) < 20 or text[19:] not in _FIXED_ZONES:
        return None
    if text[4] != "-" or text[7] != "-" or text[10] not in "T " or text[13] != ":":
        return None
    if text[16] != ":":
        return None
    parts = (text[0:4], text[5:7], text[8:10], text[11:13], text[14:16], text[17:19])
    if not all(part.isdecimal() for part in parts):
        return None
    return (*parts, None, text[19:])


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
        groups = _fixed(text)
        if groups is None:
            m = re.match(_FAST, text)
            groups = m.groups() if m is not None else None
        if groups is not None:
            year, month, day, hour, minute, second, frac, zone = groups
            try:
                micro = int(frac.ljust(6, "0")) if frac else 0
                y, mo, d, h, mi, sec = (
                    int(part or "") for part in (year, month, day, hour, minute, second)
                )
                dt = datetime(y, mo, d, h, mi, sec, micro, tzinfo=timezone.utc)
                zone = zone or "Z"
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
