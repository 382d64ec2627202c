"""awsroles and botocore, side by side: the performance targets P1-P7.

    python benchmarks/run.py                 # full run, writes docs/performance.md
    python benchmarks/run.py --quick --out /tmp/perf.md   # a few seconds' smoke run
    python benchmarks/run.py --only P1,P7    # some targets only

Both libraries run in the same run against the same local endpoints (FakeSTS, FakeIMDS on
127.0.0.1, started here). Prints medians and the ratio awsroles / botocore for each target
and writes a Markdown report with the machine, the command and every figure. Exit status:
0 when every measurement ran (whether or not targets are met; see ``--strict``), 1 when one
failed, 2 with ``--strict`` when a target is not met.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from datetime import datetime, timezone
from typing import Any, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))

import common  # noqa: E402
import inproc  # noqa: E402
import loop_lag  # noqa: E402
import procs  # noqa: E402
import report  # noqa: E402

TARGETS = ("P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8")

FULL = dict(p1=20, p2=10, p3=3, p4_calls=200_000, p4=5, p5=20, p6=3, p6_threads=8, p7=5, p8=5)
QUICK = dict(p1=3, p2=2, p3=1, p4_calls=20_000, p4=2, p5=3, p6=1, p6_threads=4, p7=1, p8=1)


def parse_args(argv: List[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few repetitions (seconds, not minutes)")
    ap.add_argument(
        "--out",
        default=os.path.join(common.ROOT, "docs", "performance.md"),
        help="where to write the Markdown report (default: docs/performance.md)",
    )
    ap.add_argument("--only", default="", help="comma-separated targets, e.g. P1,P4")
    ap.add_argument("--strict", action="store_true", help="exit 2 when a target is not met")
    return ap.parse_args(argv)


_START = time.monotonic()


def say(text: str) -> None:
    """A progress line, stamped with the seconds since the run started."""
    print(f"[{time.monotonic() - _START:6.1f} s] {text}", flush=True)


def measure(only: List[str], n: Dict[str, int], tmp: str) -> Dict[str, Any]:
    from awsroles.testing.fake_sts import FakeSTS

    res: Dict[str, Any] = {}
    with FakeSTS() as sts:
        sts.add_user(common.BASE_KEY, common.BASE_SECRET, common.ACCOUNT, "base-user")
        homes = procs.Homes(tmp, sts.url)
        if "P1" in only or "P7" in only:
            say(f"P1: warm start, {n['p1']} repetitions ...")
            res["P1"] = procs.p1_warm_start(homes, sts, n["p1"])
            res["imports"] = procs.import_profile(homes)
            res["runtime"] = procs.runtime_profile(homes)
        if "P2" in only:
            say(f"P2: cold start, {n['p2']} repetitions ...")
            res["P2"] = procs.p2_cold_start(homes, sts, n["p2"])
            res["cold_imports"] = procs.import_profile(homes, cold=True)
        if "P3" in only:
            say(f"P3: 16 processes at once, {n['p3']} repetitions ...")
            res["P3"] = procs.p3_stampede(homes, sts, n["p3"])
        if "P7" in only:
            say(f"P7: peak RSS, {n['p7']} repetitions ...")
            res["P7"] = procs.p7_peak_rss(homes, n["p7"])
    if "P4" in only:
        say(f"P4: get_frozen_credentials throughput, {n['p4']} x {n['p4_calls']} calls ...")
        res["P4"] = inproc.p4_throughput(tmp, n["p4_calls"], n["p4"])
    if "P5" in only:
        say(f"P5: IMDS requests per refresh, {n['p5']} refreshes ...")
        res["P5"] = inproc.p5_imds(tmp, n["p5"])
    if "P6" in only:
        say(f"P6: advisory refresh under load, {n['p6']} repetitions ...")
        runs: Dict[str, List[Dict[str, Any]]] = {"awsroles": [], "botocore": []}
        for rep in range(n["p6"]):
            one = inproc.p6_advisory(os.path.join(tmp, f"p6-{rep}"), n["p6_threads"], 1.0)
            for lib in runs:
                runs[lib].append(one[lib])
        worst = {lib: max(runs[lib], key=_badness) for lib in runs}
        res["P6"] = {k: v for k, v in one.items() if k not in runs}
        res["P6"].update(runs=runs, **worst)
    if "P8" in only:
        say(f"P8: asyncio loop lag during a refresh, {n['p8']} repetitions ...")
        res["P8"] = loop_lag.p8_loop_lag(tmp, n["p8"])
    return res


def _badness(run: Dict[str, Any]) -> Any:
    return (run["assume_role"] != 1 or run["max_in_flight"] != 1, run["p99_ms"])


def script_listing() -> List[str]:
    parts = [
        ("P1, P7 awsroles (profile dev; P7 appends the ru_maxrss print)", procs.AWSROLES),
        ("P1, P7 botocore (as the AWS CLI: JSONFileCache injected)", procs.BOTOCORE),
        ("P1, P7 bare", procs.BARE),
        (
            "P7 suffix (the child is started as `/bin/sh -c '\"$@\"; exit $?' sh python -c "
            "...`: ru_maxrss carries the parent's peak across fork and exec on Linux, so the "
            "parent must be small)",
            procs.RSS,
        ),
        ("P2: the P1 scripts with profile one, cache directory removed before each run", ""),
        ("P3 awsroles (16 at once; argv: ready file, gate file)", procs.GATED_AWSROLES),
        ("P3 botocore", procs.GATED_BOTOCORE),
        ("P4 (one child process; argv: calls, repetitions)", inproc.THROUGHPUT),
        ("P8 (one child process per measurement; argv: library, tasks)", loop_lag.LAG),
    ]
    #: blocks the docs test (tests/test_docs.py) cannot run on their own, and why
    no_run = {
        procs.GATED_AWSROLES: "reads its pipes from the benchmark runner's argv",
        procs.GATED_BOTOCORE: "reads its pipes from the benchmark runner's argv",
        inproc.THROUGHPUT: "reads its call and repetition counts from the benchmark runner's argv",
        loop_lag.LAG: "reads its library and task count from the benchmark runner's argv",
    }
    out: List[str] = [
        "Each is run as `python -c '<script>'` in a fresh process with the clean "
        "environment above; times are wall-clock from the runner, start to exit.",
        "",
    ]
    for title, code in parts:
        out.append(f"**{title}**")
        out.append("")
        if code:
            if code in no_run:
                out.append(f"<!-- no-run: {no_run[code]} -->")
            if "{profile" in code:
                code = code.format(profile="dev")
            out += ["```python", code.strip(), "```", ""]
    out += [
        "**P5** runs in the runner: `awsroles.resolve(env=..., background_refresh=False)` "
        "(the default chain ends at IMDS) and `creds.refresh(force=True)`; botocore's "
        "`InstanceMetadataProvider(iam_role_fetcher=InstanceMetadataFetcher(...)).load()` and "
        "`creds._protected_refresh(is_mandatory=True)` (what its mandatory refresh runs); "
        "requests counted from `FakeIMDS.requests`.",
        "",
        "**P6** runs in the runner: awsroles resolves profile `one` on a clock shared with "
        "the fake STS (the real clock plus a shift, lock-free like the system clock; a "
        "`FrozenClock` locks on every read), the clock moves 50 minutes on (10 of 60 minutes "
        "left: advisory window), the fake's delay becomes 0.5 s, and the threads call "
        "`get_frozen_credentials()` for 1 s; latency of every call by `time.perf_counter`. "
        "botocore (reference): `RefreshableCredentials.create_from_metadata` around its "
        "`AssumeRoleCredentialFetcher`, 12 minutes left (its advisory window is 15 minutes, "
        "its mandatory one 10). AssumeRole requests answered at once are counted in the fake.",
    ]
    out += [
        "",
        "**P8** runs the script above in a fresh process per measurement (the fake STS, in "
        "the runner, answers after 0.5 s): a ticker task sleeps 1 ms in a loop and records "
        "how late each wake-up is, while 50 tasks ask for profile `one` on an empty cache. "
        "Each library is imported before the loop starts, as a service imports at start-up.",
    ]
    return out


def main(argv: List[str]) -> int:
    args = parse_args(argv)
    only = [t.strip().upper() for t in args.only.split(",") if t.strip()] or list(TARGETS)
    unknown = sorted(set(only) - set(TARGETS))
    if unknown:
        print(f"unknown targets: {', '.join(unknown)}", file=sys.stderr)
        return 1
    n = QUICK if args.quick else FULL
    common.scrub_own_environment()
    common.guard_loopback()
    started = time.monotonic()
    meta: Dict[str, Any] = {"machine": common.machine(), "load_before": common.load()}
    say(", ".join(f"{k}: {v}" for k, v in meta["machine"].items()))
    with tempfile.TemporaryDirectory(prefix="awsroles-bench-") as tmp:
        # botocore objects made in this process must not read the caller's ~/.aws either
        os.environ["AWS_CONFIG_FILE"] = os.path.join(tmp, "no-config")
        os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(tmp, "no-credentials")
        say("installing awsroles (a wheel of this checkout) for the child processes ...")
        common.install_child_python(tmp)
        meta["child_install"] = common.CHILD_INSTALL
        try:
            res = measure(only, n, tmp)
        except common.ChildFailed as exc:
            print(f"a measurement failed: {exc}", file=sys.stderr)
            return 1
    table = report.rows(res)
    say("done")
    print("\n" + report.text_table(table), flush=True)
    cmd = ["python", "benchmarks/run.py", *argv]
    meta.update(
        when=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        duration_s=time.monotonic() - started,
        load_after=common.load(),
        mode="quick" if args.quick else "full",
        command=" ".join(shlex.quote(a) for a in cmd),
        reps=", ".join(f"{k} {v}" for k, v in n.items()),
        scripts=script_listing(),
    )
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(report.markdown(res, table, meta))
    print(f"\nwrote {args.out}", flush=True)
    if args.strict and not all(row["met"] for row in table):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
