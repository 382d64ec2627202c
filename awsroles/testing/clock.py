"""Clocks for tests: a frozen one you move by hand, and one that runs by itself (sped up if
you like)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import List, Optional, Union


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
        self.slept: List[float] = []

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


class AdvancingClock:
    """A clock that runs by itself, from ``start`` (default: now), ``speed`` times faster
    than real time, plus any jumps made with ``advance()``.

    For refresh tests that need real threads and real waiting (a background refresh, a
    static-stability back-off) without waiting in real time: at ``speed=600`` ten minutes
    pass in one real second. ``now()``, ``monotonic()`` and ``sleep()`` agree with each
    other: after ``sleep(s)``, both have moved at least ``s`` seconds (``s / speed`` real
    seconds), and ``advance()`` moves both at once.

    >>> clock = AdvancingClock(speed=60)                        # a minute per real second
    >>> clock = AdvancingClock("2030-01-01T00:00:00Z")          # real pace, from that time
    >>> clock = AdvancingClock(offset=timedelta(minutes=-30))   # half an hour behind
    """

    def __init__(
        self,
        start: Optional[Union[datetime, str]] = None,
        *,
        speed: float = 1.0,
        offset: Union[timedelta, float, None] = None,
    ) -> None:
        if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not speed > 0:
            raise ValueError(f"speed must be a number > 0, got {speed!r}")
        if start is None:
            start = datetime.now(timezone.utc)
        elif isinstance(start, str):
            from dateutil.parser import parse

            start = parse(start)
        if start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        if offset is not None:
            start += offset if isinstance(offset, timedelta) else timedelta(seconds=offset)
        self.speed = float(speed)
        self._start = start.astimezone(timezone.utc)
        self._real0 = time.monotonic()
        self._jumped = 0.0  # seconds added by advance()
        self._lock = threading.Lock()
        self.slept: List[float] = []

    def _elapsed(self) -> float:
        # one read of the real clock and of the jumps: consistent without holding a lock
        return (time.monotonic() - self._real0) * self.speed + self._jumped

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed())

    def monotonic(self) -> float:
        return 1000.0 + self._elapsed()

    def sleep(self, seconds: float) -> None:
        """Wait until ``seconds`` have passed on this clock (``seconds / speed`` real ones)."""
        self.slept.append(seconds)
        if seconds <= 0:
            return
        until = self.monotonic() + seconds
        while True:
            left = until - self.monotonic()
            if left <= 0:
                return
            time.sleep(left / self.speed)

    def advance(self, delta: Optional[timedelta] = None, **kw: float) -> datetime:
        """Jump forward at once (both ``now()`` and ``monotonic()``); time keeps flowing.
        A negative step is refused: a monotonic clock never goes back."""
        step = delta if delta is not None else timedelta(**kw)
        if step < timedelta(0):
            raise ValueError(f"AdvancingClock only moves forward, got {step}")
        with self._lock:
            self._jumped += step.total_seconds()
        return self.now()

    def __repr__(self) -> str:
        return f"AdvancingClock({self.now().isoformat()}, speed={self.speed:g})"
