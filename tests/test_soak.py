"""The soak test (scripts/soak.py): 64 processes, ~45 s of refreshes through the shared cache
while STS injects faults. Set AWSROLES_SOAK=short for a quick local run."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "scripts"))

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_soak():
    import soak

    short = os.environ.get("AWSROLES_SOAK") == "short"
    result = soak.run(processes=16 if short else 64, seconds=10 if short else 45)
    assert result["crashed_workers"] == 0, result["worker_errors"]
    assert result["other_errors"] == 0, result["error_kinds"]
    assert result["corrupt_cache_files"] == 0
    assert result["temp_files_left"] == 0
    assert result["credential_reads"] > 1000
    # close to the minimum the lifetimes require: at most one extra refresh per window
    assert result["assume_role_successes"] <= 2 * result["minimum_successes"] + 2, result
    # every error a caller saw was a typed one, and rare
    assert result["typed_errors"] <= result["credential_reads"] // 100
