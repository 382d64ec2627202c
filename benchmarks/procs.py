"""Fresh-process measurements: P1 (warm start), P2 (cold start), P3 (16 processes at once),
P7 (peak RSS), and the import profile of awsroles' warm path.

Each library runs in its own HOME (same ~/.aws files) so each reads the cache entries it wrote
itself. botocore gets the AWS CLI's ``JSONFileCache`` injected into its assume-role provider,
exactly as ``aws`` does (awscli/customizations/assumerole.py), otherwise it has no file cache.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from typing import Any, Dict, List

import common
from common import (
    ROOT,
    ChildFailed,
    cache_entries,
    clean_env,
    clear_cache,
    make_home,
    median,
    run_child,
    time_child,
)

AWSROLES = """\
import awsroles
awsroles.resolve(profile={profile!r}).get_frozen_credentials()
"""

BOTOCORE = """\
import os
import botocore.session
from botocore.credentials import JSONFileCache
session = botocore.session.Session(profile={profile!r})
# what the AWS CLI does: awscli/customizations/assumerole.py
session.get_component('credential_provider').get_provider('assume-role').cache = JSONFileCache(
    os.path.expanduser(os.path.join('~', '.aws', 'cli', 'cache')))
session.get_credentials().get_frozen_credentials()
"""

BARE = "pass"

RSS = """
import json, resource, sys
try:
    with open('/proc/self/status') as f:
        hwm = int(next(ln for ln in f if ln.startswith('VmHWM:')).split()[1])
except (OSError, StopIteration):
    hwm = None
sys.stdout.write(json.dumps([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, hwm]))
"""
# ru_maxrss survives fork and exec on Linux: a child started by the runner would report the
# runner's own peak if larger. So P7 children are started by a small /bin/sh that forks them
# (no exec optimisation), and VmHWM (the process's own peak) is read as a cross-check.
SH_FORK = ("/bin/sh", "-c", '"$@"; exit $?', "sh")

# P3: every process imports its library and resolves the profile up to the point where
# credentials are needed (neither library calls STS before that), says it is ready on one pipe,
# then blocks reading another until the runner closes it: only the credential fetch races.
GATED_PREFIX = """\
import os, sys
ready, gate = int(sys.argv[1]), int(sys.argv[2])  # pipes from the runner
{imports}
os.write(ready, b'.')
os.read(gate, 1)  # blocks until the runner closes the gate: every process wakes at once
"""
GATED_AWSROLES = (
    GATED_PREFIX.format(imports="import awsroles\ncreds = awsroles.resolve(profile={profile!r})")
    + "print(creds.get_frozen_credentials().access_key)\n"
)
GATED_BOTOCORE = (
    GATED_PREFIX.format(
        imports="import botocore.session\n"
        "from botocore.credentials import JSONFileCache\n"
        "session = botocore.session.Session(profile={profile!r})\n"
        "session.get_component('credential_provider').get_provider('assume-role').cache = "
        "JSONFileCache(\n    os.path.expanduser(os.path.join('~', '.aws', 'cli', 'cache')))\n"
        "creds = session.get_credentials()"
    )
    + "print(creds.get_frozen_credentials().access_key)\n"
)

HEAVY = (
    "requests",
    "urllib3",
    "botocore",
    "dateutil",
    "xml.etree.ElementTree",
    "http.client",
    "ssl",
    "filelock",
)
MODULES = """
import sys, json
heavy = {heavy!r}
sys.stdout.write(json.dumps({{'modules': len(sys.modules),
    'heavy': [m for m in heavy if m in sys.modules]}}))
"""

LIBS = ("awsroles", "botocore")


def scripts(profile: str) -> Dict[str, str]:
    return {
        "awsroles": AWSROLES.format(profile=profile),
        "botocore": BOTOCORE.format(profile=profile),
        "bare": BARE,
    }


class Homes:
    """One HOME per library and purpose, created lazily under ``tmp``."""

    def __init__(self, tmp: str, sts_url: str) -> None:
        self.tmp, self.sts_url = tmp, sts_url
        self._homes: Dict[str, str] = {}

    def home(self, name: str) -> str:
        if name not in self._homes:
            self._homes[name] = make_home(self.tmp, name)
        return self._homes[name]

    def env(self, name: str, **extra: str) -> Dict[str, str]:
        return clean_env(self.home(name), AWS_ENDPOINT_URL_STS=self.sts_url, **extra)


def p1_warm_start(homes: Homes, sts: Any, reps: int) -> Dict[str, Any]:
    """Fresh process, valid cache entries (written by the same library), 2-hop profile."""
    code = scripts("dev")
    envs = {lib: homes.env(f"warm-{lib}") for lib in LIBS}
    envs["bare"] = homes.env("warm-awsroles")
    written = {}
    for lib in LIBS:
        before = sts.count("AssumeRole")
        run_child(code[lib], envs[lib])  # cold: writes the cache entries (one per hop)
        written[lib] = {
            "assume_role_calls": sts.count("AssumeRole") - before,
            "cache_entries": len(cache_entries(envs[lib]["HOME"])),
        }
        run_child(code[lib], envs[lib])  # warm once (bytecode caches, page cache)
    before = sts.count("AssumeRole")
    times: Dict[str, List[float]] = {"bare": [], "awsroles": [], "botocore": []}
    cpu: Dict[str, List[float]] = {"bare": [], "awsroles": [], "botocore": []}
    order = ["bare", "awsroles", "botocore"]
    for i in range(reps):
        for name in order[i % 3 :] + order[: i % 3]:  # rotate the order: no fixed position
            wall, used = time_child(code[name], envs[name])
            times[name].append(wall)
            cpu[name].append(used)
    return {
        **_summary(times, cpu),
        "sts_calls_during_runs": sts.count("AssumeRole") - before,
        "written": written,
        "modules": _modules(code, envs, ("bare",) + LIBS),
    }


def p2_cold_start(homes: Homes, sts: Any, reps: int) -> Dict[str, Any]:
    """Fresh process, empty cache, one AssumeRole (1-hop profile) to the local STS."""
    code = scripts("one")
    envs = {lib: homes.env(f"cold-{lib}") for lib in LIBS}
    for lib in LIBS:  # untimed first run: bytecode of the cold path (requests, ...)
        clear_cache(envs[lib]["HOME"])
        run_child(code[lib], envs[lib])
    times: Dict[str, List[float]] = {lib: [] for lib in LIBS}
    cpu: Dict[str, List[float]] = {lib: [] for lib in LIBS}
    calls: Dict[str, List[int]] = {lib: [] for lib in LIBS}
    for i in range(reps):
        for lib in LIBS if i % 2 == 0 else LIBS[::-1]:
            clear_cache(envs[lib]["HOME"])
            before = sts.count("AssumeRole")
            wall, used = time_child(code[lib], envs[lib])
            times[lib].append(wall)
            cpu[lib].append(used)
            calls[lib].append(sts.count("AssumeRole") - before)
    return {
        **_summary(times, cpu),
        "assume_role_per_process": {k: sorted(set(v)) for k, v in calls.items()},
        "modules": _modules(code, envs, LIBS, cold=True),
    }


def _summary(times: Dict[str, List[float]], cpu: Dict[str, List[float]]) -> Dict[str, Any]:
    return {
        "times": times,
        "median": {k: median(v) for k, v in times.items()},
        "min": {k: min(v) for k, v in times.items()},
        "cpu": cpu,
        "cpu_median": {k: median(v) for k, v in cpu.items()},
    }


def _modules(
    code: Dict[str, str], envs: Dict[str, Dict[str, str]], libs: Any, *, cold: bool = False
) -> Dict[str, Any]:
    """How many modules each script loads, and which heavy ones (cache emptied first when
    ``cold``)."""
    out = {}
    for lib in libs:
        if cold:
            clear_cache(envs[lib]["HOME"])
        stdout = run_child(code[lib] + MODULES.format(heavy=HEAVY), envs[lib]).stdout
        out[lib] = json.loads(stdout)
    return out


def _gated_run(code: str, env: Dict[str, str], n: int) -> Dict[str, Any]:
    ready_r, ready_w = os.pipe()
    gate_r, gate_w = os.pipe()
    procs: List[subprocess.Popen] = []
    outs: List[Any] = []
    try:
        for _ in range(n):
            procs.append(
                subprocess.Popen(
                    [common.CHILD_PYTHON, "-c", code, str(ready_w), str(gate_r)],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    cwd=env["HOME"],
                    pass_fds=(ready_w, gate_r),
                )
            )
        os.close(ready_w)
        os.close(gate_r)
        ready_w = gate_r = -1
        got = 0
        while got < n:  # EOF early means a child died before the gate
            if not select.select([ready_r], [], [], 120)[0]:
                raise ChildFailed("P3: not every process reached the start gate")
            chunk = os.read(ready_r, n)
            if not chunk:
                raise ChildFailed("P3: a process exited before the start gate")
            got += len(chunk)
        started = time.perf_counter()
        os.close(gate_w)
        gate_w = -1
        outs = [p.communicate(timeout=120) for p in procs]
        elapsed = (time.perf_counter() - started) * 1000.0
    finally:
        for fd in (ready_r, ready_w, gate_r, gate_w):
            if fd >= 0:
                os.close(fd)
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p in procs:
        if p.returncode != 0:
            err = p.stderr.read() if p.stderr and not p.stderr.closed else ""
            raise ChildFailed(f"P3 child exited {p.returncode}:\n{err[-3000:]}")
    return {"ms": elapsed, "keys": len({out.strip() for out, _ in outs})}


def p3_stampede(homes: Homes, sts: Any, reps: int, n: int = 16) -> Dict[str, Any]:
    """``n`` processes released together by a gate file, empty cache, same 1-hop profile."""
    code = {
        "awsroles": GATED_AWSROLES.format(profile="one"),
        "botocore": GATED_BOTOCORE.format(profile="one"),
    }
    out: Dict[str, Any] = {"processes": n}
    for lib in LIBS:
        env = homes.env(f"stampede-{lib}")
        calls, ms, keys = [], [], []
        for _ in range(reps):
            clear_cache(env["HOME"])
            before = sts.count("AssumeRole")
            run = _gated_run(code[lib], env, n)
            calls.append(sts.count("AssumeRole") - before)
            ms.append(run["ms"])
            keys.append(run["keys"])
        out[lib] = {"assume_role": calls, "distinct_keys": keys, "ms": ms}
    return out


def p7_peak_rss(homes: Homes, reps: int) -> Dict[str, Any]:
    """ru_maxrss of a fresh process that imports and resolves the cached 2-hop profile (the
    warm HOMEs of P1, so P1 must run first)."""
    code = scripts("dev")
    envs = {lib: homes.env(f"warm-{lib}") for lib in LIBS}
    envs["bare"] = homes.env("warm-awsroles")
    kib: Dict[str, List[int]] = {"bare": [], "awsroles": [], "botocore": []}
    hwm: Dict[str, List[Any]] = {"bare": [], "awsroles": [], "botocore": []}
    for _ in range(reps):
        for name in kib:
            out = run_child(code[name] + RSS, envs[name], launcher=SH_FORK).stdout
            maxrss, own_peak = json.loads(out)
            kib[name].append(maxrss)
            hwm[name].append(own_peak)
    return {
        "kib": kib,
        "vmhwm_kib": hwm,
        "median_mib": {k: median(v) / 1024.0 for k, v in kib.items()},
    }


def import_profile(homes: Homes, top: int = 10, *, cold: bool = False) -> Dict[str, Any]:
    """``python -X importtime`` of awsroles' warm path (P1's 2-hop profile, cache filled), or
    with ``cold`` of its cold path (P2's 1-hop profile, cache emptied first), minus what bare
    ``python`` imports."""

    def parse(stderr: str) -> List[Dict[str, Any]]:
        rows = []
        for line in stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, cum_us, name = line.split(":", 1)[1].split("|")
            depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
            rows.append(
                {"self": int(self_us), "cum": int(cum_us), "name": name.strip(), "depth": depth}
            )
        return rows

    env = homes.env("cold-awsroles" if cold else "warm-awsroles")
    code = scripts("one" if cold else "dev")["awsroles"]
    if cold:
        clear_cache(env["HOME"])
    else:
        run_child(code, env)  # make sure the cache entries exist
    bare = parse(run_child(BARE, env, flags=("-X", "importtime")).stderr)
    ours = parse(run_child(code, env, flags=("-X", "importtime")).stderr)
    seen = {r["name"] for r in bare}
    extra = [r for r in ours if r["name"] not in seen]
    top_level = [r for r in extra if r["depth"] == 0]
    return {
        "total_ms": sum(r["cum"] for r in top_level) / 1000.0,
        "count": len(extra),
        "top_cumulative": sorted(top_level, key=lambda r: -r["cum"])[:top],
        "top_self": sorted(extra, key=lambda r: -r["self"])[:top],
    }


CPROFILE = """\
import cProfile, importlib, io, pstats, sys
for name in sys.argv[1].split(','):   # every module the warm path loads, imported first
    try:
        importlib.import_module(name)
    except Exception:
        pass
import awsroles
prof = cProfile.Profile()
prof.enable()
awsroles.resolve(profile='dev').get_frozen_credentials()
prof.disable()
out = io.StringIO()
stats = pstats.Stats(prof, stream=out)
stats.sort_stats('cumulative').print_stats('awsroles', 15)
sys.stdout.write(out.getvalue())
"""

UNPROFILED = """\
import importlib, sys, time
for name in sys.argv[1].split(','):
    try:
        importlib.import_module(name)
    except Exception:
        pass
import awsroles
started = time.perf_counter()
awsroles.resolve(profile='dev').get_frozen_credentials()
print('%.2f' % ((time.perf_counter() - started) * 1000))
"""

LOADED = "\nimport sys\nprint(','.join(sorted(m for m in sys.modules if m != '__main__')))\n"


def runtime_profile(homes: Homes) -> Dict[str, Any]:
    """The warm path with every module it needs already imported: what is left is the work
    itself (config parse, plan, cache read). Timed without the profiler, then profiled."""
    env = homes.env("warm-awsroles")
    modules = run_child(scripts("dev")["awsroles"] + LOADED, env).stdout.strip()
    bare = set(run_child(LOADED, env).stdout.strip().split(","))
    needed = ",".join(m for m in modules.split(",") if m not in bare)
    ms = median([float(run_child(UNPROFILED, env, args=(needed,)).stdout) for _ in range(5)])
    text = run_child(CPROFILE, env, args=(needed,)).stdout
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    keep = [ln for ln in lines if "function calls" in ln or ln.lstrip()[:1].isdigit()]
    head = [ln for ln in lines if "ncalls" in ln]
    return {"ms": ms, "profile": "\n".join(keep[:1] + head + keep[1:]).replace(ROOT + "/", "")}
