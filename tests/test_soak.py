"""The soak test (scripts/soak.py): 64 processes, ~45 s of refreshes through the shared cache
while STS fails, throttles and answers a byte at a time, the shared cache entry is overwritten
with garbage and an inner role's credentials are revoked. Set AWSROLES_SOAK=short for a quick
local run (16 processes, 10 s). The last test is the soak's slow-STS case in one process,
quick and deterministic."""

import os
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "scripts"))


@pytest.fixture(scope="module")
def soak_run():
    """One run shared by the checks below: (the module, its figures, wall-clock seconds)."""
    import soak

    short = os.environ.get("AWSROLES_SOAK") == "short"
    started = time.monotonic()
    result = soak.run(processes=16 if short else 64, seconds=10 if short else 45)
    return soak, result, time.monotonic() - started


@pytest.mark.e2e
@pytest.mark.slow
def test_soak_no_crash_every_error_typed(soak_run):
    soak, result, _ = soak_run
    assert result["crashed_workers"] == 0, result["worker_errors"]
    assert result["hung_workers"] == 0
    assert result["other_errors"] == 0, result["error_kinds"]
    assert not any(k.startswith("OTHER:") for k in result["error_kinds"]), result["error_kinds"]
    assert result["credential_reads"] > 1000
    for name in ("main", "chain"):
        group = result["groups"][name]
        # STS bursts alone, behind the shared cache: an error reaches a caller rarely
        assert group["typed_errors"] <= group["credential_reads"] // 100, group
    assert result["groups"]["slow"]["credential_reads"] > 0


@pytest.mark.e2e
@pytest.mark.slow
def test_soak_cache_is_valid_at_the_end(soak_run):
    soak, result, _ = soak_run
    assert result["corrupt_cache_files"] == 0
    assert result["temp_files_left"] == 0
    # one entry per role: main, inner, outer, slow
    assert result["cache_entries"] == 4, result


@pytest.mark.e2e
@pytest.mark.slow
def test_soak_nothing_hung(soak_run):
    soak, result, wall = soak_run
    # every call ended within the STS deadline plus the lock timeout, in every group
    for name, group in result["groups"].items():
        assert group["longest_call_seconds"] <= soak.CALL_BOUND + soak.MARGIN, (name, group)
    # no lock acquisition outlived the STS deadline (a dripping answer takes over a minute)
    assert result["longest_lock_hold_seconds"] <= soak.STS_DEADLINE + soak.MARGIN, result
    assert result["longest_overrun_seconds"] <= soak.CALL_BOUND + soak.MARGIN
    assert result["seconds"] <= result["run_bound_seconds"]
    # the whole run, with every interpreter's start and the teardown
    assert wall <= result["startup_seconds"] + result["run_bound_seconds"] + 15, wall


@pytest.mark.e2e
@pytest.mark.slow
def test_soak_slow_peer_ended_by_the_deadline_and_recovered(soak_run):
    soak, result, _ = soak_run
    slow = result["faults"]["slow_peer"]
    assert slow["bursts"] > 0 and slow["answers_dripped"] > 0, slow
    # every dripping answer was given up on: no client waited for the whole of one
    assert slow["answers_abandoned"] == slow["answers_dripped"], slow
    assert slow["answers_waited_for_whole"] == 0, slow
    assert slow["answers_still_waited_for_at_the_end"] == 0, slow
    # ... within one attempt's deadline (connect + read timeout), though every byte came
    # well within the read timeout
    assert slow["longest_wait_for_a_dripping_answer"] <= sum(soak.STS_TIMEOUT) + 1.5, slow
    assert slow["bursts_hit"] > 0 and slow["recovered"] == slow["bursts_hit"], slow
    assert result["groups"]["slow"]["assume_role_successes"]["SoakSlow"] > slow["bursts"], result


@pytest.mark.e2e
@pytest.mark.slow
def test_soak_garbage_entries_were_misses_and_repaired(soak_run):
    soak, result, _ = soak_run
    garbage = result["faults"]["garbage_entry"]
    assert garbage["injected"] > 0 and garbage["recovered"] == garbage["injected"], garbage
    kinds = {k.split("/")[0] for k in garbage["by_kind"]}
    writes = {k.split("/")[1] for k in garbage["by_kind"]}
    assert kinds == {"deep", "bad_utf8", "empty"}, garbage
    assert writes == {"rename", "truncate"}, garbage
    # close to the minimum the lifetimes require: at most one extra refresh per window, and
    # one per garbage entry written over
    main = result["groups"]["main"]["assume_role_successes"]["Soak"]
    assert main <= 2 * result["minimum_successes"] + 2 + garbage["injected"], result


@pytest.mark.e2e
@pytest.mark.slow
def test_soak_expired_sources_were_fetched_again(soak_run):
    soak, result, _ = soak_run
    expired = result["faults"]["expired_source"]
    assert expired["injected"] > 0 and expired["rejected"] > 0, expired
    # each set STS rejected was followed by the outer role assumed with a good inner set
    assert expired["recovered"] == expired["rejected"], expired
    assert expired["retries_logged"] >= expired["rejected"], expired
    chain = result["groups"]["chain"]["assume_role_successes"]
    assert chain["SoakInner"] <= 2 + 2 * expired["injected"], result
    assert chain["SoakOuter"] <= 2 * result["minimum_successes"] + 2 + 2 * expired["injected"]


def test_a_caller_that_waited_for_a_failed_background_refresh_serves_the_held_set(clock):
    """A caller entering the mandatory window while a background refresh is in flight waits
    for it. When that refresh fails for a recoverable reason (STS too slow), the held set is
    still valid and the failure set a back-off: the caller is served the held set, as a
    caller arriving a moment later is, instead of fetching again, which would hold it for a
    second STS deadline on top of the first (the soak's slow group, one process)."""
    from datetime import timedelta

    from awsroles.credentials import Credentials
    from awsroles.errors import TransportError
    from awsroles.refresh import background
    from awsroles.refresh.sync import RefreshableCredentials

    in_flight, release = threading.Event(), threading.Event()
    modes = []

    def fetch(mode, current):
        modes.append(mode.value)
        if current is None:
            expiry = clock.now() + timedelta(seconds=900)
            return Credentials("ASIAHELDSET000000001", "secret", "token", expiry, method="test")
        in_flight.set()
        release.wait(10)
        raise TransportError("timed out: the STS did not send its whole answer", timeout=True)

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
    from datetime import timedelta

    from awsroles.credentials import Credentials
    from awsroles.errors import TransportError
    from awsroles.refresh.sync import RefreshableCredentials

    in_flight, release = threading.Event(), threading.Event()
    modes = []

    def fetch(mode, current):
        modes.append(mode.value)
        if current is None:
            expiry = clock.now() + timedelta(seconds=900)
            return Credentials("ASIAHELDSET000000002", "secret", "token", expiry, method="test")
        in_flight.set()
        release.wait(10)
        raise TransportError("timed out: the STS did not send its whole answer", timeout=True)

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
