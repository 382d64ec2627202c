"""The injectable clock. Nothing else in awsroles reads the time or sleeps directly.

``now()`` returns an aware UTC datetime; ``monotonic()`` a float for measuring intervals;
``sleep()`` is used for retry backoff so tests can make it instant. Tests use
:class:`awsroles.testing.FrozenClock` or pass their own object with these three methods.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

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
