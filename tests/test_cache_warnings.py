"""The credential cache's warnings say what happened, and the resolution goes on.

A lock file that cannot be used (a planted symlink, one that belongs to someone else) is named
as such and the entry is still written; "is not writable; credentials kept in memory only" is
said only when the cache directory itself cannot be made; a cache directory that every user
can write to, or another user's, is warned about once per process and still used. No message
carries a secret.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import tempfile

import pytest

from awsroles.cache import store as store_mod
from awsroles.cache.key import cache_key
from awsroles.cache.store import FileCache
from awsroles.testing import local_aws

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and symlinks")

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
OTHER_UID = 65534  # "nobody"
needs_root = pytest.mark.skipif(not IS_ROOT, reason="giving a file to another user needs root")

NOT_WRITABLE = "credentials kept in memory only"
LOCK_FILE = "cannot use the lock file"
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n"

#: A cache entry like the ones STS answers are stored as; its secrets must never be logged.
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYWARNINGSECRET"
TOKEN = "FwoGZXIvYXdzEXAMPLEWARNINGSESSIONTOKEN"
ENTRY = {
    "Credentials": {
        "AccessKeyId": "ASIAWARNINGEXAMPLE01",
        "SecretAccessKey": SECRET,
        "SessionToken": TOKEN,
        "Expiration": "2099-01-01T00:00:00Z",
    }
}


@pytest.fixture(autouse=True)
def _fresh_directory_checks(monkeypatch):
    """The "writable by others" check runs once per directory per process: each test starts
    with none made, so the tests do not depend on each other's order."""
    monkeypatch.setattr(store_mod, "_CHECKED_DIRECTORIES", set())
    monkeypatch.setattr(store_mod, "_WARNED", set())


@pytest.fixture
def logs(caplog):
    """Every record of the "awsroles" loggers, from DEBUG up."""
    caplog.set_level(logging.DEBUG, logger="awsroles")
    return caplog


def _warnings(caplog):
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("awsroles") and r.levelno >= logging.WARNING
    ]


def _messages(caplog):
    return [r.getMessage() for r in caplog.records if r.name.startswith("awsroles")]


def _assert_no_secret(caplog, *secrets):
    for text in _messages(caplog):
        for secret in (SECRET, TOKEN) + secrets:
            assert secret not in text, text


def _dev_key(aws):
    """The cache key of the default ``dev`` profile's role (no session name, no options)."""
    return cache_key({"RoleArn": aws.role_arn("Dev")})


def _resolve_dev(aws, **options):
    """Resolve ``dev`` and return the frozen credentials, checking they came from STS."""
    frozen = aws.resolve("dev", **options).get_frozen_credentials()
    assert frozen.access_key.startswith("ASIA")
    return frozen


def _assert_valid_entry(directory, key, access_key):
    """``<key>.json`` is a private regular file holding the credentials just issued."""
    path = os.path.join(directory, key + ".json")
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600
    loaded = FileCache(directory).load(key)
    assert loaded is not None
    assert loaded["Credentials"]["AccessKeyId"] == access_key


def _snapshot(path):
    st = os.stat(path)
    with open(path, "rb") as f:
        return f.read(), st.st_size, st.st_mode, st.st_mtime_ns, st.st_ino


# --- a symlink planted as the lock file -----------------------------------------------------


def test_symlinked_lock_file_is_named_not_followed_and_the_entry_is_written(tmp_path, logs):
    target = tmp_path / "passwd"
    target.write_text(PASSWD)
    os.chmod(target, 0o644)
    before = _snapshot(target)
    with local_aws(home=str(tmp_path / "home")) as aws:
        os.makedirs(aws.cache_dir, mode=0o700)
        key = _dev_key(aws)
        lock_path = os.path.join(aws.cache_dir, key + ".json.lock")
        os.symlink(str(target), lock_path)

        frozen = _resolve_dev(aws)

        assert aws.sts.count("AssumeRole") == 1
        _assert_valid_entry(aws.cache_dir, key, frozen.access_key)
        warnings = _warnings(logs)
        assert len(warnings) == 1, warnings
        assert LOCK_FILE in warnings[0]
        assert lock_path in warnings[0]  # the file at fault, by its path
        assert "it is a symbolic link, which awsroles never follows" in warnings[0]
        assert "going on without the lock" in warnings[0]
        assert not any(NOT_WRITABLE in m or "not writable" in m for m in _messages(logs))
        _assert_no_secret(logs, frozen.secret_key, frozen.token, aws.secret_key)

    assert _snapshot(target) == before  # not opened for writing, truncated or chmod-ed
    assert os.path.islink(lock_path)  # and the planted link left as it was
    assert os.readlink(lock_path) == str(target)


def test_dangling_lock_symlink_does_not_create_its_target(tmp_path, logs):
    cdir = tmp_path / "cache"
    cdir.mkdir(mode=0o700)
    key = "a" * 40
    target = tmp_path / "created-through-the-link"
    os.symlink(str(target), str(cdir / (key + ".json.lock")))
    cache = FileCache(str(cdir))

    with cache.lock(key, timeout=2) as held:
        assert held is False
        assert cache.store(key, ENTRY) is True

    assert not os.path.lexists(str(target))
    assert cache.load(key) == ENTRY
    warnings = _warnings(logs)
    assert len(warnings) == 1 and LOCK_FILE in warnings[0], warnings
    assert not any(NOT_WRITABLE in m for m in _messages(logs))
    _assert_no_secret(logs)


def test_lock_file_warning_is_given_once_per_cache(tmp_path, logs):
    """Two entries whose lock files are planted symlinks: one warning, then a debug record,
    each naming its own lock file."""
    cdir = tmp_path / "cache"
    cdir.mkdir(mode=0o700)
    target = tmp_path / "victim"
    target.write_text("precious")
    keys = ["b" * 40, "c" * 40]
    for key in keys:
        os.symlink(str(target), str(cdir / (key + ".json.lock")))
    cache = FileCache(str(cdir))
    for key in keys:
        with cache.lock(key, timeout=1) as held:
            assert held is False
            assert cache.store(key, ENTRY) is True

    named = [r for r in logs.records if LOCK_FILE in r.getMessage()]
    assert [r.levelno for r in named] == [logging.WARNING, logging.DEBUG]
    for record, key in zip(named, keys):
        assert key + ".json.lock" in record.getMessage()
    assert target.read_text() == "precious"
    assert sorted(cache.keys()) == keys


# --- a lock file that belongs to another user -----------------------------------------------


def _as_other_user(directory, key):
    """Lock, store and load one entry as user ``OTHER_UID``, in a forked child that drops
    root first (no exec: the interpreter may live where that user cannot go). Returns the
    child's results and its "awsroles" log records as ``(level, message)`` pairs."""
    warm = tempfile.mkdtemp(prefix="awsroles-warm-")  # every lazy import done before fork()
    try:
        cache = FileCache(warm)
        with cache.lock(key, timeout=1):
            cache.store(key, ENTRY)
        cache.load(key)
    finally:
        shutil.rmtree(warm, ignore_errors=True)

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read_end)
            records = []

            class Keep(logging.Handler):
                def emit(self, record):
                    records.append((record.levelname, record.getMessage()))

            logging.getLogger("awsroles").addHandler(Keep(logging.DEBUG))
            os.setgroups([])
            os.setgid(OTHER_UID)
            os.setuid(OTHER_UID)
            cache = FileCache(directory)
            with cache.lock(key, timeout=2) as held:
                stored = cache.store(key, ENTRY)
            loaded = cache.load(key) == ENTRY
            report = {"held": held, "stored": stored, "loaded": loaded, "records": records}
            os.write(write_end, json.dumps(report).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        chunks = []
        while True:
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    return json.loads(b"".join(chunks))


@needs_root
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_lock_file_of_another_user_gets_its_own_warning():
    """The cache directory belongs to the user running awsroles, the lock file in it to
    another user (0600): it cannot be opened, which is said as such, and the entry is still
    written."""
    base = tempfile.mkdtemp(prefix="awsroles-owner-")  # tmp_path's parents are 0700
    try:
        os.chmod(base, 0o711)
        cdir = os.path.join(base, "cache")
        os.mkdir(cdir, 0o700)
        os.chown(cdir, OTHER_UID, OTHER_UID)
        key = "d" * 40
        lock_path = os.path.join(cdir, key + ".json.lock")
        os.close(os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))  # root's

        report = _as_other_user(cdir, key)

        assert (report["held"], report["stored"], report["loaded"]) == (False, True, True)
        warnings = [text for level, text in report["records"] if level == "WARNING"]
        assert len(warnings) == 1, report["records"]
        assert LOCK_FILE in warnings[0] and lock_path in warnings[0]
        assert "EACCES" in warnings[0]
        for _, text in report["records"]:
            assert NOT_WRITABLE not in text
            assert SECRET not in text and TOKEN not in text
        st = os.stat(os.path.join(cdir, key + ".json"))
        assert st.st_uid == OTHER_UID and stat.S_IMODE(st.st_mode) == 0o600
        assert os.stat(lock_path).st_uid == 0  # left alone
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.skipif(IS_ROOT, reason="root opens a file whatever its permissions")
def test_lock_file_this_user_cannot_open_gets_its_own_warning(tmp_path, logs):
    """What a normal user meets with another user's 0600 lock file: the open is refused."""
    cdir = tmp_path / "cache"
    cdir.mkdir(mode=0o700)
    key = "e" * 40
    lock_path = cdir / (key + ".json.lock")
    lock_path.write_text("")
    os.chmod(str(lock_path), 0o000)
    try:
        cache = FileCache(str(cdir))
        with cache.lock(key, timeout=1) as held:
            assert held is False
            assert cache.store(key, ENTRY) is True
        assert cache.load(key) == ENTRY
    finally:
        os.chmod(str(lock_path), 0o600)
    warnings = _warnings(logs)
    assert len(warnings) == 1, warnings
    assert LOCK_FILE in warnings[0] and str(lock_path) in warnings[0]
    assert "EACCES" in warnings[0]
    assert not any(NOT_WRITABLE in m for m in _messages(logs))
    _assert_no_secret(logs)


@needs_root
def test_root_uses_a_lock_file_given_to_another_user(tmp_path, logs):
    """Root can open a lock file that belongs to someone else: the lock is taken, the file is
    left as it is, and nothing claims the cache is unwritable."""
    with local_aws(home=str(tmp_path / "home")) as aws:
        os.makedirs(aws.cache_dir, mode=0o700)
        key = _dev_key(aws)
        lock_path = os.path.join(aws.cache_dir, key + ".json.lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        os.chown(lock_path, OTHER_UID, OTHER_UID)

        frozen = _resolve_dev(aws)

        _assert_valid_entry(aws.cache_dir, key, frozen.access_key)
        st = os.lstat(lock_path)
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (OTHER_UID, 0o600)
        assert not any(NOT_WRITABLE in m for m in _messages(logs))
        _assert_no_secret(logs, frozen.secret_key, frozen.token, aws.secret_key)


# --- a cache directory that cannot be made --------------------------------------------------

CHAIN = """\
[profile ops]
role_arn = arn:aws:iam::123456789012:role/Ops
source_profile = base

[profile dev]
role_arn = arn:aws:iam::123456789012:role/Dev
source_profile = ops
"""


def test_cache_directory_under_a_file_warns_once_and_credentials_are_returned(tmp_path, logs):
    """``~/.aws/cli`` is a regular file, so ``~/.aws/cli/cache`` cannot be made (whoever runs
    the test, root included). A two-hop chain locks and stores two entries: one warning."""
    with local_aws(CHAIN, home=str(tmp_path / "home")) as aws:
        blocker = os.path.join(aws.aws_dir, "cli")
        with open(blocker, "w") as f:
            f.write("not a directory")

        frozen = _resolve_dev(aws)

        assert aws.sts.count("AssumeRole") == 2
        warnings = _warnings(logs)
        assert len(warnings) == 1, warnings
        assert warnings[0] == (
            f"credential cache {aws.cache_dir} is not writable (ENOTDIR: Not a directory); "
            "credentials kept in memory only"
        )
        assert not any(LOCK_FILE in m for m in _messages(logs))
        with open(blocker) as f:
            assert f.read() == "not a directory"
        _assert_no_secret(logs, frozen.secret_key, frozen.token, aws.secret_key)

        # a long-running program resolving again is not warned again
        logs.clear()
        _resolve_dev(aws, cache=FileCache(aws.cache_dir))
        assert _warnings(logs) == []


def test_unmakeable_cache_directory_given_as_a_cache(tmp_path, logs):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cdir = str(blocker / "cache")
    with local_aws(home=str(tmp_path / "home")) as aws:
        frozen = _resolve_dev(aws, cache=FileCache(cdir))
        assert frozen.secret_key
    warnings = _warnings(logs)
    assert len(warnings) == 1, warnings
    assert cdir in warnings[0] and NOT_WRITABLE in warnings[0]
    assert not os.path.exists(cdir)
    _assert_no_secret(logs, frozen.secret_key, frozen.token)


# --- a cache directory others can write to --------------------------------------------------


def _mode_warnings(caplog):
    return [m for m in _warnings(caplog) if "another user could plant credentials" in m]


def test_world_writable_cache_directory_warns_once_per_process_and_is_used(tmp_path, logs):
    with local_aws(home=str(tmp_path / "home")) as aws:
        os.makedirs(aws.cache_dir)
        os.chmod(aws.cache_dir, 0o777)

        frozen = _resolve_dev(aws)

        warnings = _warnings(logs)
        assert warnings == [
            f"credential cache {aws.cache_dir} is writable by every user: another user could "
            "plant credentials there. awsroles uses it anyway; make it yours and private "
            "(chmod 700)"
        ]
        _assert_valid_entry(aws.cache_dir, _dev_key(aws), frozen.access_key)  # used
        assert stat.S_IMODE(os.stat(aws.cache_dir).st_mode) == 0o777  # and kept as it is

        # Another resolution in this process (a new cache object): no second warning, and
        # the entry written there is used.
        logs.clear()
        again = _resolve_dev(aws)
        assert again.access_key == frozen.access_key
        assert aws.sts.count("AssumeRole") == 1
        assert _warnings(logs) == []
        _assert_no_secret(logs, frozen.secret_key, frozen.token, aws.secret_key)


def test_world_writable_warning_is_per_directory(tmp_path, logs):
    first, second = tmp_path / "one", tmp_path / "two"
    for d in (first, second):
        d.mkdir()
        os.chmod(str(d), 0o777)
    for d in (first, second, first, second):
        assert FileCache(str(d)).load("f" * 40) is None
    warnings = _mode_warnings(logs)
    assert len(warnings) == 2, warnings
    assert str(first) in warnings[0] and str(second) in warnings[1]


@pytest.mark.parametrize("mode", [0o700, 0o755])
def test_private_cache_directory_is_not_warned_about(tmp_path, logs, mode):
    with local_aws(home=str(tmp_path / "home")) as aws:
        os.makedirs(aws.cache_dir)
        os.chmod(aws.cache_dir, mode)
        frozen = _resolve_dev(aws)
        _assert_valid_entry(aws.cache_dir, _dev_key(aws), frozen.access_key)
    assert _warnings(logs) == []


def test_missing_cache_directory_is_made_private_without_a_warning(tmp_path, logs):
    with local_aws(home=str(tmp_path / "home")) as aws:
        assert not os.path.exists(aws.cache_dir)
        frozen = _resolve_dev(aws)
        assert stat.S_IMODE(os.stat(aws.cache_dir).st_mode) == 0o700
        _assert_valid_entry(aws.cache_dir, _dev_key(aws), frozen.access_key)
    assert _warnings(logs) == []


@needs_root
def test_cache_directory_of_another_user_is_warned_about_and_used(tmp_path, logs):
    with local_aws(home=str(tmp_path / "home")) as aws:
        os.makedirs(aws.cache_dir, mode=0o700)
        os.chown(aws.cache_dir, OTHER_UID, OTHER_UID)

        frozen = _resolve_dev(aws)

        warnings = _warnings(logs)
        assert warnings == [
            f"credential cache {aws.cache_dir} belongs to another user: another user could "
            "plant credentials there. awsroles uses it anyway; make it yours and private "
            "(chmod 700)"
        ]
        _assert_valid_entry(aws.cache_dir, _dev_key(aws), frozen.access_key)
        assert os.stat(aws.cache_dir).st_uid == OTHER_UID  # kept as it is
        logs.clear()
        _resolve_dev(aws)
        assert _warnings(logs) == []
        _assert_no_secret(logs, frozen.secret_key, frozen.token, aws.secret_key)


@pytest.mark.skipif(IS_ROOT, reason="as root, every directory here is our own")
def test_directory_owned_by_root_is_another_users_for_a_normal_user(logs):
    if os.stat("/").st_uid == os.getuid():  # pragma: no cover - an unusual system
        pytest.skip("/ belongs to this user")
    assert FileCache("/").load("0" * 40) is None
    warnings = _mode_warnings(logs)
    assert len(warnings) == 1 and "credential cache / belongs to another user" in warnings[0]
