"""The package type-checks with ``mypy --strict`` (its settings are in pyproject.toml), and
its public API is typed for users: a misspelt option is a mypy error in their code and a
TypeError naming it at run time."""

from __future__ import annotations

import asyncio
import os
import textwrap

import pytest
from mypy import api as mypy

import awsroles
import awsroles.aio

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _mypy(*args: str) -> tuple:
    cwd = os.getcwd()
    os.chdir(ROOT)  # pyproject.toml's [tool.mypy], and the package found as source
    try:
        return mypy.run(["--no-incremental", *args])
    finally:
        os.chdir(cwd)


def test_the_package_passes_mypy_strict():
    out, err, status = _mypy()
    assert status == 0, out + err


def test_user_code_sees_real_types_and_misspelt_options(tmp_path):
    user = tmp_path / "user_code.py"
    user.write_text(
        textwrap.dedent(
            """
            import awsroles

            creds = awsroles.resolve("dev", prompter=lambda serial: "123456")
            frozen = creds.get_frozen_credentials()
            reveal_type(frozen)
            access_key, secret_key, token, account_id = frozen
            reveal_type(token)
            awsroles.resolve("dev", promter=lambda serial: "123456")
            awsroles.explain(profile="dev", lock_timeout=5)
            reveal_type(awsroles.boto3_session(profile="dev"))

            import awsroles.aio

            async def service() -> None:
                aio_creds = await awsroles.aio.resolve("dev", lock_timeout=5)
                reveal_type(await aio_creds.get_frozen_credentials())
                await awsroles.aio.resolve("dev", promter=lambda serial: "123456")
            """
        )
    )
    out, _, status = _mypy("--strict", "--no-warn-unused-configs", str(user))
    assert status == 1
    lines = [line.split(": ", 1)[1] for line in out.splitlines() if ": " in line]
    # a named tuple of botocore's four fields, of the class Credentials (mypy versions spell
    # builtins differently)
    revealed = [line.replace("builtins.", "") for line in lines if "Revealed type" in line]
    frozen = "tuple[str, str, str | None, str | None, fallback=awsroles.credentials.Credentials]"
    assert f'note: Revealed type is "{frozen}"' in revealed, out
    assert 'note: Revealed type is "str | None"' in revealed, out
    assert 'note: Revealed type is "boto3.session.Session"' in lines
    errors = [line for line in lines if line.startswith("error:")]
    assert sum('"promter"' in e and 'did you mean "prompter"' in e for e in errors) == 2, out
    assert any('"lock_timeout" for "explain"' in e for e in errors), out
    assert len(errors) == 3, out
    # awsroles.aio: the same parameters, and the same frozen set once awaited
    assert sum(f'note: Revealed type is "{frozen}"' == r for r in revealed) == 2, out


@pytest.mark.parametrize(
    "call",
    [
        lambda: awsroles.resolve("dev", promter=print),
        lambda: awsroles.explain("dev", promter=print),
        lambda: awsroles.botocore_session("dev", promter=print),
        lambda: awsroles.boto3_session("dev", promter=print),
        lambda: awsroles.install(object(), promter=print),
        lambda: awsroles.aio.aiobotocore_session("dev", promter=print),
        lambda: awsroles.aio.install(object(), promter=print),
        lambda: asyncio.run(awsroles.aio.resolve("dev", promter=print)),
    ],
)
def test_a_misspelt_option_is_a_type_error_naming_it(call):
    with pytest.raises(TypeError, match="promter"):
        call()
