"""No secret in any log record, repr, str, explain output or exception message."""

import logging

import pytest

import awsroles
from awsroles.errors import AwsRolesError

from helpers import BASE_SECRET, make_env, role, write_aws_files

MFA_CODE = "987123"
SERIAL = "arn:aws:iam::123456789012:mfa/alice"


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


def _texts_of(obj):
    return [repr(obj), str(obj)]


def test_debug_logs_reprs_and_errors_carry_no_secret(home, fake_sts, clock, caplog):
    fake_sts.add_role(role("M"), mfa_serial=SERIAL, mfa_code=MFA_CODE, external_id="ext-1234")
    write_aws_files(
        home,
        f"[profile m]\nrole_arn = {role('M')}\nsource_profile = base\nmfa_serial = {SERIAL}\n"
        f"external_id = ext-1234\n\n[profile bad]\nrole_arn = {role('M')}\n"
        f"source_profile = base\nmfa_serial = {SERIAL}\n",
    )
    env = make_env(home, fake_sts.url)
    seen = []
    with caplog.at_level(logging.DEBUG):
        creds = awsroles.resolve("m", env=env, clock=clock, prompter=lambda s: MFA_CODE)
        frozen = creds.get_frozen_credentials()
        seen += _texts_of(creds) + _texts_of(frozen)
        seen.append(awsroles.explain("m", env=env, clock=clock))
        # failures: wrong MFA code, STS outage
        bad = awsroles.resolve("bad", env=env, clock=clock, prompter=lambda s: "111111")
        with pytest.raises(AwsRolesError) as err:
            bad.get_frozen_credentials()
        seen += _texts_of(err.value)
        fake_sts.fail_next(10, status=500, code="InternalFailure")
        clock.advance(minutes=59, seconds=30)
        creds.get_frozen_credentials()
    seen += [r.getMessage() for r in caplog.records]
    seen += [str(r.exc_info[1]) for r in caplog.records if r.exc_info]
    blob = "\n".join(seen)
    secrets = [BASE_SECRET, frozen.secret_key, frozen.token, MFA_CODE, "111111"]
    for secret in secrets:
        assert secret not in blob, f"secret leaked: {secret[:4]}..."
    assert caplog.records, "DEBUG logging produced nothing to scan"
