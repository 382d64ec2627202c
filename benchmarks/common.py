"""Shared pieces of the benchmark runner: the child interpreter, clean environments,
throwaway HOMEs, timing, stats.

Every child process runs :data:`CHILD_PYTHON`: a virtual environment in which awsroles is
installed from this checkout as a user installs it (a wheel, not an editable install: an
editable install's import hook runs at every interpreter start, bare ``python -c pass``
included, and would skew every figure). Each child gets an environment built from scratch
(HOME, PATH and the AWS variables the measurement needs), so nothing from the caller's shell
leaks in, and no process can reach beyond 127.0.0.1: instance metadata is disabled unless the
measurement points it at the local fake, and STS is the local fake through
``AWS_ENDPOINT_URL_STS``.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: The interpreter of fresh-process measurements; :func:`install_child_python` sets it.
CHILD_PYTHON = sys.executable
#: How awsroles is installed for the children (for the report).
CHILD_INSTALL = "this checkout on PYTHONPATH"
ACCOUNT = "123456789012"
BASE_KEY = "AKIABENCHBASE0000001"
BASE_SECRET = "bench-base-secret-key"
REGION = "us-east-1"

#: Two role hops (dev -> ops -> static keys of [base]): the P1/P7 profile.
#: One role hop (one -> static keys of [base]): the P2/P3 profile.
CONFIG = f"""\
[profile ops]
role_arn = arn:aws:iam::{ACCOUNT}:role/Ops
source_profile = base

[profile dev]
role_arn = arn:aws:iam::{ACCOUNT}:role/Dev
source_profile = ops
role_session_name = bench-dev
region = {REGION}

[profile one]
role_arn = arn:aws:iam::{ACCOUNT}:role/One
source_profile = base
role_session_name = bench-one
region = {REGION}
"""
CREDENTIALS = f"""\
[base]
aws_access_key_id = {BASE_KEY}
aws_secret_access_key = {BASE_SECRET}
"""


def install_child_python(parent: str) -> str:
    """Make the children's interpreter: a virtual environment under ``parent`` with awsroles
    installed from this checkout by ``pip install`` (a wheel built from the source tree), and
    the runner's own site-packages (botocore, requests, ...) after it, as a plain path: its
    ``.pth`` files (an editable install's import hook among them) are not run."""
    global CHILD_PYTHON, CHILD_INSTALL
    import sysconfig

    venv = os.path.join(parent, "child-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = os.path.join(venv, "Scripts" if os.name == "nt" else "bin", "python")
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", purelib, ROOT],
        check=True,
        capture_output=True,
    )
    with open(os.path.join(purelib, "runner-site-packages.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    CHILD_PYTHON = python
    CHILD_INSTALL = "a wheel of this checkout, installed with pip into a fresh virtualenv"
    return python


def clean_env(home: str, **extra: str) -> Dict[str, str]:
    """A child environment from scratch: HOME, PATH, IMDS off, plus ``extra``."""
    env = {
        "HOME": home,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": REGION,
    }
    env.update(extra)
    return env


def scrub_own_environment() -> None:
    """The runner's own process also measures things in-process (P5, P6): drop every
    variable that could redirect it (AWS_*, BOTO*, proxies) and disable instance metadata."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "BOTO")) or name.lower().endswith("_proxy"):
            del os.environ[name]
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


_real_connect = socket.socket.connect


def _loopback_only(sock: socket.socket, address, *args, **kwargs):  # type: ignore[no-untyped-def]
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and not (
        host.startswith("127.") or host in ("::1", "localhost") or host.startswith("/")
    ):
        raise OSError(f"benchmark tried to connect to {host}: only loopback is allowed")
    return _real_connect(sock, address, *args, **kwargs)


def guard_loopback() -> None:
    """Refuse any non-loopback connection from the runner's own process."""
    socket.socket.connect = _loopback_only  # type: ignore[method-assign]


def make_home(parent: str, name: str) -> str:
    """A HOME with the benchmark's ~/.aws/config and ~/.aws/credentials, and no cache."""
    home = os.path.join(parent, name)
    aws = os.path.join(home, ".aws")
    os.makedirs(aws, exist_ok=True)
    with open(os.path.join(aws, "config"), "w") as f:
        f.write(CONFIG)
    with open(os.path.join(aws, "credentials"), "w") as f:
        f.write(CREDENTIALS)
    return home


def cache_dir(home: str) -> str:
    return os.path.join(home, ".aws", "cli", "cache")


def cache_entries(home: str) -> List[str]:
    d = cache_dir(home)
    if not os.path.isdir(d):
        return []
    return sorted(n for n in os.listdir(d) if n.endswith(".json"))


def clear_cache(home: str) -> None:
    shutil.rmtree(cache_dir(home), ignore_errors=True)


class ChildFailed(RuntimeError):
    pass


def run_child(
    code: str,
    env: Dict[str, str],
    *,
    args: Sequence[str] = (),
    flags: Sequence[str] = (),
    launcher: Sequence[str] = (),
    timeout: float = 120.0,
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [*launcher, CHILD_PYTHON, *flags, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=env["HOME"],
    )
    if proc.returncode != 0:
        raise ChildFailed(f"child exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


def time_child(code: str, env: Dict[str, str]) -> Tuple[float, float]:
    """One fresh ``python -c code`` process: wall-clock milliseconds from start to exit (as the
    runner sees it), and the CPU milliseconds (user + system) the child used, which other
    load on the machine disturbs less."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [CHILD_PYTHON, "-c", code],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            cwd=env["HOME"],
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = (time.perf_counter() - started) * 1000.0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            text = err.read().decode("utf-8", "replace")
            raise ChildFailed(f"child exited {proc.returncode}:\n{text[-3000:]}")
    return elapsed, (usage.ru_utime + usage.ru_stime) * 1000.0


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of already sorted values, nearest rank."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, int(round(q * len(sorted_values) + 0.5)) - 1))
    return sorted_values[index]


def ratio(a: float, b: float) -> Optional[float]:
    if not b or a != a or b != b:
        return None
    return a / b


def machine() -> Dict[str, str]:
    """CPU model, cores, OS, Python, botocore version and the awsroles commit."""
    import platform

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import botocore

        botocore_version = botocore.__version__
    except ImportError:  # pragma: no cover - botocore is needed for the comparison
        botocore_version = "not installed"
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "botocore": botocore_version,
        "awsroles": awsroles_commit(),
    }


def load() -> str:
    """The 1/5/15-minute load averages (other work on the machine skews absolute times)."""
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except (AttributeError, OSError):  # pragma: no cover - not on this platform
        return "n/a"


def awsroles_commit() -> str:
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
        return out.stdout.strip() if out.returncode == 0 else ""

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "awsroles")
    return f"{commit}{' + uncommitted changes in awsroles/' if dirty else ''}"
