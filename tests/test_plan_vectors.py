"""The SDKs' shared assume-role chain vectors (assume-role-tests.json) against build_plan."""

import json
import os

import pytest
from conformance_harness import profile_chain

from awsroles.config.plan import build_plan
from awsroles.errors import ConfigError

DATA = os.path.join(
    os.path.dirname(__file__),
    "conformance",
    "smithy-rs",
    "aws-config",
    "test-data",
    "assume-role-tests.json",
)
CASES = json.load(open(DATA))

#: Vectors where awsroles deliberately follows botocore (docs/differences.md), with the reason.
#: For each, the test asserts botocore's behaviour instead.
DEVIATIONS = {
    "SSO token profile selected": (
        "a profile with only sso_session (a token configuration, no sso_account_id or "
        "sso_role_name) supplies no credentials: botocore's chain skips it, so do we",
        lambda inp: (
            build_plan(
                inp["profiles"], inp["selected_profile"], sso_sessions=inp.get("sso_sessions", {})
            )
            is None
        ),
    ),
}


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{i:02d}-{c['docs'][:50]}" for i, c in enumerate(CASES)]
)
def test_assume_role_vector(case):
    inp = case["input"]
    expected = case["output"]
    if case["docs"] in DEVIATIONS:
        _reason, botocore_behaviour = DEVIATIONS[case["docs"]]
        assert botocore_behaviour(inp)
        return
    sessions = inp.get("sso_sessions", {})
    if "ProfileChain" in expected:
        plan = build_plan(inp["profiles"], inp["selected_profile"], sso_sessions=sessions)
        assert plan is not None
        assert profile_chain(plan) == expected["ProfileChain"]
    else:
        try:
            plan = build_plan(inp["profiles"], inp["selected_profile"], sso_sessions=sessions)
        except ConfigError as exc:
            # Rust's wording differs; the error must at least name a profile or key.
            assert exc.profile is not None or exc.key is not None or "profile" in str(exc)
        else:
            # "did not contain credential information": the chain skips the profile.
            assert plan is None, profile_chain(plan)


def test_vector_counts():
    assert len(CASES) == 28
    assert len(DEVIATIONS) == 1
