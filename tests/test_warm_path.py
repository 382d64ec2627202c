"""The warm path (valid cache entry) avoids json, datetime's Python module and regexes; each
replacement must give exactly what the standard-library way gives. Timings are the benchmark's
business (benchmarks/, P1): these tests check equivalence and what gets loaded."""

from __future__ import annotations

import datetime as std_datetime
import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awsroles import clock
from awsroles.cache import entry as cache_entry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# --- datetime -------------------------------------------------------------------------------


def test_clock_time_types_are_the_datetime_modules_own():
    assert clock.datetime is std_datetime.datetime
    assert clock.timezone is std_datetime.timezone
    assert clock.timedelta is std_datetime.timedelta


# --- json -----------------------------------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",)))
)
_documents = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_ws = st.text(alphabet=" \t\n\r", max_size=3)


def _outcome(fn, arg):
    try:
        return ("ok", fn(arg))
    except Exception as exc:  # the same exception type and message, or the same value
        return ("error", type(exc), str(exc))


@settings(max_examples=300, deadline=None)
@given(_documents, _ws, _ws, st.booleans(), st.booleans())
def test_loads_reads_json_documents_as_json_does(doc, before, after, ascii_only, as_bytes):
    text = before + json.dumps(doc, ensure_ascii=ascii_only) + after
    raw = text.encode("utf-8") if as_bytes else text
    assert cache_entry.loads(raw) == json.loads(raw)


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet='{}[]":,0123456789.eE+-tfnulrsaIiNy \t\n\r\\\x00\ufeff\u00e9', max_size=30)
    | st.binary(max_size=12)
)
def test_loads_fails_as_json_does_on_anything(raw):
    assert repr(_outcome(cache_entry.loads, raw)) == repr(_outcome(json.loads, raw))


@pytest.mark.parametrize(
    "raw",
    [
        b"\xef\xbb\xbf{}",  # UTF-8 BOM
        '{"a": 1}'.encode("utf-16"),
        '{"a": 1}'.encode("utf-32"),
        '{"a": 1}'.encode("utf-16-le"),
        "\ufeff{}",
        '{"a": NaN, "b": -Infinity, "c": Infinity}',
        '{"a": 1} {"b": 2}',
        "",
        "   ",
        '{"a": "\x01"}',  # strict: control characters are refused
        b"\xff\xfe",
    ],
)
def test_loads_edge_cases_match_json(raw):
    assert repr(_outcome(cache_entry.loads, raw)) == repr(_outcome(json.loads, raw))


_key_values = st.text() | st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(), _key_values, max_size=6))
def test_cache_key_text_is_json_dumps_sort_keys(data):
    assert cache_entry._key_text(data) == json.dumps(data, sort_keys=True)


def test_cache_key_text_with_nested_values_is_json_dumps_sort_keys():
    data = {"RoleArn": "arn", "Tags": [{"Key": "k", "Value": "v"}], "Policy": {"b": 1, "a": 2}}
    assert cache_entry._key_text(data) == json.dumps(data, sort_keys=True)


# --- what the warm path loads ---------------------------------------------------------------


#: awsroles modules a cached role profile named in code does not need (as in P1).
_NOT_ON_THE_WARM_PATH = (
    "awsroles.refresh.background",  # only an advisory-window refresh schedules work
    "awsroles.providers.env",  # a profile named in code drops the env provider
    "awsroles.resolver.sources",  # the base is static keys
    "awsroles.sts.client",
    "awsroles.sts.wire",
    "awsroles.sts.sigv4",
    "awsroles.transport.base",
    "awsroles.transport.stdlib",
    "awsroles.cache.lock",
    "awsroles.resolver.mfa",
)


def test_warm_start_loads_no_json_datetime_or_hashlib_and_compiles_no_regex():
    """A resolve served from the cache (P1 of the benchmarks) reaches neither the json
    package, datetime's pure-Python module, hashlib, nor re.compile, nor the awsroles modules
    only a refresh or another kind of profile needs."""
    from awsroles.testing import local_aws

    resolve = "import awsroles; awsroles.resolve('dev').get_frozen_credentials()"
    probe = (
        "import re, sys\n"
        "compiled = []\n"
        "real = re._compile\n"
        "def spy(pattern, flags):\n"
        "    if (type(pattern), pattern, flags) not in re._cache:\n"
        "        compiled.append(pattern)\n"
        "    return real(pattern, flags)\n"
        "re._compile = spy\n"
        f"{resolve}\n"
        "print(sorted(set(sys.modules) & {'json', 'datetime', 'hashlib'}), compiled)\n"
        f"print(sorted(set(sys.modules) & {set(_NOT_ON_THE_WARM_PATH)!r}))\n"
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
    assert warm.stdout.splitlines() == ["[] []", "[]"], warm.stdout


# --- regexes replaced by string checks ------------------------------------------------------

_HEADER = r"\[(?P<name>.*)\]\s*(?:[#;].*)?\Z"  # what the parser matched before


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
    """The old ``^...$`` check let ``name\\n`` through (``$`` matches before a final newline);
    STS would refuse it later with a vaguer error."""
    from awsroles.config.validate import session_name
    from awsroles.errors import InvalidConfigError

    assert session_name("ok-name", "p", {}) == "ok-name"
    with pytest.raises(InvalidConfigError, match="role_session_name"):
        session_name("ok-name\n", "p", {})


def test_header_name_is_linear_on_lines_full_of_brackets():
    """A hostile header like ``[]x]x]x...`` is one pass, not one copy of the line per ``]``
    (200 000 of them took about a second before). Counted in character visits, not time."""
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


def test_loads_keeps_json_shared_constants():
    assert cache_entry.loads("[NaN]") == cache_entry.loads("[NaN]")  # one NaN object, as json
