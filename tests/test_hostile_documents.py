"""Hostile documents from every source awsroles reads: nested deeper than the interpreter's
stack, huge, in another encoding, of the wrong JSON type, holding NULs, control characters or
unpaired surrogates, or terminal escapes. Each ends in a typed awsroles error naming its
source or in a clean cache miss (the entry then rewritten), never in a traceback, and the
command never prints a raw escape sequence, an injected line or a secret."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import awsroles
from awsroles.cache.key import cache_key
from awsroles.cli.main import main
from awsroles.errors import (
    AwsRolesError,
    ConfigParseError,
    CredentialRetrievalError,
    InvalidConfigError,
    MalformedResponseError,
    STSError,
)
from awsroles.testing import FakeSSOPortal, FrozenClock, local_aws, write_token_cache
from awsroles.testing.sso_cache import token_cache_path

SECRET = "PLANTED-hostile-secret-7c1e"
ACCOUNT = "123456789012"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
ACCOUNT_ROLE = f"arn:aws:iam::{ACCOUNT}:role/Dev"

# --- documents --------------------------------------------------------------------------------

#: Deeper than json reads on most interpreters: it raises RecursionError unless guarded.
DEEP_LIST = b"[" * 100_000
DEEP_LIST_CLOSED = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 5000 + b"1" + b"}" * 5000
DEEP_MIXED = b'{"Credentials": ' + b'[{"a": ' * 3000 + b"1" + b"}]" * 3000 + b"}"
#: Deeper than any interpreter's json reads (CPython 3.13 reads objects ~10000 deep).
DEEP_OBJECT_UNCLOSED = b'{"":' * 50_000
#: Nested as deep, but under the 64 KiB that the metadata endpoints' answers may hold.
DEEP_SMALL = b"[" * 50_000
DEEP_SMALL_OBJECT = b'{"":' * 15_000

#: A NUL, C0 controls (ESC starts terminal sequences), DEL, a C1 control (CSI), a surrogate.
BAD_CHARS = [
    pytest.param("\x00", id="nul"),
    pytest.param("\x1b[31m", id="esc"),
    pytest.param("\x07", id="bel"),
    pytest.param("\x7f", id="del"),
    pytest.param("\x9b", id="c1"),
    pytest.param("\ud800", id="surrogate"),
]


def entry_doc(**creds):
    fields = {
        "AccessKeyId": "ASIAHOSTILE000000001",
        "SecretAccessKey": SECRET,
        "SessionToken": "hostile-session-token",
        "Expiration": "2099-01-01T00:00:00Z",
    }
    fields.update(creds)
    return {
        "Credentials": fields,
        "AssumedRoleUser": {
            "AssumedRoleId": "AROAHOSTILE:s",
            "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev/s",
        },
    }


def entry_bytes(**creds) -> bytes:
    """A usable entry (a hit, were it not for ``creds``), as json writes it: ``\\ud800``
    and control characters as JSON escapes."""
    return json.dumps(entry_doc(**creds)).encode("ascii")


def sts_xml(op="AssumeRole", secret="S3cret", expiration="2030-01-01T01:00:00Z", key=None):
    key = key or "ASIAHOSTILE000000002"
    if op == "GetCallerIdentity":
        inner = f"<Arn>arn:aws:iam::{ACCOUNT}:user/u</Arn><UserId>AIDA</UserId>"
        inner += f"<Account>{ACCOUNT}</Account>"
    else:
        inner = (
            f"<Credentials><AccessKeyId>{key}</AccessKeyId>"
            f"<SecretAccessKey>{secret}</SecretAccessKey><SessionToken>T0ken</SessionToken>"
            f"<Expiration>{expiration}</Expiration></Credentials>"
            f"<AssumedRoleUser><Arn>arn:aws:sts::{ACCOUNT}:assumed-role/Dev/s</Arn>"
            "<AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>"
        )
    return (
        f'<{op}Response xmlns="{STS_NS}"><{op}Result>{inner}</{op}Result>'
        f"<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></{op}Response>"
    )


def sts_error_xml(code="AccessDenied", message="denied"):
    return (
        f'<ErrorResponse xmlns="{STS_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>r-2</RequestId></ErrorResponse>"
    )


_LOL = '<!ENTITY lol0 "lol">' + "".join(
    f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
)
BILLION_LAUGHS = f"<!DOCTYPE AssumeRoleResponse [{_LOL}]>" + sts_xml(secret="&lol9;")


# --- a server that answers whatever it is told -------------------------------------------------


class Canned:
    """An HTTP server on 127.0.0.1 answering every request with ``answer(method, path)``:
    ``(status, headers, body)``. Stands in for STS, IMDS or the SSO portal when the answer
    must be something the fakes never send."""

    def __init__(self, answer):
        self.answer = answer
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                outer.requests.append((self.command, self.path))
                status, headers, body = outer.answer(self.command, self.path)
                self.send_response_only(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            do_GET = do_POST = do_PUT = _any

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def fixed(status, body, **headers):
    if isinstance(body, str):
        body = body.encode("utf-8")
    return Canned(lambda method, path: (status, headers, body))


# --- helpers ------------------------------------------------------------------------------------


def run(capsys, *argv):
    """The command in-process: (exit code, stdout, stderr). An exception other than
    SystemExit escaping main() fails the test with its traceback."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert isinstance(code, int)
    assert "Traceback" not in out + err
    return code, out, err


def assert_one_line_error(code, out, err):
    assert code != 0
    assert err.startswith("awsroles: error: "), err
    assert err.count("\n") == 1 and err.endswith("\n"), repr(err)
    assert "\x1b" not in err and SECRET not in out + err


def assert_typed(exc_info, *needles):
    err = exc_info.value
    assert isinstance(err, AwsRolesError), repr(err)
    text = str(err)
    for needle in needles:
        assert needle in text, text
    assert SECRET not in text and SECRET not in repr(err)
    return text


@pytest.fixture(autouse=True)
def _no_skew():
    """The measured clock skew is process-wide: every test starts and ends without one."""
    import awsroles.resolver.cached_fetch as cf

    cf._skew_warned, cf._skew = False, 0.0
    yield
    cf._skew_warned, cf._skew = False, 0.0


@pytest.fixture(autouse=True)
def _no_stream_handlers():
    """``main(["--debug", ...])`` run in-process by an earlier test leaves a StreamHandler on
    the awsroles logger, writing to a capture stream that has since been closed: its "Logging
    error" traceback on stderr is not this test's output. Detached for the test."""
    logger = logging.getLogger("awsroles")
    leaked = [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]
    for handler in leaked:
        logger.removeHandler(handler)
    yield
    for handler in leaked:
        logger.addHandler(handler)


@pytest.fixture
def aws():
    """A local AWS whose ``dev`` profile assumes Dev from ``base``; ``os.environ`` points at
    it too, for the command."""
    with local_aws(patch_environ=True) as local:
        yield local


def dev_entry_path(local) -> str:
    """Where ``dev``'s role hop reads and writes its entry: botocore's name for the
    AssumeRole arguments (RoleArn alone: the generated session name is not part of it)."""
    key = cache_key({"RoleArn": local.role_arn("Dev")})
    os.makedirs(local.cache_dir, exist_ok=True)
    return os.path.join(local.cache_dir, key + ".json")


def plant(path: str, raw: bytes) -> None:
    with open(path, "wb") as f:
        f.write(raw)


def read_json(path: str):
    with open(path, "rb") as f:
        raw = f.read()
    return json.loads(raw.decode("utf-8"))  # UTF-8, as botocore and the AWS CLI read it


# === 1. cache entries ===========================================================================

HOSTILE_ENTRIES = [
    pytest.param(DEEP_LIST, id="deep-list-unclosed"),
    pytest.param(DEEP_LIST_CLOSED, id="deep-list"),
    pytest.param(DEEP_OBJECT, id="deep-object"),
    pytest.param(DEEP_OBJECT_UNCLOSED, id="deep-object-unclosed"),
    pytest.param(DEEP_MIXED, id="deep-mixed-under-credentials"),
    pytest.param(
        b'{"Credentials": {"AccessKeyId": ' + DEEP_LIST_CLOSED + b"}}", id="deep-in-a-field"
    ),
    pytest.param(entry_bytes().replace(b"hostile-session", b"hostile-s\xe9ssion"), id="latin-1"),
    pytest.param("{}".encode("utf-16"), id="utf-16-bom-object"),
    pytest.param(b" " * (10 * 1024 * 1024) + entry_bytes(), id="10-MB"),
    pytest.param(b"[" + entry_bytes() + b"]", id="list"),
    pytest.param(b"42", id="number"),
    pytest.param(b'"ASIA"', id="string"),
    pytest.param(b"null", id="null"),
    pytest.param(b"", id="empty"),
    pytest.param(b'{"Credentials": [1, 2]}', id="credentials-list"),
    pytest.param(
        json.dumps(
            {
                "Credentials": {
                    "AccessKeyId": 1,
                    "SecretAccessKey": ["s"],
                    "SessionToken": {"t": 1},
                    "Expiration": 4102444800,
                }
            }
        ).encode(),
        id="fields-of-wrong-types",
    ),
    pytest.param(entry_bytes(Expiration="9999-99-99T99:99:99Z"), id="expiration-unreadable"),
    pytest.param(entry_bytes(Expiration="2099-01-01T00:00:00"), id="expiration-naive"),
    pytest.param(entry_bytes(Expiration="1e999"), id="expiration-number-text"),
    pytest.param(b'{"Credentials": {"Expiration": NaN}}', id="expiration-nan"),
    pytest.param(entry_bytes(SecretAccessKey=SECRET + "\x00"), id="secret-nul"),
    pytest.param(entry_bytes(AccessKeyId="ASIA\x1b[31mX"), id="key-esc"),
    pytest.param(entry_bytes(SessionToken="tok\x85en"), id="token-c1"),
    pytest.param(
        b'{"Credentials": {"AccessKeyId": "A", "SecretAccessKey": "s\\ud800", '
        b'"SessionToken": "t", "Expiration": "2099-01-01T00:00:00Z"}}',
        id="secret-surrogate-escape",
    ),
]


@pytest.mark.parametrize("raw", HOSTILE_ENTRIES)
def test_a_hostile_cache_entry_is_a_miss_and_is_rewritten(aws, raw):
    path = dev_entry_path(aws)
    plant(path, raw)
    creds = aws.resolve("dev").get_frozen_credentials()
    assert creds.access_key.startswith("ASIA") and creds.access_key != "ASIAHOSTILE000000001"
    assert aws.sts.count("AssumeRole") == 1  # a miss: STS was called
    written = read_json(path)  # valid UTF-8 JSON again, holding what STS issued
    assert written["Credentials"]["AccessKeyId"] == creds.access_key
    assert aws.cache_files() == [os.path.basename(path)]


def test_the_entry_path_is_the_one_resolve_writes(aws):
    aws.resolve("dev").get_frozen_credentials()
    assert aws.cache_files() == [os.path.basename(dev_entry_path(aws))]


def test_a_usable_entry_written_as_utf16_is_a_miss_as_for_botocore(aws):
    """botocore and the AWS CLI open entries as UTF-8 text: an entry in UTF-16 (with its
    byte order mark) is a miss for them, so it must be one for awsroles too, and the entry is
    rewritten in UTF-8 that every reader can use."""
    from botocore.utils import JSONFileCache

    path = dev_entry_path(aws)
    plant(path, json.dumps(entry_doc()).encode("utf-16"))
    with pytest.raises(KeyError):  # the reference reader: not an entry
        JSONFileCache(aws.cache_dir)[os.path.basename(path)[:-5]]
    creds = aws.resolve("dev").get_frozen_credentials()
    assert creds.access_key != "ASIAHOSTILE000000001"
    assert aws.sts.count("AssumeRole") == 1
    assert read_json(path)["Credentials"]["AccessKeyId"] == creds.access_key


CLI_ENTRIES = [
    pytest.param(DEEP_LIST, id="deep-list-unclosed"),
    pytest.param(DEEP_OBJECT, id="deep-object"),
    pytest.param(DEEP_MIXED, id="deep-mixed"),
    pytest.param(b"\xff\xfe{\x00}\x00", id="utf-16"),
    pytest.param(b" " * (10 * 1024 * 1024) + b"{}", id="10-MB"),
    pytest.param(b"[1]", id="list"),
    pytest.param(entry_bytes(SecretAccessKey=SECRET + "\x1b[2J"), id="secret-esc"),
]


@pytest.mark.parametrize("raw", CLI_ENTRIES)
def test_the_command_reads_past_a_hostile_entry(aws, capsys, raw):
    path = dev_entry_path(aws)

    plant(path, raw)
    code, out, err = run(capsys, "credential-process", "--profile", "dev")
    assert code == 0, err
    printed = json.loads(out)
    assert printed["Version"] == 1 and printed["AccessKeyId"].startswith("ASIA")
    assert read_json(path)["Credentials"]["AccessKeyId"] == printed["AccessKeyId"]

    plant(path, raw)
    code, out, err = run(capsys, "explain", "--profile", "dev")
    assert code == 0, out + err
    assert f"{path}: no valid entry (STS will be called)" in out

    plant(path, raw)
    code, out, err = run(capsys, "cache", "list")
    assert code == 0 and err == ""
    row = [line for line in out.splitlines() if line.startswith(os.path.basename(path))]
    assert len(row) == 1 and "dev" in row[0], out
    assert "\x1b" not in out and SECRET not in out

    code, out, err = run(capsys, "cache", "clear", "--yes")
    assert code == 0 and err == ""
    assert f"removed {path}" in out
    assert not os.path.exists(path)


def test_cache_clear_for_a_profile_removes_a_hostile_entry(aws, capsys):
    path = dev_entry_path(aws)
    plant(path, DEEP_OBJECT)
    code, out, err = run(capsys, "cache", "clear", "--profile", "dev")
    assert code == 0 and err == "" and f"removed {path}" in out
    assert not os.path.exists(path)


# === 2. credential_process output ===============================================================


def process_profile(tmp_path, stdout: bytes) -> str:
    """A profile ``p`` whose credential_process prints ``stdout`` exactly."""
    data = tmp_path / "stdout.bin"
    data.write_bytes(stdout)
    script = tmp_path / "print_it.py"
    script.write_text(f"import sys\nsys.stdout.buffer.write(open({str(data)!r}, 'rb').read())\n")
    return f"[profile p]\ncredential_process = {sys.executable} {script}\n"


def process_doc(**fields) -> bytes:
    doc = {
        "Version": 1,
        "AccessKeyId": "AKIAPROCESS",
        "SecretAccessKey": SECRET,
        "SessionToken": "process-token",
        "Expiration": "2099-01-01T00:00:00Z",
    }
    doc.update(fields)
    return json.dumps(doc).encode()


PROCESS_OUTPUTS = [
    pytest.param(DEEP_LIST, "too deeply", id="deep-list"),
    pytest.param(DEEP_OBJECT_UNCLOSED, "too deeply", id="deep-object"),
    # readable by some interpreters (3.13), too deep for others: a typed error either way
    pytest.param(DEEP_OBJECT, "", id="deep-object-5000"),
    pytest.param(DEEP_MIXED, "", id="deep-mixed"),
    pytest.param(
        b'{"Version": 1, "AccessKeyId": ' + DEEP_LIST_CLOSED + b"}",
        "too deeply",
        id="deep-in-a-field",
    ),
    pytest.param(process_doc().decode().encode("utf-16"), "not UTF-8", id="utf-16"),
    pytest.param(process_doc(SecretAccessKey=SECRET + "\x00"), "NUL", id="secret-nul"),
    pytest.param(process_doc(AccessKeyId="AKIA\x1b[31m"), "control character", id="key-esc"),
    pytest.param(process_doc(SessionToken="tok\x85"), "control character", id="token-c1"),
    pytest.param(
        process_doc().replace(b"PLANTED-hostile", b"PLANTED\\ud800-hostile"),
        "surrogate",
        id="secret-surrogate",
    ),
    pytest.param(b"[1, 2]", "not an object", id="list"),
    pytest.param(b'{"Version": ' + b"1" * 5000 + b"}", "not valid JSON", id="huge-number"),
]


@pytest.mark.parametrize("stdout, why", PROCESS_OUTPUTS)
def test_hostile_credential_process_output_is_a_typed_error(tmp_path, stdout, why):
    with local_aws(process_profile(tmp_path, stdout)) as local:
        with pytest.raises(CredentialRetrievalError) as err:
            local.resolve("p").get_frozen_credentials()
    assert_typed(err, "profile 'p'", "credential_process", why)
    assert err.value.profile == "p"


def test_hostile_credential_process_output_through_the_command(tmp_path, capsys):
    with local_aws(process_profile(tmp_path, DEEP_LIST), patch_environ=True):
        code, out, err = run(capsys, "export", "--profile", "p")
        assert_one_line_error(code, out, err)
        assert "profile 'p'" in err and "too deeply" in err


# === 3. SSO token cache files ===================================================================

START = "https://d-123.awsapps.com/start"
SSO_ACCOUNT = "111122223333"
SSO_CONFIG = f"""\
[profile s]
sso_session = my-sso
sso_account_id = {SSO_ACCOUNT}
sso_role_name = ReadOnly

[sso-session my-sso]
sso_region = us-east-1
sso_start_url = {START}
"""


@pytest.fixture
def sso_home(tmp_path):
    clock = FrozenClock("2030-01-01T00:00:00Z")
    portal = FakeSSOPortal(clock=clock)
    portal.add_role(SSO_ACCOUNT, "ReadOnly")
    with portal, local_aws(SSO_CONFIG, "", clock=clock, home=str(tmp_path / "home")) as local:
        local.env["AWS_ENDPOINT_URL_SSO"] = portal.url
        local.env["AWS_ENDPOINT_URL_SSO_OIDC"] = portal.url
        yield local, portal


def token_file(**fields) -> bytes:
    doc = {
        "startUrl": START,
        "region": "us-east-1",
        "accessToken": "sso-" + SECRET,
        "expiresAt": "2099-01-01T00:00:00Z",
    }
    doc.update(fields)
    return json.dumps(doc).encode()


TOKEN_FILES = [
    pytest.param(DEEP_LIST, id="deep-list"),
    pytest.param(DEEP_OBJECT, id="deep-object"),
    pytest.param(b'{"accessToken": ' + DEEP_LIST_CLOSED + b"}", id="deep-in-a-field"),
    pytest.param(token_file().replace(b"sso-", b"ss\xe9-"), id="latin-1"),
    pytest.param(b" " * (2 * 1024 * 1024) + token_file(), id="2-MB"),
    pytest.param(b"[]", id="list"),
    pytest.param(b"7", id="number"),
    pytest.param(token_file(accessToken=7), id="token-number"),
    pytest.param(token_file(expiresAt=["soon"]), id="expiry-list"),
    pytest.param(token_file(expiresAt="9999-99-99T00:00:00Z"), id="expiry-unreadable"),
]


@pytest.mark.parametrize("raw", TOKEN_FILES)
def test_a_hostile_sso_token_file_is_a_typed_error_naming_it(sso_home, raw):
    local, portal = sso_home
    path = token_cache_path(local.home, "my-sso")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    plant(path, raw)
    with pytest.raises(CredentialRetrievalError) as err:
        local.resolve("s").get_frozen_credentials()
    assert_typed(err, path, "aws sso login")
    assert portal.count() == 0


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("\\u0000", id="nul"),
        pytest.param("\\r\\nX-Injected: 1", id="crlf"),
        pytest.param("\\u001b[31m", id="esc"),
        pytest.param("\\ud800", id="surrogate"),
    ],
)
def test_an_sso_access_token_that_cannot_be_a_header_is_refused_where_it_is_read(sso_home, bad):
    """The token goes into an HTTP header: holding a NUL, a line break, a control character
    or a surrogate it is refused as an unusable token file (naming the file, with the login
    hint), never sent, and not reported as a broken connection."""
    local, portal = sso_home
    path = token_cache_path(local.home, "my-sso")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    plant(path, token_file().replace(b'"sso-', b'"sso-' + bad.encode()))
    with pytest.raises(CredentialRetrievalError) as err:
        local.resolve("s").get_frozen_credentials()
    assert_typed(err, path, "aws sso login")
    assert portal.count() == 0


def test_a_far_future_sso_token_expiry_is_read(sso_home):
    local, portal = sso_home
    write_token_cache(
        local.home, "my-sso", portal.add_token("tok-9999"), "9999-12-31T23:59:59Z", start_url=START
    )
    assert local.resolve("s").get_frozen_credentials().access_key.startswith("ASIA")
    assert portal.count("GetRoleCredentials") == 1


# === 4. answers from servers ====================================================================


def imds_doc(**fields) -> bytes:
    doc = {
        "Code": "Success",
        "Type": "AWS-HMAC",
        "AccessKeyId": "ASIAIMDSHOSTILE00001",
        "SecretAccessKey": SECRET,
        "Token": "imds-token",
        "Expiration": "2099-01-01T00:00:00Z",
    }
    doc.update(fields)
    return json.dumps(doc).encode()


ENDPOINT_ANSWERS = [
    pytest.param(DEEP_SMALL, "JSON", id="deep-list"),
    pytest.param(DEEP_SMALL_OBJECT, "JSON", id="deep-object"),
    pytest.param(imds_doc().decode().encode("utf-16"), "JSON", id="utf-16"),
    pytest.param(imds_doc().replace(b"imds-token", b"imds-t\xe9ken"), "JSON", id="latin-1"),
    pytest.param(b"[1, 2]", "JSON", id="list"),
    pytest.param(imds_doc(SecretAccessKey=SECRET + "\x00"), "NUL", id="secret-nul"),
    pytest.param(imds_doc(AccessKeyId="ASIA\x1b[31m"), "control character", id="key-esc"),
    pytest.param(imds_doc(Token="tok\x9b"), "control character", id="token-c1"),
    pytest.param(imds_doc(SecretAccessKey=SECRET + "\ud800"), "surrogate", id="secret-surrogate"),
    pytest.param(imds_doc(Expiration="9999-12-31T23:59:59-23:59"), "Expiration", id="expiry-off"),
]


@pytest.mark.parametrize("body, why", ENDPOINT_ANSWERS)
def test_hostile_instance_metadata_answers_are_typed_errors(body, why):
    clock = FrozenClock("2030-01-01T00:00:00Z")
    with local_aws("", "", imds=True, clock=clock) as local:
        role_path = "/latest/meta-data/iam/security-credentials/" + local.imds.role
        local.imds.fail_next(10, 200, body, path=role_path)
        with pytest.raises(AwsRolesError) as err:
            local.resolve().get_frozen_credentials()
    assert_typed(err, "iam-role", why)


@pytest.mark.parametrize("body, why", ENDPOINT_ANSWERS)
def test_hostile_container_endpoint_answers_are_typed_errors(body, why):
    clock = FrozenClock("2030-01-01T00:00:00Z")
    with local_aws("", "", container=True, clock=clock) as local:
        local.container.fail_next(10, 200, body)
        with pytest.raises(AwsRolesError) as err:
            local.resolve().get_frozen_credentials()
    assert_typed(err, "container", why)


def test_an_imds_answer_over_its_size_limit_is_refused():
    clock = FrozenClock("2030-01-01T00:00:00Z")
    with local_aws("", "", imds=True, clock=clock) as local:
        role_path = "/latest/meta-data/iam/security-credentials/" + local.imds.role
        local.imds.fail_next(10, 200, DEEP_LIST, path=role_path)
        with pytest.raises(AwsRolesError) as err:
            local.resolve().get_frozen_credentials()
    assert_typed(err, "iam-role", "larger than")


STS_ANSWERS = [
    pytest.param(200, ("<a>" * 100_000).encode(), "well-formed", id="deep-unclosed-xml"),
    pytest.param(
        200,
        (
            f'<AssumeRoleResponse xmlns="{STS_NS}">'
            + "<a>" * 50_000
            + "</a>" * 50_000
            + "</AssumeRoleResponse>"
        ).encode(),
        "AssumeRoleResult",
        id="deep-xml",
    ),
    pytest.param(
        200,
        sts_xml(secret="<x>" * 30_000 + "</x>" * 30_000).encode(),
        "SecretAccessKey",
        id="deep-xml-in-the-secret",
    ),
    pytest.param(200, BILLION_LAUGHS.encode(), "well-formed", id="billion-laughs"),
    pytest.param(
        200,
        ('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + sts_xml(secret="&e;")).encode(),
        "well-formed",
        id="external-entity",
    ),
    pytest.param(200, DEEP_LIST, "well-formed", id="deep-json"),
    pytest.param(200, sts_xml().encode("latin-1") + b"\xe9", "well-formed", id="latin-1-tail"),
    pytest.param(200, sts_xml(secret="S3&#x85;cret").encode(), "control character", id="c1-ref"),
    pytest.param(200, sts_xml(secret="S3\u0085cret").encode(), "control character", id="c1-raw"),
    pytest.param(200, sts_xml(secret="S3&#x1b;cret").encode(), "well-formed", id="esc-ref"),
    pytest.param(
        200,
        sts_xml(expiration="10000-01-01T00:00:00Z").encode(),
        "Expiration",
        id="expiry-year-10000",
    ),
    pytest.param(403, ("<a>" * 100_000).encode(), "HTTP 403", id="error-deep-xml"),
    pytest.param(
        403,
        BILLION_LAUGHS.replace("AssumeRoleResponse", "ErrorResponse").encode(),
        "HTTP 403",
        id="error-billion-laughs",
    ),
]


@pytest.mark.parametrize("status, body, why", STS_ANSWERS)
def test_hostile_sts_answers_are_typed_errors(status, body, why):
    with fixed(status, body, **{"Content-Type": "text/xml"}) as sts:
        with local_aws(env={"AWS_ENDPOINT_URL_STS": sts.url}) as local:
            with pytest.raises(AwsRolesError) as err:
                local.resolve("dev").get_frozen_credentials()
    text = assert_typed(err, "STS" if status == 200 else f"AssumeRole {ACCOUNT_ROLE}", why)
    assert isinstance(err.value, (MalformedResponseError, STSError)), repr(err.value)
    assert "lollol" not in text


@pytest.mark.parametrize("status", [200, 403])
@pytest.mark.parametrize("encoding", ["x-no-such-encoding", "UTF-32", "UTF-7"])
def test_an_sts_answer_declaring_an_unusable_encoding_is_a_typed_error(status, encoding):
    """An XML declaration naming an encoding the parser cannot use is a malformed answer,
    not a LookupError or ValueError escaping the resolution."""
    body = f'<?xml version="1.0" encoding="{encoding}"?>' + (
        sts_xml() if status == 200 else sts_error_xml()
    )
    with fixed(status, body, **{"Content-Type": "text/xml"}) as sts:
        with local_aws(env={"AWS_ENDPOINT_URL_STS": sts.url}) as local:
            with pytest.raises(AwsRolesError) as err:
                local.resolve("dev").get_frozen_credentials()
    assert_typed(err, "AssumeRole")


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda text: text.encode("utf-16"), id="utf-16-bom"),
        pytest.param(lambda text: text.encode("utf-16-le"), id="utf-16-le"),
        pytest.param(lambda text: text.encode("utf-16-be"), id="utf-16-be"),
    ],
)
def test_sts_answers_never_expand_entities_whatever_their_encoding(encode):
    """STS never sends a DTD: a document defining entities is refused outright, in UTF-16 as
    in UTF-8, so no entity (a billion laughs, an external file) is ever expanded."""
    from awsroles.sts.wire import parse_error, parse_result

    dtd = '<!DOCTYPE AssumeRoleResponse [<!ENTITY e "EXPANDED-ENTITY">]>'
    body = encode(dtd + sts_xml(secret="&e;"))
    with pytest.raises(MalformedResponseError):
        parse_result("AssumeRole", body)
    error_body = encode(
        dtd.replace("AssumeRoleResponse", "ErrorResponse") + sts_error_xml(message="&e;")
    )
    assert "EXPANDED-ENTITY" not in str(parse_error(error_body))


def test_an_sts_identity_holding_escapes_is_printed_escaped(capsys):
    """whoami prints what GetCallerIdentity answered: no escape sequence, no extra line."""
    body = sts_xml("GetCallerIdentity").replace(":user/u", ":user/u&#x85;&#x9b;31m&#x2028;\u202e")
    with fixed(200, body, **{"Content-Type": "text/xml"}) as sts:
        with local_aws(patch_environ=True, env={"AWS_ENDPOINT_URL_STS": sts.url}):
            code, out, err = run(capsys, "whoami", "--profile", "base")
    assert code == 0, err
    assert not any(ch in out for ch in "\x85\x9b\u2028\u202e")
    assert len(out.strip().splitlines()) == 3, out  # Account, Arn, UserId


def sso_answer(**fields) -> bytes:
    rc = {
        "accessKeyId": "ASIASSOHOSTILE000001",
        "secretAccessKey": SECRET,
        "sessionToken": "sso-session-token",
        "expiration": 4102444800000,
    }
    rc.update(fields)
    return json.dumps({"roleCredentials": rc}).encode()


PORTAL_ANSWERS = [
    pytest.param(200, DEEP_SMALL, "unexpected document", id="deep-list"),
    pytest.param(200, DEEP_SMALL_OBJECT, "unexpected document", id="deep-object"),
    pytest.param(
        200,
        b'{"roleCredentials": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
        "unexpected document",
        id="deep-in-a-field",
    ),
    pytest.param(200, sso_answer().decode().encode("utf-16"), "unexpected document", id="utf-16"),
    pytest.param(
        200, sso_answer(secretAccessKey=SECRET + "\x00"), "unexpected document", id="secret-nul"
    ),
    pytest.param(200, sso_answer(accessKeyId="ASIA\x1b[31m"), "unexpected document", id="key-esc"),
    pytest.param(200, sso_answer(sessionToken="t\x85"), "unexpected document", id="token-c1"),
    pytest.param(
        200, sso_answer(secretAccessKey="s\ud800"), "unexpected document", id="secret-surrogate"
    ),
    pytest.param(200, sso_answer(expiration=10**30), "unexpected document", id="expiry-huge"),
    pytest.param(
        200, sso_answer().replace(b"4102444800000", b"NaN"), "unexpected document", id="expiry-nan"
    ),
    pytest.param(403, DEEP_SMALL, "refused", id="error-deep"),
    pytest.param(403, b"\xff\xfe\x00", "refused", id="error-not-text"),
]


@pytest.mark.parametrize("status, body, why", PORTAL_ANSWERS)
def test_hostile_sso_portal_answers_are_typed_errors(tmp_path, status, body, why):
    with fixed(status, body, **{"Content-Type": "application/json"}) as portal:
        env = {"AWS_ENDPOINT_URL_SSO": portal.url, "AWS_ENDPOINT_URL_SSO_OIDC": portal.url}
        with local_aws(SSO_CONFIG, "", env=env) as local:
            write_token_cache(
                local.home, "my-sso", "tok-" + SECRET, "2099-01-01T00:00:00Z", start_url=START
            )
            with pytest.raises(CredentialRetrievalError) as err:
                local.resolve("s").get_frozen_credentials()
    assert_typed(err, "profile 's'", "SSO portal", why)
    assert len(portal.requests) == 1


# === 5. credentials holding characters no credential holds =======================================


@pytest.mark.parametrize("bad", [b for b in BAD_CHARS if b.id != "surrogate"])
@pytest.mark.parametrize("key", ["aws_access_key_id", "aws_secret_access_key", "aws_session_token"])
def test_static_keys_with_control_characters_name_file_profile_and_key(bad, key):
    values = {
        "aws_access_key_id": "AKIAHOSTILE",
        "aws_secret_access_key": SECRET,
        "aws_session_token": "tok",
    }
    values[key] = values[key][:3] + bad + values[key][3:]
    text = "[p]\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
    with local_aws(credentials="") as local:
        with open(local.credentials_path, "w", encoding="utf-8") as f:
            f.write(text)
        with pytest.raises(InvalidConfigError) as err:
            local.resolve("p").get_frozen_credentials()
    assert_typed(err, local.credentials_path, "profile 'p'", f"key '{key}'", "not shown")
    assert (err.value.file, err.value.profile, err.value.key) == (local.credentials_path, "p", key)
    assert bad not in str(err.value)


def test_a_secret_holding_surrogate_bytes_is_a_parse_error_naming_file_and_line():
    """A surrogate cannot be written as UTF-8: the bytes that would encode one make the file
    not UTF-8, named by its line."""
    with local_aws(credentials="") as local:
        with open(local.credentials_path, "wb") as f:
            f.write(
                f"[p]\naws_access_key_id = AKIAX\naws_secret_access_key = {SECRET}".encode()
                + b"\xed\xa0\x80\n"
            )
        with pytest.raises(ConfigParseError) as err:
            local.resolve("p").get_frozen_credentials()
    assert_typed(err, local.credentials_path, "line 3")


@pytest.mark.parametrize("bad", BAD_CHARS + [pytest.param("\udcff", id="undecodable-byte")])
@pytest.mark.parametrize(
    "variable", ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]
)
def test_environment_keys_with_control_characters_name_the_variable(bad, variable):
    env = {
        "HOME": "/nonexistent-awsroles-home",
        "AWS_ACCESS_KEY_ID": "AKIAHOSTILE",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": "tok",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    env[variable] += bad
    with pytest.raises(InvalidConfigError) as err:
        awsroles.resolve(env=env).get_frozen_credentials()
    assert_typed(err, variable, "not shown")
    assert err.value.key == variable


@pytest.mark.parametrize(
    "command", [["exec", "--profile", "p", "--", "true"], ["whoami", "--profile", "p"]]
)
@pytest.mark.parametrize("bad", [b for b in BAD_CHARS if b.id != "surrogate"])
def test_exec_and_whoami_end_in_one_line_errors_for_bad_static_keys(capsys, command, bad):
    text = f"[p]\naws_access_key_id = AKIAHOSTILE\naws_secret_access_key = {SECRET}{bad}\n"
    with local_aws(credentials="", patch_environ=True) as local:
        with open(local.credentials_path, "w", encoding="utf-8") as f:
            f.write(text)
        code, out, err = run(capsys, *command)
    assert_one_line_error(code, out, err)
    assert "aws_secret_access_key" in err and local.credentials_path in err


@pytest.mark.parametrize("command", [["exec", "--", "true"], ["whoami"]])
@pytest.mark.parametrize("bad", ["\x1b[31m", "\x85", "\udcff"])
def test_exec_and_whoami_end_in_one_line_errors_for_bad_environment_keys(
    capsys, monkeypatch, command, bad
):
    with local_aws(patch_environ=True):
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAHOSTILE")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET + bad)
        code, out, err = run(capsys, *command)
    assert_one_line_error(code, out, err)
    assert "AWS_SECRET_ACCESS_KEY" in err


@pytest.mark.parametrize(
    "command", [["exec", "--profile", "dev", "--", "true"], ["whoami", "--profile", "dev"]]
)
def test_exec_and_whoami_pass_over_a_cache_entry_with_control_characters(aws, capsys, command):
    path = dev_entry_path(aws)
    plant(path, entry_bytes(SecretAccessKey=SECRET + "\x1b]0;pwned\x07"))
    code, out, err = run(capsys, *command)
    assert code == 0, err
    assert SECRET not in out + err and "\x1b" not in out + err
    assert aws.sts.count("AssumeRole") == 1


# === 6. what the command prints is escaped ======================================================

EVIL_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/\x1b[31mEvil\nFAKE LINE\u2028x\x85y/s"


def test_cache_list_and_clear_escape_a_foreign_entry(aws, capsys):
    os.makedirs(aws.cache_dir, exist_ok=True)
    doc = entry_doc(Expiration="2099-01-01T00:00:00Z\nFAKE EXPIRY")
    doc["AssumedRoleUser"]["Arn"] = EVIL_ARN
    doc["ProviderType"] = "\x1b[2J"
    for name in ("foreign.json", "foreign\x1b[2J\nFAKE NAME.json"):
        with open(os.path.join(aws.cache_dir, name), "w") as f:
            json.dump(doc, f)
    code, out, err = run(capsys, "cache", "list")
    assert code == 0 and err == ""
    for printed in (out,):
        assert "\x1b" not in printed and "\x85" not in printed and "\u2028" not in printed
        assert not any(line.startswith("FAKE") for line in printed.splitlines()), printed
    assert out.count("\\x1b[31mEvil") == 2  # both entries are listed, escaped
    assert len(out.splitlines()) == 4  # the directory line, the header, two entries

    code, out, err = run(capsys, "cache", "clear", "--yes")
    assert code == 0 and err == ""
    assert "\x1b" not in out and not any(line.startswith("FAKE") for line in out.splitlines())
    assert out.count("removed ") == 2 and aws.cache_files() == []


def test_explain_escapes_profile_names_and_values_from_the_files(capsys):
    config = (
        "[profile evil\x1b[31m]\n"
        f"role_arn = arn:aws:iam::{ACCOUNT}:role/X\x1b]0;title\x07\n"
        "source_profile = nobody\x9b2J\n"
    )
    with local_aws(config, patch_environ=True):
        code, out, err = run(capsys, "explain", "--profile", "evil\x1b[31m")
        assert code == 2
        assert "\x1b" not in out + err and "\x9b" not in out + err and "\x07" not in out + err
        assert "evil\\x1b[31m" in out and "nobody\\x9b2J" in out
        code, out, err = run(capsys, "export", "--profile", "evil\x1b[31m")
        assert_one_line_error(code, out, err)
        assert "nobody\\x9b2J" in err


CONTINUED = [
    pytest.param(
        f"[profile p]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/X\n  FAKE LINE\n"
        "source_profile = base\n",
        id="role_arn",
    ),
    pytest.param(
        f"[profile p]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/X\nsource_profile = ghost\n"
        "  FAKE LINE\n",
        id="source_profile",
    ),
    pytest.param(
        f"[profile p]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/X\nsource_profile = base\n"
        "mfa_serial = arn:aws:iam::1:mfa/a\n  FAKE LINE\n",
        id="mfa_serial",
    ),
    pytest.param(
        "[profile p]\nweb_identity_token_file = /nonexistent-token\n  FAKE LINE\n"
        f"role_arn = arn:aws:iam::{ACCOUNT}:role/X\n",
        id="web_identity_token_file",
    ),
]


@pytest.mark.parametrize("config", CONTINUED)
@pytest.mark.parametrize("command", ["explain", "export"])
def test_a_value_continued_on_a_second_line_cannot_add_a_line_to_the_output(
    capsys, config, command
):
    """The config format lets a value go on over an indented line, so a value read from the
    file can hold a newline: printed, it must stay on its own line."""
    with local_aws(config, patch_environ=True):
        code, out, err = run(capsys, command, "--profile", "p")
    lines = (out + err).splitlines()
    assert not [line for line in lines if line.lstrip().startswith("FAKE LINE")], out + err


@pytest.mark.parametrize(
    "status, body",
    [
        pytest.param(403, sts_error_xml("AccessDenied", "denied\nFAKE LINE"), id="message"),
        pytest.param(400, sts_error_xml("Weird\nFAKE LINE", "m"), id="code"),
        pytest.param(
            403,
            sts_error_xml("AccessDenied", "denied&#13;&#10;FAKE LINE&#x85;&#x2028;"),
            id="char-refs",
        ),
    ],
)
def test_sts_error_text_cannot_add_a_line_to_the_error(capsys, status, body):
    with fixed(status, body, **{"Content-Type": "text/xml"}) as sts:
        with local_aws(patch_environ=True, env={"AWS_ENDPOINT_URL_STS": sts.url}):
            code, out, err = run(capsys, "export", "--profile", "dev")
    assert_one_line_error(code, out, err)
    assert "FAKE LINE" in err  # quoted, escaped
    assert "\x85" not in err and "\u2028" not in err and "\r" not in err


def test_sso_portal_error_text_cannot_add_a_line_to_the_error(capsys):
    body = json.dumps({"message": "no\nFAKE LINE \x1b[31m", "__type": "Forbidden"}).encode()
    with fixed(403, body, **{"Content-Type": "application/json"}) as portal:
        env = {"AWS_ENDPOINT_URL_SSO": portal.url, "AWS_ENDPOINT_URL_SSO_OIDC": portal.url}
        with local_aws(SSO_CONFIG, "", env=env, patch_environ=True) as local:
            write_token_cache(
                local.home, "my-sso", "tok-" + SECRET, "2099-01-01T00:00:00Z", start_url=START
            )
            code, out, err = run(capsys, "export", "--profile", "s")
    assert_one_line_error(code, out, err)
    assert "FAKE LINE" in err


# === 7. far-future expiry with a measured clock skew ===========================================


@pytest.mark.parametrize("skew_minutes", [-10, 10, -59, 59, -600])
@pytest.mark.parametrize("expiration", ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59.999999Z"])
def test_a_year_9999_expiration_with_clock_skew_does_not_overflow(caplog, skew_minutes, expiration):
    """STS's Date header runs ahead of or behind this machine's clock, so expiries are moved
    by the skew; one at the end of the calendar cannot be moved past it and stays."""
    local_clock = FrozenClock("2030-01-01T00:00:00Z")
    date = formatdate(local_clock.now().timestamp() + skew_minutes * 60, usegmt=True)
    body = sts_xml(expiration=expiration).encode()
    headers = {"Content-Type": "text/xml", "Date": date}
    with Canned(lambda method, path: (200, headers, body)) as sts:
        with local_aws(env={"AWS_ENDPOINT_URL_STS": sts.url}, clock=local_clock) as local:
            with caplog.at_level(logging.WARNING, logger="awsroles"):
                creds = local.resolve("dev", background_refresh=False)
                first = creds.get_frozen_credentials()
            assert first.expiry.year == 9999
            # a second resolution reads the cache entry, moved by the skew measured above
            again = local.resolve("dev", background_refresh=False).get_frozen_credentials()
            assert again.expiry.year == 9999 and again.access_key == first.access_key
            local_clock.advance(hours=24)
            assert creds.get_frozen_credentials().access_key == first.access_key
    assert len(sts.requests) == 1
    assert "clock" in caplog.text  # the skew was measured and reported
