"""awsroles.cache.store on its own: validation, atomic 0600 writes, failure modes, locking."""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awsroles.cache import entry as cache_mod
from awsroles.cache.entry import entry_expiry, is_valid_entry
from awsroles.cache.key import cache_key, default_cache_dir
from awsroles.cache.store import FileCache, MemoryCache, NoCache

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "51e7b105b5040ce662656c8dc6ab4de70c4de7ad"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN"


def entry(expiration="2099-01-01T00:00:00Z", **extra):
    data = {
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLE",
            "SecretAccessKey": SECRET,
            "SessionToken": TOKEN,
            "Expiration": expiration,
        }
    }
    data.update(extra)
    return data


def assert_no_secret(records):
    for rec in records:
        text = rec.getMessage()
        assert SECRET not in text and TOKEN not in text, text


@pytest.fixture
def cdir(tmp_path):
    return str(tmp_path / "cache")


# --- key and directory ----------------------------------------------------------------------


def test_cache_key_drops_falsy_session_name_and_per_call_args():
    base = cache_key({"RoleArn": "arn:aws:iam::123456789012:role/Admin"})
    assert base == KEY
    assert (
        cache_key({"RoleArn": "arn:aws:iam::123456789012:role/Admin", "RoleSessionName": ""}) == KEY
    )
    assert (
        cache_key({"RoleArn": "arn:aws:iam::123456789012:role/Admin", "RoleSessionName": None})
        == KEY
    )
    with_code = {"RoleArn": "arn:aws:iam::123456789012:role/Admin", "TokenCode": "123456"}
    assert cache_key(with_code) == KEY
    assert cache_key({**with_code, "WebIdentityToken": "eyJ..."}) == KEY


def test_cache_key_does_not_mutate_and_rejects_bad_input():
    args = {"RoleArn": "r", "Policy": '{"b": 1, "a": 2}', "RoleSessionName": ""}
    copy = dict(args)
    cache_key(args)
    assert args == copy
    with pytest.raises(ValueError):
        cache_key({"RoleSessionName": "x"})
    with pytest.raises(TypeError):
        cache_key({"RoleArn": "r", "Policy": {"a": 1}})
    with pytest.raises(ValueError):
        cache_key({"RoleArn": "r", "Policy": "{not json"})


def test_default_cache_dir(monkeypatch):
    assert default_cache_dir({"HOME": "/home/u"}) == "/home/u/.aws/cli/cache"
    assert default_cache_dir({"HOME": "/home/u/"}) == "/home/u/.aws/cli/cache"
    for home in ("/home/u", "/home/u/", "/", ""):
        monkeypatch.setenv("HOME", home)
        expected = os.path.expanduser(os.path.join("~", ".aws", "cli", "cache"))
        assert default_cache_dir({"HOME": home}) == expected
    monkeypatch.delenv("HOME")
    expected = os.path.expanduser(os.path.join("~", ".aws", "cli", "cache"))
    assert default_cache_dir({}) == expected


# --- entries --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-22T19:02:12Z", datetime(2026, 11, 22, 19, 2, 12, tzinfo=timezone.utc)),
        ("2026-11-22T19:02:12UTC", datetime(2026, 11, 22, 19, 2, 12, tzinfo=timezone.utc)),
        ("2026-11-22T19:02:12+00:00", datetime(2026, 11, 22, 19, 2, 12, tzinfo=timezone.utc)),
        ("2026-11-22T21:02:12+02:00", datetime(2026, 11, 22, 19, 2, 12, tzinfo=timezone.utc)),
        ("2026-11-22T19:02:12.250Z", datetime(2026, 11, 22, 19, 2, 12, 250000, timezone.utc)),
        ("Sun, 22 Nov 2026 19:02:12 GMT", datetime(2026, 11, 22, 19, 2, 12, tzinfo=timezone.utc)),
    ],
)
def test_entry_expiry_formats(text, expected):
    got = entry_expiry(entry(text))
    assert got == expected and got.tzinfo is timezone.utc


def test_entry_expiry_datetimes_and_errors():
    aware = datetime(2026, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    assert entry_expiry(entry(aware)) == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert entry_expiry(entry(datetime(2026, 1, 1))) == datetime(2026, 1, 1, tzinfo=timezone.utc)
    for bad in ("2026-11-23T00:00:00", "soon", "", 1795370532, None):
        with pytest.raises(ValueError):
            entry_expiry(entry(bad))
    with pytest.raises(ValueError):
        entry_expiry({})


_zones = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda m: timezone(timedelta(minutes=m))
)


@settings(max_examples=150, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(9998, 12, 31), timezones=_zones
    ),
    st.sampled_from(["Z", "UTC", "iso", "iso-ms", "+0000"]),
)
def test_fast_time_parser_agrees_with_dateutil(dt, style):
    from dateutil.parser import parse

    utc = dt.astimezone(timezone.utc)
    if style == "Z":
        text = utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif style == "UTC":
        text = utc.strftime("%Y-%m-%dT%H:%M:%SUTC")
    elif style == "+0000":
        text = utc.strftime("%Y-%m-%dT%H:%M:%S+0000")
    else:
        text = dt.isoformat(timespec="seconds" if style == "iso" else "microseconds")
    assert cache_mod._parse_time(text) == parse(text).astimezone(timezone.utc)


@pytest.mark.parametrize(
    "data",
    [
        {},
        [],
        "x",
        {"Credentials": None},
        {"Credentials": {"AccessKeyId": "a", "SecretAccessKey": "s", "Expiration": "2099-01-01Z"}},
        {"Credentials": {**entry()["Credentials"], "SessionToken": ""}},
        {"Credentials": {**entry()["Credentials"], "SessionToken": 5}},
        entry("2026-11-23T00:00:00"),
        entry(1795370532),
        entry("next tuesday-ish"),
    ],
)
def test_invalid_entries(data):
    assert not is_valid_entry(data)


# --- FileCache: reading ---------------------------------------------------------------------


def write_raw(cdir, key, raw):
    os.makedirs(cdir, exist_ok=True)
    with open(os.path.join(cdir, key + ".json"), "wb") as f:
        f.write(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"Credentials": {',
        b"",
        b"{}",
        b"null",
        b"\xff\xfe garbage",
        json.dumps({"Credentials": {"AccessKeyId": "a", "SecretAccessKey": SECRET}}).encode(),
        json.dumps(entry("2026-11-23T00:00:00")).encode(),
        json.dumps(entry(1795370532)).encode(),
        b" " * (cache_mod.MAX_ENTRY_BYTES + 10),
    ],
    ids=["truncated", "empty", "{}", "null", "binary", "no-token", "naive", "numeric", "huge"],
)
def test_bad_files_are_misses(cdir, raw, caplog):
    caplog.set_level(logging.DEBUG, logger="awsroles.cache")
    write_raw(cdir, KEY, raw)
    assert FileCache(cdir).load(KEY) is None
    assert_no_secret(caplog.records)


def test_missing_entry_and_directory(cdir):
    assert FileCache(cdir).load(KEY) is None
    assert FileCache(cdir).keys() == []


def test_directory_fifo_and_unreadable_are_misses(cdir, monkeypatch):
    fc = FileCache(cdir)
    os.makedirs(os.path.join(cdir, KEY + ".json"))
    assert fc.load(KEY) is None
    other = "0" * 40
    os.mkfifo(os.path.join(cdir, other + ".json"))  # must not hang
    assert fc.load(other) is None
    third = "1" * 40
    assert fc.store(third, entry())
    real_open = os.open

    def denied(path, *a, **kw):
        if str(path).endswith(third + ".json"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, *a, **kw)

    monkeypatch.setattr(os, "open", denied)
    assert fc.load(third) is None


def test_load_returns_whole_dict_with_foreign_keys(cdir):
    data = entry("2026-11-22T19:02:12UTC", AssumedRoleUser={"Arn": "arn"}, Extra=[1, 2])
    write_raw(cdir, KEY, json.dumps(data).encode())
    assert FileCache(cdir).load(KEY) == data


def test_keys_and_iteration_ignore_locks_and_temp_files(cdir):
    fc = FileCache(cdir)
    fc.store(KEY, entry())
    with fc.lock(KEY, timeout=1):
        pass
    open(os.path.join(cdir, ".x.tmp"), "w").close()
    open(os.path.join(cdir, "tmpabc.tmp"), "w").close()
    assert os.path.exists(os.path.join(cdir, KEY + ".json.lock"))
    assert fc.keys() == [KEY] and list(fc) == [KEY]
    assert fc.delete(KEY) is True and fc.delete(KEY) is False
    assert fc.keys() == []


def test_bad_keys_rejected(cdir):
    for bad in ("", "../x", "a/b", ".hidden", "a\0b"):
        with pytest.raises(ValueError):
            FileCache(cdir).load(bad)


# --- FileCache: writing ---------------------------------------------------------------------


def test_store_bytes_and_modes(cdir, umask022):
    fc = FileCache(cdir)
    data = entry(AssumedRoleUser={"AssumedRoleId": "AROA:s", "Arn": "arn:x"}, Note="caf\u00e9")
    assert fc.store(KEY, data) is True
    path = os.path.join(cdir, KEY + ".json")
    with open(path, "rb") as f:
        assert f.read() == json.dumps(data).encode("ascii")  # no newline, default separators
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(cdir).st_mode) == 0o700
    assert fc.load(KEY) == data
    assert sorted(os.listdir(cdir)) == [KEY + ".json"]  # no temp file left


def test_store_creates_missing_parents_0700_and_keeps_existing_dirs(tmp_path, umask022):
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    cdir = home / ".aws" / "cli" / "cache"
    assert FileCache(str(cdir)).store(KEY, entry())
    for d in (home / ".aws", home / ".aws" / "cli", cdir):
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, d
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o755
    existing = tmp_path / "shared"
    existing.mkdir()
    os.chmod(existing, 0o755)
    assert FileCache(str(existing)).store(KEY, entry())
    assert stat.S_IMODE(os.stat(existing).st_mode) == 0o755  # an existing dir is left alone


def test_store_overwrites_0644_file_as_0600(cdir, umask022):
    write_raw(cdir, KEY, b"old")
    os.chmod(os.path.join(cdir, KEY + ".json"), 0o644)
    assert FileCache(cdir).store(KEY, entry())
    assert stat.S_IMODE(os.stat(os.path.join(cdir, KEY + ".json")).st_mode) == 0o600


def test_store_serialises_datetimes_as_sts_wire_format(cdir):
    fc = FileCache(cdir)
    plus2 = timezone(timedelta(hours=2))
    fc.store(KEY, entry(datetime(2026, 11, 22, 21, 2, 12, 999, tzinfo=plus2)))
    with open(os.path.join(cdir, KEY + ".json")) as f:
        assert '"Expiration": "2026-11-22T19:02:12Z"' in f.read()


def test_store_rejects_bad_data_without_echoing_secrets(cdir):
    fc = FileCache(cdir)
    with pytest.raises(ValueError) as err:
        fc.store(KEY, entry(Bad=object()))
    assert SECRET not in str(err.value) and "object" in str(err.value)
    with pytest.raises(ValueError) as err:
        fc.store(KEY, {"Credentials": {"SecretAccessKey": SECRET}})
    assert SECRET not in str(err.value)
    assert not os.path.exists(os.path.join(cdir, KEY + ".json"))


def test_symlink_at_entry_is_replaced_not_written_through(cdir, tmp_path):
    os.makedirs(cdir)
    target = tmp_path / "victim"
    target.write_text("precious")
    os.symlink(target, os.path.join(cdir, KEY + ".json"))
    assert FileCache(cdir).store(KEY, entry())
    assert target.read_text() == "precious"
    path = os.path.join(cdir, KEY + ".json")
    assert not os.path.islink(path) and FileCache(cdir).load(KEY) == entry()


def test_symlink_at_temp_path_is_never_followed(cdir, tmp_path, monkeypatch):
    os.makedirs(cdir)
    target = tmp_path / "victim"
    target.write_text("precious")
    randoms = iter([b"\x00" * 6, b"\x01" * 6])
    monkeypatch.setattr(os, "urandom", lambda n: next(randoms))
    planted = os.path.join(cdir, f".{KEY}.{'00' * 6}.tmp")
    os.symlink(target, planted)
    assert FileCache(cdir).store(KEY, entry())
    assert target.read_text() == "precious" and os.path.islink(planted)
    assert FileCache(cdir).load(KEY) == entry()


def test_symlink_at_lock_path_is_not_followed(cdir, tmp_path, caplog):
    os.makedirs(cdir)
    target = tmp_path / "victim"
    target.write_text("precious")
    os.symlink(target, os.path.join(cdir, KEY + ".json.lock"))
    with FileCache(cdir).lock(KEY, timeout=0.5) as held:
        assert held is False
    assert target.read_text() == "precious"


def test_unwritable_directory_one_warning(tmp_path, caplog):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the directory should be")
    fc = FileCache(str(blocker))
    caplog.set_level(logging.DEBUG, logger="awsroles.cache")
    assert fc.store(KEY, entry()) is False
    assert fc.store(KEY, entry()) is False
    with fc.lock(KEY, timeout=0.2) as held:
        assert held is False
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "not writable" in warnings[0].getMessage()
    assert_no_secret(caplog.records)
    assert fc.load(KEY) is None
    # a second instance warns again (one warning per instance)
    caplog.clear()
    assert FileCache(str(blocker / "sub")).store(KEY, entry()) is False
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1


@pytest.mark.parametrize("failing", ["write", "fsync", "replace"])
def test_disk_errors_clean_up_temp_file(cdir, monkeypatch, caplog, failing):
    fc = FileCache(cdir)
    os.makedirs(cdir)

    def boom(*a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, failing, boom)
    assert fc.store(KEY, entry()) is False
    monkeypatch.undo()
    assert os.listdir(cdir) == []
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    assert_no_secret(caplog.records)


def test_directory_in_place_of_entry_store_fails_cleanly(cdir, caplog):
    os.makedirs(os.path.join(cdir, KEY + ".json"))
    assert FileCache(cdir).store(KEY, entry()) is False
    assert os.listdir(cdir) == [KEY + ".json"]


# --- MemoryCache and NoCache ----------------------------------------------------------------


def test_memory_cache_round_trip_copies_and_validates():
    mc = MemoryCache()
    data = entry(datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert mc.store(KEY, data) is True
    got = mc.load(KEY)
    assert got["Credentials"]["Expiration"] == "2026-01-01T00:00:00Z"
    got["Credentials"]["AccessKeyId"] = "changed"
    assert mc.load(KEY)["Credentials"]["AccessKeyId"] == "ASIAEXAMPLE"
    assert mc.keys() == [KEY] and list(mc) == [KEY]
    with pytest.raises(ValueError):
        mc.store("k", {})
    assert mc.delete(KEY) and mc.load(KEY) is None and not mc.delete(KEY)
    assert "Credentials" not in repr(mc) and SECRET not in repr(mc)


def test_no_cache():
    nc = NoCache()
    assert nc.store(KEY, entry()) is False
    assert nc.load(KEY) is None and nc.keys() == [] and nc.delete(KEY) is False
    with nc.lock(KEY, timeout=0) as held:
        assert held is True


# --- locking --------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda d: FileCache(d), lambda d: MemoryCache()])
def test_threads_exclude_each_other(cdir, make):
    c = make(cdir)
    inside = []
    overlaps = []

    def worker():
        for _ in range(5):
            with c.lock(KEY, timeout=5) as held:
                assert held
                inside.append(1)
                if len(inside) > 1:
                    overlaps.append(1)
                time.sleep(0.005)
                inside.pop()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []


def test_two_file_caches_on_same_dir_share_the_lock(cdir):
    a, b = FileCache(cdir), FileCache(cdir)
    with a.lock(KEY, timeout=1) as held:
        assert held
        result = []
        t = threading.Thread(target=lambda: result.append(_try(b, 0.1)))
        t.start()
        t.join()
        assert result == [False]


def _try(c, timeout):
    with c.lock(KEY, timeout=timeout) as held:
        return held


def test_lock_is_reentrant_in_one_thread(cdir):
    fc = FileCache(cdir)
    with fc.lock(KEY, timeout=1) as outer:
        with fc.lock(KEY, timeout=1) as inner:
            assert outer and inner
    assert _try(fc, 0) is True


@pytest.mark.parametrize("make", [lambda d: FileCache(d), lambda d: MemoryCache()])
def test_thread_lock_timeout_proceeds_with_warning(cdir, make, caplog):
    c = make(cdir)
    taken, release = threading.Event(), threading.Event()

    def holder():
        with c.lock(KEY, timeout=1):
            taken.set()
            release.wait(5)

    t = threading.Thread(target=holder)
    t.start()
    taken.wait(5)
    start = time.monotonic()
    assert _try(c, 0.2) is False
    assert 0.15 < time.monotonic() - start < 2
    release.set()
    t.join()
    assert any("going on without" in r.getMessage() for r in caplog.records)
    assert _try(c, 1) is True
    with pytest.raises(ValueError):
        _try(c, -1)


CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from awsroles.cache.store import FileCache
    fc = FileCache({cdir!r})
    mode = sys.argv[1]
    with fc.lock({key!r}, timeout=10) as held:
        if mode == "hold":
            print("locked", held, flush=True)
            time.sleep(60)
        else:
            with open({log!r}, "a") as f:
                f.write("start %f\\n" % time.time())
            time.sleep(0.15)
            with open({log!r}, "a") as f:
                f.write("end %f\\n" % time.time())
    """
)


def child_script(cdir, tmp_path):
    return CHILD.format(root=ROOT, cdir=cdir, key=KEY, log=str(tmp_path / "log"))


def test_processes_exclude_each_other(cdir, tmp_path):
    script = child_script(cdir, tmp_path)
    procs = [subprocess.Popen([sys.executable, "-c", script, "work"]) for _ in range(3)]
    for p in procs:
        assert p.wait(20) == 0
    lines = (tmp_path / "log").read_text().split()
    events = list(zip(lines[0::2], lines[1::2]))
    assert [e[0] for e in events] == ["start", "end"] * 3  # never two starts in a row


def test_killed_holder_does_not_block(cdir, tmp_path, caplog):
    proc = subprocess.Popen(
        [sys.executable, "-c", child_script(cdir, tmp_path), "hold"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().split() == ["locked", "True"]
        fc = FileCache(cdir)
        start = time.monotonic()
        assert _try(fc, 0.3) is False  # really held by the child
        assert time.monotonic() - start < 2
        assert any("going on without the lock" in r.getMessage() for r in caplog.records)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
    start = time.monotonic()
    assert _try(fc, 5) is True  # the kernel dropped the dead holder's flock
    assert time.monotonic() - start < 1


def test_lock_file_mode_and_directory(cdir, umask022):
    with FileCache(cdir).lock(KEY, timeout=1) as held:
        assert held
    assert stat.S_IMODE(os.stat(cdir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(cdir, KEY + ".json.lock")).st_mode) == 0o600


# --- the fast path --------------------------------------------------------------------------


def test_cache_hit_imports_nothing_heavy(cdir):
    FileCache(cdir).store(KEY, entry())
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {ROOT!r})
        from awsroles.cache.key import cache_key
        from awsroles.cache.entry import entry_expiry
        from awsroles.cache.store import FileCache
        key = cache_key({{"RoleArn": "arn:aws:iam::123456789012:role/Admin"}})
        d = FileCache({cdir!r}).load(key)
        assert d is not None and entry_expiry(d).year == 2099
        heavy = [m for m in sys.modules
                 if m.split(".")[0] in ("requests", "botocore", "filelock", "dateutil", "urllib3")]
        assert not heavy, heavy
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_regex_free_timestamp_path_reads_what_the_regex_reads():
    """timestamps._fixed (the common layouts, no regex) gives _FAST's groups exactly."""
    import re

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from awsroles import timestamps

    digits = st.text(alphabet="0123456789\u0663\u00b2", min_size=1, max_size=4)

    @settings(max_examples=300, deadline=None)
    @given(
        st.tuples(digits, digits, digits, digits, digits, digits),
        st.sampled_from(["-", "/"]),
        st.sampled_from(["T", " ", "t"]),
        st.sampled_from(["Z", "UTC", "+00:00", "GMT", "+01:00", "z", ".5Z", ""]),
    )
    def check(fields, dash, sep, zone):
        y, mo, d, h, mi, s = fields
        text = f"{y}{dash}{mo}{dash}{d}{sep}{h}:{mi}:{s}{zone}"
        fixed = timestamps._fixed(text)
        m = re.match(timestamps._FAST, text)
        if fixed is not None:
            assert m is not None and fixed == m.groups()

    check()
    assert timestamps._fixed("2026-11-22T19:02:12UTC") == (
        "2026",
        "11",
        "22",
        "19",
        "02",
        "12",
        None,
        "UTC",
    )
