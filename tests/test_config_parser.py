"""The profile-file parser: the 65 cross-SDK vectors, plus awsroles' own guarantees."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awsroles.config.parser import (
    decode,
    parse_config,
    parse_credentials,
    parse_subproperties,
    read_file,
)
from awsroles.errors import ConfigError, ConfigParseError

VECTORS = (
    Path(__file__).parent / "conformance/smithy-rs/aws-runtime/test-data/profile-parser-tests.json"
)
CASES = json.loads(VECTORS.read_text(encoding="utf-8"))["tests"]

# Where botocore keeps a value users rely on and the vector drops or rejects it
# (docs/differences.md, "Profile-file parsing").
# case name -> (reason, what awsroles produces instead, as the vector's "config" output).
DEVIATIONS = {
    "Profile names support alphanumeric characters and - / . % @ _ : +": (
        "botocore keeps [profile foo!bar]; names with any character stay selectable",
        {"profiles": {"some-thing:long/the_one%only.foo@bar+": {}, "foo!bar": {}}},
    ),
    "Property definitions must contain an equals sign.": (
        "botocore accepts ':' as a separator: `key : value` is key = value",
        {"profiles": {"foo": {"key": "value"}}},
    ),
    "Invalid profile names are ignored.": (
        "botocore keeps credentials-file [in valid 2]; config [profile in valid] is dropped "
        "by botocore too (shlex gives three tokens)",
        {"profiles": {"in valid 2": {"name2": "value2"}}},
    ),
}


def _merged(case_input: dict) -> dict:
    config = parse_config(case_input.get("configFile", ""), "config")
    creds = parse_credentials(case_input.get("credentialsFile", ""), "credentials")
    profiles = {name: dict(s.values) for name, s in config.profiles.items()}
    for name, section in creds.profiles.items():
        profiles.setdefault(name, {}).update(section.values)
    return {
        "profiles": profiles,
        "sso_sessions": {name: dict(s.values) for name, s in config.sso_sessions.items()},
    }


def _check(case: dict) -> None:
    expected = case["output"]
    if case["name"] in DEVIATIONS:
        expected = {"config": DEVIATIONS[case["name"]][1]}
    if "errorContaining" in expected:
        with pytest.raises(ConfigParseError) as info:
            _merged(case["input"])
        assert expected["errorContaining"] in str(info.value)
        return
    got = _merged(case["input"])
    want = expected["config"]
    assert got["profiles"] == want["profiles"]
    if "sso_sessions" in want:
        assert got["sso_sessions"] == want["sso_sessions"]


@pytest.mark.parametrize("case", CASES, ids=[f"{i:02d}-{c['name']}" for i, c in enumerate(CASES)])
def test_profile_parser_vector(case):
    _check(case)


def test_vector_counts():
    assert len(CASES) == 65
    names = {c["name"] for c in CASES}
    assert set(DEVIATIONS) <= names, "every deviation names a real vector"
    passed = 0
    for case in CASES:
        _check(case)  # raises on any mismatch
        passed += case["name"] not in DEVIATIONS
    print(f"profile-parser vectors: {passed} pass as written, {len(DEVIATIONS)} deviations")
    assert (passed, len(DEVIATIONS)) == (62, 3)


def test_deviating_vectors_really_differ_from_the_vectors():
    """Guard against a stale DEVIATIONS entry: the vector's own expectation must fail."""
    for case in CASES:
        if case["name"] not in DEVIATIONS:
            continue
        out = case["output"]
        if "errorContaining" in out:
            _merged(case["input"])  # no error: we deviate
        else:
            assert _merged(case["input"])["profiles"] != out["config"]["profiles"]


# --- errors ------------------------------------------------------------------------------------

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    "text, line, fragment",
    [
        (f"[default]\nregion = x\n{SECRET}\n", 3, "Expected an '=' sign defining a property"),
        (f"aws_secret_access_key = {SECRET}\n", 1, "Expected a profile definition"),
        (f"[default]\n\n  {SECRET}\n", 3, "found continuation"),
        (f"[default]\ns3 =\n  {SECRET}\n", 3, "sub-property"),
        (f"[default]\ns3 =\n  = {SECRET}\n", 3, "Sub-property did not have a name"),
        (f"[default]\n= {SECRET}\n", 2, "Property did not have a name"),
        (f"# c\n[profile {SECRET}\n", 2, "must end with ']'"),
        (f"[default] {SECRET}\n", 1, "must end with ']'"),
    ],
)
def test_errors_name_file_and_line_never_the_value(text, line, fragment):
    with pytest.raises(ConfigParseError) as info:
        parse_config(text, "/home/u/.aws/config")
    err = info.value
    assert isinstance(err, ConfigError)
    assert err.line == line and err.file == "/home/u/.aws/config"
    message = str(err)
    assert f"/home/u/.aws/config, line {line}" in message
    assert fragment in message
    assert SECRET not in message and SECRET not in repr(err)
    assert "wJalr" not in message


def test_section_repr_has_no_values():
    parsed = parse_credentials(f"[default]\naws_secret_access_key = {SECRET}\n", "c")
    assert SECRET not in repr(parsed)
    assert "aws_secret_access_key" in repr(parsed.profiles["default"])


def test_line_numbers_recorded():
    text = "# header\n[profile a]\nregion = x\n\n[profile a]\nregion = y\noutput = json\n"
    section = parse_config(text, "c").profiles["a"]
    assert section.values == {"region": "y", "output": "json"}
    assert section.lines == {"region": 6, "output": 7}
    assert section.line == 2


# --- encodings and line endings ---------------------------------------------------------------


def test_bom_accepted():
    data = "\ufeff[default]\nregion = eu-west-1\n".encode()
    parsed = parse_config(decode(data, "c"), "c")
    assert parsed.profiles["default"].values == {"region": "eu-west-1"}
    # also when the BOM reaches the parser as text
    assert parse_config("\ufeff[default]\nx = 1", "c").profiles["default"].values == {"x": "1"}


def test_non_utf8_bytes(tmp_path):
    path = tmp_path / "config"
    path.write_bytes(b"[default]\nregion = us-east-1\nfoo = caf\xe9 " + SECRET.encode() + b"\n")
    with pytest.raises(ConfigParseError) as info:
        read_file(str(path))
    assert info.value.line == 3
    assert str(path) in str(info.value) and "UTF-8" in str(info.value)
    assert SECRET not in str(info.value)


def test_crlf_and_lone_cr():
    text = "[default]\r\nregion = a\r\n[profile b]\rregion = b\r"
    parsed = parse_config(text, "c")
    assert parsed.profiles["default"].values == {"region": "a"}
    assert parsed.profiles["b"].values == {"region": "b"}
    assert parsed.profiles["b"].lines == {"region": 4}


def test_unicode_value_kept():
    assert parse_config("[default]\nx = ☃ é", "c").profiles["default"].values == {"x": "☃ é"}


def test_read_file_missing_and_directory(tmp_path):
    assert read_file(str(tmp_path / "nope")) is None
    assert read_file(str(tmp_path)) is None  # not a regular file: ignored, as botocore
    assert read_file(str(tmp_path / "nope" / "deeper")) is None


def test_read_file_unreadable(tmp_path, monkeypatch):
    path = tmp_path / "config"
    path.write_text("[default]\n")
    import builtins

    real_open = builtins.open

    def deny(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", deny)
    with pytest.raises(ConfigParseError) as info:
        read_file(str(path))
    assert str(path) in str(info.value) and "Permission denied" in str(info.value)


# --- syntax details (docs/differences.md and botocore compatibility) --------------------------


def test_inline_comments_need_whitespace():
    text = "[default]\na = v # c\nb = v;c\nc = v ;c\nd = http://x/#frag\ne = #\n"
    assert parse_config(text, "c").profiles["default"].values == {
        "a": "v",
        "b": "v;c",
        "c": "v",
        "d": "http://x/#frag",
        "e": "",
    }


def test_colon_separator_and_first_separator_wins():
    text = "[default]\nregion: us-east-1\nrole_arn=arn:aws:iam::1:role/x\nurl : http://h:1/\n"
    assert parse_config(text, "c").profiles["default"].values == {
        "region": "us-east-1",
        "role_arn": "arn:aws:iam::1:role/x",
        "url": "http://h:1/",
    }


def test_indented_properties_as_botocore():
    # configparser: a line continues the property above only when indented deeper than it.
    text = "[default]\n  region = a\n  output = json\n  s3 =\n    addressing_style = path\n"
    assert parse_config(text, "c").profiles["default"].values == {
        "region": "a",
        "output": "json",
        "s3": "\naddressing_style = path",
    }


def test_indented_comments_and_headers():
    text = "  [default]\nregion = a\n  # comment inside\n  ; another\nx = 1\n"
    assert parse_config(text, "c").profiles["default"].values == {"region": "a", "x": "1"}


def test_keys_lower_cased_values_kept():
    text = '[default]\nAWS_Access_Key_ID = AKIDEXAMPLE\nRegion = "quoted"\nk = 100%\n'
    assert parse_config(text, "c").profiles["default"].values == {
        "aws_access_key_id": "AKIDEXAMPLE",
        "region": '"quoted"',
        "k": "100%",
    }


def test_default_upper_case_is_ordinary_section():
    config = parse_config("[DEFAULT]\nregion = x\n[profile a]\n", "c")
    assert config.profiles["a"].values == {}
    assert "DEFAULT" not in config.profiles
    assert [s.header for s in config.ignored] == ["DEFAULT"]
    creds = parse_credentials("[DEFAULT]\nregion = x\n[a]\n", "k")
    assert creds.profiles["DEFAULT"].values == {"region": "x"}
    assert creds.profiles["a"].values == {}


def test_profile_default_beats_default_either_order():
    for text in (
        "[default]\nx = 1\n[profile default]\ny = 2\n",
        "[profile default]\ny = 2\n[default]\nx = 1\n",
    ):
        assert parse_config(text, "c").profiles["default"].values == {"y": "2"}


def test_quoted_and_odd_profile_names_as_botocore():
    text = '[profile "q r"]\n[profile\tz]\n[profile a b]\n[profilefoo]\n[profile "x]\n[profile f!@]'
    assert sorted(parse_config(text, "c").profiles) == ["f!@", "q r", "z"]


def test_whitespace_property_name_ignored_with_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="awsroles"):
        parsed = parse_config("[default]\nin valid = secretish\nok = 1\n", "c")
    assert parsed.profiles["default"].values == {"ok": "1"}
    assert "line 2" in caplog.text and "secretish" not in caplog.text


def test_services_and_sso_sections():
    text = (
        "[profile dev]\nservices = local\nsso_session = corp\n"
        "[services local]\nsts =\n  endpoint_url = http://localhost:4566\n"
        "  Signature_Version = v4\ns3 =\n  addressing_style = path\n"
        "[sso-session corp]\nsso_region = eu-west-1\n"
    )
    parsed = parse_config(text, "c")
    raw = parsed.services["local"].values["sts"]
    assert raw == "\nendpoint_url = http://localhost:4566\nSignature_Version = v4"
    assert parse_subproperties(raw) == {
        "endpoint_url": "http://localhost:4566",
        "Signature_Version": "v4",  # nested keys keep their case, as botocore
    }
    assert parse_subproperties(parsed.services["local"].values["s3"]) == {
        "addressing_style": "path"
    }
    assert parsed.sso_sessions["corp"].values == {"sso_region": "eu-west-1"}
    assert parsed.profiles["dev"].values == {"services": "local", "sso_session": "corp"}


def test_parse_subproperties_rejects_garbage():
    assert parse_subproperties("\n\n a = 1 \n\nb=\n") == {"a": "1", "b": ""}
    with pytest.raises(ConfigParseError):
        parse_subproperties("\nnot a pair")
    with pytest.raises(ConfigParseError):
        parse_subproperties("\n= x")


def test_credentials_profile_prefix_warns_once(caplog):
    text = "[profile a]\nx = 1\n[b]\ny = 2\n[profile c]\nz = 3\n[profile\td]\n"
    with caplog.at_level(logging.WARNING, logger="awsroles"):
        parsed = parse_credentials(text, "/h/.aws/credentials")
    assert list(parsed.profiles) == ["b"]
    records = [r for r in caplog.records if r.name == "awsroles"]
    assert len(records) == 1
    message = records[0].getMessage()
    assert "[profile a] (line 1)" in message and "[profile c] (line 5)" in message
    assert "config file" in message


def test_credentials_names_literal():
    text = "[sso-session x]\na = 1\n[services y]\nb = 2\n[   spaced name  ]\nc = 3\n"
    assert sorted(parse_credentials(text, "k").profiles) == [
        "services y",
        "spaced name",
        "sso-session x",
    ]


def test_empty_header_is_error():
    with pytest.raises(ConfigParseError, match="no name"):
        parse_config("[  ]\n", "c")


# --- property-based: any text either parses or raises ConfigParseError, never leaking -------

_LINES = st.sampled_from(
    ["[default]", "[profile p]", "[services s]", "[sso-session x]", "[profile q", "k = v",
     "k : v", "s3 =", "  a = b", "  = b", "  junk", "# c", "; c", "", "   ", "x = y # c",
     "[p] trailing", f"{SECRET}", f"  {SECRET}", f"k = {SECRET}", "\t\tdeep = 1"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINES, max_size=12), st.sampled_from(["\n", "\r\n", "\r"]))
def test_any_text_parses_or_raises_parse_error(lines, newline):
    text = newline.join(lines)
    for parse in (parse_config, parse_credentials):
        try:
            parsed = parse(text, "f")
        except ConfigParseError as err:
            assert SECRET not in str(err) and err.line is not None
        else:
            assert SECRET not in repr(parsed)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=20))
def test_header_split_matches_shlex(header):
    import shlex

    from awsroles.config.parser import _split_header

    try:
        expected = shlex.split(header)
    except ValueError:
        expected = None
    assert _split_header(header) == expected


def test_long_continuation_blocks_are_joined_once():
    """Continuation lines are collected and joined once per value: joining per line would copy
    the growing value every time, quadratic in the block's length."""
    from awsroles.config import parser

    text = "[default]\nkey =\n" + "  x = 1\n" * 50_000
    raw = parser._raw_sections(text, "f")
    _, parts, _ = raw[0].items[0]
    assert isinstance(parts, list) and len(parts) == 50_001
    value = parse_config(text, "f").profiles["default"].values["key"]
    assert value == "\nx = 1" * 50_000


def test_whitespace_property_warning_lists_ten_lines_at_most(caplog):
    text = "[default]\n" + "a b = c\n" * 25
    with caplog.at_level(logging.WARNING, logger="awsroles"):
        parse_config(text, "cfg")
    (record,) = [r for r in caplog.records if r.name == "awsroles"]
    message = record.getMessage()
    assert "ignoring 25 properties" in message
    assert "lines 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 15 more" in message
