"""What the warm path (a valid cache entry) loads, and the string checks used instead of
regexes elsewhere. Timings are the benchmarks' business (P1, the warm start, in
benchmarks/procs.py): these tests check equivalence and what gets loaded."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- what the warm path loads ---------------------------------------------------------------


#: awsroles modules a cached role profile named in code does not need (benchmark P1's case).
_NOT_ON_THE_WARM_PATH = (
    "awsroles.refresh.background",  # only an advisory-window refresh schedules work
    "awsroles.providers.env",  # a profile named in code drops the env provider
    "awsroles.resolver.sources",  # the base is static keys
    "awsroles.sts.client",
    "awsroles.sts.sigv4",
    "awsroles.transport.base",
    "awsroles.transport.stdlib",
    "awsroles.cache.lock",
    "awsroles.resolver.mfa",
    "awsroles.protocols",  # types only
)
#: Standard-library modules only annotations, HTTP or logging would need.
_STDLIB_NOT_ON_THE_WARM_PATH = ("typing", "logging", "http.client", "ssl", "urllib.request")


def test_warm_start_loads_no_typing_http_or_refresh_code():
    """A resolve served from the cache (benchmark P1) loads neither ``typing``
    (annotations are for type checkers only), the HTTP stack nor logging, nor the awsroles
    modules only a refresh or another kind of profile needs."""
    from awsroles.testing import local_aws

    resolve = "import awsroles; awsroles.resolve('dev').get_frozen_credentials()"
    # modules the interpreter's start-up loaded (an editable install's import hook loads
    # typing on some versions) are not awsroles' doing
    probe = (
        "import sys\n"
        "started = set(sys.modules)\n"
        f"{resolve}\n"
        "loaded = set(sys.modules) - started\n"
        f"print(sorted(loaded & {set(_STDLIB_NOT_ON_THE_WARM_PATH)!r}))\n"
        f"print(sorted(loaded & {set(_NOT_ON_THE_WARM_PATH)!r}))\n"
    )
    with local_aws(inherit_environ=False) as aws:
        env = {k: v for k, v in aws.env.items() if v is not None}
        env["PATH"] = os.environ.get("PATH", "")
        cold = subprocess.run(
            [sys.executable, "-c", resolve], capture_output=True, text=True, cwd=ROOT, env=env
        )
        assert cold.returncode == 0, cold.stderr
        calls = aws.sts.count("AssumeRole")
        warm = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=env
        )
        assert warm.returncode == 0, warm.stderr
        assert aws.sts.count("AssumeRole") == calls  # served from the cache
    assert warm.stdout.splitlines() == ["[]", "[]"], warm.stdout


# --- string checks used instead of regexes --------------------------------------------------

_HEADER = r"\[(?P<name>.*)\]\s*(?:[#;].*)?\Z"  # configparser's greedy SECTCRE


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet="[]#; \t\u00a0\u3000\x0bab", max_size=14))
def test_header_name_is_the_greedy_regex(body):
    import re

    from awsroles.config.parser import _header_name

    line = ("[" + body).strip()
    if not line.startswith("["):
        return
    m = re.match(_HEADER, line)
    assert _header_name(line) == (m.group("name") if m else None)


@settings(max_examples=1000, deadline=None)
@given(
    st.text(alphabet="ab_+=,.@:/-é٣²ⅫZ9 \t\n$*\u00a0\u200b", max_size=70),
    st.sampled_from([("_+=,.@-", 64), ("_+=,.@:/-", 1224)]),
)
def test_word_check_is_the_fullmatch_regex(value, rule):
    import re

    from awsroles.config.validate import _word

    punctuation, longest = rule
    pattern = r"[\w" + re.escape(punctuation) + "]{2," + str(longest) + "}"
    assert _word(value, punctuation, longest) == bool(re.fullmatch(pattern, value))


def test_session_name_with_a_trailing_newline_is_refused():
    """A ``^...$`` regex would let ``name\\n`` through (``$`` matches before a final newline);
    STS would refuse it later with a vaguer error."""
    from awsroles.config.validate import session_name
    from awsroles.errors import InvalidConfigError

    assert session_name("ok-name", "p", {}) == "ok-name"
    with pytest.raises(InvalidConfigError, match="role_session_name"):
        session_name("ok-name\n", "p", {})


def test_header_name_is_linear_on_lines_full_of_brackets():
    """A hostile header like ``[]x]x]x...`` is one pass, not one copy of the line per ``]``
    (quadratic in the line's length). Counted in character visits, not time."""
    from awsroles.config import parser

    line = "[" + "]x" * 20_000
    visits = 0

    class Counting(str):
        def __getitem__(self, i):  # characters looked at or copied
            nonlocal visits
            visits += len(range(*i.indices(len(self)))) if isinstance(i, slice) else 1
            return str.__getitem__(self, i)

    assert parser._header_name(Counting(line)) is None
    assert visits <= 2 * len(line)
    assert parser._header_name(Counting("[a]b] # c")) == "a]b"
