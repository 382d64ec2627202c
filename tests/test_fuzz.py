"""Fuzzing the readers of untrusted input: only typed errors (or a clean miss), never another
exception. A bounded run in CI; a long run with AWSROLES_FUZZ_EXAMPLES=100000."""

import json
import os
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from awsroles.cache.store import FileCache
from awsroles.config.model import ProcessSource
from awsroles.config.parser import decode, parse_config, parse_credentials
from awsroles.config.plan import build_plan
from awsroles.credentials import unusable
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


# --- nesting depth, and every reader of untrusted documents -----------------------------------
#
# Documents nested from a few levels to several thousand (past the interpreter's stack, where
# json raises RecursionError unless guarded), closed or cut short, wrapped where a reader
# looks for its fields, in UTF-8, UTF-16 or with a byte order mark, or random bytes.

#: Past the depth json reads on every supported interpreter (about 1000 up to CPython 3.12,
#: about 10000 on 3.13).
MAX_DEPTH = int(os.environ.get("AWSROLES_FUZZ_MAX_DEPTH", "12000"))
_DEPTHS = st.one_of(
    st.integers(0, 64),
    st.integers(900, 1100),
    st.integers(1400, 1600),
    st.integers(9900, 10100),
    st.integers(0, MAX_DEPTH),
    st.just(MAX_DEPTH),
)
_OPENERS = {
    "[": "]",
    '{"a":': "}",
    '[{"x":': "}]",
    '{"Credentials":': "}",
    '{"AccessKeyId":': "}",
    '{"roleCredentials":': "}",
    '{"accessToken":': "}",
    '{"Version": 1, "SecretAccessKey":': "}",
}
_LEAVES = ["1", '"x"', "null", "[]", "{}", '"\\ud800"', '"\\u0000"', "1e999", ""]
_WRAPPERS = [
    "{}",
    '{{"Credentials": {{"AccessKeyId": {}, "SecretAccessKey": "s", "SessionToken": "t", '
    '"Expiration": "2099-01-01T00:00:00Z"}}}}',
    '{{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": {}}}',
    '{{"accessToken": "t", "expiresAt": {}}}',
    '{{"roleCredentials": {{"accessKeyId": {}}}}}',
    '{{"Code": "Failed", "Message": {}}}',
    '{{"AccessKeyId": "A", "SecretAccessKey": "s", "Token": "t", "Expiration": {}}}',
]


@st.composite
def nested_json(draw):
    """Arrays and objects nested ``depth`` levels (a pattern of openers repeated), closed or
    cut short, wrapped in a reader's envelope, encoded, with stray bytes around."""
    depth = draw(_DEPTHS)
    pattern = draw(st.lists(st.sampled_from(sorted(_OPENERS)), min_size=1, max_size=3))
    openers = [pattern[i % len(pattern)] for i in range(depth)]
    leaf = draw(st.sampled_from(_LEAVES))
    closers = "".join(_OPENERS[o] for o in reversed(openers))
    if not draw(st.booleans()):
        closers = closers[: draw(st.integers(0, len(closers)))]
    text = draw(st.sampled_from(_WRAPPERS)).format("".join(openers) + leaf + closers)
    raw = text.encode(draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16"])))
    if draw(st.booleans()):
        raw = draw(st.binary(max_size=4)) + raw + draw(st.binary(max_size=4))
    return raw


HOSTILE_JSON = st.one_of(nested_json(), st.binary(max_size=300), _cache_documents())


@FUZZ
@given(HOSTILE_JSON)
def test_cache_reader_at_any_depth(tmp_path_factory, raw):
    directory = tmp_path_factory.mktemp("cache")
    (directory / "k.json").write_bytes(raw)
    entry = FileCache(str(directory)).load("k")
    if entry is not None:  # a hit is an entry every reader can use
        credentials_from_response(entry, "fuzz")


@FUZZ
@given(HOSTILE_JSON)
def test_credential_process_output_at_any_depth(raw):
    try:
        creds = parse_output(raw, ProcessSource("fuzz", "cmd"))
    except AwsRolesError as err:
        assert "fuzz" in str(err)  # names the profile
        return
    assert unusable(creds.access_key) is None and unusable(creds.secret_key) is None


@FUZZ
@given(HOSTILE_JSON)
def test_process_stack_variable_at_any_depth(raw):
    from awsroles.providers.process import STACK_ENV, read_stack

    stack = read_stack({STACK_ENV: raw.decode("utf-8", "surrogateescape")})
    assert isinstance(stack, list)


@FUZZ
@given(HOSTILE_JSON)
def test_sso_token_file_at_any_depth(tmp_path_factory, raw):
    from awsroles.providers.sso_token import SsoTokenError, read_token

    path = tmp_path_factory.mktemp("sso") / "token.json"
    path.write_bytes(raw)
    try:
        data, expires = read_token(str(path), profile="p", session_name="s", start_url="u")
    except SsoTokenError as err:
        assert str(path) in str(err)
        return
    assert isinstance(data, dict) and isinstance(data["accessToken"], str)
    assert expires.tzinfo is not None


@FUZZ
@given(HOSTILE_JSON)
def test_instance_metadata_answers_at_any_depth(raw):
    from awsroles.providers.imds_config import credentials_from, json_doc, role_name
    from awsroles.transport.base import HttpResponse
    from awsroles.transport.retry import Retry

    response = HttpResponse(200, body=raw)
    try:
        role_name(response, "u")
    except MalformedResponseError:
        pass
    try:
        doc = json_doc(response, "u")
    except Retry:
        return
    try:
        creds = credentials_from(doc, "role")
    except MalformedResponseError:
        return
    assert unusable(creds.secret_key) is None and unusable(creds.token) is None


@FUZZ
@given(HOSTILE_JSON)
def test_container_answers_at_any_depth(raw):
    from awsroles.providers.container import ContainerFetcher
    from awsroles.providers.container_config import ContainerEndpoint
    from awsroles.testing.clock import FrozenClock
    from awsroles.transport.base import HttpResponse

    fetch = ContainerFetcher(
        ContainerEndpoint("http://127.0.0.1:9/creds", "AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        {},
        lambda request: HttpResponse(200, body=raw),
        FrozenClock("2030-01-01T00:00:00Z"),
        attempts=1,
    )
    try:
        creds = fetch()
    except AwsRolesError:
        return
    assert unusable(creds.secret_key) is None and unusable(creds.token) is None


def _sso_fetcher(home):
    from awsroles.config.model import SsoSource
    from awsroles.providers.sso import SsoFetcher

    from helpers import make_context

    settings = (
        ("sso_account_id", "111122223333"),
        ("sso_region", "us-east-1"),
        ("sso_role_name", "R"),
        ("sso_start_url", "https://d-1.awsapps.com/start"),
    )
    return SsoFetcher(SsoSource("p", settings), make_context(env={"HOME": str(home)}))


@FUZZ
@given(HOSTILE_JSON, st.sampled_from([200, 400, 401, 403, 404, 429, 500]))
def test_sso_portal_answers_at_any_depth(tmp_path_factory, raw, status):
    from awsroles.providers.sso import SsoPortalError
    from awsroles.transport.base import HttpResponse

    fetcher = _sso_fetcher(tmp_path_factory.mktemp("home"))
    if status == 200:
        try:
            creds = fetcher._parse(raw)
        except MalformedResponseError:
            return
        assert unusable(creds.secret_key) is None and unusable(creds.token) is None
    else:
        error = fetcher._error(HttpResponse(status, body=raw))
        assert isinstance(error, SsoPortalError) and "p" == error.profile


@FUZZ
@given(HOSTILE_JSON, st.sampled_from([200, 400, 500]))
def test_sso_oidc_answers_at_any_depth(tmp_path_factory, raw, status):
    from awsroles.errors import CredentialRetrievalError
    from awsroles.providers.sso_token import SsoTokenSource
    from awsroles.testing.clock import FrozenClock
    from awsroles.transport.base import HttpResponse

    from helpers import make_context

    ctx = make_context(
        env={"HOME": str(tmp_path_factory.mktemp("home"))},
        clock=FrozenClock("2030-01-01T00:00:00Z"),
        transport=lambda request: HttpResponse(status, body=raw),
    )
    source = SsoTokenSource(
        ctx,
        profile="p",
        session_name="s",
        start_url="https://d-1.awsapps.com/start",
        sso_region="us-east-1",
        oidc_url=lambda: "https://oidc.us-east-1.amazonaws.com",
    )
    registration = {
        "refreshToken": "r",
        "clientId": "c",
        "clientSecret": "cs",
        "registrationExpiresAt": "2099-01-01T00:00:00Z",
    }
    try:
        new = source._create_token(registration)
    except CredentialRetrievalError:
        return
    assert new is not None and isinstance(new["accessToken"], str) and new["accessToken"]


# --- STS XML: nesting, entities, encodings ---------------------------------------------------

_STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
_PREFIXES = [
    "",
    f'<AssumeRoleResponse xmlns="{_STS_NS}"><AssumeRoleResult>',
    f'<AssumeRoleResponse xmlns="{_STS_NS}"><AssumeRoleResult><Credentials><SecretAccessKey>',
    "<ErrorResponse><Error><Message>",
    "<ErrorResponse>",
]
_TAGS = ["a", "AssumeRoleResponse", "AssumeRoleResult", "Credentials", "Error", "Code", "x:y"]


@st.composite
def nested_xml(draw):
    depth = draw(_DEPTHS)
    tag = draw(st.sampled_from(_TAGS))
    inner = f"<{tag}>" * depth + draw(st.sampled_from(["", "t", "&amp;", "&#x85;"]))
    if draw(st.booleans()):
        inner += f"</{tag}>" * depth
    prefix = draw(st.sampled_from(_PREFIXES))
    closing = "".join(f"</{t}>" for t in reversed(re.findall(r"<([A-Za-z]+)[ >]", prefix)))
    raw = (prefix + inner + closing).encode(draw(st.sampled_from(["utf-8", "utf-16"])))
    if draw(st.booleans()):
        raw = draw(st.binary(max_size=4)) + raw
    return raw


@FUZZ
@given(st.one_of(nested_xml(), nested_json()))
def test_sts_xml_at_any_depth(body):
    for operation in ("AssumeRole", "GetCallerIdentity"):
        try:
            parse_result(operation, body)
        except MalformedResponseError:
            pass
    parse_error(body)  # never raises: Nones when unparseable


_MARKER = "EXPANDED-ENTITY"


@st.composite
def entity_xml(draw):
    """A document defining entities (nested, a small billion laughs) and using them where
    STS puts values, in UTF-8 or UTF-16, with or without an XML declaration."""
    levels = draw(st.integers(0, 4))
    fan = draw(st.integers(1, 10))
    entities = f'<!ENTITY e0 "{_MARKER}">' + "".join(
        f'<!ENTITY e{i} "{f"&e{i - 1};" * fan}">' for i in range(1, levels + 1)
    )
    use = f"&e{levels};"
    if draw(st.booleans()):
        root = "AssumeRoleResponse"
        body = (
            f'<AssumeRoleResponse xmlns="{_STS_NS}"><AssumeRoleResult><Credentials>'
            f"<AccessKeyId>A</AccessKeyId><SecretAccessKey>{use}</SecretAccessKey>"
            "<SessionToken>T</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration>"
            "</Credentials></AssumeRoleResult></AssumeRoleResponse>"
        )
    else:
        root = "ErrorResponse"
        body = f"<ErrorResponse><Error><Code>{use}</Code><Message>{use}</Message></Error>"
        body += f"<RequestId>{use}</RequestId></ErrorResponse>"
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "utf-16-le", "utf-16-be"]))
    declared = {"utf-8": "UTF-8"}.get(encoding, "UTF-16")
    decl = draw(
        st.sampled_from(
            ["", '<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{declared}"?>']
        )
    )
    return (decl + f"<!DOCTYPE {root} [{entities}]>" + body).encode(encoding)


@FUZZ
@given(entity_xml())
def test_sts_xml_never_expands_entities(body):
    try:
        data, meta = parse_result("AssumeRole", body)
    except MalformedResponseError:
        pass
    else:
        assert _MARKER not in repr((data, meta))
    assert _MARKER not in repr(parse_error(body))


@FUZZ
@given(
    st.one_of(
        st.sampled_from(["UTF-8", "UTF-16", "UTF-32", "UTF-7", "x-no-such", "cp037", "", "ascii"]),
        st.text(max_size=12),
    ),
    st.sampled_from(
        [
            f'<AssumeRoleResponse xmlns="{_STS_NS}"><AssumeRoleResult/></AssumeRoleResponse>',
            "<ErrorResponse><Error><Code>C</Code></Error></ErrorResponse>",
        ]
    ),
)
def test_sts_xml_whatever_encoding_it_declares(encoding, document):
    body = f'<?xml version="1.0" encoding="{encoding}"?>{document}'.encode("utf-8", "replace")
    try:
        parse_result("AssumeRole", body)
    except MalformedResponseError:
        pass
    parse_error(body)  # never raises: Nones when unparseable


# --- configuration files with deep or odd content -------------------------------------------

_CONTROL = st.sampled_from(["\x00", "\x01", "\x1b[31m", "\x7f", "\x85", "\x9b", "\u2028", "\ufeff"])


@st.composite
def odd_config(draw):
    n = draw(_DEPTHS)
    kind = draw(
        st.sampled_from(
            ["header", "value", "continued", "indented", "chain", "long-line", "controls"]
        )
    )
    role = "role_arn = arn:aws:iam::123456789012:role/R\n"
    keys = "aws_access_key_id = AKIAFUZZ\naws_secret_access_key = fuzz-secret\n"
    if kind == "header":
        text = "[profile " + "[" * n + "p" + "]" * n + "]\nregion = us-east-1\n"
    elif kind == "value":
        text = "[profile p]\n" + role + "source_profile = " + "[{" * n + "\n"
    elif kind == "continued":
        text = "[profile p]\n" + role + "source_profile = b\n" + "  x = y\n" * n
        text += f"[profile b]\n{keys}"
    elif kind == "indented":
        steps = min(n, 400)  # the text grows with the square of the depth
        text = "[profile p]\ns3 =\n" + "".join(" " * (i + 1) + "k = v\n" for i in range(steps))
    elif kind == "chain":
        text = f"[profile p0]\n{keys}" + "".join(
            f"[profile p{i}]\n{role}source_profile = p{i - 1}\n" for i in range(1, min(n, 2000) + 1)
        )
    elif kind == "long-line":
        text = "[profile p]\nrole_arn = arn:" + "x" * (n * 100) + "\nsource_profile = p\n"
    else:
        bad = draw(_CONTROL)
        where = draw(st.sampled_from(["key", "secret", "token", "name", "value"]))
        text = {
            "key": f"[profile p]\naws_access_key_id = AK{bad}IA\naws_secret_access_key = s\n",
            "secret": f"[profile p]\naws_access_key_id = AKIA\naws_secret_access_key = s{bad}s\n",
            "token": f"[profile p]\n{keys}aws_session_token = t{bad}t\n",
            "name": f"[profile p{bad}]\n{keys}",
            "value": f"[profile p]\n{role}source_profile = b{bad}\n[profile b]\n{keys}",
        }[where]
    raw = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        raw = raw.decode("utf-8", "replace").encode(
            draw(st.sampled_from(["utf-16", "latin-1"])), "replace"
        )
    return raw


@FUZZ
@given(odd_config())
def test_config_with_deep_or_odd_content(raw):
    try:
        text = decode(raw, "/fuzz/config")
    except ConfigParseError:
        return
    for parse in (parse_config, parse_credentials):
        try:
            parsed = parse(text, "/fuzz/config")
        except ConfigParseError:
            continue
        profiles = {name: sec.values for name, sec in parsed.profiles.items()}
        last = sorted(profiles, key=lambda name: (len(name), name))[-1:]  # the longest chain
        for name in last:
            try:
                plan = build_plan(profiles, name, sso_sessions={})
            except AwsRolesError:
                continue
            if plan is not None:
                plan.describe()
