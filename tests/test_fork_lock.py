"""A process forked while awsroles holds a cache entry's lock: the lock ends with the parent.

An ``flock`` belongs to the open file, which a forked child shares: a child that kept its copy
of the descriptor would hold the lock for as long as it lives, after its parent died. The
forks happen in a subprocess running :data:`SCRIPT` (this test process never forks while it
holds a lock). Its child sleeps long after forking; it shares the subprocess's stdout pipe, so
the pipe reaching end-of-file tells that the child is gone, and no end-of-file that it lives.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import pytest

from awsroles.cache.store import FileCache

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork") or sys.platform == "win32", reason="POSIX fork and flock"
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "0123456789abcdef0123456789abcdef01234567"

# argv: cache directory, key, mode. Modes:
#   exit     hold the lock, fork, then die without unlocking (os._exit)
#   kill     hold the lock, fork, then wait to be killed
#   release  hold the lock, fork, release it when a line arrives on stdin, then wait
#   keep     as "exit", with awsroles' fork handler removed first (what the child would do
#            without it)
#   free     take and release the lock, then fork: the child and the parent lock in turn
# The child of a held lock reports on one line and sleeps (30 s at most).
SCRIPT = r"""
import os, sys, time
from awsroles import _fork
from awsroles.cache import lock as lock_mod
from awsroles.cache.store import FileCache

directory, key, mode = sys.argv[1], sys.argv[2], sys.argv[3]

def say(*words):
    os.write(1, (" ".join(str(w) for w in words) + "\n").encode())

def closed(fd):
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False

def try_lock(timeout):
    with FileCache(directory).lock(key, timeout=timeout) as held:
        return held

if mode == "free":
    assert try_lock(2) is True
    to_parent_r, to_parent_w = os.pipe()
    to_child_r, to_child_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        with FileCache(directory).lock(key, timeout=2) as held:
            os.write(to_parent_w, b"1" if held else b"0")
            os.read(to_child_r, 1)  # hold it until the parent has tried
        os._exit(0 if held else 3)
    child_held = os.read(to_parent_r, 1) == b"1"
    parent_while_child_holds = try_lock(0.3)
    os.write(to_child_w, b"x")
    _, status = os.waitpid(pid, 0)
    say("free", child_held, parent_while_child_holds, os.WEXITSTATUS(status), try_lock(2))
    sys.exit(0)

if mode == "keep":
    _fork._functions.remove(lock_mod._disown_inherited)

ready_r, ready_w = os.pipe()
with FileCache(directory).lock(key, timeout=5) as held:
    fds = sorted(h.fd for h in lock_mod._HELD)
    say("parent", os.getpid(), held, len(fds))
    pid = os.fork()
    if pid == 0:
        try:
            # first, before this process opens anything that could reuse the numbers
            inherited_closed = all(closed(fd) for fd in fds)
            # a new open file: the lock is the parent's, so this one cannot have it
            child_got = try_lock(0.3)
            say("child", os.getpid(), inherited_closed, len(lock_mod._HELD), child_got)
            os.write(ready_w, b"x")
            os.close(ready_w)
            time.sleep(30)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.read(ready_r, 1)  # the child has reported
    if mode in ("exit", "keep"):
        os._exit(0)  # dies holding the lock: no unlock, the kernel closes its descriptor
    say("waiting")
    sys.stdin.readline()  # "kill": SIGKILL arrives here
say("released")
sys.stdin.readline()
"""


class Run:
    """The subprocess running SCRIPT, and the child it forked."""

    def __init__(self, directory: str, mode: str) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, directory, KEY, mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,  # raw pipes: select() sees exactly what readline() has not read
            env=env,
            cwd=ROOT,
        )
        self.child_pid = None

    def line(self, timeout: float = 10.0) -> list:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, f"the script said nothing within {timeout:.0f} s"
        text = self.proc.stdout.readline().decode()
        assert text, "the script's output ended"
        return text.split()

    def expect_held_and_child(self) -> list:
        """The parent's line (it holds the lock, through one descriptor), then the child's,
        which is returned."""
        words = self.line()
        assert words[0] == "parent" and words[2:] == ["True", "1"], words
        words = self.line()
        assert words[0] == "child", words
        self.child_pid = int(words[1])
        return words

    def tell(self) -> None:
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def pipe_open(self, timeout: float = 0.0) -> bool:
        """True while a process holding the pipe's write end (the child, once the parent
        has ended) lives: no end-of-file within ``timeout``."""
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return True
        return self.proc.stdout.read(1) != b""

    def child_alive(self) -> bool:
        assert self.child_pid is not None
        try:
            os.kill(self.child_pid, 0)
        except ProcessLookupError:
            return False
        return self.pipe_open()

    def stop(self) -> None:
        """Kill whatever is left and wait for the pipe to close (the child may not be ours
        to wait for: it was re-parented when its parent ended)."""
        if self.child_pid is not None and self.pipe_open():
            try:
                os.kill(self.child_pid, signal.SIGKILL)
            except ProcessLookupError:  # pragma: no cover - ended on its own
                pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while self.pipe_open(0.2) and time.monotonic() < deadline:
            pass
        self.proc.stdin.close()
        self.proc.stdout.close()


@pytest.fixture
def run(tmp_path):
    runs = []

    def start(mode: str) -> Run:
        r = Run(str(tmp_path / "cache"), mode)
        runs.append(r)
        return r

    yield start
    for r in runs:
        r.stop()


def _try_lock(directory, timeout: float):
    """(held, seconds) of this process trying the lock through a new FileCache."""
    start = time.monotonic()
    with FileCache(directory).lock(KEY, timeout=timeout) as held:
        return held, time.monotonic() - start


def test_lock_ends_with_a_parent_that_exits_while_its_child_lives(tmp_path, run, caplog):
    r = run("exit")
    r.expect_held_and_child()
    assert r.proc.wait(timeout=10) == 0

    held, seconds = _try_lock(str(tmp_path / "cache"), 2.0)

    assert held is True
    assert seconds < 1.5  # at once, not after waiting out the timeout
    assert not [rec for rec in caplog.records if "without the lock" in rec.getMessage()]
    assert r.child_alive()  # the child lives on, and does not hold the lock


def test_lock_ends_with_a_parent_killed_while_its_child_lives(tmp_path, run):
    r = run("kill")
    r.expect_held_and_child()
    assert r.line() == ["waiting"]
    assert _try_lock(str(tmp_path / "cache"), 0.3)[0] is False  # held by the live parent
    r.proc.send_signal(signal.SIGKILL)
    assert r.proc.wait(timeout=10) == -signal.SIGKILL

    held, seconds = _try_lock(str(tmp_path / "cache"), 2.0)

    assert held is True
    assert seconds < 1.5
    assert r.child_alive()


def test_child_of_a_holder_does_not_hold_the_lock(tmp_path, run):
    """The child closed its copy of the held descriptor at once, has no lock handle, and a
    lock it tries (a new open file) is refused while the parent holds it: its in-process
    lock state was reset too, or it would take its parent's lock as re-entered."""
    r = run("release")
    words = r.expect_held_and_child()
    inherited_closed, handles, child_got = words[2:]
    assert inherited_closed == "True"
    assert handles == "0"
    assert child_got == "False"
    assert r.line() == ["waiting"]

    # the parent still holds it while it lives, however long the child sleeps
    held, seconds = _try_lock(str(tmp_path / "cache"), 0.3)
    assert held is False and seconds >= 0.25
    assert r.child_alive()

    r.tell()  # the parent unlocks and lives on
    assert r.line() == ["released"]
    assert _try_lock(str(tmp_path / "cache"), 2.0)[0] is True
    assert r.proc.poll() is None and r.child_alive()


def test_fork_while_holding_no_lock_changes_nothing(tmp_path, run):
    """Parent and child, forked after a lock was taken and released, each lock and exclude
    the other as before."""
    r = run("free")
    child_held, parent_while_child_holds, child_status, parent_after = r.line()[1:]
    assert child_held == "True"
    assert parent_while_child_holds == "False"
    assert child_status == "0"
    assert parent_after == "True"
    assert r.proc.wait(timeout=10) == 0
    assert _try_lock(str(tmp_path / "cache"), 2.0)[0] is True


def test_without_the_fork_handler_the_child_would_keep_the_lock(tmp_path, run):
    """What the tests above guard against, shown with awsroles' fork handler removed in the
    subprocess: the child's copy of the descriptor keeps the lock after the parent died,
    until the child itself ends."""
    r = run("keep")
    words = r.expect_held_and_child()
    assert words[2] == "False"  # the inherited descriptor stayed open
    assert r.proc.wait(timeout=10) == 0

    assert _try_lock(str(tmp_path / "cache"), 0.3)[0] is False
    assert r.child_alive()

    os.kill(r.child_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while r.pipe_open(0.2) and time.monotonic() < deadline:
        pass
    assert _try_lock(str(tmp_path / "cache"), 2.0)[0] is True
