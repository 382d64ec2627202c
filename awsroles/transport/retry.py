"""The one retry loop every endpoint client uses (STS, instance metadata, the container
endpoint, the SSO portal). A client says what one attempt is, how many it allows and how long
to wait between them; the loop does the rest, sleeping through the injected clock so tests
never wait and never after the last attempt.

An attempt that may succeed next time raises :class:`Retry` with the error it met; any other
exception ends the loop at once.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional, TypeVar

    T = TypeVar("T")
    #: ``backoff(n, failure)``: seconds to wait after failed attempt ``n`` (1-based).
    Backoff = Callable[[int, "Retry"], float]

__all__ = ["Retry", "with_retries", "full_jitter", "fixed", "no_delay"]


class Retry(Exception):
    """Raised by an attempt that may be tried again. ``error`` is what it failed with;
    ``throttled`` says the endpoint asked to slow down (a back-off may wait longer)."""

    def __init__(self, error: BaseException, *, throttled: bool = False) -> None:
        super().__init__(error)
        self.error = error
        self.throttled = throttled


def with_retries(
    attempt: Callable[[int], T],
    *,
    attempts: int,
    backoff: Backoff,
    sleep: Callable[[float], None],
    give_up: Optional[Callable[[Retry, int], BaseException]] = None,
) -> T:
    """``attempt(1)``, ``attempt(2)``, ... until one returns, at most ``attempts`` times; after
    each that raises :class:`Retry`, ``sleep(backoff(n, failure))`` (not after the last).
    When every attempt failed, raises ``give_up(last failure, attempts made)`` (default: the
    last failure's error)."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    n = 0
    while True:
        n += 1
        try:
            return attempt(n)
        except Retry as failure:
            if n >= attempts:
                raise (give_up(failure, n) if give_up else failure.error) from None
            delay = backoff(n, failure)
            if delay > 0:
                sleep(delay)


def full_jitter(
    base: float, cap: float, rng: Callable[[], float], *, throttled_base: Optional[float] = None
) -> Backoff:
    """Exponential back-off with full jitter (botocore's standard retry mode): a random wait
    up to ``min(cap, base * 2 ** (n - 1))``; ``throttled_base`` replaces ``base`` after a
    throttled attempt."""

    def delay(n: int, failure: Retry) -> float:
        start = throttled_base if failure.throttled and throttled_base is not None else base
        return rng() * min(cap, start * 2.0 ** (n - 1))

    return delay


def fixed(seconds: float) -> Backoff:
    """The same wait after every failed attempt."""
    return lambda n, failure: seconds


def no_delay(n: int, failure: Retry) -> float:
    """Try again at once."""
    return 0.0
