"""Clocks for tests: a frozen one you move by hand."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Optional, Union


class FrozenClock:
    """A clock that stands still until told to move. ``sleep`` advances it instantly.

    >>> clock = FrozenClock(datetime(2030, 1, 1, tzinfo=timezone.utc))
    >>> clock.advance(minutes=50)
    """

    def __init__(self, start: Optional[Union[datetime, str]] = None) -> None:
        if start is None:
            start = datetime(2030, 1, 1, tzinfo=timezone.utc)
        elif isinstance(start, str):
            from dateutil.parser import parse

            start = parse(start)
        if start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        self._now = start
        self._mono = 1000.0
        self._lock = threading.Lock()
        self.slept: list = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds=seconds)

    def advance(self, delta: Optional[timedelta] = None, **kw: float) -> datetime:
        step = delta if delta is not None else timedelta(**kw)
        with self._lock:
            self._now += step
            self._mono += step.total_seconds()
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._mono += (when - self._now).total_seconds()
            self._now = when

    def __repr__(self) -> str:
        return f"FrozenClock({self._now.isoformat()})"
