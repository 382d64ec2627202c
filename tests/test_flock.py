"""awsroles.cache.lock: the cross-process lock on a cache entry's ``<key>.json.lock`` file.

Other processes are real subprocesses (``sys.executable -c``) holding the lock through
awsroles.cache.lock or through ``filelock.FileLock``; they print ``ready`` once they hold it and
release it when a line arrives on their stdin.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import signal
import stat
import subprocess
import sys
import threading
import time
import types

import pytest

import awsroles.cache.lock as flock_mod
from awsroles.cache.lock import LockTimeout, acquire

fcntl = pytest.importorskip("fcntl")
filelock = pytest.importorskip("filelock")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX flock behaviour")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "0123456789abcdef0123456789abcdef01234567"  # 40 hex chars, like a sha1 cache key

# Hold the lock on argv[2] ("ours": awsroles.cache.lock, "filelock": filelock.FileLock) until
# a line (or EOF) arrives on stdin.
HOLDER = r"""
import sys
kind, path = sys.argv[1], sys.argv[2]
if kind == "ours":
    from awsroles.cache.lock import acquire
    handle = acquire(path, 10)
else:
    import filelock
    handle = filelock.FileLock(path)
    handle.acquire(timeout=10)
print("ready", flush=True)
sys.stdin.readline()
handle.release()
print("released", flush=True)
"""

# Try once to take the lock on argv[2] within argv[3] seconds; print the outcome and time.
CONTENDER = r"""
import sys, time
kind, path, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
if kind == "ours":
    from awsroles.cache.lock import LockTimeout as Busy, acquire
else:
    import filelock
    from filelock import Timeout as Busy
start = time.monotonic()
try:
    if kind == "ours":
        handle = acquire(path, timeout)
    else:
        handle = filelock.FileLock(path)
        handle.acquire(timeout=timeout)
except Busy:
    print("timeout %.3f" % (time.monotonic() - start), flush=True)
else:
    handle.release()
    print("acquired %.3f" % (time.monotonic() - start), flush=True)
"""


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _readline(proc, timeout=10.0):
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, f"subprocess said nothing within {timeout:.0f} s"
    return proc.stdout.readline().strip()


@pytest.fixture
def holder():
    """Start a subprocess holding the lock; returns it once it says it holds it."""
    procs = []

    def start(kind, path):
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, kind, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=_env(),
            cwd=ROOT,
        )
        procs.append(proc)
        assert _readline(proc) == "ready"
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:  # pragma: no cover - a pipe to a killed process
                pass


def _stop(proc):
    """Tell a holder to release; wait until it has."""
    proc.stdin.write("go\n")
    proc.stdin.flush()
    assert _readline(proc) == "released"
    assert proc.wait(timeout=10) == 0


def _contend(kind, path, timeout):
    """(outcome, seconds) of another process trying the lock within ``timeout``."""
    result = subprocess.run(
        [sys.executable, "-c", CONTENDER, kind, str(path), str(timeout)],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=20,
    )
    assert result.returncode == 0, result.stderr
    outcome, seconds = result.stdout.split()
    return outcome, float(seconds)


def _fd_dir():
    for name in ("/proc/self/fd", "/dev/fd"):
        if os.path.isdir(name):
            return name
    pytest.skip("no /proc/self/fd or /dev/fd to count open files")


def _open_fds(fd_dir):
    """Open files that are lock files, where the system says what an fd is open on (else every
    open file): other threads of the test run (servers, background refreshes) open and close
    sockets at any time, which must not count."""
    count = 0
    for name in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, name))
        except OSError:
            target = ".lock"  # cannot tell what it is: count it
        count += target.endswith(".lock")
    return count


def _raw_hold(path):
    """Hold an flock on ``path`` through a separate open file (conflicts in-process too)."""
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def _is_locked(path):
    """True when some other open file holds an flock on ``path``."""
    fd = os.open(str(path), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _fake_fcntl(*errors):
    """A stand-in for the module's ``fcntl`` whose first LOCK_EX|LOCK_NB calls raise
    ``OSError(errno)`` for each of ``errors`` in turn, then defer to the real flock. The real
    module is not touched, so filelock keeps the real ``fcntl.flock``."""
    pending = list(errors)
    calls = []

    def fake_flock(fd, op):
        calls.append(op)
        if op == fcntl.LOCK_EX | fcntl.LOCK_NB and pending:
            code = pending.pop(0)
            raise OSError(code, os.strerror(code))
        return fcntl.flock(fd, op)

    fake = types.SimpleNamespace(
        flock=fake_flock, LOCK_EX=fcntl.LOCK_EX, LOCK_NB=fcntl.LOCK_NB, LOCK_UN=fcntl.LOCK_UN
    )
    return fake, calls


# --- one process ----------------------------------------------------------------------------


def test_acquire_release_creates_0600_and_locks(tmp_path, umask022):
    path = tmp_path / "k.json.lock"
    handle = acquire(str(path), 1.0)
    try:
        assert isinstance(handle, flock_mod._Flock)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert _is_locked(path)
    finally:
        handle.release()
    assert not _is_locked(path)
    assert path.exists()  # the lock file stays: unlinking it would split waiters


def test_existing_lock_file_mode_is_kept(tmp_path):
    path = tmp_path / "k.json.lock"
    path.write_text("")
    os.chmod(path, 0o640)
    acquire(str(path), 1.0).release()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_release_twice_is_harmless(tmp_path):
    path = tmp_path / "k.json.lock"
    handle = acquire(str(path), 1.0)
    handle.release()
    handle.release()
    assert handle.fd == -1
    again = acquire(str(path), 0)  # and the second release did not disturb a new holder
    try:
        handle.release()
        assert _is_locked(path)
    finally:
        again.release()


def test_release_closes_the_fd(tmp_path):
    fd_dir = _fd_dir()
    path = tmp_path / "k.json.lock"
    acquire(str(path), 1.0).release()  # warm up any lazy imports
    before = _open_fds(fd_dir)
    handle = acquire(str(path), 1.0)
    fd = handle.fd
    assert _open_fds(fd_dir) == before + 1
    os.fstat(fd)  # open while held
    handle.release()
    assert _open_fds(fd_dir) == before
    with pytest.raises(OSError) as info:
        os.fstat(fd)
    assert info.value.errno == errno.EBADF


def test_lock_timeout_leaks_no_fd(tmp_path):
    fd_dir = _fd_dir()
    path = tmp_path / "k.json.lock"
    raw = _raw_hold(path)
    try:
        with pytest.raises(LockTimeout):  # warm up
            acquire(str(path), 0)
        before = _open_fds(fd_dir)
        for timeout in (0, 0.1):
            with pytest.raises(LockTimeout) as info:
                acquire(str(path), timeout, poll_interval=0.02)
            assert str(path) in str(info.value)
        assert _open_fds(fd_dir) == before
    finally:
        os.close(raw)


def test_timeout_zero_on_a_free_lock_succeeds(tmp_path):
    path = tmp_path / "k.json.lock"
    handle = acquire(str(path), 0)
    try:
        assert _is_locked(path)
    finally:
        handle.release()


def test_timeout_zero_and_negative_on_a_held_lock_raise_at_once(tmp_path):
    path = tmp_path / "k.json.lock"
    raw = _raw_hold(path)
    try:
        for timeout in (0, -1):
            start = time.monotonic()
            with pytest.raises(LockTimeout):
                acquire(str(path), timeout, poll_interval=1.0)
            assert time.monotonic() - start < 0.5  # no poll_interval sleep
    finally:
        os.close(raw)


def test_timeout_waits_about_the_timeout(tmp_path):
    path = tmp_path / "k.json.lock"
    raw = _raw_hold(path)
    try:
        start = time.monotonic()
        with pytest.raises(LockTimeout):
            acquire(str(path), 0.3, poll_interval=0.05)
        elapsed = time.monotonic() - start
        assert 0.25 <= elapsed < 2.0
    finally:
        os.close(raw)


def test_acquire_succeeds_when_released_during_the_wait(tmp_path):
    path = tmp_path / "k.json.lock"
    raw = _raw_hold(path)
    timer = threading.Timer(0.2, os.close, (raw,))
    timer.start()
    try:
        start = time.monotonic()
        handle = acquire(str(path), 5.0, poll_interval=0.02)
        elapsed = time.monotonic() - start
        handle.release()
        assert 0.15 <= elapsed < 2.0
    finally:
        timer.join()


def test_unopenable_path_raises_oserror_not_timeout(tmp_path):
    with pytest.raises(OSError) as info:
        acquire(str(tmp_path / "missing-dir" / "k.json.lock"), 0.1)
    assert not isinstance(info.value, LockTimeout)
    assert info.value.errno == errno.ENOENT


# --- symlinks -------------------------------------------------------------------------------

needs_nofollow = pytest.mark.skipif(not hasattr(os, "O_NOFOLLOW"), reason="no O_NOFOLLOW")


@needs_nofollow
@pytest.mark.parametrize("backend", ["flock", "filelock"])
def test_symlink_at_lock_path_is_not_followed(tmp_path, monkeypatch, backend):
    if backend == "filelock":
        monkeypatch.setattr(flock_mod, "_HAVE_FLOCK", False)
    target = tmp_path / "precious"
    target.write_text("do not touch")
    os.chmod(target, 0o644)
    before = os.stat(target)
    link = tmp_path / "k.json.lock"
    link.symlink_to(target)
    with pytest.raises(OSError) as info:
        acquire(str(link), 0.2)
    assert not isinstance(info.value, LockTimeout)
    assert info.value.errno == errno.ELOOP
    after = os.stat(target)
    assert target.read_text() == "do not touch"
    assert (after.st_mode, after.st_size, after.st_mtime_ns) == (
        before.st_mode,
        before.st_size,
        before.st_mtime_ns,
    )
    assert not _is_locked(target)


@needs_nofollow
def test_dangling_symlink_target_is_not_created(tmp_path):
    target = tmp_path / "elsewhere"
    link = tmp_path / "k.json.lock"
    link.symlink_to(target)
    with pytest.raises(OSError) as info:
        acquire(str(link), 0.2)
    assert info.value.errno == errno.ELOOP
    assert not target.exists()


# --- other processes ------------------------------------------------------------------------


def test_cross_process_exclusion(tmp_path, holder):
    path = tmp_path / "k.json.lock"
    proc = holder("ours", path)
    start = time.monotonic()
    with pytest.raises(LockTimeout):
        acquire(str(path), 0.3)
    assert 0.25 <= time.monotonic() - start < 2.0
    _stop(proc)
    # and the other direction: we hold it, another process using awsroles.cache.lock waits out
    _assert_we_exclude("ours", path, acquire(str(path), 2.0))


def test_filelock_holder_excludes_us(tmp_path, holder):
    path = tmp_path / "k.json.lock"
    proc = holder("filelock", path)
    start = time.monotonic()
    with pytest.raises(LockTimeout):
        acquire(str(path), 0.3)
    assert time.monotonic() - start < 2.0
    _stop(proc)
    acquire(str(path), 2.0).release()


def test_we_exclude_a_filelock_contender(tmp_path):
    path = tmp_path / "k.json.lock"
    _assert_we_exclude("filelock", path, acquire(str(path), 1.0))


def _assert_we_exclude(kind: str, path, handle) -> None:
    """While ``handle`` is held a ``kind`` contender process times out; once it is released
    the contender acquires."""
    try:
        outcome, seconds = _contend(kind, path, 0.3)
        assert outcome == "timeout"
        assert 0.25 <= seconds < 2.0
    finally:
        handle.release()
    assert _contend(kind, path, 0.3)[0] == "acquired"


def test_killed_holder_does_not_block(tmp_path, holder):
    path = tmp_path / "k.json.lock"
    proc = holder("ours", path)
    with pytest.raises(LockTimeout):
        acquire(str(path), 0)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    start = time.monotonic()
    handle = acquire(str(path), 5.0)
    try:
        assert time.monotonic() - start < 1.0
    finally:
        handle.release()


# --- the filelock fallback ------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(flock_mod._UNSUPPORTED))
def test_unsupported_flock_falls_back_to_filelock(tmp_path, monkeypatch, code):
    fd_dir = _fd_dir()
    fake, calls = _fake_fcntl(code)
    monkeypatch.setattr(flock_mod, "fcntl", fake)
    path = tmp_path / "k.json.lock"
    before = _open_fds(fd_dir)
    handle = acquire(str(path), 1.0)
    try:
        assert calls == [fcntl.LOCK_EX | fcntl.LOCK_NB]  # one refused try, then filelock
        assert isinstance(handle, flock_mod._FileLock)
        assert isinstance(handle.lock, filelock.BaseFileLock)
        assert handle.lock.is_locked
        assert handle.lock.lock_file == str(path)
        assert _is_locked(path)  # filelock's flock: still excludes other processes
        assert _open_fds(fd_dir) == before + 1  # our own fd was closed, filelock holds one
    finally:
        handle.release()
    assert not handle.lock.is_locked
    assert not _is_locked(path)
    assert _open_fds(fd_dir) == before
    handle.release()  # twice is harmless here too


def test_fallback_timeout_is_lock_timeout_within_the_deadline(tmp_path, monkeypatch):
    fake, _ = _fake_fcntl(errno.ENOLCK)
    monkeypatch.setattr(flock_mod, "fcntl", fake)
    path = tmp_path / "k.json.lock"
    raw = _raw_hold(path)
    try:
        start = time.monotonic()
        with pytest.raises(LockTimeout):
            acquire(str(path), 0.3)
        assert 0.2 <= time.monotonic() - start < 2.0
    finally:
        os.close(raw)


def test_without_fcntl_filelock_is_used(tmp_path, monkeypatch, holder, umask022):
    monkeypatch.setattr(flock_mod, "_HAVE_FLOCK", False)
    path = tmp_path / "k.json.lock"
    handle = acquire(str(path), 1.0)
    try:
        assert isinstance(handle, flock_mod._FileLock)
        assert handle.lock.is_locked
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert _is_locked(path)
    finally:
        handle.release()
    assert not _is_locked(path)

    proc = holder("ours", path)  # and it is excluded by a flock holder
    start = time.monotonic()
    with pytest.raises(LockTimeout):
        acquire(str(path), 0.3)
    assert 0.25 <= time.monotonic() - start < 2.0
    _stop(proc)
    acquire(str(path), 1.0).release()


def test_without_fcntl_negative_timeout_does_not_wait_forever(tmp_path, monkeypatch):
    monkeypatch.setattr(flock_mod, "_HAVE_FLOCK", False)
    path = tmp_path / "k.json.lock"
    raw = _raw_hold(path)
    outcome = []

    def contend():
        try:
            acquire(str(path), -1).release()
            outcome.append("acquired")
        except LockTimeout:
            outcome.append("timeout")

    thread = threading.Thread(target=contend, daemon=True)
    thread.start()
    thread.join(2.0)
    os.close(raw)  # let a stuck contender finish either way
    thread.join(5.0)
    assert outcome == ["timeout"]


@pytest.mark.parametrize("code", [errno.EAGAIN, errno.EACCES, errno.EINTR])
def test_contention_errnos_are_retried(tmp_path, monkeypatch, code):
    fake, calls = _fake_fcntl(code, code)
    monkeypatch.setattr(flock_mod, "fcntl", fake)
    handle = acquire(str(tmp_path / "k.json.lock"), 2.0, poll_interval=0.01)
    try:
        assert isinstance(handle, flock_mod._Flock)
        assert calls == [fcntl.LOCK_EX | fcntl.LOCK_NB] * 3
    finally:
        handle.release()


@pytest.mark.parametrize("code", [errno.EBADF, errno.EIO])
def test_unexpected_errno_propagates_and_closes_the_fd(tmp_path, monkeypatch, code):
    fd_dir = _fd_dir()
    fake, calls = _fake_fcntl(code)
    monkeypatch.setattr(flock_mod, "fcntl", fake)
    before = _open_fds(fd_dir)
    with pytest.raises(OSError) as info:
        acquire(str(tmp_path / "k.json.lock"), 1.0)
    assert not isinstance(info.value, LockTimeout)
    assert info.value.errno == code
    assert len(calls) == 1  # not retried, and filelock not tried
    assert _open_fds(fd_dir) == before


# --- through FileCache.lock -----------------------------------------------------------------


def test_file_cache_lock_holds_the_lock_file(tmp_path, caplog):
    from awsroles.cache.store import FileCache

    cache = FileCache(str(tmp_path / "cache"))
    path = tmp_path / "cache" / (KEY + ".json.lock")
    with caplog.at_level(logging.WARNING):
        with cache.lock(KEY, timeout=0.3) as held:
            assert held is True
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            outcome, _ = _contend("filelock", path, 0.3)
            assert outcome == "timeout"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert _contend("filelock", path, 0.3)[0] == "acquired"


def test_file_cache_lock_goes_on_without_a_held_lock(tmp_path, caplog, holder):
    from awsroles.cache.store import FileCache

    directory = tmp_path / "cache"
    directory.mkdir()
    path = directory / (KEY + ".json.lock")
    proc = holder("filelock", path)
    cache = FileCache(str(directory))
    start = time.monotonic()
    with caplog.at_level(logging.WARNING):
        with cache.lock(KEY, timeout=0.3) as held:
            assert held is False
    assert 0.25 <= time.monotonic() - start < 2.0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "going on without the lock" in warnings[0].getMessage()
    assert proc.poll() is None  # the holder was not disturbed
    _stop(proc)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        with cache.lock(KEY, timeout=0.3) as held:
            assert held is True
    assert not caplog.records


def test_file_cache_lock_rejects_a_bad_key(tmp_path):
    from awsroles.cache.store import FileCache

    cache = FileCache(str(tmp_path))
    with pytest.raises(ValueError):
        with cache.lock("../" + KEY, timeout=0.3):
            pass  # pragma: no cover
    assert not list(tmp_path.iterdir())


def test_a_misbehaving_lock_library_does_not_stop_the_cache(tmp_path, monkeypatch, caplog):
    """Anything the lock raises (an old filelock's TypeError, say) is one warning, and the
    cache goes on without the lock: a lock problem never fails resolution."""
    from awsroles.cache.store import FileCache

    def broken(*args, **kw):
        raise TypeError("__init__() got an unexpected keyword argument 'mode'")

    monkeypatch.setattr(flock_mod, "acquire", broken)
    cache = FileCache(str(tmp_path / "cache"))
    with caplog.at_level(logging.WARNING, logger="awsroles"):
        with cache.lock("b" * 40, timeout=1) as held:
            assert held is False
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"credential cache: cannot lock {'b' * 40} (TypeError); going on without the lock"
    ]


def test_the_filelock_fallback_does_not_need_filelock_mode(tmp_path, monkeypatch):
    """filelock before 3.10 has no ``mode=`` (a TypeError): the fallback goes on without it.
    Such a version leaves the file's mode as it finds it, and the fallback made the file 0600
    before handing it over."""
    import filelock

    real = filelock.FileLock
    found = []

    def old_style(path, *args, **kw):
        if "mode" in kw:
            raise TypeError("__init__() got an unexpected keyword argument 'mode'")
        found.append(stat.S_IMODE(os.stat(path).st_mode))
        return real(path, *args, **kw)

    monkeypatch.setattr(flock_mod, "_HAVE_FLOCK", False)
    monkeypatch.setattr(filelock, "FileLock", old_style)
    path = tmp_path / "k.json.lock"
    handle = acquire(str(path), 0.5)
    try:
        assert found == [0o600]
        assert _is_locked(path)
    finally:
        handle.release()
