"""In-process measurements: P4 (get_frozen_credentials throughput, in a clean child process),
P5 (IMDS requests per refresh) and P6 (callers during an advisory-window refresh)."""

from __future__ import annotations

import json
import threading
import time
from array import array
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any, Callable, Dict, List
from urllib.parse import parse_qsl

from common import (
    ACCOUNT,
    BASE_KEY,
    BASE_SECRET,
    REGION,
    clean_env,
    make_home,
    median,
    percentile,
    run_child,
)

from awsroles.testing.fake_sts import FakeSTS

# --- P4 ---------------------------------------------------------------------------------------

THROUGHPUT = """\
import json, sys, time
from datetime import datetime, timedelta, timezone
calls, reps = int(sys.argv[1]), int(sys.argv[2])
from awsroles.credentials import Credentials
from awsroles.refresh.sync import RefreshableCredentials as Ours
from botocore.credentials import RefreshableCredentials as Theirs

expiry = datetime.now(timezone.utc) + timedelta(hours=1)   # fresh: outside every window

def no_refresh(*args):
    raise AssertionError('fresh credentials must not refresh')

ours = Ours(no_refresh, method='assume-role',
            initial=Credentials('ASIABENCH00000000001', 'secret', 'token', expiry))
theirs = Theirs.create_from_metadata(
    {'access_key': 'ASIABENCH00000000001', 'secret_key': 'secret', 'token': 'token',
     'expiry_time': expiry.isoformat()}, refresh_using=no_refresh, method='assume-role')

def rate(get, n):
    started = time.perf_counter()
    for _ in range(n):
        get()
    return n / (time.perf_counter() - started)

rate(ours.get_frozen_credentials, calls // 10)      # warm up both
rate(theirs.get_frozen_credentials, calls // 10)
out = {'awsroles': [], 'botocore': []}
for _ in range(reps):
    out['awsroles'].append(rate(ours.get_frozen_credentials, calls))
    out['botocore'].append(rate(theirs.get_frozen_credentials, calls))
print(json.dumps(out))
"""


def p4_throughput(tmp: str, calls: int, reps: int) -> Dict[str, Any]:
    env = clean_env(make_home(tmp, "throughput"))
    rates = json.loads(run_child(THROUGHPUT, env, args=(str(calls), str(reps))).stdout)
    return {
        "calls": calls,
        "rates": rates,
        "median": {k: median(v) for k, v in rates.items()},
    }


# --- P5 ---------------------------------------------------------------------------------------


def p5_imds(tmp: str, refreshes: int) -> Dict[str, Any]:
    """Requests FakeIMDS sees for the first retrieval and for each later refresh."""
    from awsroles.testing.fake_imds import FakeIMDS

    out: Dict[str, Any] = {"refreshes": refreshes}
    with FakeIMDS(role="bench-instance-role") as imds:
        # awsroles: the default chain (no profile, no env keys) ends at IMDS.
        home = make_home(tmp, "imds-awsroles")
        env = clean_env(home, AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url)
        del env["AWS_EC2_METADATA_DISABLED"]
        env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = f"{home}/none"
        import awsroles

        imds.reset()
        creds = awsroles.resolve(env=env, background_refresh=False)
        creds.get_frozen_credentials()
        first = imds.count()
        imds.reset()
        for _ in range(refreshes):
            creds.refresh(force=True)
        out["awsroles"] = _imds_counts(imds, first, refreshes)

        # botocore: its iam-role provider, built as create_credential_resolver builds it.
        from botocore.credentials import InstanceMetadataProvider
        from botocore.utils import InstanceMetadataFetcher

        imds.reset()
        fetcher = InstanceMetadataFetcher(
            timeout=1, num_attempts=1, env={}, config={"ec2_metadata_service_endpoint": imds.url}
        )
        theirs = InstanceMetadataProvider(iam_role_fetcher=fetcher).load()
        theirs.get_frozen_credentials()
        first = imds.count()
        imds.reset()
        for _ in range(refreshes):
            theirs._protected_refresh(is_mandatory=True)  # what a mandatory refresh runs
        out["botocore"] = _imds_counts(imds, first, refreshes)
    return out


def _imds_counts(imds: Any, first: int, refreshes: int) -> Dict[str, Any]:
    return {
        "first": first,
        "per_refresh": imds.count() / refreshes,
        "token_puts_per_refresh": imds.count("PUT") / refreshes,
        "failed": imds.count() - imds.count(status=200),
    }


# --- P6 ---------------------------------------------------------------------------------------


class CountingSTS(FakeSTS):
    """FakeSTS that also records how many AssumeRole requests are being answered at once."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.in_flight = self.max_in_flight = 0
        self._flight = threading.Lock()

    def handle(self, method, path, headers, raw, length=None):  # type: ignore[no-untyped-def]
        assume = dict(parse_qsl(raw.decode("utf-8", "replace"))).get("Action") == "AssumeRole"
        if assume:
            with self._flight:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return super().handle(method, path, headers, raw, length)
        finally:
            if assume:
                with self._flight:
                    self.in_flight -= 1

    def reset_flight(self) -> None:
        with self._flight:
            self.max_in_flight = self.in_flight


def _stats(lat: List[float]) -> Dict[str, Any]:
    lat = sorted(x * 1000.0 for x in lat)
    return {
        "calls": len(lat),
        "p50_ms": percentile(lat, 0.50),
        "p99_ms": percentile(lat, 0.99),
        "p999_ms": percentile(lat, 0.999),
        "max_ms": lat[-1] if lat else float("nan"),
    }


def _callers(get: Callable[[], Any], old_key: str, threads: int, seconds: float) -> Dict[str, Any]:
    """``threads`` threads call ``get`` in a loop for ``seconds``; the latency of every call,
    split at the moment the refresh completed (the first call that returned new credentials
    ended): calls started before it ran while the refresh was in flight."""
    barrier = threading.Barrier(threads + 1)
    starts = [array("d") for _ in range(threads)]
    lats = [array("d") for _ in range(threads)]
    first_new = [float("inf")] * threads
    errors: List[BaseException] = []

    def run(i: int) -> None:
        clock = time.perf_counter
        start_list, lat_list = starts[i], lats[i]
        barrier.wait()
        deadline = clock() + seconds
        try:
            while True:
                started = clock()
                creds = get()
                ended = clock()
                start_list.append(started)
                lat_list.append(ended - started)
                if creds.access_key != old_key and ended < first_new[i]:
                    first_new[i] = ended
                if ended > deadline:
                    return
        except BaseException as exc:  # reported, not swallowed
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    for w in workers:
        w.join()
    if errors:
        raise RuntimeError(f"P6: a caller failed: {errors[0]!r}")
    done = min(first_new)
    during = [lat for i in range(threads) for s, lat in zip(starts[i], lats[i]) if s < done]
    rest = [lat for i in range(threads) for s, lat in zip(starts[i], lats[i]) if s >= done]
    out = _stats(during)
    out["after"] = _stats(rest)
    out["all_calls"] = len(during) + len(rest)
    out["refresh_seen_after_ms"] = (done - min(s[0] for s in starts if s)) * 1000.0
    return out


class ShiftedClock:
    """The real clock moved forward by ``shift``: lock-free like the system clock (a
    ``FrozenClock`` takes a lock on every read, which would slow the callers measured)."""

    def __init__(self) -> None:
        self.shift = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.shift

    def monotonic(self) -> float:
        return time.monotonic() + self.shift.total_seconds()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


def p6_advisory(tmp: str, threads: int, seconds: float, delay: float = 0.5) -> Dict[str, Any]:
    from awsroles import resolve
    from awsroles.refresh import background

    out: Dict[str, Any] = {"threads": threads, "seconds": seconds, "delay": delay}

    # awsroles: resolve the 1-hop profile on a clock shared with the fake STS, then move it
    # 50 minutes on: 10 of 60 minutes left is inside the 15-minute advisory window and
    # outside the 1-minute mandatory one.
    clock = ShiftedClock()
    with CountingSTS(clock=clock) as sts:
        sts.add_user(BASE_KEY, BASE_SECRET, ACCOUNT, "base-user")
        env = clean_env(make_home(tmp, "advisory-awsroles"), AWS_ENDPOINT_URL_STS=sts.url)
        creds = resolve(profile="one", env=env, clock=clock)
        old = creds.get_frozen_credentials().access_key
        clock.shift = timedelta(minutes=50)
        state = creds.state()
        sts.delay = delay
        sts.reset()
        sts.reset_flight()
        run = _callers(creds.get_frozen_credentials, old, threads, seconds)
        background.wait_idle(10 + delay)
        run.update(
            state_before=state,
            assume_role=sts.count("AssumeRole"),
            max_in_flight=sts.max_in_flight,
            refreshed=creds.get_frozen_credentials().access_key != old,
            state_after=creds.state(),
        )
        out["awsroles"] = run

    # botocore (reference): its RefreshableCredentials around its AssumeRoleCredentialFetcher,
    # 12 minutes left: inside its 15-minute advisory window, outside its 10-minute mandatory
    # one. botocore has no injectable clock, so this runs on the real one.
    import botocore.session
    from botocore.credentials import (
        AssumeRoleCredentialFetcher,
        Credentials,
        RefreshableCredentials,
    )

    with CountingSTS() as sts:
        sts.add_user(BASE_KEY, BASE_SECRET, ACCOUNT, "base-user")
        session = botocore.session.Session()
        create = partial(session.create_client, region_name=REGION, endpoint_url=sts.url)
        create("sts", aws_access_key_id=BASE_KEY, aws_secret_access_key=BASE_SECRET)  # warm
        fetcher = AssumeRoleCredentialFetcher(
            client_creator=create,
            source_credentials=Credentials(BASE_KEY, BASE_SECRET),
            role_arn=f"arn:aws:iam::{ACCOUNT}:role/One",
            extra_args={"RoleSessionName": "bench-one"},
        )
        expiry = datetime.now(timezone.utc) + timedelta(minutes=12)
        theirs = RefreshableCredentials.create_from_metadata(
            {
                "access_key": "ASIABENCHBOTOCORE001",
                "secret_key": "secret",
                "token": "token",
                "expiry_time": expiry.isoformat(),
            },
            refresh_using=fetcher.fetch_credentials,
            method="assume-role",
        )
        sts.delay = delay
        run = _callers(theirs.get_frozen_credentials, "ASIABENCHBOTOCORE001", threads, seconds)
        run.update(
            assume_role=sts.count("AssumeRole"),
            max_in_flight=sts.max_in_flight,
            refreshed=theirs.get_frozen_credentials().access_key != "ASIABENCHBOTOCORE001",
        )
        out["botocore"] = run
    return out
