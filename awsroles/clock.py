"""The injectable clock. Nothing else in awsroles reads the time or sleeps directly.

``now()`` returns an aware UTC datetime; ``monotonic()`` a float for measuring intervals;
``sleep()`` is used for retry backoff so tests can make it instant. Tests use
:class:`awsroles.testing.FrozenClock` or pass their own object with these three methods.
"""

from __future__ import annotations

import time

try:  # the C types: on CPython up to 3.11, ``import datetime`` first runs the whole
    # pure-Python implementation (about 1.5 ms of every start), then replaces it with these.
    # They are the same objects ``datetime.datetime`` etc. name once datetime is imported.
    from _datetime import datetime, timedelta, timezone
except ImportError:  # pragma: no cover - interpreters without the C module
    from datetime import datetime, timedelta, timezone

__all__ = ["Clock", "SystemClock", "SYSTEM_CLOCK", "datetime", "timedelta", "timezone"]

try:  # typing.Protocol exists on 3.8+, kept lightweight
    from typing import Protocol
except ImportError:  # pragma: no cover
    Protocol = object  # type: ignore[assignment,misc]


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    __slots__ = ()

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK = SystemClock()
