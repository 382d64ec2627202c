"""aiobotocore clients on awsroles' chain (awsroles.aio.aiobotocore_session / install), and the
testing kit from async tests under pytest-asyncio and anyio's pytest plugin."""

from __future__ import annotations

import asyncio
import logging

import pytest

pytest.importorskip("aiobotocore")

import awsroles.aio  # noqa: E402
from awsroles.refresh.aio import AioCredentials  # noqa: E402

from helpers import TWO_HOP, make_env, role, write_aws_files  # noqa: E402

pytestmark = pytest.mark.e2e


@pytest.fixture
def session_env(tmp_path, sts, monkeypatch):
    """HOME with the two-hop profiles and os.environ pointing at the local STS (aiobotocore
    reads os.environ for its region and endpoints)."""
    home = tmp_path / "home"
    home.mkdir()
    write_aws_files(home, TWO_HOP)
    env = make_env(home, sts.url)
    for name in list(__import__("os").environ):
        if name.startswith(("AWS_", "BOTO")):
            monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


async def _caller(session, sts):
    async with session.create_client("sts", region_name="us-east-1") as client:
        return await client.get_caller_identity()


def test_get_caller_identity_through_an_assumed_chain(session_env, sts):
    session = awsroles.aio.aiobotocore_session("dev")
    identity = asyncio.run(_caller(session, sts))
    assert identity["Arn"].endswith(":assumed-role/Dev/dev-session")
    assert sts.count("AssumeRole") == 2
    last = sts.calls[-1]  # the client's call, signed with the set awsroles assumed
    assert last.action == "GetCallerIdentity" and last.access_key.startswith("ASIA")
    creds = asyncio.run(session.get_credentials())
    assert isinstance(creds, AioCredentials) and creds.method == "assume-role"


def test_many_concurrent_calls_share_one_refresh(session_env, sts):
    sts.delay = 0.05
    session = awsroles.aio.aiobotocore_session("dev")

    async def main():
        async with session.create_client("sts", region_name="us-east-1") as client:
            return await asyncio.gather(*(client.get_caller_identity() for _ in range(20)))

    results = asyncio.run(main())
    assert len({r["Arn"] for r in results}) == 1
    assert sts.count("AssumeRole") == 2
    assert sts.count("GetCallerIdentity") == 20


def test_expired_token_makes_the_next_call_refresh(session_env, sts, caplog):
    from botocore.exceptions import ClientError

    session = awsroles.aio.aiobotocore_session("dev")

    async def main():
        async with session.create_client("sts", region_name="us-east-1") as client:
            await client.get_caller_identity()
            old = (await (await session.get_credentials()).get_frozen_credentials()).access_key
            sts.expire(old)  # revoked
            with pytest.raises(ClientError) as err:
                await client.get_caller_identity()
            assert err.value.response["Error"]["Code"] == "ExpiredToken"
            await client.get_caller_identity()  # refreshed, signed with a new set
            new = sts.calls[-1].access_key
            return old, new

    with caplog.at_level(logging.INFO, logger="awsroles"):
        old, new = asyncio.run(main())
    assert old != new and new.startswith("ASIA")
    assert sts.count("AssumeRole") == 3  # dev again, on ops' cached set
    assert "reported ExpiredToken" in caplog.text


def test_a_client_with_its_own_keys_signs_with_those(session_env, sts):
    from helpers import BASE_KEY, BASE_SECRET

    session = awsroles.aio.aiobotocore_session("dev")

    async def main():
        async with session.create_client(
            "sts",
            region_name="us-east-1",
            aws_access_key_id=BASE_KEY,
            aws_secret_access_key=BASE_SECRET,
        ) as client:
            return await client.get_caller_identity()

    identity = asyncio.run(main())
    assert identity["Arn"].endswith(":user/base-user")
    assert sts.count("AssumeRole") == 0


def test_install_into_a_session_keeps_botocores_other_providers(session_env, sts):
    from aiobotocore.session import AioSession

    session = AioSession(profile="dev")
    front = awsroles.aio.install(session)
    resolver = session.get_component("credential_provider")
    methods = [p.METHOD for p in resolver.providers]
    assert methods[0] == "awsroles" and methods[-1] == "awsroles-metadata"
    assert "assume-role" not in methods and "env" not in methods
    assert "boto-config" in methods  # not awsroles' source: keeps its place
    awsroles.aio.install(session)  # again: still two, same shared state
    assert [p.METHOD for p in resolver.providers] == methods
    identity = asyncio.run(_caller(session, sts))
    assert identity["Arn"].endswith(":assumed-role/Dev/dev-session")
    assert front.credentials is not None


def test_a_profile_awsroles_cannot_resolve_falls_through_to_none(session_env, sts):
    # nothing in the environment or the files, no metadata: botocore's answer is None
    write_aws_files(session_env["HOME"], "[profile empty]\nregion = us-east-1\n", "")
    session = awsroles.aio.aiobotocore_session("empty")
    assert asyncio.run(session.get_credentials()) is None


# --- the testing kit from async tests ------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.awsroles_local(patch_environ=True)
async def test_the_local_fixture_under_pytest_asyncio(awsroles_local):
    creds = await awsroles.aio.resolve("dev", env=awsroles_local.env)
    frozen = await creds.get_frozen_credentials()
    assert frozen.access_key.startswith("ASIA")
    session = awsroles.aio.aiobotocore_session("dev")
    async with session.create_client("sts", region_name="us-east-1") as client:
        identity = await client.get_caller_identity()
    assert ":assumed-role/Dev/" in identity["Arn"]
    assert awsroles_local.sts.count("AssumeRole") == 1


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_the_fake_sts_fixture_under_anyio(awsroles_sts, awsroles_local):
    assert awsroles_sts is awsroles_local.sts
    creds = await awsroles.aio.resolve("dev", env=awsroles_local.env)
    await creds.get_frozen_credentials()
    assert awsroles_sts.count("AssumeRole") == 1
    assert awsroles_local.role_arn("Dev") == role("Dev")
