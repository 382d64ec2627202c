"""The export formats: the AWS CLI v2's shapes, and values that can never inject a command."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone

import pytest

from awsroles.cli.export import FORMATS, ExportFormatError, iso_z, process_document, render
from awsroles.credentials import Credentials

EXPIRY = datetime(2030, 1, 1, 1, 0, 0, 123456, tzinfo=timezone.utc)
TEMP = Credentials("ASIAEXAMPLE", "se/cret+key=", "tok/en+=", EXPIRY, "123456789012", "assume-role")
STATIC = Credentials("AKIAEXAMPLE", "static-secret")


def test_the_formats_are_the_aws_cli_v2_names_plus_dotenv_and_json():
    assert list(FORMATS) == [
        "env",
        "env-no-export",
        "powershell",
        "windows-cmd",
        "fish",
        "process",
        "dotenv",
        "json",
    ]


@pytest.mark.parametrize(
    "fmt, first_line",
    [
        ("env", "export AWS_ACCESS_KEY_ID=ASIAEXAMPLE"),
        ("env-no-export", "AWS_ACCESS_KEY_ID=ASIAEXAMPLE"),
        ("powershell", '$Env:AWS_ACCESS_KEY_ID="ASIAEXAMPLE"'),
        ("windows-cmd", "set AWS_ACCESS_KEY_ID=ASIAEXAMPLE"),
        ("fish", 'set -gx AWS_ACCESS_KEY_ID "ASIAEXAMPLE"'),
        ("dotenv", "AWS_ACCESS_KEY_ID=ASIAEXAMPLE"),
    ],
)
def test_line_formats_have_four_variables_in_the_cli_order(fmt, first_line):
    lines = render(TEMP, fmt).splitlines()
    assert lines[0] == first_line
    names = [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CREDENTIAL_EXPIRATION",
    ]
    assert len(lines) == 4 and all(n in line for n, line in zip(names, lines))
    assert "2030-01-01T01:00:00Z" in lines[3]
    assert render(TEMP, fmt).endswith("\n") and "\r" not in render(TEMP, fmt)


def test_env_is_exactly_what_the_aws_cli_prints_for_plain_values():
    assert render(TEMP, "env") == (
        "export AWS_ACCESS_KEY_ID=ASIAEXAMPLE\n"
        "export AWS_SECRET_ACCESS_KEY=se/cret+key=\n"
        "export AWS_SESSION_TOKEN=tok/en+=\n"
        "export AWS_CREDENTIAL_EXPIRATION=2030-01-01T01:00:00Z\n"
    )


def test_static_keys_have_no_token_or_expiration_lines():
    assert render(STATIC, "env") == (
        "export AWS_ACCESS_KEY_ID=AKIAEXAMPLE\nexport AWS_SECRET_ACCESS_KEY=static-secret\n"
    )
    assert process_document(STATIC) == {
        "Version": 1,
        "AccessKeyId": "AKIAEXAMPLE",
        "SecretAccessKey": "static-secret",
    }


def test_process_is_the_cli_json_with_two_space_indent():
    text = render(TEMP, "process")
    assert text == (
        "{\n"
        '  "Version": 1,\n'
        '  "AccessKeyId": "ASIAEXAMPLE",\n'
        '  "SecretAccessKey": "se/cret+key=",\n'
        '  "SessionToken": "tok/en+=",\n'
        '  "Expiration": "2030-01-01T01:00:00Z"\n'
        "}\n"
    )


def test_json_has_the_account_and_no_version():
    doc = json.loads(render(TEMP, "json"))
    assert doc == {
        "AccessKeyId": "ASIAEXAMPLE",
        "SecretAccessKey": "se/cret+key=",
        "SessionToken": "tok/en+=",
        "Expiration": "2030-01-01T01:00:00Z",
        "AccountId": "123456789012",
    }


def test_iso_z_converts_to_utc_and_drops_fractions():
    from datetime import timedelta

    plus2 = timezone(timedelta(hours=2))
    assert iso_z(datetime(2030, 1, 1, 3, 0, 0, 999999, tzinfo=plus2)) == "2030-01-01T01:00:00Z"


NASTY = "x'$(touch PWNED)`id`\"; echo $HOME"


@pytest.mark.parametrize("fmt", ["env", "env-no-export"])
def test_hostile_values_round_trip_through_bash_eval_without_running_anything(tmp_path, fmt):
    creds = Credentials("AKIA" + NASTY, "s " + NASTY, "t\\" + NASTY)
    script = render(creds, fmt) + 'printf "%s\\n%s\\n%s" "$AWS_ACCESS_KEY_ID" '
    script += '"$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN"'
    out = subprocess.run(
        ["bash", "-c", script], cwd=str(tmp_path), capture_output=True, text=True, timeout=10
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n") == [creds.access_key, creds.secret_key, creds.token]
    assert not (tmp_path / "PWNED").exists()


def test_powershell_fish_and_dotenv_escape_their_special_characters():
    creds = Credentials("AKIA", 'a"b$c`d\\e')
    assert '$Env:AWS_SECRET_ACCESS_KEY="a`"b`$c``d\\e"' in render(creds, "powershell")
    assert 'set -gx AWS_SECRET_ACCESS_KEY "a\\"b\\$c`d\\\\e"' in render(creds, "fish")
    assert 'AWS_SECRET_ACCESS_KEY="a\\"b\\$c\\`d\\\\e"' in render(creds, "dotenv")


@pytest.mark.parametrize(
    "fmt, value",
    [("windows-cmd", "a&b"), ("windows-cmd", "50%"), ("env", "a\nb"), ("fish", "a\rb")],
)
def test_values_that_cannot_be_written_safely_are_refused_without_showing_them(fmt, value):
    with pytest.raises(ExportFormatError) as err:
        render(Credentials("AKIA", "secret-" + value), fmt)
    assert "secret-" not in str(err.value) and "AWS_SECRET_ACCESS_KEY" in str(err.value)
