"""Soak test: many processes resolving and refreshing short-lived role credentials through
the shared cache while the local STS injects faults. Bounded: it stops itself.

    python scripts/soak.py                       # 64 processes, 45 s, prints the figures
    python scripts/soak.py --write docs/soak.md  # and writes them to a page

Each worker resolves a role profile, then calls get_frozen_credentials() every 20 ms and
resolves afresh every second, until the deadline. Credentials live 900 s (the STS minimum)
but the mandatory window is set to 895 s, so every set must be replaced after 5 s: the run
makes the cache, the lock and the refresh path work hard. A fault thread makes STS answer
503s and throttling errors in bursts. Afterwards: every cache file must be valid, every
worker outcome either credentials or a typed awsroles error, and the STS call count close to
the minimum the lifetimes require (one per 5 s window).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

ROLE = "arn:aws:iam::123456789012:role/Soak"
KEY, SECRET = "AKIASOAKBASE00000001", "soak-base-secret"
WINDOW = 5.0  # seconds each credential set is usable (900 s lifetime, 895 s mandatory window)

WORKER = r"""
import json, os, sys, time
import awsroles
from awsroles.errors import AwsRolesError
deadline = float(sys.argv[1])
gate = sys.argv[2]
while not os.path.exists(gate):
    time.sleep(0.005)
ok = typed = other = resolves = 0
kinds = {}
opts = dict(mandatory_timeout=895, advisory_timeout=897, lock_timeout=30)
creds = None
last_resolve = 0.0
while time.time() < deadline:
    try:
        if creds is None or time.time() - last_resolve > 1.0:
            creds = awsroles.resolve("soak", **opts)
            last_resolve = time.time()
            resolves += 1
        f = creds.get_frozen_credentials()
        assert f.access_key.startswith("ASIA") and f.secret_key and f.token
        ok += 1
    except AwsRolesError as exc:
        typed += 1
        kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
    except Exception as exc:  # anything else is a defect
        other += 1
        kinds["OTHER:" + type(exc).__name__] = kinds.get("OTHER:" + type(exc).__name__, 0) + 1
    time.sleep(0.02)
print(json.dumps({"ok": ok, "typed": typed, "other": other, "resolves": resolves,
                  "kinds": kinds}))
"""


def run(processes: int = 64, seconds: float = 45.0) -> dict:
    """One soak run in a throwaway HOME, removed afterwards; returns the figures."""
    with tempfile.TemporaryDirectory(prefix="awsroles-soak-") as home:
        return _run(home, processes, seconds)


def _run(home: str, processes: int, seconds: float) -> dict:
    from awsroles.testing.fake_sts import FakeSTS

    os.makedirs(os.path.join(home, ".aws"))
    with open(os.path.join(home, ".aws", "config"), "w") as f:
        f.write(
            f"[profile soak]\nrole_arn = {ROLE}\nsource_profile = base\n"
            "duration_seconds = 900\nregion = us-east-1\n"
        )
    with open(os.path.join(home, ".aws", "credentials"), "w") as f:
        f.write(f"[base]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n")

    with FakeSTS() as sts:
        sts.add_user(KEY, SECRET)
        env = {
            "HOME": home,
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": ROOT,
            "AWS_ENDPOINT_URL_STS": sts.url,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        gate = os.path.join(home, "go")
        allowance = 5.0 + processes * 0.1  # time for every interpreter to start
        start_at = time.time() + allowance
        deadline = start_at + seconds
        procs: list = []
        faults = {"bursts": 0}
        stop = threading.Event()
        try:
            for _ in range(processes):
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-c", WORKER, str(deadline), gate],
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                )
            time.sleep(max(0.0, start_at - time.time()))
            begin = time.time()
            with open(gate, "w") as f:
                f.write("go")

            def inject() -> None:  # a burst of 503s or throttling every ~4 s
                n = 0
                while not stop.wait(4.0):
                    n += 1
                    if n % 2:
                        sts.fail_next(3, status=503, code="ServiceUnavailable", action="AssumeRole")
                    else:
                        sts.throttle_next(3, action="AssumeRole")
                    faults["bursts"] += 1

            injector = threading.Thread(target=inject, daemon=True)
            injector.start()
            results, failures = [], []
            for p in procs:
                out, err = p.communicate(timeout=seconds + 120)
                if p.returncode != 0:
                    failures.append(err[-500:])
                    continue
                results.append(json.loads(out.strip().splitlines()[-1]))
            elapsed = time.time() - begin
        finally:
            # On an error, no worker may outlive the run (or write into the HOME being removed).
            stop.set()
            for p in procs:
                if p.poll() is None:
                    p.kill()
                p.communicate()

        cache_dir = os.path.join(home, ".aws", "cli", "cache")
        corrupt, entries = 0, 0
        for name in os.listdir(cache_dir) if os.path.isdir(cache_dir) else []:
            if not name.endswith(".json"):
                continue
            entries += 1
            try:
                with open(os.path.join(cache_dir, name)) as f:
                    doc = json.load(f)
                assert doc["Credentials"]["AccessKeyId"].startswith("ASIA")
            except Exception:
                corrupt += 1
        leftovers = [n for n in os.listdir(cache_dir) if n.endswith(".tmp")] if entries else []
        kinds: dict = {}
        for r in results:
            for k, v in r["kinds"].items():
                kinds[k] = kinds.get(k, 0) + v
        ok_calls = sts.count("AssumeRole", status=200)
        return {
            "processes": processes,
            "seconds": round(elapsed, 1),
            "crashed_workers": len(failures),
            "worker_errors": failures[:3],
            "credential_reads": sum(r["ok"] for r in results),
            "resolves": sum(r["resolves"] for r in results),
            "typed_errors": sum(r["typed"] for r in results),
            "other_errors": sum(r["other"] for r in results),
            "error_kinds": kinds,
            "fault_bursts": faults["bursts"],
            "assume_role_requests": sts.count("AssumeRole"),
            "assume_role_successes": ok_calls,
            "minimum_successes": int(elapsed // WINDOW) + 1,
            "cache_entries": entries,
            "corrupt_cache_files": corrupt,
            "temp_files_left": len(leftovers),
        }


def render(result: dict) -> str:
    rows = "\n".join(f"| {k} | {v} |" for k, v in result.items() if k != "worker_errors")
    return (
        "# Soak test\n\nGenerated by `python scripts/soak.py --write docs/soak.md` "
        "(see the script's docstring for what it does).\n\n| figure | value |\n|---|---|\n"
        f"{rows}\n\n`minimum_successes` is one AssumeRole per {WINDOW:.0f}-second window the "
        "credentials are usable; every extra success is a process that refreshed without "
        "finding the newer entry (or a retry after an injected fault).\n"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--processes", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=45.0)
    ap.add_argument("--write", help="write the figures as a Markdown page")
    args = ap.parse_args()
    result = run(args.processes, args.seconds)
    print(json.dumps(result, indent=2))
    if args.write:
        with open(args.write, "w") as f:
            f.write(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
