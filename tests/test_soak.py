"""The soak test (scripts/soak.py): 64 processes, ~45 s of refreshes through the shared cache
while STS fails, throttles and answers a byte at a time, the shared cache entry is overwritten
with garbage and an inner role's credentials are revoked. Set AWSROLES_SOAK=short for a quick
local run (16 processes, 10 s)."""

import os
import sys
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
