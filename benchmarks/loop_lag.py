"""P8: how long an asyncio event loop is held while credentials refresh on a slow STS.

A ticker task sleeps 1 ms in a loop and records how late each wake-up is; meanwhile many
tasks ask for the credentials of profile ``one`` on an empty cache, so the first refresh waits
on the fake STS (answering after ``delay`` seconds) and every other task waits for it. The
loop's largest lag is the figure: awsroles.aio against aiobotocore's own chain (the async
reference), with plain botocore called from a coroutine shown for scale (it holds the loop for
the whole round trip). Each measurement runs in a fresh process, as a service starts."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from common import ACCOUNT, BASE_KEY, BASE_SECRET, clean_env, make_home, median, run_child

from awsroles.testing.fake_sts import FakeSTS

TARGET_MS = 5.0

#: One measurement, in a fresh process (the fake STS runs in the runner, so its work does not
#: compete with the loop for the interpreter lock). argv: library, number of tasks.
LAG = """\
import asyncio, json, sys, time
lib, tasks = sys.argv[1], int(sys.argv[2])
if lib == 'awsroles':
    import awsroles.aio
elif lib == 'aiobotocore':
    import aiobotocore.session
else:
    import botocore.session

async def work():
    if lib == 'awsroles':
        creds = await awsroles.aio.resolve()
    elif lib == 'aiobotocore':
        creds = await aiobotocore.session.AioSession().get_credentials()
    else:  # sync botocore, called from the coroutine as it is
        creds = botocore.session.Session().get_credentials()
        return [creds.get_frozen_credentials().access_key for _ in range(tasks)]
    got = await asyncio.gather(*(creds.get_frozen_credentials() for _ in range(tasks)))
    return [g.access_key for g in got]

async def main():
    lags, stop = [], False
    async def tick():
        while not stop:
            started = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append(max(0.0, time.perf_counter() - started - 0.001))
    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    keys = await work()
    wall = time.perf_counter() - started
    stop = True
    await ticker
    return {'max_lag_ms': max(lags) * 1000, 'ticks': len(lags), 'wall_ms': wall * 1000,
            'distinct_keys': len(set(keys))}

print(json.dumps(asyncio.run(main())))
"""


def _one(home: str, tasks: int, lib: str, sts: FakeSTS) -> Dict[str, Any]:
    env = clean_env(home, AWS_ENDPOINT_URL_STS=sts.url, AWS_PROFILE="one")
    out: Dict[str, Any] = json.loads(run_child(LAG, env, args=(lib, str(tasks))).stdout)
    out["assume_role"] = sts.count("AssumeRole")
    return out


def p8_loop_lag(tmp: str, reps: int, tasks: int = 50, delay: float = 0.5) -> Dict[str, Any]:
    import importlib.util

    libs = ["awsroles", "aiobotocore", "botocore"]
    if importlib.util.find_spec("aiobotocore") is None:
        libs.remove("aiobotocore")
    runs: Dict[str, List[Dict[str, Any]]] = {lib: [] for lib in libs}
    for rep in range(reps):
        for lib in libs:
            with FakeSTS() as sts:
                sts.add_user(BASE_KEY, BASE_SECRET, ACCOUNT, "base-user")
                sts.delay = delay
                home = make_home(tmp, f"p8-{lib}-{rep}")
                runs[lib].append(_one(home, tasks, lib, sts))
    worst = {lib: max(runs[lib], key=lambda r: r["max_lag_ms"]) for lib in libs}
    return {"tasks": tasks, "delay": delay, "runs": runs, "worst": worst}


def row(p: Dict[str, Any]) -> Dict[str, Any]:
    a = p["worst"]["awsroles"]
    ref: Optional[Dict[str, Any]] = p["worst"].get("aiobotocore")
    sync = p["worst"]["botocore"]

    def cell(r: Dict[str, Any]) -> str:
        return (
            f"max lag {r['max_lag_ms']:.1f} ms ({r['assume_role']} AssumeRole, "
            f"{r['distinct_keys']} key{'s' if r['distinct_keys'] != 1 else ''}, "
            f"{r['wall_ms']:.0f} ms wall)"
        )

    theirs = f"aiobotocore: {cell(ref)}; " if ref is not None else "aiobotocore not installed; "
    ratio = (
        f"{a['max_lag_ms'] / ref['max_lag_ms']:.2f} (vs aiobotocore)"
        if ref is not None and ref["max_lag_ms"] > 0
        else "n/a"
    )
    return dict(
        id="P8",
        what=f"asyncio loop's largest lag while {p['tasks']} tasks wait for a cold 1-hop "
        f"refresh, STS delay {p['delay']:g} s (worst repetition)",
        awsroles=cell(a),
        botocore=theirs + f"botocore called from a coroutine: {cell(sync)}",
        ratio=ratio,
        target=f"<= {TARGET_MS:g} ms; one AssumeRole",
        met=a["max_lag_ms"] <= TARGET_MS and a["assume_role"] == 1 and a["distinct_keys"] == 1,
    )


def details(p: Dict[str, Any]) -> List[str]:
    out = [
        f"**P8** ({p['tasks']} tasks, STS delay {p['delay']:g} s): the loop's largest lag per "
        "repetition, ms:",
        "",
    ]
    for lib, runs in p["runs"].items():
        lags = [r["max_lag_ms"] for r in runs]
        out.append(
            f"- {lib}: " + ", ".join(f"{x:.1f}" for x in lags) + f" (median {median(lags):.1f})"
        )
    return out


__all__ = ["p8_loop_lag", "row", "details", "LAG"]
