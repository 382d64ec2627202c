"""File locations, profile selection, the merged view, the per-version cache, botocore parity."""

from __future__ import annotations

import builtins
import json
import logging
import os
from pathlib import Path

import pytest

from awsroles.config import files
from awsroles.config.files import (
    SharedConfig,
    cache_info,
    expand_path,
    load_shared_config,
    locate,
    profile_selection,
    selected_profile,
)
from awsroles.errors import ConfigParseError, ProfileNotFoundError

VECTORS = (
    Path(__file__).parent / "conformance/smithy-rs/aws-runtime/test-data/file-location-tests.json"
)
LOCATION_CASES = json.loads(VECTORS.read_text(encoding="utf-8"))["tests"]


@pytest.mark.parametrize(
    "case", LOCATION_CASES, ids=[f"{i}-{c['name']}" for i, c in enumerate(LOCATION_CASES)]
)
def test_file_location_vector(case):
    env = case["environment"]
    found = locate(env, case["platform"])
    assert found.config_file == case["configLocation"]
    assert found.credentials_file == case["credentialsLocation"]
    assert selected_profile(env) == case.get("profile", "default")


def test_file_location_vector_count():
    assert len(LOCATION_CASES) == 9


# --- locate / expand ---------------------------------------------------------------------------


def test_locate_expands_vars_and_tilde():
    env = {
        "HOME": "/home/u",
        "MYDIR": "cfgdir",
        "AWS_CONFIG_FILE": "$HOME/${MYDIR}/cfg",
        "AWS_SHARED_CREDENTIALS_FILE": "~/$MYDIR/c",
    }
    found = locate(env, "linux")
    assert found.config_file == "/home/u/cfgdir/cfg"
    assert found.credentials_file == "/home/u/cfgdir/c"


def test_expand_path_unknown_vars_and_other_users_left_alone():
    env = {"HOME": "/home/u/"}
    assert expand_path("$NOPE/x", env, "linux") == "$NOPE/x"
    assert expand_path("~bob/x", env, "linux") == "~bob/x"
    assert expand_path("~", env, "linux") == "/home/u"
    assert expand_path("~/a", env, "linux") == "/home/u/a"


def test_expand_path_windows():
    env = {"USERPROFILE": "C:\\Users\\u", "appdata": "C:\\Users\\u\\AppData"}
    assert expand_path("%APPDATA%\\aws\\config", env, "windows") == (
        "C:\\Users\\u\\AppData\\aws\\config"
    )
    assert expand_path("~\\x", env, "windows") == "C:\\Users\\u\\x"


def test_locate_without_home():
    assert locate({}, "linux") == files.FileLocations(None, None)
    assert locate({}, "linux", home="/fallback").config_file == "/fallback/.aws/config"
    # USERPROFILE is a Windows-only fallback
    assert locate({"USERPROFILE": "/x"}, "linux").config_file is None


def test_empty_file_variable_means_no_file():
    found = locate({"HOME": "/h", "AWS_CONFIG_FILE": ""}, "linux")
    assert found.config_file is None  # botocore: expands to "", not a file, ignored
    assert found.credentials_file == "/h/.aws/credentials"


# --- profile selection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "env, explicit, expected",
    [
        ({}, None, ("default", "default")),
        ({"AWS_PROFILE": "a"}, None, ("a", "AWS_PROFILE")),
        ({"AWS_DEFAULT_PROFILE": "b"}, None, ("b", "AWS_DEFAULT_PROFILE")),
        ({"AWS_PROFILE": "a", "AWS_DEFAULT_PROFILE": "b"}, None, ("b", "AWS_DEFAULT_PROFILE")),
        ({"AWS_PROFILE": "a", "AWS_DEFAULT_PROFILE": "b"}, "c", ("c", "explicit")),
        ({"AWS_DEFAULT_PROFILE": "", "AWS_PROFILE": "x"}, None, ("", "AWS_DEFAULT_PROFILE")),
        ({"AWS_PROFILE": ""}, None, ("", "AWS_PROFILE")),
    ],
)
def test_profile_selection(env, explicit, expected):
    assert profile_selection(env, explicit) == expected
    assert selected_profile(env, explicit) == expected[0]


def test_empty_profile_name_error_says_which_variable():
    shared = SharedConfig("/h/.aws/config", "/h/.aws/credentials")
    name, source = profile_selection({"AWS_PROFILE": ""})
    with pytest.raises(ProfileNotFoundError) as info:
        shared.profile(name, source=source)
    assert "AWS_PROFILE is set to an empty string" in str(info.value)


# --- merged view -------------------------------------------------------------------------------


def _write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def aws_home(tmp_path):
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    return home


def test_merge_precedence_and_origin(aws_home):
    _write(
        aws_home / ".aws/config",
        "[profile dev]\nregion = eu-west-1\naws_access_key_id = CFGKEY\nrole_arn = r\n"
        "[sso-session corp]\nsso_region = us-east-1\n"
        "[services local]\nsts =\n  endpoint_url = http://localhost:4566\n",
    )
    _write(
        aws_home / ".aws/credentials",
        "[dev]\naws_access_key_id = CREDKEY\naws_secret_access_key = s\n[only_creds]\nx = 1\n",
    )
    shared = load_shared_config({"HOME": str(aws_home)}, platform="linux")
    dev = shared.profile("dev")
    assert dev.values == {
        "region": "eu-west-1",
        "aws_access_key_id": "CREDKEY",
        "role_arn": "r",
        "aws_secret_access_key": "s",
    }
    assert dev.config_section.values["aws_access_key_id"] == "CFGKEY"
    assert dev.credentials_section.values["aws_access_key_id"] == "CREDKEY"
    assert dev.origin("AWS_ACCESS_KEY_ID") == (str(aws_home / ".aws/credentials"), 2)
    assert dev.origin("region") == (str(aws_home / ".aws/config"), 2)
    assert dev.origin("missing") is None
    assert "CREDKEY" not in repr(dev) and "CREDKEY" not in repr(shared)
    assert shared.profile("only_creds").config_section is None
    assert list(shared.profiles) == ["dev", "only_creds"]
    assert shared.sso_sessions["corp"].values == {"sso_region": "us-east-1"}
    assert shared.services == {"local": {"sts": {"endpoint_url": "http://localhost:4566"}}}


def test_profile_not_found_message(aws_home):
    names = "".join(f"[profile p{i:02d}]\n" for i in range(14))
    _write(aws_home / ".aws/config", names + "[staging]\nregion = x\n")
    _write(aws_home / ".aws/credentials", "[profile prod]\nx = 1\n")
    shared = load_shared_config({"HOME": str(aws_home)}, platform="linux")
    for missing, expect in (
        ("staging", "line 15 has [staging]: in the config file write [profile staging]"),
        ("prod", "has [profile prod]: in the credentials file write [prod]"),
        ("p13x", "Did you mean 'p13'?"),
    ):
        with pytest.raises(ProfileNotFoundError) as info:
            shared.profile(missing, source="AWS_PROFILE")
        text = str(info.value)
        assert f"profile '{missing}'" in text
        assert str(aws_home / ".aws/config") in text
        assert str(aws_home / ".aws/credentials") in text
        assert "selected by AWS_PROFILE" in text
        assert "p00, p01" in text and "and 4 more" in text
        assert f"aws configure --profile {missing}" in text
        assert expect in text
    assert shared.get("nope") is None


def test_missing_files_are_empty(tmp_path):
    shared = load_shared_config({"HOME": str(tmp_path)}, platform="linux")
    assert shared.profiles == {} and shared.services == {}
    shared = load_shared_config({}, platform="linux")  # no home at all
    assert shared.config_path is None and shared.profiles == {}


def test_directory_in_place_of_file_is_ignored(aws_home):
    (aws_home / ".aws/config").mkdir()
    assert load_shared_config({"HOME": str(aws_home)}, platform="linux").profiles == {}


def test_unreadable_file_raises_naming_it(aws_home, monkeypatch):
    path = _write(aws_home / ".aws/credentials", "[default]\n")
    files.clear_cache()
    real_open = builtins.open

    def deny(file, *args, **kwargs):
        if str(file) == path:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", deny)
    with pytest.raises(ConfigParseError) as info:
        load_shared_config({"HOME": str(aws_home)}, platform="linux")
    assert path in str(info.value)


def test_explicit_file_arguments(tmp_path):
    cfg = _write(tmp_path / "cfg", "[profile x]\nregion = a\n")
    shared = load_shared_config(
        {"HOME": "/nonexistent", "D": str(tmp_path)},
        config_file="$D/cfg",
        credentials_file="~/none",
        platform="linux",
    )
    assert shared.config_path == cfg
    assert shared.credentials_path == "/nonexistent/none"
    assert shared.profile("x").values == {"region": "a"}


# --- the per-version cache ---------------------------------------------------------------------


def test_parse_once_per_file_version(aws_home, caplog):
    cfg = _write(aws_home / ".aws/config", "[default]\nregion = a\n")
    _write(aws_home / ".aws/credentials", "[profile oops]\n[default]\nx = 1\n")
    env = {"HOME": str(aws_home)}
    files.clear_cache()
    with caplog.at_level(logging.WARNING, logger="awsroles"):
        start = cache_info()["parses"]
        load_shared_config(env, platform="linux")
        assert cache_info()["parses"] == start + 2
        for _ in range(5):
            shared = load_shared_config(env, platform="linux")
        assert cache_info()["parses"] == start + 2
        assert shared.profile("default").values == {"region": "a", "x": "1"}

        _write(Path(cfg), "[default]\nregion = bb\n")
        st = os.stat(cfg)
        os.utime(cfg, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
        shared = load_shared_config(env, platform="linux")
        assert cache_info()["parses"] == start + 3
        assert shared.profile("default").values == {"region": "bb", "x": "1"}
        load_shared_config(env, platform="linux")
        assert cache_info()["parses"] == start + 3
    warnings = [r for r in caplog.records if "profile oops" in r.getMessage()]
    assert len(warnings) == 1  # the credentials file was parsed once


def test_cache_is_thread_safe(aws_home):
    import threading

    _write(aws_home / ".aws/config", "".join(f"[profile p{i}]\nk = {i}\n" for i in range(50)))
    env = {"HOME": str(aws_home)}
    files.clear_cache()
    results, errors = [], []

    def work():
        try:
            for _ in range(20):
                results.append(len(load_shared_config(env, platform="linux").profiles))
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and set(results) == {50}


# --- differential check against botocore -------------------------------------------------------

BOTOCORE_CASES = [
    ("[default]\nregion = us-east-1\noutput = json\n", "[default]\naws_access_key_id = AK\n"),
    (
        "[profile dev]\nrole_arn = arn:aws:iam::123456789012:role/dev\nsource_profile = base\n",
        "[base]\naws_access_key_id = AKID\naws_secret_access_key = SECRET/+=\n",
    ),
    ("[default]\nregion: eu-west-1\nRegion_Two : x\nURL=http://h:80/p?q=1\n", ""),
    ("[default]\n  region = a\n  output = text\n\n# c\n; c\n[profile b]\nk = 100%\n", ""),
    ('[profile "quoted name"]\nx = "q"\n[profile\ttab]\ny = 1\n[profiles odd]\nz = 2\n', ""),
    ("[profile cont]\nname = first\n  second line\n  third = x\n", ""),
    (
        "[profile sub]\nregion = a\ns3 =\n  addressing_style = path\n"
        "[services s]\nsts =\n  endpoint_url = http://x\n",
        "",
    ),
    ("", "[in valid 2]\nname2 = value2\n[foo!bar]\nk = v\n[default]\nx = 1\n"),
    (
        "[profile both]\nregion = r1\naws_access_key_id = CFG\n[default]\na = 1\n",
        "[both]\naws_access_key_id = CRED\n[default]\nb = 2\n",
    ),
    ("[profile a]\r\nk = v\r\n[sso-session s]\r\nsso_region = x\r\n[profile c]\r\n", "[c]\r\n"),
    ("[plugins]\nfoo = bar\n[profile x]\ncredential_process = /bin/echo a=b c\n", ""),
]


@pytest.mark.parametrize("config, credentials", BOTOCORE_CASES)
def test_same_profiles_as_botocore(tmp_path, monkeypatch, config, credentials):
    import botocore.session

    for name in list(os.environ):
        if name.startswith(("AWS_", "BOTO")):
            monkeypatch.delenv(name, raising=False)
    cfg = _write(tmp_path / "config", config)
    creds = _write(tmp_path / "credentials", credentials)
    monkeypatch.setenv("AWS_CONFIG_FILE", cfg)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
    theirs = botocore.session.Session().full_config["profiles"]
    ours = load_shared_config(
        {"AWS_CONFIG_FILE": cfg, "AWS_SHARED_CREDENTIALS_FILE": creds}, platform="linux"
    ).profiles
    assert set(ours) == set(theirs)
    for name, values in theirs.items():
        expected = {k: v for k, v in values.items() if isinstance(v, str)}
        got = {k: v for k, v in ours[name].values.items() if k in expected}
        assert got == expected, name
        nested = {k for k, v in values.items() if isinstance(v, dict)}
        assert nested <= set(ours[name].values)
