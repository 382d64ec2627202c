"""Fuzzing the readers of untrusted input: only typed errors (or a clean miss), never another
exception. A bounded run in CI; a long run with AWSROLES_FUZZ_EXAMPLES=100000."""

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from awsroles.cache.store import FileCache
from awsroles.config.model import ProcessSource
from awsroles.config.parser import decode, parse_config, parse_credentials
from awsroles.config.plan import build_plan
from awsroles.errors import AwsRolesError, ConfigParseError, MalformedResponseError
from awsroles.providers.process import parse_output
from awsroles.sts.wire import credentials_from_response, parse_error, parse_result

EXAMPLES = int(os.environ.get("AWSROLES_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

_INI_LINES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "[default]",
            "[profile a]",
            "[profile b ]",
            "[sso-session s]",
            "[services x]",
            "  sub = v",
            "key = value",
            "k=",
            "=v",
            "[",
            "]",
            "#c",
            ";c",
            "role_arn = arn:aws:iam::1:role/x",
            "source_profile = a",
        ]
    ),
)


@FUZZ
@given(st.binary(max_size=400))
def test_config_bytes(data):
    try:
        text = decode(data, "/fuzz/config")
    except ConfigParseError:
        return
    for parse in (parse_config, parse_credentials):
        try:
            parse(text, "/fuzz/config")
        except ConfigParseError:
            pass


@FUZZ
@given(st.lists(_INI_LINES, max_size=15))
def test_config_lines_then_plan(lines):
    text = "\n".join(lines)
    try:
        parsed = parse_config(text, "/fuzz/config")
    except ConfigParseError:
        return
    profiles = {name: sec.values for name, sec in parsed.profiles.items()}
    for name in profiles:
        try:
            build_plan(
                profiles, name, sso_sessions={k: v.values for k, v in parsed.sso_sessions.items()}
            )
        except AwsRolesError:
            pass


_JSONISH = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30)
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=15), children, max_size=5)
    ),
    max_leaves=12,
)
_ENTRY_KEYS = st.sampled_from(
    ["AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration", "AccountId"]
)


@st.composite
def _cache_documents(draw):
    if draw(st.booleans()):
        return draw(st.binary(max_size=300))
    creds = draw(st.dictionaries(_ENTRY_KEYS, _JSONISH, max_size=5))
    doc = {"Credentials": creds} if draw(st.booleans()) else draw(_JSONISH)
    return json.dumps(doc).encode()


@FUZZ
@given(_cache_documents())
def test_cache_reader(tmp_path_factory, raw):
    directory = tmp_path_factory.mktemp("cache")
    (directory / "k.json").write_bytes(raw)
    entry = FileCache(str(directory)).load("k")
    if entry is not None:  # whatever the cache accepts, credentials can be made of it
        credentials_from_response(entry, "fuzz")


@FUZZ
@given(_cache_documents())
def test_credentials_from_any_document(raw):
    try:
        data = json.loads(raw)
    except ValueError:
        return
    try:
        credentials_from_response(data, "fuzz")
    except MalformedResponseError:
        pass


_XML_BITS = st.sampled_from(
    [
        "<AssumeRoleResponse>",
        "</AssumeRoleResponse>",
        "<AssumeRoleResult>",
        "</AssumeRoleResult>",
        "<Credentials>",
        "</Credentials>",
        "<AccessKeyId>A</AccessKeyId>",
        "<SecretAccessKey>S</SecretAccessKey>",
        "<SessionToken>T</SessionToken>",
        "<Expiration>2030-01-01T00:00:00Z</Expiration>",
        "<Expiration>x</Expiration>",
        "<AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/R/s</Arn></AssumedRoleUser>",
        "<ErrorResponse>",
        "<Error><Code>X</Code><Message>m</Message></Error>",
        "</ErrorResponse>",
        "<!DOCTYPE x>",
        "&amp;",
        "<",
        ">",
    ]
)


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=300),
        st.lists(_XML_BITS, max_size=20).map(lambda parts: "".join(parts).encode()),
    )
)
def test_sts_xml(body):
    try:
        parse_result("AssumeRole", body)
    except MalformedResponseError:
        pass
    parse_error(body)  # never raises: Nones when unparseable


@FUZZ
@given(_cache_documents())
def test_credential_process_output(raw):
    try:
        parse_output(raw, ProcessSource("fuzz", "cmd"))
    except AwsRolesError:
        pass
