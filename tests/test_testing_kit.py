"""The testing kit shipped to users: AdvancingClock, local_aws() and the pytest plugin."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone

import pytest

import awsroles
from awsroles.testing import AdvancingClock, FakeSTS, FrozenClock, LocalAWS, local_aws


def _entry_point_installed() -> bool:
    from importlib.metadata import entry_points

    eps = entry_points()
    group = eps.select(group="pytest11") if hasattr(eps, "select") else eps.get("pytest11", [])
    return any(ep.name == "awsroles" for ep in group)


if not _entry_point_installed():  # metadata without the pytest11 entry point: its fixtures, here
    from awsroles.testing import pytest_plugin as _plugin

    globals().update(
        {n: getattr(_plugin, n) for n in ("awsroles_local", "awsroles_sts", "frozen_clock")}
    )

# --- AdvancingClock --------------------------------------------------------------------------


def test_advancing_clock_follows_real_time_from_now():
    clock = AdvancingClock()
    assert abs((clock.now() - datetime.now(timezone.utc)).total_seconds()) < 1
    assert clock.now().tzinfo is not None
    m0, t0 = clock.monotonic(), clock.now()
    time.sleep(0.05)
    assert 0.04 < clock.monotonic() - m0 < 1
    assert timedelta(seconds=0.04) < clock.now() - t0 < timedelta(seconds=1)


def test_advancing_clock_start_offset_and_speed():
    start = AdvancingClock("2030-01-01T00:00:00Z")
    assert start.now() - datetime(2030, 1, 1, tzinfo=timezone.utc) < timedelta(seconds=1)
    naive = AdvancingClock(datetime(2030, 1, 1))
    assert naive.now().tzinfo is not None
    behind = AdvancingClock(offset=timedelta(minutes=-30))
    gap = datetime.now(timezone.utc) - behind.now()
    assert timedelta(minutes=29) < gap < timedelta(minutes=31)
    ahead = (AdvancingClock(offset=60).now() - datetime.now(timezone.utc)).total_seconds()
    assert 59 < ahead <= 60

    fast = AdvancingClock(speed=600)
    m0, t0, real0 = fast.monotonic(), fast.now(), time.monotonic()
    fast.sleep(60)  # a simulated minute: a tenth of a real second
    real = time.monotonic() - real0
    assert 0.09 <= real < 1.0
    assert fast.monotonic() - m0 >= 60
    assert fast.now() - t0 >= timedelta(seconds=60)
    assert fast.slept == [60]
    for bad in (0, -1, "fast", True):
        with pytest.raises(ValueError):
            AdvancingClock(speed=bad)


def test_advancing_clock_advance_moves_now_and_monotonic_together():
    clock = AdvancingClock(speed=1)
    m0, t0 = clock.monotonic(), clock.now()
    clock.advance(minutes=50)
    assert 3000 <= clock.monotonic() - m0 < 3001
    assert timedelta(minutes=50) <= clock.now() - t0 < timedelta(minutes=50, seconds=1)
    with pytest.raises(ValueError):
        clock.advance(seconds=-1)
    clock.sleep(0)
    clock.sleep(-5)
    assert "AdvancingClock(" in repr(clock)


def test_advancing_clock_drives_a_background_refresh():
    """The use it is made for: real threads, real waiting, simulated minutes."""
    clock = AdvancingClock(speed=60)
    config = """\
[profile dev]
role_arn = arn:aws:iam::123456789012:role/Dev
source_profile = base
duration_seconds = 900
"""
    with local_aws(config, clock=clock) as aws:
        creds = aws.resolve("dev")
        first = creds.get_frozen_credentials()
        assert aws.sts.count("AssumeRole") == 1
        clock.advance(minutes=11)  # 4 of 15 minutes left: inside the 5-minute advisory window
        assert creds.get_frozen_credentials().access_key == first.access_key  # served at once
        deadline = time.monotonic() + 10
        while creds.get_frozen_credentials().access_key == first.access_key:
            assert time.monotonic() < deadline, "no background refresh"
            clock.sleep(1)
        assert aws.sts.count("AssumeRole") == 2
        assert creds.get_frozen_credentials().expiry > first.expiry


# --- local_aws ------------------------------------------------------------------------------


def test_default_setup_resolves_dev_without_touching_os_environ(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOUTSIDE000000001")
    monkeypatch.setenv("AWS_PROFILE", "outside")
    before = dict(os.environ)
    with local_aws() as aws:
        assert isinstance(aws, LocalAWS)
        assert dict(os.environ) == before
        assert aws.env["HOME"] == aws.home and os.path.isdir(aws.home)
        assert aws.env["AWS_ENDPOINT_URL_STS"] == aws.sts.url
        assert aws.env["AWS_DEFAULT_REGION"] == "us-east-1"
        assert aws.env["AWS_EC2_METADATA_DISABLED"] == "true"
        assert "AWS_ACCESS_KEY_ID" not in aws.env and "AWS_PROFILE" not in aws.env
        assert aws.env.get("PATH") == os.environ.get("PATH")  # inherited, for subprocesses
        creds = aws.resolve("dev")
        frozen = creds.get_frozen_credentials()
        assert frozen.access_key.startswith("ASIA") and frozen.expiry is not None
        assert aws.sts.calls[0].params["RoleArn"] == aws.role_arn("Dev")
        assert len(aws.cache_files()) == 1
        assert awsroles.resolve("dev", env=aws.env).get_frozen_credentials() == frozen  # cached
        assert aws.sts.count("AssumeRole") == 1
        assert "AssumeRole" in aws.explain("dev")
        assert aws.secret_key not in repr(aws)
        home = aws.home
    assert not os.path.exists(home)
    assert dict(os.environ) == before


def test_given_files_and_their_keys_are_registered(tmp_path):
    config = "[profile app]\nrole_arn = arn:aws:iam::210987654321:role/App\nsource_profile = me\n"
    credentials = "[me]\naws_access_key_id = AKIAMYOWNKEY00000001\naws_secret_access_key = mine\n"
    home = tmp_path / "h"
    with local_aws(config, credentials, profile="app", account="210987654321", home=home) as aws:
        assert aws.env["AWS_PROFILE"] == "app"
        creds = aws.resolve().get_frozen_credentials()
        assert aws.sts.calls[-1].access_key == "AKIAMYOWNKEY00000001"
        assert creds.access_key.startswith("ASIA")
        with pytest.raises(awsroles.ProfileNotFoundError):
            aws.resolve("dev")  # the default config was replaced
        aws.add_profile("ops", role_arn=aws.role_arn("Ops"), source_profile="app")
        aws.resolve("ops").get_frozen_credentials()
        assert aws.sts.calls[-1].params["RoleArn"] == "arn:aws:iam::210987654321:role/Ops"
        aws.write_credentials(
            "[me]\naws_access_key_id = AKIAMYOWNKEY00000002\naws_secret_access_key = new\n"
        )
        aws.clear_cache()
        aws.resolve("app").get_frozen_credentials()
        assert aws.sts.calls[-1].access_key == "AKIAMYOWNKEY00000002"
    assert (home / ".aws" / "config").exists()  # a given home is kept


def test_a_broken_config_is_written_as_is():
    with local_aws("[profile broken\n") as aws:
        with pytest.raises(awsroles.ConfigParseError):
            aws.resolve("dev")
    with local_aws("", "") as aws:
        with pytest.raises(awsroles.ProfileNotFoundError):
            aws.resolve("dev")


def test_patch_environ_sets_and_restores(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "outside-secret")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    before = dict(os.environ)
    with pytest.raises(RuntimeError):
        with local_aws(profile="dev", patch_environ=True) as aws:
            assert os.environ["HOME"] == aws.home
            assert os.environ["AWS_PROFILE"] == "dev"
            assert "AWS_SECRET_ACCESS_KEY" not in os.environ
            # code that reads os.environ by itself: boto3, botocore, awsroles with no env=
            session = awsroles.boto3_session()
            arn = session.client("sts").get_caller_identity()["Arn"]
            assert arn.startswith("arn:aws:sts::123456789012:assumed-role/Dev/")
            assert awsroles.resolve().get_frozen_credentials().access_key.startswith("ASIA")
            raise RuntimeError("the block fails")
    assert dict(os.environ) == before


def test_env_overrides_inherit_and_region():
    with local_aws(
        env={"AWS_EC2_METADATA_DISABLED": None, "AWS_STS_REGIONAL_ENDPOINTS": "regional"},
        region=None,
        inherit_environ=False,
    ) as aws:
        assert "AWS_EC2_METADATA_DISABLED" not in aws.env
        assert "AWS_DEFAULT_REGION" not in aws.env
        assert aws.env["AWS_STS_REGIONAL_ENDPOINTS"] == "regional"
        assert "PATH" not in aws.env
        assert set(aws.env) >= {"HOME", "AWS_ENDPOINT_URL_STS"}


def test_imds_container_and_sso_endpoints():
    with local_aws(container={"token": "pod-token"}, imds=True, sso=True) as aws:
        assert aws.env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] == "pod-token"
        assert "AWS_EC2_METADATA_DISABLED" not in aws.env
        creds = aws.resolve()  # no default profile: the chain reaches the container endpoint
        assert creds.method == "container-role"
        assert creds.get_frozen_credentials().access_key == aws.container.credentials.access_key
        env = {k: v for k, v in aws.env.items() if not k.startswith("AWS_CONTAINER_")}
        creds = awsroles.resolve(env=env)  # ... and then instance metadata
        assert creds.method == "iam-role"
        assert creds.get_frozen_credentials().access_key == aws.imds.credentials.access_key

        aws.sso.add_role("111122223333", "ReadOnly")
        aws.add_profile(
            "sso", sso_session="corp", sso_account_id="111122223333", sso_role_name="ReadOnly"
        )
        with open(aws.config_path, "a") as f:
            f.write("[sso-session corp]\nsso_start_url = https://corp.example/start\n")
            f.write("sso_region = us-east-1\n")
        aws.sso_login("corp")
        assert aws.resolve("sso").get_frozen_credentials().access_key
    with local_aws() as aws:
        assert aws.imds is aws.container is aws.sso is None
        with pytest.raises(RuntimeError, match="sso=True"):
            aws.sso_login("corp")


def test_a_given_fake_sts_is_used_and_left_running():
    sts = FakeSTS(strict_roles=True)
    with sts:
        sts.add_role("arn:aws:iam::123456789012:role/Dev")
        with local_aws(sts=sts) as aws:
            assert aws.sts is sts
            aws.resolve("dev").get_frozen_credentials()
        assert sts.url  # still running
        with local_aws(sts={"strict_roles": True}) as aws:
            with pytest.raises(awsroles.AccessDeniedError):
                aws.resolve("dev").get_frozen_credentials()


def test_frozen_clock_is_shared(caplog):
    clock = FrozenClock("2030-06-01T00:00:00Z")
    caplog.set_level(logging.DEBUG)
    with local_aws(clock=clock) as aws:
        creds = aws.resolve("dev", background_refresh=False)
        assert creds.get_frozen_credentials().expiry == datetime(2030, 6, 1, 1, tzinfo=timezone.utc)
        clock.advance(minutes=59, seconds=30)  # mandatory window: refreshed in the call
        assert creds.get_frozen_credentials().expiry > datetime(2030, 6, 1, 1, tzinfo=timezone.utc)
        assert aws.sts.count("AssumeRole") == 2
        secret = aws.secret_key
    assert all(secret not in r.getMessage() for r in caplog.records)


def test_cli_runs_in_the_environment():
    with local_aws() as aws:
        done = aws.cli("export", "--profile", "dev", "--format", "json")
        assert done.returncode == 0, done.stderr
        assert '"AccessKeyId": "ASIA' in done.stdout
        assert aws.sts.count("AssumeRole") == 1
        assert aws.run([sys.executable, "-c", "import os; print(os.environ['HOME'])"]).stdout == (
            aws.home + "\n"
        )


# --- the pytest plugin ----------------------------------------------------------------------


def test_fixtures(awsroles_local, awsroles_sts, tmp_path):
    assert awsroles_local.sts is awsroles_sts
    assert awsroles_local.home.startswith(str(tmp_path))
    awsroles_local.resolve("dev").get_frozen_credentials()
    assert awsroles_sts.count("AssumeRole") == 1


def test_fixtures_share_the_frozen_clock(frozen_clock, awsroles_local):
    assert awsroles_local.clock is frozen_clock and awsroles_local.sts.clock is frozen_clock
    expiry = awsroles_local.resolve("dev").get_frozen_credentials().expiry
    assert expiry == datetime(2030, 1, 1, 1, tzinfo=timezone.utc)


@pytest.mark.awsroles_local(profile="dev", patch_environ=True, sts={"strict_roles": True})
def test_marker_arguments(awsroles_local):
    assert os.environ["AWS_PROFILE"] == "dev" and awsroles_local.sts.strict_roles


def test_plugin_is_registered_by_its_entry_point(request):
    import awsroles.testing.pytest_plugin as plugin

    if not _entry_point_installed():
        pytest.skip("awsroles is installed without its pytest11 entry point: pip install -e .")
    assert request.config.pluginmanager.get_plugin("awsroles") is plugin
    with open(os.path.join(os.path.dirname(os.path.dirname(__file__)), "pyproject.toml")) as f:
        assert '[project.entry-points.pytest11]\nawsroles = "awsroles.testing.pytest_plugin"' in (
            f.read()
        )


USER_SUITE = """
import os

import pytest

import awsroles


def test_local(awsroles_local, awsroles_sts):
    creds = awsroles_local.resolve("dev").get_frozen_credentials()
    assert awsroles_sts.count("AssumeRole") == 1 and creds.token


def test_frozen(frozen_clock, awsroles_local):
    frozen_clock.advance(hours=1)
    assert awsroles_local.resolve("dev").get_frozen_credentials().expiry.hour == 2


APP = "[profile app]\\nrole_arn = arn:aws:iam::123456789012:role/App\\nsource_profile = base\\n"


@pytest.mark.awsroles_local(
    config=APP,
    profile="app",
    patch_environ=True,
)
def test_marker(awsroles_local):
    assert awsroles.resolve().get_frozen_credentials().access_key.startswith("ASIA")
    assert awsroles_local.sts.calls[0].params["RoleArn"].endswith(":role/App")


def test_restored():
    assert os.environ.get("AWS_PROFILE") is None
"""


def test_plugin_in_a_users_suite(tmp_path):
    """A user's suite, run as they would run it: the fixtures come from the plugin alone."""
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--strict-markers"]
    if not _entry_point_installed():
        args += ["-p", "awsroles.testing.pytest_plugin"]
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_SUITE))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout
