"""awsroles.aio: the sync chain, cache, locks and refresh rules, awaited without blocking the
event loop; aiobotocore clients on awsroles' chain."""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
import threading
import time

import pytest

import awsroles
import awsroles.aio
from awsroles.errors import AccessDeniedError, AwsRolesError
from awsroles.refresh import background
from awsroles.refresh.aio import AioCredentials

from helpers import (
    BASE_KEY,
    BASE_SECRET,
    TWO_HOP,
    cache_files,
    make_env,
    role,
    write_aws_files,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    write_aws_files(h, TWO_HOP)
    return h


class LoopLag:
    """The loop's largest lag: how late a 1 ms sleep wakes up, while the test runs."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._stop = False
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while not self._stop:
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            self.worst = max(self.worst, time.perf_counter() - t - 0.001)

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop = True
        assert self._task is not None
        await self._task


def _run(coro):
    return asyncio.run(coro)


# --- resolve --------------------------------------------------------------------------------


def test_long_lived_keys_come_back_at_once(tmp_path):
    env = {"AWS_ACCESS_KEY_ID": BASE_KEY, "AWS_SECRET_ACCESS_KEY": BASE_SECRET, "HOME": "/x"}

    async def main():
        creds = await awsroles.aio.resolve(env=env)
        frozen = await creds.get_frozen_credentials()
        return creds, frozen

    creds, frozen = _run(main())
    assert isinstance(creds, AioCredentials) and creds.method == "env"
    assert frozen.access_key == BASE_KEY and frozen.secret_key == BASE_SECRET
    assert creds.refresh_needed() is False and creds.expiry is None
    assert BASE_SECRET not in repr(creds)


def test_a_hundred_tasks_on_a_cold_two_hop_chain_make_two_calls(home, sts):
    sts.delay = 0.2  # every task arrives while the first refresh waits on STS

    async def main():
        creds = await awsroles.aio.resolve("dev", env=make_env(home, sts.url))
        assert sts.count() == 0  # a role chain is fetched on first use
        async with LoopLag() as lag:
            frozen = await asyncio.gather(*(creds.get_frozen_credentials() for _ in range(100)))
        return frozen, lag.worst

    frozen, worst = _run(main())
    assert sts.count("AssumeRole") == 2
    assert len({f.access_key for f in frozen}) == 1
    assert len(cache_files(home)) == 2
    # 0.4 s of STS round trips never held the loop (the benchmark measures the lag itself)
    assert worst < 0.2


def test_the_same_cache_entries_as_the_sync_side(home, sts):
    env = make_env(home, sts.url)
    sync_key = awsroles.resolve("dev", env=env).get_frozen_credentials().access_key

    async def main():
        creds = await awsroles.aio.resolve("dev", env=env)
        return (await creds.get_frozen_credentials()).access_key

    assert _run(main()) == sync_key
    assert sts.count("AssumeRole") == 2  # the async side read the sync side's entries


def test_the_parameters_are_resolves(home):
    ours = inspect.signature(awsroles.aio.resolve).parameters
    assert list(ours) == list(inspect.signature(awsroles.resolve).parameters)
    with pytest.raises(TypeError, match="promter"):
        _run(awsroles.aio.resolve("dev", promter=None))  # type: ignore[call-arg]
    assert list(inspect.signature(awsroles.aio.install).parameters) == list(
        inspect.signature(awsroles.install).parameters
    )


def test_errors_reach_every_waiting_task_from_one_call(home, sts):
    sts.deny_role(role("Dev"))
    sts.delay = 0.1

    async def main():
        creds = await awsroles.aio.resolve("dev", env=make_env(home, sts.url))
        return await asyncio.gather(
            *(creds.get_frozen_credentials() for _ in range(20)), return_exceptions=True
        )

    results = _run(main())
    assert all(isinstance(r, AccessDeniedError) for r in results)
    assert sts.count("AssumeRole", status=403) == 1  # one refresh; its error is remembered


# --- cancellation and timeouts --------------------------------------------------------------


def test_a_cancelled_waiter_does_not_cancel_the_refresh(home, sts):
    sts.delay = 0.3

    async def main():
        creds = await awsroles.aio.resolve("dev", env=make_env(home, sts.url))
        first = asyncio.create_task(creds.get_frozen_credentials())
        second = asyncio.create_task(creds.get_frozen_credentials())
        await asyncio.sleep(0.1)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        return await second, creds

    frozen, creds = _run(main())
    assert sts.count("AssumeRole") == 2
    again = _run(creds.get_frozen_credentials())  # another loop: the held set, no call
    assert again.access_key == frozen.access_key and sts.count("AssumeRole") == 2


def test_wait_for_gives_up_and_the_refresh_finishes(home, sts):
    sts.delay = 0.3

    async def main():
        creds = await awsroles.aio.resolve("dev", env=make_env(home, sts.url))
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(creds.get_frozen_credentials(), 0.05)
        return await creds.get_frozen_credentials()

    frozen = _run(main())
    assert frozen.access_key.startswith("ASIA") and sts.count("AssumeRole") == 2


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout and TaskGroup: 3.11+")
def test_task_group_and_asyncio_timeout(home, sts):
    sts.delay = 0.3

    async def main():
        creds = await awsroles.aio.resolve("dev", env=make_env(home, sts.url))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await creds.get_frozen_credentials()
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(creds.get_frozen_credentials()) for _ in range(10)]
        return {t.result().access_key for t in tasks}

    assert len(_run(main())) == 1
    assert sts.count("AssumeRole") == 2


# --- refresh over time ----------------------------------------------------------------------


def test_a_long_running_loop_across_two_lifetimes(home, fake_sts, clock):
    sts = fake_sts
    # A one-hour role: stale from 15 minutes before expiry (served at once, one background
    # refresh), invalid from 60 s before (the task awaits the refresh).
    env = make_env(home, sts.url)

    async def main():
        creds = await awsroles.aio.resolve("dev", env=env, clock=clock)
        keys = [(await creds.get_frozen_credentials()).access_key]
        clock.advance(minutes=50)  # stale
        async with LoopLag():
            served = await creds.get_frozen_credentials()
        assert served.access_key == keys[0]  # at once, the held set
        await asyncio.get_running_loop().run_in_executor(None, background.wait_idle)
        keys.append((await creds.get_frozen_credentials()).access_key)
        clock.advance(minutes=59, seconds=30)  # past the mandatory window of the second
        keys.append((await creds.get_frozen_credentials()).access_key)
        return keys

    keys = _run(main())
    assert len(set(keys)) == 3
    dev = [c for c in sts.calls if c.params.get("RoleArn") == role("Dev")]
    assert len(dev) == 3  # one fetch per lifetime (ops is refreshed as its own rules say)


def test_background_refresh_off_awaits_the_advisory_refresh_off_the_loop(home, fake_sts, clock):
    sts = fake_sts
    env = make_env(home, sts.url)

    async def main():
        creds = await awsroles.aio.resolve("dev", env=env, clock=clock, background_refresh=False)
        first = (await creds.get_frozen_credentials()).access_key
        clock.advance(minutes=50)
        second = (await creds.get_frozen_credentials()).access_key
        return first, second

    first, second = _run(main())
    assert first != second and sts.count("AssumeRole") == 4


def test_invalidate_drops_the_set_and_the_next_use_refreshes(home, sts):
    async def main():
        creds = await awsroles.aio.resolve("dev", env=make_env(home, sts.url))
        old = (await creds.get_frozen_credentials()).access_key
        assert await creds.invalidate("ASIA-NOT-HELD") is False
        assert await creds.invalidate(old) is True
        return old, (await creds.get_frozen_credentials()).access_key

    old, new = _run(main())
    assert old != new and sts.count("AssumeRole") == 3  # dev again, on ops' cached set


def test_a_custom_source_is_read_off_the_loop():
    calls = []

    class Slow:
        def get_frozen_credentials(self):
            calls.append(threading.current_thread().name)
            time.sleep(0.2)
            return awsroles.Credentials(BASE_KEY, BASE_SECRET)

    async def main():
        creds = AioCredentials(Slow())
        async with LoopLag() as lag:
            got = await asyncio.gather(*(creds.get_frozen_credentials() for _ in range(5)))
        return got, lag.worst

    got, worst = _run(main())
    assert {g.access_key for g in got} == {BASE_KEY}
    assert calls and all(name.startswith("awsroles") for name in calls)
    assert len(calls) == 1 and worst < 0.15


# --- processes ------------------------------------------------------------------------------

HERD = r"""
import asyncio, os, sys, time
gate, kind = sys.argv[1], sys.argv[2]
while not os.path.exists(gate):
    time.sleep(0.002)
import awsroles, awsroles.aio

async def main():
    creds = await awsroles.aio.resolve()
    return (await creds.get_frozen_credentials()).access_key

if kind == "async":
    print(asyncio.run(main()))
else:
    print(awsroles.resolve().get_frozen_credentials().access_key)
"""


@pytest.mark.e2e
def test_sync_and_async_processes_on_a_cold_cache_make_one_call_per_hop(home, sts, tmp_path):
    sts.delay = 0.1
    env = dict(make_env(home, sts.url), AWS_PROFILE="dev", PYTHONPATH=ROOT)
    env["PATH"] = os.environ.get("PATH", "")
    gate = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", HERD, str(gate), kind],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for kind in ["sync", "async"] * 4
    ]
    time.sleep(1.0)
    gate.write_text("go")
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    assert len({out.strip() for out, _ in outs}) == 1
    assert sts.count("AssumeRole") == 2


def test_importing_aio_without_aiobotocore_works_and_the_session_says_what_to_install():
    script = (
        "import sys; sys.modules['aiobotocore'] = None\n"
        "import awsroles.aio\n"
        "try:\n"
        "    awsroles.aio.aiobotocore_session('dev')\n"
        "except awsroles.AwsRolesError as e:\n"
        "    print(type(e).__name__, '|', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": ROOT},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "aiobotocore is not installed" in out.stdout and "awsroles[aio]" in out.stdout


def test_install_takes_only_an_aiobotocore_session():
    pytest.importorskip("aiobotocore")
    import botocore.session

    with pytest.raises(TypeError, match="AioSession"):
        awsroles.aio.install(botocore.session.Session())
    assert issubclass(AwsRolesError, Exception)
