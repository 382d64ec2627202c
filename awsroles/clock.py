"""The clock. Nothing else in awsroles reads the time or sleeps directly.

``now()`` returns an aware UTC datetime; ``monotonic()`` a float for measuring intervals;
``sleep()`` is used for retry back-off, so tests can make it instant. Tests use
:class:`awsroles.testing.FrozenClock` or pass any object with these three methods
(:class:`awsroles.protocols.Clock`).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

__all__ = ["SystemClock", "SYSTEM_CLOCK"]


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
