"""Guards at the edges of the providers and the command line: a FIFO planted where a token
file should be, an sso_region that is not a region name, PowerShell's typographic quotes, and a
process_timeout that is not a number."""

import os
import threading

import pytest

from awsroles._files import read_small_file
from awsroles.cli.export import _powershell
from awsroles.errors import InvalidConfigError

from helpers import make_context


def test_token_files_never_block_on_a_fifo(tmp_path):
    fifo = tmp_path / "token"
    os.mkfifo(fifo)
    result = []

    def read():
        try:
            read_small_file(str(fifo), 1024)
        except OSError as exc:
            result.append(exc)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(3)
    assert not t.is_alive() and result, "reading a FIFO blocked"


def test_sso_region_must_be_a_region_name(tmp_path):
    from awsroles.config.model import SsoSource
    from awsroles.providers.sso import sso_credentials

    source = SsoSource(
        "p",
        (
            ("sso_account_id", "1"),
            ("sso_region", "evil.example#"),
            ("sso_role_name", "R"),
            ("sso_start_url", "https://d-1.awsapps.com/start"),
        ),
    )
    with pytest.raises(InvalidConfigError) as err:
        sso_credentials(source, make_context(env={"HOME": str(tmp_path)})).get_frozen_credentials()
    assert err.value.key == "sso_region"


def test_powershell_quotes_cannot_end_the_string():
    value = "a\u201d; Remove-Item x; \u201cb"
    out = _powershell("AWS_SESSION_TOKEN", value, "powershell")
    assert "`\u201d" in out and "`\u201c" in out


def test_process_timeout_must_be_a_number():
    from awsroles.context import Settings

    with pytest.raises(InvalidConfigError) as err:
        Settings(process_timeout="soon")
    assert err.value.key == "process_timeout"
