"""Soak test: many processes resolving and refreshing short-lived role credentials through
the shared cache while the local STS and the cache directory misbehave. Bounded: it stops
itself.

    python scripts/soak.py                       # 64 processes, 45 s, prints the figures
    python scripts/soak.py --write docs/soak.md  # and writes them to a page

Each worker resolves a role profile, then calls get_frozen_credentials() every 20 ms and
resolves afresh every second, until the deadline. Credentials live 900 s (the STS minimum)
but the mandatory window is set to 895 s, so every set must be replaced after 5 s: the run
makes the cache, the lock and the refresh path work hard. Three groups of workers:

* ``main`` resolves a role from static keys (most workers).
* ``chain`` resolves base static keys -> inner role -> outer role. The inner role's sets live
  1800 s, so only the outer one is refreshed, signed with the inner set held in the cache.
* ``slow`` resolves another role through a relay in front of the same STS, with a short STS
  timeout (``STS_TIMEOUT``; ``resolve()`` has no option for it, so these workers pass a
  transport that sets it on every request).

Faults, from threads of this process, while the workers run:

* STS bursts: 503s and throttling errors, every 4 s (any group may get them).
* Slow peer: for ``SLOW_BURST`` seconds every ``SLOW_EVERY`` s, the relay sends its answers
  a byte at a time (the body only, or the status line and headers too), each byte well
  within the read timeout: only the attempt deadline ends such an answer.
* Garbage cache entries: the main group's entry is overwritten with nesting 100000 deep,
  invalid UTF-8 or nothing, by an atomic rename or by a plain truncating write (a hostile or
  crashing foreign writer); workers must take it as a miss and write a good entry again.
* Expired sources: STS is told the inner role's cached set has expired
  (``FakeSTS.expire``), so the next outer refresh gets ExpiredToken for its source and must
  fetch the inner set again.

Afterwards: every cache file must be valid and no temporary file left; every worker outcome
either credentials or a typed awsroles error; no call longer than the STS deadline plus the
lock timeout (``CALL_BOUND``), no lock held longer than the STS deadline, and no client
waiting for a dripping answer longer than one attempt's deadline; each fault injected and
recovered from; STS calls close to the minimum the lifetimes require.

How long a lock is held is measured twice: each worker wraps the cache's lock call
(``awsroles.cache.lock.acquire``) and times each hold (``longest_lock_hold_seconds``, a
hold still running when the worker exits included); and on Linux ``/proc/locks`` is sampled
every 20 ms for how long one process kept a lock file locked without a break
(``longest_lock_busy_seconds``: a background refresh and a caller in the same process may
hand the lock to each other, so this may be a few holds in a row).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, NamedTuple, Optional, Tuple
from urllib.parse import parse_qsl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

ROLE = "arn:aws:iam::123456789012:role/Soak"
INNER_ROLE = "arn:aws:iam::123456789012:role/SoakInner"
OUTER_ROLE = "arn:aws:iam::123456789012:role/SoakOuter"
SLOW_ROLE = "arn:aws:iam::123456789012:role/SoakSlow"
KEY, SECRET = "AKIASOAKBASE00000001", "soak-base-secret"
WINDOW = 5.0  # seconds each credential set is usable (900 s lifetime, 895 s mandatory window)

# The slow group's STS deadline: (connect, read) timeout on every request, so one attempt
# ends within 1.5 s (awsroles.transport.rules.attempt_seconds); StsClient makes 3 attempts
# and sleeps at most 1 + 2 s between them (throttled; 0.05 + 0.1 s otherwise).
STS_TIMEOUT = (0.5, 1.0)
STS_ATTEMPTS = 3
STS_BACKOFF = 3.0
STS_DEADLINE = STS_ATTEMPTS * sum(STS_TIMEOUT) + STS_BACKOFF
#: Lock timeout of the slow and chain groups (the main group keeps 30 s).
LOCK_TIMEOUT = 3.0
#: No call may last longer: the STS deadline plus the lock timeout.
CALL_BOUND = STS_DEADLINE + LOCK_TIMEOUT
#: Slack for scheduling 64 interpreters on a few CPUs.
MARGIN = 5.0

DRIP_INTERVAL = 0.05  # seconds between bytes: far below the 1 s read timeout
#: Long enough for a refresh to fall inside (> WINDOW), and in a long run for the mandatory
#: refreshes to meet it after the advisory one failed (> WINDOW + CALL_BOUND).
SLOW_BURST, SLOW_BURST_SHORT = 16.0, 5.5
SLOW_FIRST, SLOW_EVERY = 1.5, 22.0
GARBAGE_FIRST, GARBAGE_EVERY = 1.0, 1.5
EXPIRE_FIRST = 1.0
QUIET = 3.0  # no cache or slow fault in the last seconds: time to recover before the end

GARBAGE = {
    "deep": b"[" * 100000,
    "bad_utf8": b'{"Credentials": {"AccessKeyId": "ASIA\xff\xfe\xc0\xaf"}}',
    "empty": b"",
}

WORKER = r"""
import json, logging, os, sys, time
cfg = json.loads(sys.argv[1])
import awsroles
from awsroles.errors import AwsRolesError


class Count(logging.Handler):
    # what awsroles warned about: ExpiredToken retries, locks given up
    def __init__(self):
        logging.Handler.__init__(self, logging.WARNING)
        self.counts = {}
        self.samples = []

    def emit(self, record):
        msg = record.getMessage()
        if "rejected the source credentials as expired" in msg:
            name = "expired_source_retries"
        elif "going on without" in msg:
            name = "lock_waits_given_up"
        elif "serving the current credentials" in msg:
            name = "refresh_failures_served_held_set"
        else:
            name = "other_warnings"
            if len(self.samples) < 2:
                self.samples.append(msg[:300])
        self.counts[name] = self.counts.get(name, 0) + 1


counter = Count()
logging.getLogger("awsroles").addHandler(counter)

# how long each acquisition of an entry's lock file is held, measured around the cache's
# own lock call (awsroles.cache.store looks it up in awsroles.cache.lock at every use)
import threading
import awsroles.cache.lock as lock_module

holds = []
in_flight = {}
take = lock_module.acquire


class Held:
    def __init__(self, handle):
        self.handle, self.since = handle, time.monotonic()
        in_flight[id(self)] = (self.since, threading.current_thread().name)

    def release(self):
        try:
            self.handle.release()
        finally:
            in_flight.pop(id(self), None)
            holds.append((time.monotonic() - self.since, threading.current_thread().name,
                          time.time()))


def acquire(path, timeout, poll_interval=0.05):
    return Held(take(path, timeout, poll_interval))


lock_module.acquire = acquire
opts = dict(mandatory_timeout=895, advisory_timeout=897, lock_timeout=cfg["lock_timeout"])
if cfg["sts_timeout"]:
    from awsroles.transport import default_transport

    send, timeout = default_transport(), tuple(cfg["sts_timeout"])

    def transport(request):
        return send(request.replace(timeout=timeout))

    opts["transport"] = transport
open(os.path.join(cfg["ready"], str(os.getpid())), "w").close()
while not os.path.exists(cfg["gate"]):
    time.sleep(0.005)
with open(cfg["gate"]) as f:
    deadline = float(f.read())
ok = typed = other = resolves = recovered = 0
longest = 0.0
kinds = {}
creds = None
failing = False
last_resolve = 0.0
while time.time() < deadline:
    started = time.monotonic()
    try:
        since = time.time() - last_resolve
        if since > 1.0 or (creds is None and since > 0.2):
            # a fresh resolution, kept only once it gave credentials: when it fails, the
            # set held so far goes on serving, as it would in a program resolving once
            last_resolve = time.time()
            resolves += 1
            fresh = awsroles.resolve(cfg["profile"], **opts)
            fresh.get_frozen_credentials()
            creds = fresh
        if creds is None:
            time.sleep(0.02)
            continue
        f = creds.get_frozen_credentials()
        assert f.access_key.startswith("ASIA") and f.secret_key and f.token
        ok += 1
        if failing:
            recovered += 1
            failing = False
    except AwsRolesError as exc:
        typed += 1
        failing = True
        name = type(exc).__name__ + ("(timeout)" if getattr(exc, "timeout", False) else "")
        kinds[name] = kinds.get(name, 0) + 1
    except Exception as exc:  # anything else is a defect
        other += 1
        failing = True
        kinds["OTHER:" + type(exc).__name__] = kinds.get("OTHER:" + type(exc).__name__, 0) + 1
    longest = max(longest, time.monotonic() - started)
    time.sleep(0.02)
for since, thread in list(in_flight.values()):  # still held at exit (a background refresh)
    holds.append((time.monotonic() - since, thread + " (held at exit)", time.time()))
print(json.dumps({"group": cfg["group"], "ok": ok, "typed": typed, "other": other,
                  "resolves": resolves, "recovered": recovered, "kinds": kinds,
                  "longest_call": longest, "overrun": time.time() - deadline,
                  "warnings": counter.counts, "warning_samples": counter.samples,
                  "longest_holds": sorted(holds, reverse=True)[:3]}))
"""


# --- the STS side --------------------------------------------------------------------------


class Answer(NamedTuple):
    at: float
    action: str
    role: Optional[str]
    key: Optional[str]  # the access key the request was signed with
    status: int
    code: Optional[str]  # the error code, None on success


def _recording_sts() -> Any:
    """A FakeSTS that also keeps, for every answer, who signed it and the error code."""
    from awsroles.testing.fake_sts import FakeSTS

    server: Any = FakeSTS._server_class

    class QuietServer(server):  # type: ignore[misc]
        def handle_error(self, request: Any, client_address: Any) -> None:
            # a worker exiting with a kept-alive connection resets it: count it, print nothing
            if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
                self.fake.client_resets += 1
                return
            super().handle_error(request, client_address)

    class RecordingSTS(FakeSTS):
        _server_class = QuietServer

        def __init__(self) -> None:
            self.client_resets = 0
            super().__init__()
            self.answers: List[Answer] = []
            self._answers_lock = threading.Lock()

        def handle(
            self, method: str, path: str, headers: Any, raw: bytes, length: Optional[int] = None
        ) -> Tuple[int, str, str]:
            status, body, request_id = super().handle(method, path, headers, raw, length)
            params = dict(parse_qsl(raw.decode("utf-8", "replace")))
            signed = re.search(r"Credential=([A-Z0-9]+)/", headers.get("Authorization") or "")
            code = re.search(r"<Code>([^<]*)</Code>", body) if status != 200 else None
            answer = Answer(
                time.time(),
                params.get("Action", ""),
                params.get("RoleArn"),
                signed.group(1) if signed else None,
                status,
                code.group(1) if code else None,
            )
            with self._answers_lock:
                self.answers.append(answer)
            return status, body, request_id

    return RecordingSTS()


class _DripServer(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True
    relay: Relay

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up on a dripping answer is the point


class _DripHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _DripServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        relay = self.server.relay
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if 0 < length <= 65536 else b""
        mode = relay.mode  # decided when the request arrives
        status, body, request_id = relay.sts.handle(self.command, self.path, self.headers, raw)
        role = dict(parse_qsl(raw.decode("utf-8", "replace"))).get("RoleArn")
        data = body.encode()
        head = (
            f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\n"
            f"x-amzn-RequestId: {request_id}\r\nContent-Type: text/xml\r\n"
            f"Content-Length: {len(data)}\r\n"
            f"Date: {formatdate(time.time(), usegmt=True)}\r\n\r\n"
        ).encode("ascii")
        began = time.monotonic()
        try:
            if mode is None:
                self.wfile.write(head + data)
                self.wfile.flush()
                relay.note("whole", role, status)
                return
            self.close_connection = True
            relay.note("dripped", role, status)
            if mode == "body":
                self.wfile.write(head)
                self.wfile.flush()
            pending = data if mode == "body" else head + data
            for i in range(len(pending)):
                if relay.released.wait(relay.interval):  # the run is over: a client still waits
                    relay.note("held_to_the_end", role, status, time.monotonic() - began)
                    return
                self.wfile.write(pending[i : i + 1])
                self.wfile.flush()
            relay.note("dripped_whole", role, status)  # a client waited for all of it
        except OSError:  # the client gave up on the answer
            what = "reset" if mode is None else "abandoned"
            relay.note(what, role, status, time.monotonic() - began)
            self.close_connection = True


class Relay:
    """An HTTP front for a FakeSTS on 127.0.0.1 that answers as the STS does, or, while
    ``mode`` is ``"body"`` or ``"all"``, a byte every ``interval`` seconds (the body, or the
    status line and headers too). ``events`` lists (time, what, role, status)."""

    def __init__(self, sts: Any, interval: float = DRIP_INTERVAL) -> None:
        self.sts = sts
        self.interval = interval
        self.mode: Optional[str] = None
        self.released = threading.Event()
        self.events: List[Tuple[float, str, Optional[str], int]] = []
        #: the longest a client waited for a dripping answer before it hung up
        self.longest_abandoned = 0.0
        self._lock = threading.Lock()
        self._server = _DripServer(("127.0.0.1", 0), _DripHandler)
        self._server.relay = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def note(self, what: str, role: Optional[str], status: int, lasted: float = 0.0) -> None:
        with self._lock:
            self.events.append((time.time(), what, role, status))
            if what in ("abandoned", "held_to_the_end"):
                self.longest_abandoned = max(self.longest_abandoned, lasted)

    def __enter__(self) -> Relay:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


# --- watching the locks --------------------------------------------------------------------


class LockWatch:
    """Samples ``/proc/locks`` (Linux) every 20 ms and keeps, per lock file of the cache, the
    longest time one process held it. ``available`` is False elsewhere."""

    def __init__(self, cache_dir: str) -> None:
        self.cache_dir = cache_dir
        self.available = os.path.exists("/proc/locks")
        self.longest: Dict[str, float] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LockWatch:
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self.available:
            self._thread.join(5)

    def _lock_files(self) -> Dict[Tuple[int, int, int], str]:
        files: Dict[Tuple[int, int, int], str] = {}
        try:
            names = os.listdir(self.cache_dir)
        except OSError:
            return files
        for name in names:
            if name.endswith(".json.lock"):
                try:
                    st = os.stat(os.path.join(self.cache_dir, name))
                except OSError:
                    continue
                files[(os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)] = name
        return files

    def _run(self) -> None:
        held: Dict[str, Tuple[int, float]] = {}  # lock file -> (holder pid, since)
        while not self._stop.wait(0.02):
            files = self._lock_files()
            now_held: Dict[str, int] = {}
            with open("/proc/locks") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) < 6 or parts[1] != "FLOCK":  # "->" marks a waiter
                        continue
                    major, minor, inode = parts[5].split(":")
                    name = files.get((int(major, 16), int(minor, 16), int(inode)))
                    if name is not None:
                        now_held[name] = int(parts[4])
            now = time.monotonic()
            self.samples += 1
            for name, (pid, _since) in list(held.items()):
                if now_held.get(name) != pid:
                    del held[name]
            for name, pid in now_held.items():
                if name not in held:
                    held[name] = (pid, now)
                since = held[name][1]
                self.longest[name] = max(self.longest.get(name, 0.0), now - since)


# --- the run -------------------------------------------------------------------------------


def groups_for(processes: int) -> List[str]:
    slow = max(3, processes // 6)
    chain = max(3, processes // 5)
    main = max(1, processes - slow - chain)
    return ["main"] * main + ["chain"] * chain + ["slow"] * slow


PROFILES = {"main": "soak", "chain": "soak-chain", "slow": "soak-slow"}
GROUP_ROLES = {"main": (ROLE,), "chain": (INNER_ROLE, OUTER_ROLE), "slow": (SLOW_ROLE,)}


def run(processes: int = 64, seconds: float = 45.0) -> dict:
    """One soak run in a throwaway HOME, removed afterwards; returns the figures."""
    with tempfile.TemporaryDirectory(prefix="awsroles-soak-") as home:
        return _run(home, processes, seconds)


def _write_config(home: str) -> None:
    os.makedirs(os.path.join(home, ".aws"))
    role = "duration_seconds = 900\nregion = us-east-1\n"
    with open(os.path.join(home, ".aws", "config"), "w") as f:
        f.write(
            f"[profile soak]\nrole_arn = {ROLE}\nsource_profile = base\n{role}\n"
            f"[profile soak-slow]\nrole_arn = {SLOW_ROLE}\nsource_profile = base\n{role}\n"
            # the inner set outlives the run: only an ExpiredToken makes it be fetched again
            f"[profile soak-inner]\nrole_arn = {INNER_ROLE}\nsource_profile = base\n"
            "duration_seconds = 1800\nregion = us-east-1\n\n"
            f"[profile soak-chain]\nrole_arn = {OUTER_ROLE}\nsource_profile = soak-inner\n"
            f"{role}"
        )
    with open(os.path.join(home, ".aws", "credentials"), "w") as f:
        f.write(f"[base]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n")


def _entry_of(cache_dir: str, role: str) -> Optional[Tuple[str, str]]:
    """(path, access key) of the cache entry holding credentials for ``role``, if valid."""
    try:
        names = os.listdir(cache_dir)
    except OSError:
        return None
    name = role.rsplit("/", 1)[1]
    for n in names:
        if not n.endswith(".json") or n.startswith("."):
            continue
        path = os.path.join(cache_dir, n)
        doc = _valid_entry(path)
        if doc is not None and f":assumed-role/{name}/" in doc["AssumedRoleUser"]["Arn"]:
            return path, doc["Credentials"]["AccessKeyId"]
    return None


def _valid_entry(path: str) -> Optional[dict]:
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read().decode("utf-8"))
        creds = doc["Credentials"]
        if not creds["AccessKeyId"].startswith("ASIA"):
            return None
        if not (creds["SecretAccessKey"] and creds["SessionToken"] and creds["Expiration"]):
            return None
        return doc
    except Exception:
        return None


def _run(home: str, processes: int, seconds: float) -> dict:
    _write_config(home)
    cache_dir = os.path.join(home, ".aws", "cli", "cache")
    ready = os.path.join(home, "ready")
    os.makedirs(ready)
    gate = os.path.join(home, "go")
    groups = groups_for(processes)

    sts = _recording_sts()
    with sts, Relay(sts) as relay, LockWatch(cache_dir) as locks:
        sts.add_user(KEY, SECRET)
        env = {
            "HOME": home,
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": ROOT,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        procs: list = []
        stop = threading.Event()
        faults: Dict[str, Any] = {
            "sts_bursts": 0,
            "slow_bursts": [],  # (start, end, mode)
            "garbage": [],  # dicts: kind, write, at, repaired_after
            "expired": {},  # access key -> when STS was told
            "expire_skipped": 0,
        }
        launched = time.time()
        try:
            for i, group in enumerate(groups):
                cfg = {
                    "group": group,
                    "profile": PROFILES[group],
                    "lock_timeout": 30.0 if group == "main" else LOCK_TIMEOUT,
                    "sts_timeout": list(STS_TIMEOUT) if group == "slow" else None,
                    "ready": ready,
                    "gate": gate,
                }
                wenv = dict(env, AWS_ENDPOINT_URL_STS=relay.url if group == "slow" else sts.url)
                out = open(os.path.join(home, f"worker{i}.out"), "w")
                err = open(os.path.join(home, f"worker{i}.err"), "w")
                with out, err:  # the child has its own copies
                    procs.append(
                        subprocess.Popen(
                            [sys.executable, "-c", WORKER, json.dumps(cfg)],
                            env=wenv,
                            stdout=out,
                            stderr=err,
                        )
                    )
            # start together once every interpreter is up (or after a generous allowance)
            allowance = launched + 10.0 + processes * 0.2
            while len(os.listdir(ready)) < processes and time.time() < allowance:
                time.sleep(0.05)
            startup = time.time() - launched
            begin = time.time()
            deadline = begin + seconds
            with open(gate + ".tmp", "w") as f:
                f.write(repr(deadline))
            os.replace(gate + ".tmp", gate)

            threads = [
                threading.Thread(target=fn, args=args, daemon=True)
                for fn, args in (
                    (_sts_bursts, (sts, stop, faults)),
                    (_slow_bursts, (relay, stop, faults, begin, deadline)),
                    (_garbage, (cache_dir, stop, faults, begin, deadline)),
                    (_expire, (sts, cache_dir, stop, faults, begin, deadline, seconds)),
                )
            ]
            for t in threads:
                t.start()
            hard_end = deadline + 2 * CALL_BOUND + 30.0
            results, failures, hung = [], [], 0
            for i, p in enumerate(procs):
                try:
                    p.wait(timeout=max(1.0, hard_end - time.time()))
                except subprocess.TimeoutExpired:
                    hung += 1
                    p.kill()
                    p.wait()
                    continue
                with open(os.path.join(home, f"worker{i}.out")) as f:
                    out_text = f.read()
                with open(os.path.join(home, f"worker{i}.err")) as f:
                    err_text = f.read()
                if p.returncode != 0 or not out_text.strip():
                    failures.append(err_text[-500:])
                    continue
                results.append(json.loads(out_text.strip().splitlines()[-1]))
            elapsed = time.time() - begin
            stop.set()
            for t in threads:
                t.join(10)
        finally:
            # On an error, no worker may outlive the run (or write into the HOME being removed).
            stop.set()
            for p in procs:
                if p.poll() is None:
                    p.kill()
                p.wait()
        relay.mode = None
        lock_roles = _lock_roles(cache_dir)

    return _figures(
        processes=processes,
        seconds=seconds,
        begin=begin,
        elapsed=elapsed,
        startup=startup,
        results=results,
        failures=failures,
        hung=hung,
        faults=faults,
        sts=sts,
        relay=relay,
        locks=locks,
        lock_roles=lock_roles,
        cache_dir=cache_dir,
    )


# --- the fault threads ---------------------------------------------------------------------


def _sts_bursts(sts: Any, stop: threading.Event, faults: dict) -> None:
    """A burst of 503s or throttling every 4 s."""
    n = 0
    while not stop.wait(4.0):
        n += 1
        if n % 2:
            sts.fail_next(3, status=503, code="ServiceUnavailable", action="AssumeRole")
        else:
            sts.throttle_next(3, action="AssumeRole")
        faults["sts_bursts"] += 1


def _slow_bursts(
    relay: Relay, stop: threading.Event, faults: dict, begin: float, deadline: float
) -> None:
    """The relay drips for SLOW_BURST seconds (SLOW_BURST_SHORT in a short run) every
    SLOW_EVERY s, ending QUIET s before the deadline at the latest; the body only, then the
    status line and headers too."""
    start = begin + SLOW_FIRST
    length = SLOW_BURST if SLOW_FIRST + SLOW_BURST + QUIET <= deadline - begin else SLOW_BURST_SHORT
    n = 0
    while start + length <= deadline - QUIET:
        if stop.wait(max(0.0, start - time.time())):
            return
        mode = "all" if n % 2 else "body"
        relay.mode = mode
        began = time.time()
        stopped = stop.wait(length)
        relay.mode = None
        faults["slow_bursts"].append((began, time.time(), mode))
        if stopped:
            return
        n += 1
        start += SLOW_EVERY


def _garbage(
    cache_dir: str, stop: threading.Event, faults: dict, begin: float, deadline: float
) -> None:
    """Every GARBAGE_EVERY s, the main group's entry is overwritten with garbage (atomically or
    by a truncating write, in turn), then watched until a worker has written a valid one
    (the next injection waits for that)."""
    path = None
    n = 0
    at = begin + GARBAGE_FIRST
    while at <= deadline - QUIET:
        if stop.wait(max(0.0, at - time.time())):
            return
        at += GARBAGE_EVERY
        if path is None:
            found = _entry_of(cache_dir, ROLE)
            if found is None:
                continue
            path = found[0]
        kind = ("deep", "bad_utf8", "empty")[n % 3]
        write = ("rename", "truncate")[n % 2]
        n += 1
        if write == "rename":
            tmp = os.path.join(cache_dir, f".garbage-{n}.tmp")
            with open(tmp, "wb") as f:
                f.write(GARBAGE[kind])
            os.replace(tmp, path)
        else:
            with open(path, "wb") as f:  # truncates in place: readers may see it half done
                f.write(GARBAGE[kind])
        injected = time.time()
        record: Dict[str, Any] = {"kind": kind, "write": write, "repaired_after": None}
        faults["garbage"].append(record)
        while _valid_entry(path) is None:
            if stop.wait(0.01):
                return
        record["repaired_after"] = time.time() - injected
        at = max(at, time.time() + 0.5)


def _expire(
    sts: Any,
    cache_dir: str,
    stop: threading.Event,
    faults: dict,
    begin: float,
    deadline: float,
    seconds: float,
) -> None:
    """STS is told that the inner role's cached set has expired, every few seconds, while an
    outer refresh (one per WINDOW) can still follow before the deadline."""
    every = 6.0 if seconds > 20 else 3.0
    at = begin + EXPIRE_FIRST
    while at <= deadline - WINDOW - 1.0:
        if stop.wait(max(0.0, at - time.time())):
            return
        found = _entry_of(cache_dir, INNER_ROLE)
        if found is None or found[1] in faults["expired"]:
            faults["expire_skipped"] += 1  # no inner entry yet, or the same set as last time
            at += 0.5
            continue
        sts.expire(found[1])
        faults["expired"][found[1]] = time.time()
        at += every


# --- the figures ---------------------------------------------------------------------------


def _lock_roles(cache_dir: str) -> Dict[str, str]:
    """Lock file name -> the role whose entry it guards."""
    roles: Dict[str, str] = {}
    for role in (ROLE, INNER_ROLE, OUTER_ROLE, SLOW_ROLE):
        found = _entry_of(cache_dir, role)
        if found is not None:
            roles[os.path.basename(found[0]) + ".lock"] = role
    return roles


def _check_cache(cache_dir: str) -> Tuple[int, int, int]:
    """(entries, corrupt entries, temporary files left)."""
    entries = corrupt = leftovers = 0
    for name in os.listdir(cache_dir) if os.path.isdir(cache_dir) else []:
        if name.endswith(".tmp"):
            leftovers += 1
        elif name.endswith(".json"):
            entries += 1
            if _valid_entry(os.path.join(cache_dir, name)) is None:
                corrupt += 1
    return entries, corrupt, leftovers


def _figures(
    *,
    processes: int,
    seconds: float,
    begin: float,
    elapsed: float,
    startup: float,
    results: List[dict],
    failures: List[str],
    hung: int,
    faults: dict,
    sts: Any,
    relay: Relay,
    locks: LockWatch,
    lock_roles: Dict[str, str],
    cache_dir: str,
) -> dict:
    entries, corrupt, leftovers = _check_cache(cache_dir)
    answers: List[Answer] = list(sts.answers)
    delivered_ok = [a for a in answers if a.action == "AssumeRole" and a.status == 200]
    # the relay's STS answered 200, but the answer dripped: no client took those credentials
    dripped = [e for e in relay.events if e[1] != "whole" and e[1] != "reset"]
    minimum = int(elapsed // WINDOW) + 1

    kinds: Dict[str, int] = {}
    warnings: Dict[str, int] = {}
    for r in results:
        for k, v in r["kinds"].items():
            kinds[k] = kinds.get(k, 0) + v
        for k, v in r["warnings"].items():
            warnings[k] = warnings.get(k, 0) + v

    groups: Dict[str, dict] = {}
    for group, roles in GROUP_ROLES.items():
        mine = [r for r in results if r["group"] == group]
        held = [v for name, v in locks.longest.items() if lock_roles.get(name) in roles]
        groups[group] = {
            "workers": sum(1 for g in groups_for(processes) if g == group),
            "credential_reads": sum(r["ok"] for r in mine),
            "typed_errors": sum(r["typed"] for r in mine),
            "other_errors": sum(r["other"] for r in mine),
            "recovered_after_error": sum(r["recovered"] for r in mine),
            "longest_call_seconds": round(max((r["longest_call"] for r in mine), default=0), 2),
            "longest_lock_hold_seconds": round(
                max((h[0] for r in mine for h in r["longest_holds"]), default=0.0), 2
            ),
            "longest_lock_busy_seconds": round(max(held, default=0.0), 2),
            "assume_role_successes": {
                role.rsplit("/", 1)[1]: sum(1 for a in delivered_ok if a.role == role)
                for role in roles
            },
        }
    slow_whole = sum(
        1 for e in relay.events if e[1] == "whole" and e[2] == SLOW_ROLE and e[3] == 200
    )
    groups["slow"]["assume_role_successes"]["SoakSlow"] = slow_whole

    # slow peers: every burst whose answers clients gave up on, then a whole answer after it
    slow_hit = slow_recovered = 0
    for began, ended, _mode in faults["slow_bursts"]:
        abandoned = [e for e in dripped if e[1] == "abandoned" and began <= e[0] <= ended + 30]
        started = [e for e in dripped if e[1] == "dripped" and began <= e[0] <= ended]
        if started and abandoned:
            slow_hit += 1
            if any(
                e[1] == "whole" and e[2] == SLOW_ROLE and e[3] == 200 and e[0] > ended
                for e in relay.events
            ):
                slow_recovered += 1

    # expired sources: every key STS rejected, then the outer role assumed with a good one
    expired: Dict[str, float] = faults["expired"]
    rejected = {
        a.key: a.at
        for a in sorted(answers, key=lambda a: -a.at)
        if a.code == "ExpiredToken" and a.key in expired
    }
    expired_recovered = sum(
        1
        for key, at in rejected.items()
        if any(
            a.role == OUTER_ROLE and a.at > at and a.key != key and expired.get(a.key, 1e18) > a.at
            for a in delivered_ok
        )
    )
    garbage = faults["garbage"]
    repairs = [g["repaired_after"] for g in garbage if g["repaired_after"] is not None]

    typed = sum(r["typed"] for r in results)
    return {
        "processes": processes,
        "seconds": round(elapsed, 1),
        # from the start to the last worker's exit: the run, then at most one call
        "run_bound_seconds": seconds + CALL_BOUND + MARGIN,
        "startup_seconds": round(startup, 1),
        "crashed_workers": len(failures),
        "hung_workers": hung,
        "worker_errors": failures[:3],
        "other_warning_samples": sorted({m for r in results for m in r["warning_samples"]})[:3],
        "credential_reads": sum(r["ok"] for r in results),
        "resolves": sum(r["resolves"] for r in results),
        "typed_errors": typed,
        "other_errors": sum(r["other"] for r in results),
        "error_kinds": dict(sorted(kinds.items())),
        "warnings": dict(sorted(warnings.items())),
        "longest_call_seconds": round(max((r["longest_call"] for r in results), default=0), 2),
        "longest_overrun_seconds": round(max((r["overrun"] for r in results), default=0), 2),
        "longest_lock_hold_seconds": round(
            max((h[0] for r in results for h in r["longest_holds"]), default=0.0), 2
        ),
        "longest_lock_busy_seconds": round(max(locks.longest.values(), default=0.0), 2),
        "longest_holds": [
            (round(h[0], 2), r["group"], h[1], round(h[2] - begin, 1))
            for h, r in sorted(
                ((h, r) for r in results for h in r["longest_holds"]), key=lambda x: -x[0][0]
            )[:3]
        ],
        "slow_bursts": [
            (round(a - begin, 1), round(b - begin, 1), m) for a, b, m in faults["slow_bursts"]
        ],
        "lock_samples": locks.samples if locks.available else None,
        "call_bound_seconds": CALL_BOUND,
        "fault_bursts": faults["sts_bursts"],
        "sts_connections_reset_by_clients": sts.client_resets,
        "assume_role_requests": sum(1 for a in answers if a.action == "AssumeRole"),
        "assume_role_successes": sum(1 for a in delivered_ok if a.role != SLOW_ROLE) + slow_whole,
        "minimum_successes": minimum,
        "groups": groups,
        "faults": {
            "slow_peer": {
                "bursts": len(faults["slow_bursts"]),
                "answers_dripped": sum(1 for e in dripped if e[1] == "dripped"),
                "answers_abandoned": sum(1 for e in dripped if e[1] == "abandoned"),
                "answers_waited_for_whole": sum(1 for e in dripped if e[1] == "dripped_whole"),
                "answers_still_waited_for_at_the_end": sum(
                    1 for e in dripped if e[1] == "held_to_the_end"
                ),
                "longest_wait_for_a_dripping_answer": round(relay.longest_abandoned, 2),
                "bursts_hit": slow_hit,
                "recovered": slow_recovered,
            },
            "garbage_entry": {
                "injected": len(garbage),
                "by_kind": _tally(g["kind"] + "/" + g["write"] for g in garbage),
                "recovered": len(repairs),
                "longest_repair_seconds": round(max(repairs, default=0.0), 2),
            },
            "expired_source": {
                "injected": len(expired),
                "skipped": faults["expire_skipped"],
                "rejected": len(rejected),
                "recovered": expired_recovered,
                "retries_logged": warnings.get("expired_source_retries", 0),
                "errors_seen": kinds.get("ExpiredTokenError", 0),
            },
        },
        "cache_entries": entries,
        "corrupt_cache_files": corrupt,
        "temp_files_left": leftovers,
    }


def _tally(items: Any) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return dict(sorted(counts.items()))


def _rows(result: dict) -> List[str]:
    """One row per figure; the groups' and the faults' figures one row each too."""
    rows: List[str] = []
    for key, value in result.items():
        if key in ("worker_errors", "other_warning_samples"):
            continue
        if key in ("groups", "faults"):
            for name, figures in value.items():
                rows.extend(f"| {key}.{name}.{k} | {v} |" for k, v in figures.items())
        else:
            rows.append(f"| {key} | {value} |")
    return rows


def render(result: dict) -> str:
    return (
        "# Soak test\n\nGenerated by `python scripts/soak.py --write docs/soak.md` "
        "(see the script's docstring for what it does).\n\n| figure | value |\n|---|---|\n"
        + "\n".join(_rows(result))
        + f"\n\n`minimum_successes` is one AssumeRole per {WINDOW:.0f}-second window the "
        "credentials are usable, per role; every extra success is a process that refreshed "
        "without finding the newer entry, a retry after an injected fault, or a garbage entry "
        "written over. The `slow` group's successes are the answers its clients received "
        "whole; STS also issued one set for every dripped answer.\n\n"
        f"`call_bound_seconds` is the slow group's STS deadline ({STS_DEADLINE:g} s: "
        f"{STS_ATTEMPTS} attempts of {sum(STS_TIMEOUT):g} s, {STS_BACKOFF:g} s of back-off) "
        f"plus its lock timeout ({LOCK_TIMEOUT:g} s). `longest_lock_hold_seconds` is one "
        "acquisition of a cache entry's lock; `longest_lock_busy_seconds` is one process "
        "keeping it without a break (its threads may hand it on to each other). "
        "`longest_holds`: (seconds, group, thread, seconds after the start); `slow_bursts`: "
        "(start, end, what dripped).\n\n"
        "Faults: `recovered` counts, for the slow peer, the bursts whose dripping answers "
        "clients gave up on and after which a whole answer arrived; for garbage entries, the "
        "entries a worker replaced with a valid one; for expired sources, the inner sets STS "
        "rejected after which the outer role was assumed with another one.\n"
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
