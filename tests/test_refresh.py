"""RefreshableCredentials: windows, single flight, static stability, error memory."""

import logging
import threading
import time
from datetime import timedelta

import pytest

from awsroles.credentials import Credentials
from awsroles.errors import AccessDeniedError, RefreshError, TransportError
from awsroles.refresh import background
from awsroles.refresh.policy import Mode, advisory_window_for
from awsroles.refresh.sync import RefreshableCredentials
from awsroles.testing.clock import FrozenClock

INITIAL, ADVISORY, MANDATORY, FORCED = Mode.INITIAL, Mode.ADVISORY, Mode.MANDATORY, Mode.FORCED


class Source:
    """A fetch function issuing numbered credentials that live ``lifetime`` seconds."""

    def __init__(self, clock, lifetime=3600, fail=None):
        self.clock = clock
        self.lifetime = lifetime
        self.calls = []
        self.fail = fail  # callable(mode) -> exception or None
        self.gate = None

    def __call__(self, mode, current):
        self.calls.append(mode)
        if self.gate is not None:
            self.gate.wait(5)
        if self.fail is not None:
            exc = self.fail(mode)
            if exc is not None:
                raise exc
        n = len(self.calls)
        return Credentials(
            f"AKID{n}",
            f"secret{n}",
            f"token{n}",
            expiry=self.clock.now() + timedelta(seconds=self.lifetime),
            method="test",
        )


@pytest.mark.parametrize(
    "lifetime,window",
    [
        (600, 300),
        (20 * 60, 300),
        (20 * 60 + 1, 900),
        (89 * 60, 900),
        (90 * 60, 3600),
        (12 * 3600, 3600),
    ],
)
def test_advisory_window_from_lifetime(lifetime, window):
    assert advisory_window_for(lifetime) == window


def test_first_use_fetches_once_then_serves_lock_free():
    clock = FrozenClock()
    src = Source(clock)
    creds = RefreshableCredentials(src, method="test", clock=clock)
    assert src.calls == []  # deferred: nothing fetched at construction
    a = creds.get_frozen_credentials()
    b = creds.get_frozen_credentials()
    assert a is b and a.access_key == "AKID1"
    assert src.calls == [INITIAL]


def test_stale_window_serves_current_and_refreshes_once_in_background():
    clock = FrozenClock()
    src = Source(clock)  # 1 h lifetime -> 15 min advisory window
    creds = RefreshableCredentials(src, method="test", clock=clock)
    creds.get_frozen_credentials()
    clock.advance(minutes=46)  # 14 min left: stale
    assert creds.state() == "stale"
    src.gate = threading.Event()
    got = [creds.get_frozen_credentials() for _ in range(50)]
    assert {c.access_key for c in got} == {"AKID1"}  # nobody waited
    src.gate.set()
    assert background.wait_idle(5)
    assert src.calls == [INITIAL, ADVISORY]
    assert creds.get_frozen_credentials().access_key == "AKID2"


def test_mandatory_window_blocks_and_refreshes():
    clock = FrozenClock()
    src = Source(clock)
    creds = RefreshableCredentials(src, method="test", clock=clock, background_refresh=False)
    creds.get_frozen_credentials()
    clock.advance(minutes=59, seconds=30)  # 30 s left: inside the 60 s mandatory window
    assert creds.state() == "invalid"
    assert creds.get_frozen_credentials().access_key == "AKID2"
    assert src.calls == [INITIAL, MANDATORY]


def test_explicit_windows_are_honoured():
    clock = FrozenClock()
    src = Source(clock)
    creds = RefreshableCredentials(
        src,
        method="test",
        clock=clock,
        advisory_timeout=900,
        mandatory_timeout=600,
        background_refresh=False,
    )
    creds.get_frozen_credentials()
    clock.advance(seconds=3600 - 901)
    assert creds.state() == "fresh"
    clock.advance(seconds=2)
    assert creds.state() == "stale"
    clock.advance(seconds=300)
    assert creds.state() == "invalid"


def test_concurrent_callers_in_mandatory_window_make_one_fetch():
    clock = FrozenClock()
    src = Source(clock)
    creds = RefreshableCredentials(src, method="test", clock=clock)
    src.gate = threading.Event()
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(creds.get_frozen_credentials()))
        for _ in range(16)
    ]
    for t in threads:
        t.start()
    time.sleep(0.05)
    src.gate.set()
    for t in threads:
        t.join(5)
    assert len(results) == 16
    assert {c.access_key for c in results} == {"AKID1"}
    assert src.calls == [INITIAL]


def test_static_stability_on_recoverable_failure(caplog):
    clock = FrozenClock()
    src = Source(clock)
    creds = RefreshableCredentials(src, method="test", clock=clock, background_refresh=False)
    creds.get_frozen_credentials()
    src.fail = lambda mode: TransportError("connection refused")
    clock.advance(minutes=59, seconds=30)  # mandatory window, still valid for 30 s
    with caplog.at_level(logging.WARNING, logger="awsroles"):
        got = creds.get_frozen_credentials()
        got2 = creds.get_frozen_credentials()
    assert got.access_key == "AKID1" and got2 is got
    assert len(src.calls) == 2  # backed off: the second call did not retry
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    # once expired, a caller waits for (and gets) a real attempt
    clock.advance(seconds=31)
    src.fail = None
    assert creds.get_frozen_credentials().access_key == "AKID3"


def test_recoverable_failure_on_first_fetch_raises():
    clock = FrozenClock()
    src = Source(clock, fail=lambda mode: TransportError("down"))
    creds = RefreshableCredentials(src, method="test", clock=clock)
    with pytest.raises(TransportError):
        creds.get_frozen_credentials()


def test_non_recoverable_error_is_raised_and_remembered():
    clock = FrozenClock()
    src = Source(clock)
    creds = RefreshableCredentials(src, method="test", clock=clock, background_refresh=False)
    creds.get_frozen_credentials()
    src.fail = lambda mode: AccessDeniedError("denied", code="AccessDenied")
    clock.advance(minutes=59, seconds=30)
    with pytest.raises(AccessDeniedError):
        creds.get_frozen_credentials()
    with pytest.raises(AccessDeniedError):
        creds.get_frozen_credentials()
    assert len(src.calls) == 2  # the second caller got the remembered error, no new call
    clock.advance(seconds=6)  # memory is 2-5 s
    src.fail = None
    assert creds.get_frozen_credentials().access_key == "AKID3"


def test_advisory_failure_keeps_credentials_and_backs_off(caplog):
    clock = FrozenClock()
    src = Source(clock, fail=lambda mode: TransportError("down") if mode == ADVISORY else None)
    creds = RefreshableCredentials(src, method="test", clock=clock, background_refresh=False)
    creds.get_frozen_credentials()
    clock.advance(minutes=50)
    with caplog.at_level(logging.WARNING, logger="awsroles"):
        for _ in range(5):
            assert creds.get_frozen_credentials().access_key == "AKID1"
    assert src.calls == [INITIAL, ADVISORY]
    clock.advance(minutes=5)  # backoff is 5-10 min, but mandatory window wins once reached
    assert creds.get_frozen_credentials().access_key in ("AKID1", "AKID3")


def test_refreshed_but_expired_is_an_error():
    clock = FrozenClock()
    src = Source(clock, lifetime=-5)
    creds = RefreshableCredentials(src, method="test", clock=clock)
    with pytest.raises(RefreshError):
        creds.get_frozen_credentials()


def test_invalidate_forces_one_refresh():
    clock = FrozenClock()
    src = Source(clock)
    creds = RefreshableCredentials(src, method="test", clock=clock)
    creds.get_frozen_credentials()
    creds.invalidate()
    assert creds.get_frozen_credentials().access_key == "AKID2"
    assert src.calls == [INITIAL, FORCED]
    assert creds.get_frozen_credentials().access_key == "AKID2"


def test_repr_has_no_secrets():
    clock = FrozenClock()
    creds = RefreshableCredentials(Source(clock), method="test", clock=clock)
    c = creds.get_frozen_credentials()
    text = repr(creds) + str(c) + repr(c)
    assert "secret1" not in text and "token1" not in text


# --- invalidation, back-off and error memory at their edges -----------------------------------


def test_invalidate_then_outage_backs_off_instead_of_hammering():
    clock = FrozenClock()
    src = Source(clock)
    creds = RefreshableCredentials(src, method="test", clock=clock)
    creds.get_frozen_credentials()
    creds.invalidate()
    src.fail = lambda mode: TransportError("down")
    for _ in range(5):
        creds.get_frozen_credentials()
    assert src.calls == [INITIAL, FORCED]


def test_invalidate_ignores_a_late_error_about_a_replaced_set():
    clock = FrozenClock()
    creds = RefreshableCredentials(Source(clock), method="test", clock=clock)
    first = creds.get_frozen_credentials()
    assert creds.invalidate(first.access_key) is True
    second = creds.get_frozen_credentials()
    assert creds.invalidate(first.access_key) is False  # late: already replaced
    assert creds.get_frozen_credentials() is second


def test_non_recoverable_background_failure_backs_off_and_warns_once(caplog):
    clock = FrozenClock()
    src = Source(
        clock,
        fail=lambda m: AccessDeniedError("no", code="AccessDenied") if m == ADVISORY else None,
    )
    creds = RefreshableCredentials(src, method="test", clock=clock, background_refresh=False)
    creds.get_frozen_credentials()
    clock.advance(minutes=46)
    with caplog.at_level(logging.WARNING, logger="awsroles"):
        for _ in range(120):
            clock.advance(seconds=1)
            creds.get_frozen_credentials()
    assert src.calls.count(ADVISORY) == 1
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_backoff_never_skips_the_mandatory_window():
    clock = FrozenClock()
    src = Source(clock, lifetime=15 * 60)  # 5-minute advisory window
    creds = RefreshableCredentials(src, method="test", clock=clock, background_refresh=False)
    creds.get_frozen_credentials()
    src.fail = lambda mode: TransportError("blip") if mode == ADVISORY else None
    clock.advance(minutes=11)  # 4 min left: advisory, fails, backs off
    creds.get_frozen_credentials()
    src.fail = None
    clock.advance(minutes=3, seconds=10)  # 50 s left: mandatory must refresh now
    assert creds.get_frozen_credentials().access_key != "AKID1"


def test_remembered_error_does_not_grow_its_traceback():
    clock = FrozenClock()
    src = Source(clock, fail=lambda m: AccessDeniedError("no", code="AccessDenied"))
    creds = RefreshableCredentials(src, method="test", clock=clock)
    depths = []
    for _ in range(50):
        try:
            creds.get_frozen_credentials()
        except AccessDeniedError as exc:
            tb, n = exc.__traceback__, 0
            while tb is not None:
                n, tb = n + 1, tb.tb_next
            depths.append(n)
    assert max(depths) < 10


def test_refresh_with_skewed_clock_serves_the_valid_set_then_fails_once():
    clock = FrozenClock()
    src = Source(clock)
    creds = RefreshableCredentials(src, method="test", clock=clock)
    first = creds.get_frozen_credentials()
    src.lifetime = 30  # the source now hands out sets inside the mandatory window
    clock.advance(minutes=59, seconds=30)
    for _ in range(5):  # the held set is still valid for 30 s: served, one attempt
        assert creds.get_frozen_credentials() is first
    assert len(src.calls) == 2
    clock.advance(seconds=31)  # now the held set has expired: the error surfaces, remembered
    for _ in range(5):
        with pytest.raises(RefreshError):
            creds.get_frozen_credentials()
    assert len(src.calls) == 3


def _held_then_too_slow(clock, key):
    """A fetch that hands out a 15-minute set first, then fails each refresh the way an STS
    too slow to answer does, once ``release`` is set; ``in_flight`` is set by a refresh."""
    in_flight, release = threading.Event(), threading.Event()
    modes = []

    def fetch(mode, current):
        modes.append(mode.value)
        if current is None:
            expiry = clock.now() + timedelta(seconds=900)
            return Credentials(key, "secret", "token", expiry, method="test")
        in_flight.set()
        release.wait(10)
        raise TransportError("timed out: the STS did not send its whole answer", timeout=True)

    return fetch, modes, in_flight, release


def test_a_caller_that_waited_for_a_failed_background_refresh_serves_the_held_set(clock):
    """A caller entering the mandatory window while a background refresh is in flight waits
    for it. When that refresh fails for a recoverable reason (STS too slow), the held set is
    still valid and the failure set a back-off: the caller is served the held set, as a
    caller arriving a moment later is, instead of fetching again, which would hold it for a
    second STS deadline on top of the first (the soak's slow group, one process)."""
    fetch, modes, in_flight, release = _held_then_too_slow(clock, "ASIAHELDSET000000001")

    creds = RefreshableCredentials(
        fetch, method="test", clock=clock, advisory_timeout=600, mandatory_timeout=300
    )
    assert creds.get_frozen_credentials().access_key == "ASIAHELDSET000000001"
    clock.advance(seconds=400)  # the advisory window: a background refresh starts
    creds.get_frozen_credentials()
    assert in_flight.wait(5)
    clock.advance(seconds=250)  # the mandatory window, the background refresh still running
    got = []
    caller = threading.Thread(target=lambda: got.append(creds.get_frozen_credentials()))
    caller.start()
    time.sleep(0.3)  # the caller now waits for the background refresh
    release.set()
    caller.join(10)
    assert background.wait_idle(10)
    assert not caller.is_alive()
    assert [c.access_key for c in got] == ["ASIAHELDSET000000001"]
    # a caller arriving now is served the held set without a fetch (the back-off) ...
    assert creds.get_frozen_credentials().access_key == "ASIAHELDSET000000001"
    # ... and so was the one that waited: no fetch after the background one
    assert modes == ["initial", "advisory"], modes


def test_callers_in_the_mandatory_window_share_one_failed_refresh(clock):
    """Threads that enter the mandatory window together wait for one refresh. When it fails
    for a recoverable reason, each is served the held set (still valid, backing off); none
    fetches again after it, or with an STS too slow to answer the last thread would wait for
    one STS deadline per thread before it."""
    fetch, modes, in_flight, release = _held_then_too_slow(clock, "ASIAHELDSET000000002")

    creds = RefreshableCredentials(
        fetch, method="test", clock=clock, mandatory_timeout=300, background_refresh=False
    )
    creds.get_frozen_credentials()
    clock.advance(seconds=650)  # inside the mandatory window
    got = []
    callers = [
        threading.Thread(target=lambda: got.append(creds.get_frozen_credentials()))
        for _ in range(4)
    ]
    for caller in callers:
        caller.start()
    assert in_flight.wait(5)
    time.sleep(0.3)  # the other three now wait for the first one's refresh
    release.set()
    for caller in callers:
        caller.join(10)
    assert [c.access_key for c in got] == ["ASIAHELDSET000000002"] * 4
    assert modes == ["initial", "mandatory"], modes
