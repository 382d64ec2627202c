"""Role chains far deeper than any real one, and STS rejecting a hop's source credentials as
expired (revoked sessions, another machine's clock): the chain resolves without recursion,
a rejected source is fetched again exactly once, and the cache keeps no rejected entry."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

import awsroles
from awsroles.cache.key import cache_key
from awsroles.cli.main import main
from awsroles.errors import AwsRolesError, ExpiredTokenError, SourceProfileCycleError
from awsroles.testing.fake_sts import FakeSTS

from helpers import (
    ACCOUNT,
    BASE_KEY,
    BASE_SECRET,
    cache_dir,
    cache_files,
    make_env,
    role,
    write_aws_files,
)

DEPTH = 400
CYCLE = 300

#: base (static keys) -> a -> b; b's sessions last 15 minutes, a's an hour, so the clock can
#: reach b's refresh windows while a's cache entry is still valid.
TWO_HOP = f"""\
[profile a]
role_arn = {role("A")}
source_profile = base

[profile b]
role_arn = {role("B")}
source_profile = a
duration_seconds = 900
"""
A_ENTRY = cache_key({"RoleArn": role("A")})
B_ENTRY = cache_key({"RoleArn": role("B"), "DurationSeconds": 900})
REJECTED = "STS rejected the source credentials as expired"


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


def _chain_config(n):
    """p1..pn, each a role whose source is the profile before it; p0 has the keys."""
    return "".join(
        f"[profile p{i}]\nrole_arn = {role(f'R{i}')}\nsource_profile = p{i - 1}\n\n"
        for i in range(1, n + 1)
    )


def _cycle_config(n):
    """p0..p(n-1), each a role whose source is the profile before it, p0's being the last."""
    return "".join(
        f"[profile p{i}]\nrole_arn = {role(f'R{i}')}\nsource_profile = p{(i - 1) % n}\n\n"
        for i in range(n)
    )


P0_KEYS = f"[p0]\naws_access_key_id = {BASE_KEY}\naws_secret_access_key = {BASE_SECRET}\n"


def _depth():
    frame, n = sys._getframe(), 0
    while frame is not None:
        n, frame = n + 1, frame.f_back
    return n


class _LowRecursionLimit:
    """A recursion limit ``room`` frames above the current depth, restored on exit: anything
    that recursed once per hop of a long chain would hit it."""

    def __init__(self, room):
        self.room = room

    def __enter__(self):
        self.old = sys.getrecursionlimit()
        self.limit = _depth() + self.room
        sys.setrecursionlimit(self.limit)
        return self

    def __exit__(self, *exc):
        sys.setrecursionlimit(self.old)


def _resolve(home, sts, clock, profile, **kw):
    return awsroles.resolve(
        profile, env=make_env(home, sts.url), clock=clock, background_refresh=False, **kw
    )


def _entry(home, key):
    path = os.path.join(cache_dir(home), key + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def _entry_key(home, key):
    data = _entry(home, key)
    return None if data is None else data["Credentials"]["AccessKeyId"]


def _assumes(sts, since=0):
    """(role name, signing key, HTTP status) of each AssumeRole call after the first ``since``."""
    calls = [c for c in sts.calls if c.action == "AssumeRole"][since:]
    return [(c.params["RoleArn"].rsplit("/", 1)[1], c.access_key, c.status) for c in calls]


def _cached_secrets(home):
    found = [BASE_SECRET]
    for name in cache_files(home):
        creds = _entry(home, name[:-5])["Credentials"]
        found += [creds["SecretAccessKey"], creds["SessionToken"]]
    return found


def _rejection_warnings(caplog):
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and REJECTED in r.getMessage()
    ]


# --- a chain of 400 hops ------------------------------------------------------------------


def test_a_chain_of_400_source_profile_hops_resolves_cold_then_warm(home, fake_sts, clock):
    write_aws_files(home, _chain_config(DEPTH), P0_KEYS)
    creds = _resolve(home, fake_sts, clock, f"p{DEPTH}")
    frozen = creds.get_frozen_credentials()
    assert frozen.access_key.startswith("ASIA") and frozen.token
    # one call per hop, innermost first, each signed by the credentials of the hop before
    calls = [c for c in fake_sts.calls if c.action == "AssumeRole"]
    assert [c.params["RoleArn"] for c in calls] == [role(f"R{i}") for i in range(1, DEPTH + 1)]
    assert all(c.status == 200 for c in calls)
    assert calls[0].access_key == BASE_KEY
    keys = {i: _entry_key(home, cache_key({"RoleArn": role(f"R{i}")})) for i in range(1, DEPTH)}
    assert [c.access_key for c in calls[1:]] == [keys[i] for i in range(1, DEPTH)]
    assert len(cache_files(home)) == DEPTH
    assert _entry_key(home, cache_key({"RoleArn": role(f"R{DEPTH}")})) == frozen.access_key
    outer = _entry(home, cache_key({"RoleArn": role(f"R{DEPTH}")}))
    assert outer["AssumedRoleUser"]["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/R")
    assert f"/R{DEPTH}/" in outer["AssumedRoleUser"]["Arn"]

    # a new resolution, as a new process makes it, is the outermost entry: no call at all
    again = _resolve(home, fake_sts, clock, f"p{DEPTH}").get_frozen_credentials()
    assert again.access_key == frozen.access_key
    assert fake_sts.count("AssumeRole") == DEPTH


def test_explain_describes_all_400_hops_and_their_cache_entries(
    fake_sts, clock, clean_env, monkeypatch, capsys
):
    write_aws_files(clean_env, _chain_config(DEPTH), P0_KEYS)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # before any call: every hop is listed, none has an entry
    text = awsroles.explain(f"p{DEPTH}", clock=clock)
    hops = [line for line in text.splitlines() if "AssumeRole arn:" in line]
    assert len(hops) == DEPTH
    assert hops[-1].strip() == f"{DEPTH + 1}. AssumeRole {role(f'R{DEPTH}')} [profile 'p{DEPTH}']"
    assert text.count("no valid entry (STS will be called)") == DEPTH

    env = make_env(clean_env, fake_sts.url)
    awsroles.resolve(f"p{DEPTH}", env=env, clock=clock).get_frozen_credentials()
    assert awsroles.explain(f"p{DEPTH}", env=env, clock=clock).count(": valid, expires") == DEPTH

    # the command prints the same report; exit 0, no secret
    code = main(["explain", "--profile", f"p{DEPTH}"])
    out, err = capsys.readouterr()
    assert code == 0 and "awsroles: error" not in err
    assert f"profile 'p{DEPTH}' resolves as assume-role" in out
    assert len([line for line in out.splitlines() if "AssumeRole arn:" in line]) == DEPTH
    # judged by the system clock, not the test's: each entry is listed with its expiry
    assert out.count(".json: ") == DEPTH
    assert out.count(", expires 2030-01-01T01:00:00+00:00") == DEPTH
    assert all(secret not in out + err for secret in _cached_secrets(clean_env))
    assert fake_sts.count("AssumeRole") == DEPTH  # explain never calls STS


def test_a_400_hop_chain_resolves_under_a_recursion_limit_below_its_depth(home, fake_sts, clock):
    write_aws_files(home, _chain_config(DEPTH), P0_KEYS)
    outer = cache_key({"RoleArn": role(f"R{DEPTH}")})
    with _LowRecursionLimit(150) as low:
        assert low.limit < DEPTH  # recursion by hop would need at least one frame per hop
        creds = _resolve(home, fake_sts, clock, f"p{DEPTH}")
        cold = creds.get_frozen_credentials()
        assert fake_sts.count("AssumeRole") == DEPTH
        # warm, but the outermost entry is gone: the other 399 come from the cache, one call
        os.remove(os.path.join(cache_dir(home), outer + ".json"))
        warm = _resolve(home, fake_sts, clock, f"p{DEPTH}").get_frozen_credentials()
    assert fake_sts.count("AssumeRole") == DEPTH + 1
    assert warm.access_key != cold.access_key
    last = [c for c in fake_sts.calls if c.action == "AssumeRole"][-1]
    assert last.params["RoleArn"] == role(f"R{DEPTH}")
    assert last.access_key == _entry_key(home, cache_key({"RoleArn": role(f"R{DEPTH - 1}")}))
    assert sys.getrecursionlimit() == low.old


@pytest.mark.parametrize("depth", [3, DEPTH])
def test_a_chain_whose_every_cached_session_was_revoked_recovers_without_recursion(
    home, fake_sts, clock, caplog, depth
):
    """Every session of the chain revoked at once (or rejected for this machine's clock):
    each hop's source is rejected in turn and fetched again, level by level, and that must
    not nest one refresh inside the other for every hop either."""
    write_aws_files(home, _chain_config(depth), P0_KEYS)
    _resolve(home, fake_sts, clock, f"p{depth}").get_frozen_credentials()
    entries = [cache_key({"RoleArn": role(f"R{i}")}) for i in range(1, depth + 1)]
    revoked = {_entry_key(home, key) for key in entries}
    for key in revoked:
        fake_sts.expire(key)
    os.remove(os.path.join(cache_dir(home), entries[-1] + ".json"))  # the outer hop must call
    fake_sts.reset()
    failure = None
    with _LowRecursionLimit(150), caplog.at_level(logging.WARNING, logger="awsroles"):
        try:
            creds = _resolve(home, fake_sts, clock, f"p{depth}").get_frozen_credentials()
        except AwsRolesError as exc:  # told in one line: its causes nest as deep as the chain
            failure = f"{type(exc).__name__}: {exc}"
    if failure is not None:
        pytest.fail(f"resolution failed after {fake_sts.count('AssumeRole')} calls: {failure}")
    assert creds.access_key not in revoked
    assert {_entry_key(home, key) for key in entries}.isdisjoint(revoked)
    calls = _assumes(fake_sts)
    assert all(status == 200 for _, key, status in calls if key not in revoked)
    assert len(calls) <= 2 * depth  # at most one rejection per hop
    assert not any("RecursionError" in r.getMessage() for r in caplog.records)


def test_a_source_profile_cycle_of_300_profiles_is_a_typed_error_naming_it(
    fake_sts, clock, clean_env, monkeypatch, capsys
):
    write_aws_files(clean_env, _cycle_config(CYCLE))
    top = f"p{CYCLE - 1}"
    expected = tuple(f"p{i}" for i in range(CYCLE - 1, -1, -1)) + (top,)
    with _LowRecursionLimit(150):
        with pytest.raises(SourceProfileCycleError) as err:
            _resolve(clean_env, fake_sts, clock, top)
    assert err.value.chain == expected
    message = str(err.value)
    assert " -> ".join(expected) in message
    assert err.value.profile == "p0" and err.value.key == "source_profile"
    assert os.path.join(str(clean_env), ".aws", "config") in message
    assert fake_sts.count() == 0

    # explain reports the same error and exits 2
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code = main(["explain", "--profile", top])
    out, _ = capsys.readouterr()
    assert code == 2
    assert "source_profile links form a loop: " + " -> ".join(expected) in out


# --- STS rejecting a hop's source credentials as expired ------------------------------------


def _refresh_b(how, creds, clock):
    if how == "invalidated":
        assert creds.invalidate()
    else:  # 30 s left of b's 15 minutes: mandatory; a has 45 min left, its entry is valid
        clock.advance(minutes=14, seconds=30)


@pytest.mark.parametrize("how", ["invalidated", "clock"])
def test_a_rejected_source_is_fetched_again_and_its_entry_replaced(
    home, fake_sts, clock, caplog, how
):
    write_aws_files(home, TWO_HOP)
    creds = _resolve(home, fake_sts, clock, "b")
    b1 = creds.get_frozen_credentials().access_key
    a1 = _entry_key(home, A_ENTRY)
    assert _entry_key(home, B_ENTRY) == b1
    assert _assumes(fake_sts) == [("A", BASE_KEY, 200), ("B", a1, 200)]
    fake_sts.expire(a1)
    _refresh_b(how, creds, clock)
    with caplog.at_level(logging.INFO, logger="awsroles"):
        b2 = creds.get_frozen_credentials().access_key
    a2 = _entry_key(home, A_ENTRY)
    # b's call with a's old set is refused; a is fetched again from the base; b's retry works
    assert _assumes(fake_sts, 2) == [("B", a1, 400), ("A", BASE_KEY, 200), ("B", a2, 200)]
    assert a2 not in (None, a1) and b2 != b1
    assert _entry_key(home, B_ENTRY) == b2
    warnings = _rejection_warnings(caplog)
    assert len(warnings) == 1 and "profile 'b'" in warnings[0]
    assert any(f"deleted cache entry {A_ENTRY}.json" in r.getMessage() for r in caplog.records)
    # another resolution is served by the new entries
    assert _resolve(home, fake_sts, clock, "b").get_frozen_credentials().access_key == b2
    assert fake_sts.count("AssumeRole") == 5


class _RevokingSTS(FakeSTS):
    """A FakeSTS that, once ``revoke_temporary`` is set, treats every temporary key as
    expired the moment it signs a request: fresh credentials are rejected too."""

    revoke_temporary = False

    def handle(self, method, path, headers, raw, length=None):
        auth = headers.get("Authorization") or ""
        if self.revoke_temporary and "Credential=ASIA" in auth:
            self.expire(auth.split("Credential=", 1)[1].split("/", 1)[0])
        return super().handle(method, path, headers, raw, length)


@pytest.fixture
def revoking_sts(clock):
    with _RevokingSTS(clock=clock) as sts:
        sts.add_user(BASE_KEY, BASE_SECRET, ACCOUNT, "base-user")
        yield sts


@pytest.mark.parametrize("how", ["invalidated", "clock"])
def test_a_source_rejected_again_after_its_refetch_fails_after_one_retry(
    home, revoking_sts, clock, caplog, how
):
    sts = revoking_sts
    write_aws_files(home, TWO_HOP)
    creds = _resolve(home, sts, clock, "b")
    creds.get_frozen_credentials()
    a1 = _entry_key(home, A_ENTRY)
    sts.revoke_temporary = True
    _refresh_b(how, creds, clock)
    with caplog.at_level(logging.WARNING, logger="awsroles"):
        with pytest.raises(ExpiredTokenError) as err:
            creds.get_frozen_credentials()
    a2 = _entry_key(home, A_ENTRY)
    assert a2 not in (None, a1)
    # one retry, with a fetched again: three calls, then the error
    assert _assumes(sts, 2) == [("B", a1, 400), ("A", BASE_KEY, 200), ("B", a2, 400)]
    assert err.value.role_arn == role("B") and err.value.code == "ExpiredToken"
    assert role("B") in str(err.value) and "expired" in str(err.value)
    assert all(secret not in str(err.value) for secret in _cached_secrets(home))
    assert len(_rejection_warnings(caplog)) == 1


def test_the_rejected_entry_is_deleted_even_when_fetching_it_again_fails(
    home, fake_sts, clock, caplog
):
    write_aws_files(home, TWO_HOP)
    creds = _resolve(home, fake_sts, clock, "b")
    creds.get_frozen_credentials()
    a1 = _entry_key(home, A_ENTRY)
    fake_sts.expire(a1)
    fake_sts.expire(BASE_KEY)  # a cannot be assumed again either
    assert creds.invalidate()
    with caplog.at_level(logging.WARNING, logger="awsroles"):
        with pytest.raises(ExpiredTokenError) as err:
            creds.get_frozen_credentials()
    assert _assumes(fake_sts, 2) == [("B", a1, 400), ("A", BASE_KEY, 400)]
    assert err.value.role_arn == role("A")
    # no process takes the rejected set from the cache again
    assert _entry(home, A_ENTRY) is None
    assert _entry(home, B_ENTRY) is None  # b's set was invalidated: dropped from the cache too
    assert len(_rejection_warnings(caplog)) == 1


def test_expired_long_lived_base_keys_fail_at_once_and_keep_the_cache(
    home, fake_sts, clock, caplog
):
    write_aws_files(home, TWO_HOP)
    creds = _resolve(home, fake_sts, clock, "b")
    b1 = creds.get_frozen_credentials().access_key
    a1 = _entry_key(home, A_ENTRY)
    fake_sts.expire(BASE_KEY)
    clock.advance(minutes=59, seconds=30)  # a has 30 s left: it must be refreshed from the base
    with caplog.at_level(logging.INFO, logger="awsroles"):
        with pytest.raises(ExpiredTokenError) as err:
            creds.get_frozen_credentials()
    assert _assumes(fake_sts, 2) == [("A", BASE_KEY, 400)]  # no retry: keys cannot be fetched
    assert err.value.role_arn == role("A")
    assert BASE_SECRET not in str(err.value)
    assert _entry_key(home, A_ENTRY) == a1 and _entry_key(home, B_ENTRY) == b1
    assert not _rejection_warnings(caplog)
    assert not any(f"deleted cache entry {A_ENTRY}" in r.getMessage() for r in caplog.records)


def test_expired_base_keys_under_a_single_hop_are_not_retried(home, fake_sts, clock):
    write_aws_files(home, TWO_HOP)
    creds = _resolve(home, fake_sts, clock, "a")
    a1 = creds.get_frozen_credentials().access_key
    fake_sts.expire(BASE_KEY)
    clock.advance(minutes=59, seconds=30)  # a has 30 s left: it must be refreshed from the base
    with pytest.raises(ExpiredTokenError):
        creds.get_frozen_credentials()
    assert _assumes(fake_sts, 1) == [("A", BASE_KEY, 400)]
    assert _entry_key(home, A_ENTRY) == a1


_PRINT_BASE_KEYS = (
    "import json; print(json.dumps({'Version': 1, "
    f"'AccessKeyId': '{BASE_KEY}', 'SecretAccessKey': '{BASE_SECRET}'}}))"
)
LONG_LIVED_BASES = {
    "credentials-file": ("source_profile = base", {}),
    "environment": (
        "credential_source = Environment",
        {"AWS_ACCESS_KEY_ID": BASE_KEY, "AWS_SECRET_ACCESS_KEY": BASE_SECRET},
    ),
    "credential-process": ("source_profile = proc", {}),
}


@pytest.mark.parametrize("base", sorted(LONG_LIVED_BASES))
def test_expired_long_lived_keys_of_any_source_are_not_retried(home, fake_sts, clock, caplog, base):
    """Keys without an expiry cannot be fetched again, wherever they come from: one call,
    the error, no warning about fetching them again."""
    source, extra_env = LONG_LIVED_BASES[base]
    write_aws_files(
        home,
        f"[profile r]\nrole_arn = {role('R')}\n{source}\n\n"
        f'[profile proc]\ncredential_process = {sys.executable} -c "{_PRINT_BASE_KEYS}"\n',
    )
    fake_sts.expire(BASE_KEY)
    env = make_env(home, fake_sts.url, **extra_env)
    creds = awsroles.resolve("r", env=env, clock=clock, background_refresh=False)
    with caplog.at_level(logging.WARNING, logger="awsroles"):
        with pytest.raises(ExpiredTokenError) as err:
            creds.get_frozen_credentials()
    assert err.value.role_arn == role("R")
    assert fake_sts.count("AssumeRole") == 1, "the same rejected keys were sent again"
    assert _assumes(fake_sts) == [("R", BASE_KEY, 400)]
    assert not _rejection_warnings(caplog)


def test_an_entry_another_process_already_replaced_is_left_alone(home, fake_sts, clock, caplog):
    write_aws_files(home, TWO_HOP)
    creds = _resolve(home, fake_sts, clock, "b")
    creds.get_frozen_credentials()
    a1 = _entry_key(home, A_ENTRY)
    # another process refreshes a's entry (this one still holds a1 in memory)
    clock.advance(minutes=1)
    other = _resolve(home, fake_sts, clock, "a")
    assert other.get_frozen_credentials().access_key == a1
    a2 = other.refresh(force=True).access_key
    assert a2 != a1 and _entry_key(home, A_ENTRY) == a2
    written = _entry(home, A_ENTRY)
    assert fake_sts.count("AssumeRole") == 3

    fake_sts.expire(a1)
    assert creds.invalidate()
    with caplog.at_level(logging.INFO, logger="awsroles"):
        creds.get_frozen_credentials()
    # a1 is rejected; the entry on disk holds a2, which is kept and used: no call for a
    assert _assumes(fake_sts, 3) == [("B", a1, 400), ("B", a2, 200)]
    assert _entry(home, A_ENTRY) == written
    assert len(_rejection_warnings(caplog)) == 1
    assert not any(f"deleted cache entry {A_ENTRY}" in r.getMessage() for r in caplog.records)


def test_a_new_resolver_recovers_from_a_revoked_key_in_the_cache(home, fake_sts, clock, caplog):
    write_aws_files(home, TWO_HOP)
    _resolve(home, fake_sts, clock, "b").get_frozen_credentials()
    a1 = _entry_key(home, A_ENTRY)
    fake_sts.expire(a1)
    clock.advance(minutes=14, seconds=30)  # b's entry is too old; a's is valid by the clock
    with caplog.at_level(logging.WARNING, logger="awsroles"):
        fresh = _resolve(home, fake_sts, clock, "b").get_frozen_credentials()
    a2 = _entry_key(home, A_ENTRY)
    assert _assumes(fake_sts, 2) == [("B", a1, 400), ("A", BASE_KEY, 200), ("B", a2, 200)]
    assert a2 != a1 and _entry_key(home, B_ENTRY) == fresh.access_key
    assert len(_rejection_warnings(caplog)) == 1


_RESOLVE_B = (
    "import awsroles; print(awsroles.resolve('b', background_refresh=False)"
    ".get_frozen_credentials().access_key)"
)


def test_a_new_process_recovers_from_a_revoked_key_in_the_cache(home, sts):
    """The same in a separate process on the system clock."""
    write_aws_files(home, TWO_HOP)
    env = make_env(home, sts.url)
    awsroles.resolve("b", env=env).get_frozen_credentials()
    a1 = _entry_key(home, A_ENTRY)
    sts.expire(a1)
    os.remove(os.path.join(cache_dir(home), B_ENTRY + ".json"))  # b must be assumed again
    done = subprocess.run(
        [sys.executable, "-c", _RESOLVE_B],
        env={**env, "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    a2 = _entry_key(home, A_ENTRY)
    assert done.stdout.strip() == _entry_key(home, B_ENTRY)
    assert _assumes(sts, 2) == [("B", a1, 400), ("A", BASE_KEY, 200), ("B", a2, 200)]
    assert a2 != a1
    assert REJECTED in done.stderr and "profile 'b'" in done.stderr
    assert all(secret not in done.stderr for secret in _cached_secrets(home))


# --- boto3 ----------------------------------------------------------------------------------


@pytest.fixture
def boto_env(home, monkeypatch, sts):
    write_aws_files(home, TWO_HOP)
    for name in list(os.environ):
        if name.startswith(("AWS_", "BOTO")):
            monkeypatch.delenv(name)
    for k, v in make_env(home, sts.url).items():
        monkeypatch.setenv(k, v)
    return home


def _identities(sts):
    return [(c.access_key, c.status) for c in sts.calls if c.action == "GetCallerIdentity"]


def test_boto3_session_recovers_after_both_hops_are_revoked(boto_env, sts, caplog):
    session = awsroles.boto3_session(profile="b")
    client = session.client("sts")
    assert "assumed-role/B/" in client.get_caller_identity()["Arn"]
    b1 = session.get_credentials().get_frozen_credentials().access_key
    a1 = _entry_key(boto_env, A_ENTRY)
    assert _assumes(sts) == [("A", BASE_KEY, 200), ("B", a1, 200)]
    sts.expire(a1)
    sts.expire(b1)

    # the call signed with b's revoked set fails once, as AWS would report it
    with pytest.raises(ClientError) as err:
        client.get_caller_identity()
    assert err.value.response["Error"]["Code"] == "ExpiredToken"
    assert _assumes(sts, 2) == []  # nothing is refreshed until the next call

    # the next call refreshes b; a is rejected as b's source, fetched again, b retried
    with caplog.at_level(logging.WARNING, logger="awsroles"):
        ident = client.get_caller_identity()
    b2 = session.get_credentials().get_frozen_credentials().access_key
    a2 = _entry_key(boto_env, A_ENTRY)
    assert "assumed-role/B/" in ident["Arn"]
    assert _assumes(sts, 2) == [("B", a1, 400), ("A", BASE_KEY, 200), ("B", a2, 200)]
    assert _identities(sts) == [(b1, 200), (b1, 400), (b2, 200)]
    assert b2 != b1 and a2 != a1 and _entry_key(boto_env, B_ENTRY) == b2
    assert len(_rejection_warnings(caplog)) == 1


def test_a_missing_outer_entry_does_not_load_what_is_under_a_usable_one(
    home, fake_sts, clock, tmp_path
):
    # process -> a -> b: with a's entry valid and b's gone, b is assumed with a's cached
    # credentials; the credential_process under a is not run again.
    runs = tmp_path / "runs"
    script = tmp_path / "creds.py"
    script.write_text(
        "import json, sys\n"
        f"open({str(runs)!r}, 'a').write('run\\n')\n"
        f"print(json.dumps({{'Version': 1, 'AccessKeyId': {BASE_KEY!r}, "
        f"'SecretAccessKey': {BASE_SECRET!r}}}))\n"
    )
    write_aws_files(
        home,
        f"[profile proc]\ncredential_process = {sys.executable} {script}\n\n"
        f"[profile a]\nrole_arn = {role('A')}\nsource_profile = proc\n\n"
        f"[profile b]\nrole_arn = {role('B')}\nsource_profile = a\n",
        "",
    )
    _resolve(home, fake_sts, clock, "b").get_frozen_credentials()
    assert runs.read_text().count("run") == 1
    os.unlink(os.path.join(cache_dir(home), cache_key({"RoleArn": role("B")}) + ".json"))
    again = _resolve(home, fake_sts, clock, "b").get_frozen_credentials()
    assert again.access_key.startswith("ASIA")
    assert runs.read_text().count("run") == 1  # a's entry served as b's source
    assert fake_sts.count("AssumeRole") == 3  # a, b, then b again
